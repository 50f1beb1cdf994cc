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

	shards []chan job
	wg     sync.WaitGroup
	seen   *dedupe

	// testHookAfterDigestPost runs after a digest post and before it is recorded; returning true
	// simulates a crash in that window.
	testHookAfterDigestPost func(channel string) bool
	testCrashed             atomic.Bool // set by the hook: this bot is "dead" and posts no more digests

	itemLocks sync.Map // domain.ItemID → *sync.Mutex, see lockItem

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
		cfg:    cfg,
		policy: cfg.Policy,
		db:     db,
		api:    api,
		log:    cfg.Log,
		now:    cfg.Now,
		seen:   newDedupe(10 * time.Minute),
	}
	b.svc = &domain.Service{Store: db, Policy: cfg.Policy, Now: cfg.Now}
	b.out = newOutbox(api, cfg.Log)
	b.sm = socketmode.New(api)
	return b, nil
}

// Run connects and serves until ctx ends, then lets in-flight work finish (up to ShutdownGrace) and
// returns nil. It returns an error only when Slack refuses the tokens for good.
func (b *Bot) Run(ctx context.Context) error {
	b.shards = make([]chan job, b.cfg.Workers)
	// Handlers outlive the stop signal so a change that was acked is also announced.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	for i := range b.shards {
		b.shards[i] = make(chan job, 256)
		b.wg.Add(1)
		go b.worker(workCtx, b.shards[i])
	}

	smCtx, stopSocket := context.WithCancel(ctx)
	defer stopSocket()
	smDone := make(chan error, 1)
	go func() { smDone <- b.sm.RunContext(smCtx) }()

	if err := b.catchUp(ctx); err != nil {
		b.log.Warn().Err(err).Msg("could not post messages for items created while Slack was unreachable")
	}
	stopScheduler, err := b.startScheduler(ctx)
	if err != nil {
		return b.shutdown(stopSocket, smDone, cancelWork, err)
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
	stopScheduler()
	return b.shutdown(stopSocket, smDone, cancelWork, runErr)
}

// shutdown stops reading, lets queued and in-flight work finish within the grace, and waits for the
// socket client to exit.
func (b *Bot) shutdown(stopSocket func(), smDone <-chan error, cancelWork func(), runErr error) error {
	stopSocket()
	for _, s := range b.shards {
		close(s)
	}
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(b.cfg.ShutdownGrace):
		b.log.Warn().Msg("in-flight work did not finish within the shutdown grace; cancelling it")
		cancelWork()
		<-done
	}
	// Drain what the socket client may still push so its goroutines can exit.
	go func() {
		for range b.sm.Events {
		}
	}()
	select {
	case <-smDone:
	case <-time.After(5 * time.Second):
	}
	return runErr
}

func (b *Bot) worker(ctx context.Context, jobs <-chan job) {
	defer b.wg.Done()
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

// enqueue runs fn on the worker that owns key, so work on one item (or one user) stays in order.
func (b *Bot) enqueue(ctx context.Context, key, name string, fn func(ctx context.Context)) {
	h := fnv.New32a()
	h.Write([]byte(key))
	shard := b.shards[int(h.Sum32())%len(b.shards)]
	select {
	case shard <- job{name: name, run: fn}:
	case <-ctx.Done():
	}
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
		b.enqueue(ctx, commandKey(cmd), "command", func(ctx context.Context) { b.handleCommand(ctx, cmd) })
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
		b.enqueue(ctx, "user:"+inner.User, "home", func(ctx context.Context) { b.refreshHome(ctx, user) })
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
