package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"workbot/domain"
	"workbot/storage"
)

// Config is what the bot needs beyond the domain policy.
type Config struct {
	BotToken string
	AppToken string
	// APIURL is the Web API base, with its trailing slash ("https://slack.com/api/").
	APIURL string

	IntakeChannel      string
	LeadershipChannels []string

	// Schedules are the digest, personal DM and sweep schedules.
	Schedules Schedules

	// DigestTop is how many priorities the digest lists (default 10).
	DigestTop int

	Policy *domain.Policy
	Now    func() time.Time // nil: time.Now
	Log    zerolog.Logger

	// Workers bounds how many envelopes are handled at once (default 8). Work on one item always runs
	// on the same worker, so its changes and messages keep their order.
	Workers int
	// ShutdownGrace is how long in-flight work may run after a stop is requested (default 20 s).
	ShutdownGrace time.Duration
}

// Bot is the Socket Mode runtime: it reads envelopes, acks them in time, and runs handlers that call the
// domain and then Slack.
type Bot struct {
	cfg    Config
	policy *domain.Policy
	svc    *domain.Service
	db     *storage.DB
	api    *slack.Client
	sm     *socketmode.Client
	out    *outbox
	log    zerolog.Logger
	now    func() time.Time

	workCtx    context.Context
	handlers   []chan job // commands and clicks, by item (or user)
	announcers []chan job // Slack follow-up after a commit, by item
	handlerWG  sync.WaitGroup
	announceWG sync.WaitGroup
	seen       *dedupe
	formSlots  chan struct{} // bounds how many forms are validated and committed at once

	// testHookAfterDigestPost runs after a digest post and before it is recorded; returning true
	// simulates a crash in that window.
	testHookAfterDigestPost func(channel string) bool
	testCrashed             atomic.Bool // set by the hook: this bot is "dead" and posts no more digests

	itemLocks sync.Map // domain.ItemID → *sync.Mutex, see lockItem
	homeLocks sync.Map // domain.UserID → *sync.Mutex, see refreshHome

	// digestMu serialises digest runs: the start-up catch-up and a tick must not race for one slot.
	digestMu sync.Mutex
}

type job struct {
	name string
	run  func(ctx context.Context)
}

// New builds a bot on an open store. It makes no network calls.
func New(cfg Config, db *storage.DB) (*Bot, error) {
	if cfg.BotToken == "" || cfg.AppToken == "" {
		return nil, errors.New("bot: both the bot token and the app-level token are required")
	}
	if cfg.Policy == nil {
		return nil, errors.New("bot: a policy is required")
	}
	if cfg.APIURL == "" {
		cfg.APIURL = "https://slack.com/api/"
	}
	if !strings.HasSuffix(cfg.APIURL, "/") {
		cfg.APIURL += "/"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 20 * time.Second
	}
	api := slack.New(cfg.BotToken, slack.OptionAppLevelToken(cfg.AppToken), slack.OptionAPIURL(cfg.APIURL))
	b := &Bot{
		cfg:       cfg,
		policy:    cfg.Policy,
		db:        db,
		api:       api,
		log:       cfg.Log,
		now:       cfg.Now,
		seen:      newDedupe(10 * time.Minute),
		formSlots: make(chan struct{}, 32),
	}
	b.svc = &domain.Service{Store: db, Policy: cfg.Policy, Now: cfg.Now}
	b.out = newOutbox(api, cfg.Log)
	b.sm = socketmode.New(api)
	return b, nil
}

// Run connects and serves until ctx ends, then lets in-flight work finish (up to ShutdownGrace) and
// returns nil. It returns an error only when Slack refuses the tokens for good.
func (b *Bot) Run(ctx context.Context) error {
	// Work outlives the stop signal, so a change that was acked is also announced; after the grace it
	// is cancelled.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	b.workCtx = workCtx
	b.handlers = b.startPool(workCtx, &b.handlerWG)
	b.announcers = b.startPool(workCtx, &b.announceWG)

	// The socket, too, outlives the signal: forms being saved must still be able to ack.
	smCtx, stopSocket := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSocket()
	smDone := make(chan error, 1)
	go func() { smDone <- b.sm.RunContext(smCtx) }()

	if err := b.catchUp(workCtx); err != nil {
		b.log.Warn().Err(err).Msg("could not post messages for items created while Slack was unreachable")
	}
	stopScheduler, err := b.startScheduler(workCtx)
	if err != nil {
		return b.shutdown(func() {}, stopSocket, smDone, cancelWork, err)
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-smDone:
			if err != nil && !errors.Is(err, context.Canceled) {
				runErr = fmt.Errorf("socket mode stopped: %w", err)
			}
			smDone <- err // for shutdown, which waits on it too
			break loop
		case evt, ok := <-b.sm.Events:
			if !ok {
				break loop
			}
			b.route(ctx, evt)
		}
	}
	return b.shutdown(stopScheduler, stopSocket, smDone, cancelWork, runErr)
}

func (b *Bot) startPool(ctx context.Context, wg *sync.WaitGroup) []chan job {
	pool := make([]chan job, b.cfg.Workers)
	for i := range pool {
		pool[i] = make(chan job, 256)
		wg.Add(1)
		go b.worker(ctx, pool[i], wg)
	}
	return pool
}

// shutdown stops taking envelopes, lets handlers, form saves and then announcements finish within the
// grace, and only then closes the socket, so acks of forms being saved still reach Slack.
func (b *Bot) shutdown(stopScheduler, stopSocket func(), smDone chan error, cancelWork func(), runErr error) error {
	// Envelopes that arrive now are not acked: Slack redelivers events to the next connection, and a
	// person whose command times out can run it again.
	stopDrain := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case <-b.sm.Events:
			case <-stopDrain:
				return
			}
		}
	}()
	deadline := time.Now().Add(b.cfg.ShutdownGrace)
	waitOrCancel := func(what string, wait func()) bool {
		done := make(chan struct{})
		go func() { wait(); close(done) }()
		// Within the grace, wait; past it, cancel the work and give it a few seconds to notice, so a
		// stuck job delays the exit but cannot stop it.
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		select {
		case <-done:
			return true
		case <-timer.C:
		}
		b.log.Warn().Str("waiting_for", what).Msg("in-flight work did not finish within the shutdown grace; cancelling it")
		cancelWork()
		select {
		case <-done:
			return true
		case <-time.After(5 * time.Second):
			b.log.Error().Str("waiting_for", what).Msg("in-flight work ignored cancellation; stopping without it")
			return false
		}
	}
	waitOrCancel("scheduled jobs", stopScheduler)
	for _, s := range b.handlers {
		close(s)
	}
	// A stuck handler may still queue an announcement, so the announcers' queues close only once every
	// handler is done.
	if waitOrCancel("handlers", b.handlerWG.Wait) {
		for _, s := range b.announcers {
			close(s)
		}
		waitOrCancel("announcements", b.announceWG.Wait)
	}
	stopSocket()
	select {
	case <-smDone:
	case <-time.After(5 * time.Second):
	}
	close(stopDrain)
	<-drained
	return runErr
}

func (b *Bot) worker(ctx context.Context, jobs <-chan job, wg *sync.WaitGroup) {
	defer wg.Done()
	for j := range jobs {
		b.runJob(ctx, j)
	}
}

func (b *Bot) runJob(ctx context.Context, j job) {
	defer func() {
		if r := recover(); r != nil {
			b.log.Error().Str("job", j.name).Interface("panic", r).Msg("handler panicked; the envelope was already acked")
		}
	}()
	jctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	j.run(jctx)
}

func shardOf(pool []chan job, key string) chan job {
	h := fnv.New32a()
	h.Write([]byte(key))
	return pool[int(h.Sum32())%len(pool)]
}

// enqueue runs fn on the handler worker that owns key, so work on one item (or one user) stays in
// order. It never blocks the socket reader: when that worker's queue is full it reports false.
func (b *Bot) enqueue(key, name string, fn func(ctx context.Context)) bool {
	select {
	case shardOf(b.handlers, key) <- job{name: name, run: fn}:
		return true
	default:
		b.log.Warn().Str("key", key).Str("job", name).Msg("worker queue full; refusing the envelope")
		return false
	}
}

// later queues Slack-side follow-up (item message, thread, DMs, App Home) on the announcement worker
// that owns key. Announcements can wait out rate limits without holding up commands and forms.
func (b *Bot) later(ctx context.Context, key, name string, fn func(ctx context.Context)) {
	select {
	case shardOf(b.announcers, key) <- job{name: name, run: fn}:
	case <-ctx.Done():
	}
}

// replyBusy tells someone their envelope was refused because the bot is overloaded; off the reader.
func (b *Bot) replyBusy(r replier) {
	b.handlerWG.Add(1)
	go func() {
		defer b.handlerWG.Done()
		ctx, cancel := context.WithTimeout(b.workCtx, 30*time.Second)
		defer cancel()
		r.say(ctx, "⚠️ workbot is very busy right now and could not take that. Please try again in a moment.")
	}()
}

// announceLater is announce on the item's announcement worker.
func (b *Bot) announceLater(ctx context.Context, res domain.Result) {
	b.later(ctx, itemKey(res.Item.ID), "announce", func(ctx context.Context) { b.announce(ctx, res) })
}

// ack acknowledges an envelope without ever blocking the reader for long: slack-go's Ack blocks while
// the socket is reconnecting.
func (b *Bot) ack(envelopeID string, payload any) {
	if envelopeID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.sm.AckCtx(ctx, envelopeID, payload); err != nil {
		b.log.Warn().Err(err).Str("envelope_id", envelopeID).Msg("ack failed")
	}
}

func (b *Bot) route(ctx context.Context, evt socketmode.Event) {
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.log.Info().Msg("connecting to Slack")
	case socketmode.EventTypeConnected:
		b.log.Info().Msg("connected to Slack")
	case socketmode.EventTypeConnectionError:
		b.log.Warn().Interface("error", evt.Data).Msg("connection to Slack failed; retrying with backoff")
	case socketmode.EventTypeInvalidAuth:
		b.log.Error().Msg("Slack refused the tokens (invalid_auth)")
	case socketmode.EventTypeHello, socketmode.EventTypeDisconnect:
		b.log.Debug().Str("type", string(evt.Type)).Msg("socket lifecycle")
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		b.log.Warn().Interface("error", evt.Data).Str("type", string(evt.Type)).Msg("socket error")
	case socketmode.EventTypeErrorBadMessage:
		b.ackBadMessage(evt)
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			b.ackUnknown(evt)
			return
		}
		b.ack(evt.Request.EnvelopeID, nil)
		if !b.enqueue(commandKey(cmd), "command", func(ctx context.Context) { b.handleCommand(ctx, cmd) }) {
			b.replyBusy(replier{b: b, user: domain.UserID(cmd.UserID), channel: cmd.ChannelID, responseURL: cmd.ResponseURL})
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			b.ackUnknown(evt)
			return
		}
		b.routeInteraction(ctx, evt.Request.EnvelopeID, cb)
	case socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		b.ack(evt.Request.EnvelopeID, nil)
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			return
		}
		if id := eventID(evt.Request.Payload); id != "" && b.seen.seenBefore(id, b.now()) {
			b.log.Debug().Str("event_id", id).Int("retry_attempt", evt.Request.RetryAttempt).Msg("duplicate event ignored")
			return
		}
		b.routeEvent(ctx, ev)
	default:
		b.ackUnknown(evt)
	}
}

func (b *Bot) ackUnknown(evt socketmode.Event) {
	if evt.Request != nil {
		b.ack(evt.Request.EnvelopeID, nil)
	}
	b.log.Warn().Str("type", string(evt.Type)).Msg("unexpected socket event; acked and ignored")
}

// ackBadMessage acks an envelope slack-go could not parse, so Slack does not redeliver it forever.
func (b *Bot) ackBadMessage(evt socketmode.Event) {
	bad, ok := evt.Data.(*socketmode.ErrorBadMessage)
	if !ok {
		b.log.Warn().Msg("malformed envelope without its raw message")
		return
	}
	var env struct {
		EnvelopeID string `json:"envelope_id"`
		Type       string `json:"type"`
	}
	_ = json.Unmarshal(bad.Message, &env)
	b.log.Warn().Err(bad.Cause).Str("envelope_id", env.EnvelopeID).Str("type", env.Type).Int("bytes", len(bad.Message)).Msg("malformed envelope acked and dropped")
	b.ack(env.EnvelopeID, nil)
}

func eventID(payload json.RawMessage) string {
	var p struct {
		EventID string `json:"event_id"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	return p.EventID
}

func commandKey(cmd slack.SlashCommand) string {
	fields := strings.Fields(cmd.Text)
	if len(fields) >= 2 && len(fields[1]) < 40 {
		if id, err := domain.ParseKey(fields[1]); err == nil {
			return itemKey(id)
		}
	}
	return "user:" + cmd.UserID
}

func itemKey(id domain.ItemID) string { return fmt.Sprintf("item:%d", id) }

func (b *Bot) routeEvent(ctx context.Context, ev slackevents.EventsAPIEvent) {
	switch inner := ev.InnerEvent.Data.(type) {
	case *slackevents.AppHomeOpenedEvent:
		if inner.Tab != "" && inner.Tab != "home" {
			return
		}
		user := domain.UserID(inner.User)
		b.enqueue("user:"+inner.User, "home", func(ctx context.Context) { b.refreshHome(ctx, user) })
	default:
		b.log.Debug().Str("type", ev.InnerEvent.Type).Msg("event ignored")
	}
}

// dedupe remembers event IDs for a window, as Slack redelivers unacked events for several minutes.
type dedupe struct {
	mu     sync.Mutex
	window time.Duration
	seen   map[string]time.Time
}

func newDedupe(window time.Duration) *dedupe {
	return &dedupe{window: window, seen: map[string]time.Time{}}
}

func (d *dedupe) seenBefore(id string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.seen) > 10000 {
		for k, t := range d.seen {
			if now.Sub(t) > d.window {
				delete(d.seen, k)
			}
		}
	}
	if t, ok := d.seen[id]; ok && now.Sub(t) <= d.window {
		return true
	}
	d.seen[id] = now
	return false
}
