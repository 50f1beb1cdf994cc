package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"workbot/bot/slackfake"
	"workbot/domain"
)

// These tests crash the bot at each step of a delivery, restart it on the same database, and count
// what Slack received: every acked change announced, none twice.

// everyMessage is every message Slack holds: channels, threads and DMs.
func everyMessage(h *harness) []slackfake.Message {
	var all []slackfake.Message
	for _, c := range h.fake.Channels() {
		all = append(all, h.fake.Messages(c.ID)...)
	}
	return all
}

// outboxIDs counts the posts that name each outbox entry in their metadata.
func outboxIDs(h *harness) map[string]int {
	n := map[string]int{}
	for _, m := range everyMessage(h) {
		if m.Metadata == nil || m.Metadata.EventType != metaEventType {
			continue
		}
		var p struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(m.Metadata.EventPayload, &p)
		n[p.ID]++
	}
	return n
}

// noDuplicates fails for any outbox entry posted more than once.
func noDuplicates(t *testing.T, h *harness) {
	t.Helper()
	for id, n := range outboxIDs(h) {
		if n != 1 {
			t.Errorf("outbox entry %s was posted %d times", id, n)
		}
	}
}

// drained waits until the outbox holds nothing unfinished.
func (h *harness) drained() {
	h.t.Helper()
	h.pollFor("the outbox to drain", func() bool {
		n, _, err := h.db.OutboxStats(context.Background())
		return err == nil && n == 0
	})
}

// crashOn makes the next started bot die right after Slack accepted the first delivery that match
// picks, before the delivery is recorded. It returns a channel closed at the crash.
func (h *harness) crashOn(match func(e domain.OutboxEntry) bool) <-chan struct{} {
	crashed := make(chan struct{})
	var once atomic.Bool
	h.hook = func(e domain.OutboxEntry) bool {
		if !match(e) || !once.CompareAndSwap(false, true) {
			return false
		}
		close(crashed)
		return true
	}
	return crashed
}

// The bot dies after the commit and before anything is delivered: everything arrives after the
// restart, once.
func TestCrashAfterCommitBeforeDelivery(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.noDelivery = true
	h.start()
	id := h.request(uReq, "Printer jams on floor 3", "3")
	key := domain.FormatKey("W", id)
	contains(t, "assign", h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+"|dev>"), "Assigned")
	if n := len(h.fake.Messages(cIntake)); n != 0 {
		t.Fatalf("delivery was off, yet %d messages reached the intake channel", n)
	}
	h.stop()
	h.noDelivery = false
	h.start()
	msg := h.itemMessage(key)
	h.waitThread(msg, "assigned it to <@"+uDev+">")
	h.waitDM(uReq, "is in the intake queue")
	h.waitDM(uDev, "assigned you")
	h.drained()
	noDuplicates(t, h)
	if n := len(h.fake.Messages(cIntake)); n != 3 { // the item message and two thread lines
		t.Errorf("%d intake messages, want the item message and its two thread lines", n)
	}
}

// The bot dies after Slack accepted a post and before it was recorded, for each kind of post. After
// the restart the post is found by its metadata and adopted, not repeated.
func TestCrashAfterPostBeforeRecord(t *testing.T) {
	for _, kind := range []string{effItemMessage, effThread, effDM} {
		t.Run(kind, func(t *testing.T) {
			h := newHarness(t)
			h.stop()
			crashed := h.crashOn(func(e domain.OutboxEntry) bool { return e.Kind == kind })
			h.start()
			id := h.request(uReq, "Laptop will not boot", "2")
			key := domain.FormatKey("W", id)
			h.command(uLead, cGeneral, "assign "+key+" <@"+uDev+"|dev>")
			select {
			case <-crashed:
			case <-time.After(wait):
				t.Fatal("no delivery of kind " + kind)
			}
			h.stop()
			h.hook = nil
			h.start()
			msg := h.itemMessage(key)
			h.waitThread(msg, "assigned it to <@"+uDev+">")
			h.waitDM(uReq, "is in the intake queue")
			h.waitDM(uDev, "assigned you")
			h.drained()
			noDuplicates(t, h)
			if n := len(outboxIDs(h)); n < 5 {
				t.Errorf("only %d posts carry their entry", n)
			}
		})
	}
}

// Morning DMs: the bot dies after the second DM; after the restart everyone has exactly one.
func TestCrashDuringMorningDMs(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) { c.Schedules = Schedules{Location: time.UTC} }))
	for i, who := range []string{uDev, uQA, uLead} {
		id := h.request(uReq, fmt.Sprintf("Morning item %d", i), "1")
		h.reply(uLead, cGeneral, "assign "+domain.FormatKey("W", id)+" <@"+who+">")
	}
	h.drained()
	h.stop()
	var seen atomic.Int32
	crashed := h.crashOn(func(e domain.OutboxEntry) bool {
		return e.Kind == effDM && strings.HasPrefix(e.Key, "user:") && seen.Add(1) == 2
	})
	h.cfg.Schedules.Personal = "* * * * * *"
	h.start()
	select {
	case <-crashed:
	case <-time.After(wait):
		t.Fatal("the morning DMs never started")
	}
	h.stop()
	h.hook = nil
	h.start()
	for _, who := range []string{uDev, uQA, uLead} {
		h.waitDM(who, "Your top items today")
	}
	h.waitTicks(2) // more ticks the same day send nothing more
	h.drained()
	noDuplicates(t, h)
	for _, who := range []string{uDev, uQA, uLead} {
		n := 0
		for _, m := range h.fake.DMs(who) {
			if strings.Contains(m.AllText(), "Your top items today") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s got %d morning DMs, want 1", who, n)
		}
	}
}

// A post Slack accepted whose response was lost (the connection dropped) is found and adopted, not
// posted again: for the item message, a DM and a digest.
func TestLostResponseIsNotPostedTwice(t *testing.T) {
	t.Run("item message and DM", func(t *testing.T) {
		h := newHarness(t)
		h.fake.FailNext("chat.postMessage", 2, slackfake.Fault{DropResponse: true})
		id := h.request(uReq, "VPN drops every hour", "2")
		h.itemMessage(domain.FormatKey("W", id))
		h.waitDM(uReq, "is in the intake queue")
		h.drained()
		noDuplicates(t, h)
		if n := len(h.fake.Messages(cIntake)); n != 1 {
			t.Errorf("%d item messages, want 1", n)
		}
		if n := len(h.fake.DMs(uReq)); n != 1 {
			t.Errorf("%d DMs to the requester, want 1", n)
		}
	})
	t.Run("digest", func(t *testing.T) {
		h := newHarness(t, withConfig(func(c *Config) {
			c.LeadershipChannels = []string{cLeads}
			c.Schedules = Schedules{Location: time.UTC, Grace: time.Hour}
		}))
		h.request(uReq, "Something to report", "3")
		h.drained()
		h.stop()
		h.fake.FailNext("chat.postMessage", 1, slackfake.Fault{DropResponse: true})
		h.cfg.Schedules.Digest = "* * * * * *"
		h.start()
		h.waitFor("the digest", func() bool { return len(digests(h, cLeads)) == 1 })
		h.waitTicks(2)
		h.drained()
		noDuplicates(t, h)
		if n := len(digests(h, cLeads)); n != 1 {
			t.Errorf("%d digests, want 1", n)
		}
		if n := len(chartsUnder(h, cLeads, digests(h, cLeads)[0].TS)); n != 1 {
			t.Errorf("%d charts under the digest, want 1", n)
		}
	})
}

// A deliverer whose claim ran out (paused, or cut off from a shared database) while another took its
// entries over must not post them as well: the attempt is refused before anything reaches Slack.
func TestExpiredClaimDoesNotPost(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.noDelivery = true
	h.start()
	h.request(uReq, "Badge reader is offline", "2")
	ctx := context.Background()
	stale := newOutbox(h.bot, h.db, "stale")
	entries, err := h.db.ClaimEffects(ctx, "stale", 8, 20*time.Millisecond)
	if err != nil || len(entries) == 0 {
		t.Fatalf("claim: %d entries, %v", len(entries), err)
	}
	time.Sleep(50 * time.Millisecond)
	taken, err := h.db.ClaimEffects(ctx, "taker", 8, time.Minute)
	if err != nil || len(taken) != len(entries) {
		t.Fatalf("the takeover claimed %d of %d entries: %v", len(taken), len(entries), err)
	}
	for _, e := range entries {
		stale.deliverOne(ctx, e)
	}
	if msgs := everyMessage(h); len(msgs) != 0 {
		t.Fatalf("a deliverer without its claim posted %d messages, first %q", len(msgs), msgs[0].Text)
	}
	for _, e := range taken {
		if err := h.db.ReleaseEffect(ctx, "taker", e.ID); err != nil {
			t.Fatal(err)
		}
	}
	h.stop()
	h.noDelivery = false
	h.start()
	h.waitDM(uReq, "is in the intake queue")
	h.drained()
	noDuplicates(t, h)
}

// A delivery that must wait long before its next attempt (here a 30-second Retry-After) gives its
// worker back and rests released, instead of holding the worker through the wait: otherwise a few
// failing conversations occupy every worker while the rest of the queue waits behind them.
func TestLongRetryRestsInsteadOfHoldingAWorker(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.noDelivery = true
	h.start()
	h.request(uReq, "Projector in room 4 flickers", "2")
	ctx := context.Background()
	o := newOutbox(h.bot, h.db, "worker")
	entries, err := h.db.ClaimEffects(ctx, "worker", 8, time.Minute)
	if err != nil || len(entries) == 0 {
		t.Fatalf("claim: %d entries, %v", len(entries), err)
	}
	first := entries[0]
	for _, e := range entries[1:] {
		_ = h.db.ReleaseEffect(ctx, "worker", e.ID)
	}
	h.fake.FailNext("chat.postMessage", 1, slackfake.Fault{Status: 429, RetryAfter: 30 * time.Second})
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.deliverOne(ctx, first)
	}()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("the worker sat through a 30-second Retry-After")
	}
	o.mu.Lock()
	until, resting := o.notBefore[first.ID]
	next := o.backoffs[first.ID]
	o.mu.Unlock()
	if !resting || time.Until(until) < 20*time.Second {
		t.Errorf("the entry rests until %v (%v), want about 30 s from now", until, resting)
	}
	if next < time.Second {
		t.Errorf("the next backoff is %v", next)
	}
	// Released, so this deliverer's claim loop (or another replica) can take it when the rest ends.
	again, err := h.db.ClaimEffects(ctx, "other", 8, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(again, func(e domain.OutboxEntry) bool { return e.ID == first.ID }) {
		t.Errorf("the resting entry %d was not released: claimable %v", first.ID, again)
	}
	if msgs := everyMessage(h); len(msgs) != 0 {
		t.Errorf("%d messages posted through a 429", len(msgs))
	}
}
