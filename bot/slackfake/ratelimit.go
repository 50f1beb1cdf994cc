package slackfake

import (
	"math"
	"time"
)

// Slack's rate-limit tiers, in calls per minute. Slack allows bursts over
// these for a short while; the fake lets a full minute's worth through at
// once and then refills steadily, which is close enough to make an app that
// hammers a method see 429s.
var methodTiers = map[string]float64{
	"apps.connections.open":        1,  // Tier 1
	"users.list":                   20, // Tier 2
	"usergroups.users.list":        20, // Tier 2
	"chat.update":                  50, // Tier 3
	"chat.delete":                  50, // Tier 3
	"conversations.open":           50, // Tier 3
	"conversations.info":           50, // Tier 3 (Slack lists it as Tier 3)
	"conversations.history":        50, // Tier 3 for apps that are not commercially distributed
	"conversations.replies":        50, // Tier 3, likewise
	"chat.postEphemeral":           100,
	"users.info":                   100,
	"views.open":                   100,
	"views.push":                   100,
	"views.update":                 100,
	"views.publish":                100,
	"files.getUploadURLExternal":   100,
	"files.completeUploadExternal": 100,
	"auth.test":                    100,
	"chat.getPermalink":            100,
}

// chat.postMessage is limited per channel: about one message a second, with
// short bursts allowed.
const (
	postMessagePerSecond = 1.0
	postMessageBurst     = 5.0
)

type bucket struct {
	tokens float64
	last   time.Time
}

// rateLimitedLocked spends one call of method (per channel for
// chat.postMessage) and reports how long to wait if none is left. It is a
// no-op unless Options.RateLimits is set.
func (f *Fake) rateLimitedLocked(method, channel string) (time.Duration, bool) {
	if !f.opts.RateLimits {
		return 0, false
	}
	var perSecond, burst float64
	key := method
	if method == "chat.postMessage" {
		perSecond, burst = postMessagePerSecond, postMessageBurst
		key += "/" + channel
	} else if perMinute, ok := methodTiers[method]; ok {
		perSecond, burst = perMinute/60, perMinute
	} else {
		return 0, false
	}
	now := f.opts.Now()
	b, ok := f.buckets[key]
	if !ok {
		b = &bucket{tokens: burst, last: now}
		f.buckets[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(burst, b.tokens+elapsed*perSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, false
	}
	wait := time.Duration((1 - b.tokens) / perSecond * float64(time.Second))
	return wait, true
}
