package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"

	"workbot/domain"
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

	// IntakeReaction is the emoji (a name without colons) that files a message as a request; empty
	// turns reaction intake off. ReactionChannels limits it to those channels; empty means any.
	IntakeReaction   string
	ReactionChannels []string
	// NotifySourceThread posts a request's key and later changes in its source message's thread.
	NotifySourceThread bool

	Policy *domain.Policy
	Now    func() time.Time // nil: time.Now
	Log    zerolog.Logger

	// Workers bounds how many envelopes are handled at once (default 8). Work on one item always runs
	// on the same worker, so its changes and messages keep their order.
	Workers int
	// ShutdownGrace is how long in-flight work may run after a stop is requested (default 20 s).
	ShutdownGrace time.Duration
	// Owner names this process in outbox claims (default: a random name); replicas need distinct ones.
	Owner string
	// Metrics, when set, receives what the bot measures (see NewMetrics).
	Metrics *Metrics
	// ClaimLease is how long an outbox claim holds unless renewed (default 30 s): how long the entries
	// a dead replica was delivering wait before another takes them.
	ClaimLease time.Duration
}

// Bot is the Socket Mode runtime: it reads envelopes, acks them in time, and runs handlers that call the
// domain and then Slack.
type Bot struct {
	cfg    Config
	policy *domain.Policy
	svc    *domain.Service
	store  kickingStore
	api    *webAPI
	sm     *socketmode.Client
	out    *outbox
	log    zerolog.Logger
	now    func() time.Time

	workCtx   context.Context
	handlers  []chan job // commands and clicks, by item (or user)
	handlerWG sync.WaitGroup
	seen      *dedupe
	formSlots chan struct{} // bounds how many forms are validated and committed at once
	// modalSlots bounds the commands and clicks that open a modal: they run on their own goroutines,
	// because a trigger_id lives 3 s and must never wait behind other work.
	modalSlots chan struct{}
	// answerSlots bounds the answers sent after a form's ack.
	answerSlots chan struct{}

	// digestMu serialises digest runs: the start-up catch-up and a tick must not race for one slot.
	digestMu sync.Mutex
	// sock* let a replica whose store stopped taking writes close its Socket Mode connection until the
	// store answers again (pauseSocketIf).
	sockMu     sync.Mutex
	sockClose  context.CancelFunc // closes the current connection; nil between connections
	sockPaused bool
	sockResume chan struct{}

	// alignMu makes requests that find a week's plan-versus-execution report missing compute it once.
	alignMu          sync.Mutex
	alignFingerprint string

	names nameCache // user names for readable titles of filed messages

	metrics *Metrics
	ready   readiness
}

type job struct {
	name string
	run  func(ctx context.Context)
}

// New builds a bot on an open store. It makes no network calls.
func New(cfg Config, store Store) (*Bot, error) {
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
	if cfg.Owner == "" {
		cfg.Owner = randomOwner()
	}
	opts := []slack.Option{slack.OptionAppLevelToken(cfg.AppToken), slack.OptionAPIURL(cfg.APIURL)}
	if cfg.Metrics != nil {
		opts = append(opts, slack.OptionHTTPClient(&http.Client{Transport: countingTransport{next: http.DefaultTransport, metrics: cfg.Metrics}}))
		cfg.Metrics.outbox = store.OutboxStats
	}
	api := slack.New(cfg.BotToken, opts...)
	b := &Bot{
		metrics:     cfg.Metrics,
		cfg:         cfg,
		policy:      cfg.Policy,
		api:         newWebAPI(api, cfg.Log),
		log:         cfg.Log,
		now:         cfg.Now,
		seen:        newDedupe(dedupeWindow),
		formSlots:   make(chan struct{}, 32),
		modalSlots:  make(chan struct{}, 32),
		answerSlots: make(chan struct{}, 64),
		sockResume:  make(chan struct{}, 1),

		alignFingerprint: cfg.Policy.AlignmentFingerprint(),
	}
	b.store = kickingStore{Store: store, kick: func() { b.out.kick() }, metrics: cfg.Metrics}
	b.api.metrics = cfg.Metrics
	b.out = newOutbox(b, b.store, cfg.Owner)
	if cfg.ClaimLease > 0 {
		b.out.lease = cfg.ClaimLease
	}
	b.svc = &domain.Service{Store: b.store, Policy: cfg.Policy, Now: cfg.Now, Effects: b.effectsFor}
	b.sm = socketmode.New(api)
	return b, nil
}

// Effects is the hook the bot's Service runs inside every write transaction: it queues in the outbox
// what the change owes Slack. A Service built elsewhere on the same store (the sandbox's demo history)
// can use it, so that its changes are announced when the bot runs, as the bot's own are.
func (b *Bot) Effects() func(domain.Tx, domain.Result) error { return b.effectsFor }

func randomOwner() string {
	var buf [6]byte
	_, _ = rand.Read(buf[:])
	return "workbot-" + hex.EncodeToString(buf[:])
}

// kickingStore wakes the outbox after every commit, since a commit may have queued effects, and times
// every transaction.
type kickingStore struct {
	Store
	kick    func()
	metrics *Metrics
}

func (s kickingStore) Update(ctx context.Context, fn func(domain.Tx) error) error {
	defer s.metrics.tx("update", time.Now())
	err := s.Store.Update(ctx, fn)
	if err == nil && s.kick != nil {
		s.kick()
	}
	return err
}

func (s kickingStore) View(ctx context.Context, fn func(domain.ReadTx) error) error {
	defer s.metrics.tx("view", time.Now())
	return s.Store.View(ctx, fn)
}

func (s kickingStore) UpdateState(ctx context.Context, fn func(domain.StateTx) error) error {
	defer s.metrics.tx("state_update", time.Now())
	err := s.Store.UpdateState(ctx, fn)
	if err == nil && s.kick != nil {
		s.kick()
	}
	return err
}

func (s kickingStore) ViewState(ctx context.Context, fn func(domain.StateReader) error) error {
	defer s.metrics.tx("state_view", time.Now())
	return s.Store.ViewState(ctx, fn)
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

	// The outbox takes work until the shutdown has let the handlers finish; then it drains.
	stopClaims := make(chan struct{})
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		b.out.run(workCtx, stopClaims)
	}()
	stopOutbox := sync.OnceFunc(func() { close(stopClaims) })
	defer stopOutbox()

	// The socket, too, outlives the signal: forms being saved must still be able to ack.
	smCtx, stopSocket := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSocket()
	smDone := make(chan error, 1)
	go func() { smDone <- b.runSocket(smCtx) }()

	b.checkStore(workCtx)
	b.handlerWG.Add(1)
	go func() {
		defer b.handlerWG.Done()
		t := time.NewTicker(storeCheckEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				b.checkStore(workCtx)
			}
		}
	}()
	stopScheduler, err := b.runSchedules(workCtx)
	if err != nil {
		return b.shutdown(func() {}, stopSocket, smDone, cancelWork, stopOutbox, outDone, err)
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
	return b.shutdown(stopScheduler, stopSocket, smDone, cancelWork, stopOutbox, outDone, runErr)
}

// runSocket keeps the Socket Mode connection open until ctx ends, except while pauseSocketIf has
// closed it because the store stopped taking writes.
func (b *Bot) runSocket(ctx context.Context) error {
	for {
		connCtx, closeConn := context.WithCancel(ctx)
		b.sockMu.Lock()
		b.sockClose = closeConn
		paused := b.sockPaused
		b.sockMu.Unlock()
		var err error
		if !paused {
			err = b.sm.RunContext(connCtx)
		}
		b.sockMu.Lock()
		b.sockClose = nil
		paused = b.sockPaused
		b.sockMu.Unlock()
		closeConn()
		if ctx.Err() != nil || !paused {
			return err
		}
		b.setSocket(false)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.sockResume:
		}
	}
}

// pauseSocketIf closes the Socket Mode connection of a replica whose store stopped taking writes, and
// opens it again once the store answers: while closed, Slack gives the envelopes to the replicas that
// can serve them instead of to one that can only reply with an error. A single process keeps its
// connection, since it is the only one that could answer at all.
func (b *Bot) pauseSocketIf(storeDown bool) {
	b.ready.mu.Lock()
	r := b.ready.role
	b.ready.mu.Unlock()
	b.sockMu.Lock()
	defer b.sockMu.Unlock()
	switch {
	case storeDown && !b.sockPaused && (r == roleLeader || r == roleStandby):
		b.sockPaused = true
		if b.sockClose != nil {
			b.sockClose()
		}
		b.log.Warn().Msg("the store does not take writes: closed the Slack connection so that the other replicas take the envelopes; it reopens when the store answers")
	case !storeDown && b.sockPaused:
		b.sockPaused = false
		select {
		case b.sockResume <- struct{}{}:
		default:
		}
		b.log.Info().Msg("the store answers again: reopening the Slack connection")
	}
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

// shutdown stops taking envelopes, lets the scheduler's job and the handlers finish and the outbox
// deliver what they queued, all within the grace, and only then closes the socket, so acks of forms
// being saved still reach Slack. What the outbox could not deliver in time stays in the store.
func (b *Bot) shutdown(stopScheduler, stopSocket func(), smDone chan error, cancelWork, stopOutbox func(), outDone chan struct{}, runErr error) error {
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
	b.setRole(roleStopped)
	for _, s := range b.handlers {
		close(s)
	}
	waitOrCancel("handlers", b.handlerWG.Wait)
	// The outbox loop stops taking work; then what is ready is delivered until the grace ends.
	stopOutbox()
	<-outDone
	waitOrCancel("announcements", func() { b.out.drain(b.workCtx, deadline) })
	stopSocket()
	select {
	case <-smDone:
	case <-time.After(5 * time.Second):
	}
	close(stopDrain)
	<-drained
	b.setSocket(false)
	return runErr
}

// storeCheckEvery is how often the store is shown to take writes, for /readyz.
const storeCheckEvery = 15 * time.Second

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

// goBounded runs fn on its own goroutine, counted as a handler so shutdown waits for it, unless
// slots are all taken; then it reports false.
func (b *Bot) goBounded(slots chan struct{}, name string, fn func(ctx context.Context)) bool {
	select {
	case slots <- struct{}{}:
	default:
		b.log.Warn().Str("job", name).Msg("too much at once; refusing the envelope")
		return false
	}
	b.handlerWG.Add(1)
	go func() {
		defer b.handlerWG.Done()
		defer func() { <-slots }()
		b.runJob(b.workCtx, job{name: name, run: fn})
	}()
	return true
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

// ack acknowledges an envelope without ever blocking the reader for long: slack-go's Ack blocks while
// the socket is reconnecting.
func (b *Bot) ack(envelopeID string, payload any, readAt time.Time) {
	if envelopeID == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := b.sm.AckCtx(ctx, envelopeID, payload); err != nil {
		b.log.Warn().Err(err).Str("envelope_id", envelopeID).Msg("ack failed")
		return
	}
	b.metrics.acked(readAt)
}

func (b *Bot) route(ctx context.Context, evt socketmode.Event) {
	readAt := time.Now()
	b.metrics.envelope(string(evt.Type))
	switch evt.Type {
	case socketmode.EventTypeConnecting:
		b.log.Info().Msg("connecting to Slack")
		b.setSocket(false)
	case socketmode.EventTypeConnected:
		b.log.Info().Msg("connected to Slack")
		b.setSocket(true)
	case socketmode.EventTypeConnectionError:
		b.log.Warn().Interface("error", evt.Data).Msg("connection to Slack failed; retrying with backoff")
		b.setSocket(false)
	case socketmode.EventTypeInvalidAuth:
		b.log.Error().Msg("Slack refused the tokens (invalid_auth)")
		b.setSocket(false)
	case socketmode.EventTypeDisconnect:
		b.log.Debug().Str("type", string(evt.Type)).Msg("socket lifecycle")
		b.setSocket(false)
	case socketmode.EventTypeHello:
		b.log.Debug().Str("type", string(evt.Type)).Msg("socket lifecycle")
	case socketmode.EventTypeIncomingError, socketmode.EventTypeErrorWriteFailed:
		b.log.Warn().Interface("error", evt.Data).Str("type", string(evt.Type)).Msg("socket error")
	case socketmode.EventTypeErrorBadMessage:
		b.ackBadMessage(evt, readAt)
	case socketmode.EventTypeSlashCommand:
		cmd, ok := evt.Data.(slack.SlashCommand)
		if !ok || evt.Request == nil {
			b.ackUnknown(evt, readAt)
			return
		}
		b.ack(evt.Request.EnvelopeID, nil, readAt)
		run := func(ctx context.Context) { b.handleCommand(ctx, cmd) }
		var taken bool
		if commandOpensModal(cmd) {
			taken = b.goBounded(b.modalSlots, "command_modal", run)
		} else {
			taken = b.enqueue(commandKey(cmd), "command", run)
		}
		if !taken {
			b.replyBusy(replier{b: b, user: domain.UserID(cmd.UserID), channel: cmd.ChannelID, responseURL: cmd.ResponseURL})
		}
	case socketmode.EventTypeInteractive:
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok || evt.Request == nil {
			b.ackUnknown(evt, readAt)
			return
		}
		b.routeInteraction(ctx, evt.Request.EnvelopeID, cb, readAt)
	case socketmode.EventTypeEventsAPI:
		if evt.Request == nil {
			return
		}
		b.ack(evt.Request.EnvelopeID, nil, readAt)
		ev, ok := evt.Data.(slackevents.EventsAPIEvent)
		if !ok {
			return
		}
		b.routeEvent(ctx, ev, eventID(evt.Request.Payload))
	default:
		b.ackUnknown(evt, readAt)
	}
}

func (b *Bot) ackUnknown(evt socketmode.Event, readAt time.Time) {
	if evt.Request != nil {
		b.ack(evt.Request.EnvelopeID, nil, readAt)
	}
	b.log.Warn().Str("type", string(evt.Type)).Msg("unexpected socket event; acked and ignored")
}

// ackBadMessage acks an envelope slack-go could not parse, so Slack does not redeliver it forever.
func (b *Bot) ackBadMessage(evt socketmode.Event, readAt time.Time) {
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
	b.ack(env.EnvelopeID, nil, readAt)
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

// routeEvent picks the worker for an event and runs it there, once: redelivered events are dropped
// on the worker, not on the socket reader, since across replicas that takes a database round trip.
func (b *Bot) routeEvent(_ context.Context, ev slackevents.EventsAPIEvent, id string) {
	var (
		key, name string
		run       func(ctx context.Context)
	)
	switch inner := ev.InnerEvent.Data.(type) {
	case *slackevents.AppHomeOpenedEvent:
		if inner.Tab != "" && inner.Tab != "home" {
			return
		}
		user := domain.UserID(inner.User)
		key, name, run = "user:"+inner.User, "home", func(ctx context.Context) { b.queueHome(ctx, user) }
	case *slackevents.MessageEvent:
		// A person's DM to workbot. Edits, joins and every bot's messages (its own included) are not.
		if inner.ChannelType != "im" || inner.BotID != "" || inner.SubType != "" || inner.User == "" || inner.User == b.out.botUser {
			return
		}
		key, name, run = "user:"+inner.User, "dm", func(ctx context.Context) { b.handleDM(ctx, inner) }
	case *slackevents.ReactionAddedEvent:
		if !b.reactionWanted(inner) {
			return
		}
		// Keyed by message, so two people reacting at once are filed one after the other.
		key, name, run = "source:"+inner.Item.Channel+"/"+inner.Item.Timestamp, "reaction", func(ctx context.Context) { b.fileReaction(ctx, inner) }
	default:
		b.log.Debug().Str("type", ev.InnerEvent.Type).Msg("event ignored")
		return
	}
	b.enqueue(key, name, func(ctx context.Context) {
		if id != "" && b.seenEvent(ctx, id) {
			b.log.Debug().Str("event_id", id).Msg("duplicate event ignored")
			return
		}
		run(ctx)
	})
}

// seenEvent reports a redelivered event. Replicas share the record through the store; a single
// process keeps it in memory. If the store cannot answer, memory decides: a rare duplicate is safer
// than a lost event, and the handlers themselves refuse to file a message twice.
func (b *Bot) seenEvent(ctx context.Context, id string) bool {
	if d, ok := b.store.Store.(EventDeduper); ok {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		seen, err := d.SeenEvent(ctx, id, b.now(), dedupeWindow)
		if err == nil {
			return seen
		}
		b.log.Warn().Err(err).Msg("the shared event record is unreachable; deduplicating in memory")
	}
	return b.seen.seenBefore(id, b.now())
}

// dedupeWindow covers Slack's redeliveries of an unacked event (about 1 and 5 minutes later).
const dedupeWindow = 10 * time.Minute

// dedupe remembers event IDs for a window, as Slack redelivers unacked events for several minutes. It
// keeps two generations: IDs move to the old one when the window turns and are dropped a window later,
// so memory stays bounded by the events of two windows and no call sweeps the whole map.
type dedupe struct {
	mu        sync.Mutex
	window    time.Duration
	since     time.Time // when cur started
	cur, prev map[string]struct{}
}

func newDedupe(window time.Duration) *dedupe {
	return &dedupe{window: window, cur: map[string]struct{}{}, prev: map[string]struct{}{}}
}

func (d *dedupe) seenBefore(id string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch age := now.Sub(d.since); {
	case d.since.IsZero():
		d.since = now
	case age >= 2*d.window:
		d.prev, d.cur, d.since = map[string]struct{}{}, map[string]struct{}{}, now
	case age >= d.window:
		d.prev, d.cur, d.since = d.cur, map[string]struct{}{}, now
	}
	if _, ok := d.cur[id]; ok {
		return true
	}
	if _, ok := d.prev[id]; ok {
		return true
	}
	d.cur[id] = struct{}{}
	return false
}

// size is how many IDs are remembered; for tests.
func (d *dedupe) size() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.cur) + len(d.prev)
}
