package bot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"workbot/bot/slackfake"
	"workbot/domain"
	"workbot/storage"
	"workbot/storage/pgstore"
	"workbot/storage/pgstore/pgtest"
)

// People and channels of the end-to-end workspace.
const (
	uLead     = "U0LEAD"
	uDev      = "U0DEV"
	uQA       = "U0QA"
	uReq      = "U0REQ"
	uOutsider = "U0OUT"
	cIntake   = "C0INTAKE"
	cLeads    = "C0LEADS"
	cGeneral  = "C0GENERAL"
)

const wait = 10 * time.Second

// testStore is a store the end-to-end tests can check and close: bbolt's or PostgreSQL's.
type testStore interface {
	Store
	CheckConsistency() error
	Close() error
}

// e2eStore picks the store the end-to-end tests run on: bbolt by default, PostgreSQL when
// WORKBOT_E2E_STORE=postgres (CI runs the suite both ways).
var e2eStore = os.Getenv("WORKBOT_E2E_STORE")

func e2eDatabase(t testing.TB) string {
	if e2eStore == "postgres" {
		return pgtest.URL(t)
	}
	return filepath.Join(t.TempDir(), "workbot.db")
}

func openE2E(db string) (testStore, error) {
	if pgstore.IsURL(db) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return pgstore.Open(ctx, db, pgstore.Options{MaxConns: 8})
	}
	return storage.Open(db, storage.Options{Timeout: time.Second})
}

// harness runs the real bot against the fake Slack over a real websocket, on a real bbolt file.
type harness struct {
	t      testing.TB
	fake   *slackfake.Fake
	dbPath string // a bbolt file, or a PostgreSQL URL with its own schema (WORKBOT_E2E_STORE=postgres)
	db     testStore
	bot    *Bot
	policy *domain.Policy
	cfg    Config

	// hook, when set, runs in each started bot after Slack accepted an outbox delivery and before it
	// is recorded; returning true simulates a crash at that moment.
	hook func(e domain.OutboxEntry) bool
	// noDelivery starts bots whose outbox delivers nothing: a crash right after every commit.
	noDelivery bool
	// wrap, when set, wraps the store each started bot gets (to add a replica's capabilities).
	wrap func(testStore) Store

	mu     sync.Mutex
	now    time.Time
	cancel context.CancelFunc
	done   chan error
}

type harnessOption func(*harness)

func withConfig(fn func(*Config)) harnessOption { return func(h *harness) { fn(&h.cfg) } }

func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	fake := slackfake.New(slackfake.Options{
		AckTimeout:      3 * time.Second,
		RedeliveryAfter: 500 * time.Millisecond,
		PingInterval:    time.Second,
		DisconnectGrace: 100 * time.Millisecond,
	})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	for _, u := range []slackfake.User{
		{ID: uLead, Name: "lea", RealName: "Lea Lead", TZ: "Europe/Berlin"},
		{ID: uDev, Name: "dev", RealName: "Dana Dev", TZ: "Europe/Berlin"},
		{ID: uQA, Name: "qa", RealName: "Quinn QA", TZ: "Europe/Berlin"},
		{ID: uReq, Name: "req", RealName: "Rae Requester", TZ: "America/New_York"},
		{ID: uOutsider, Name: "out", RealName: "Otto Outsider", TZ: "UTC"},
	} {
		fake.AddUser(u)
	}
	fake.AddChannel(cIntake, "work-intake")
	fake.AddChannel(cLeads, "leadership")
	fake.AddChannel(cGeneral, "general")

	p := domain.DefaultPolicy()
	p.Leads = []domain.UserID{uLead}
	p.Teams = []domain.Team{{ID: "eng", Name: "Engineering", Leads: []domain.UserID{uLead}, Members: []domain.UserID{uDev, uQA}}}
	h := &harness{
		t: t, fake: fake, policy: p,
		dbPath: e2eDatabase(t),
		now:    time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), // a Tuesday
	}
	h.cfg = Config{
		BotToken: fake.BotToken(), AppToken: fake.AppToken(), APIURL: fake.URL(),
		IntakeChannel: cIntake, LeadershipChannels: []string{cLeads}, NotifySourceThread: true,
		Policy: p, Now: h.clock, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		ShutdownGrace: 5 * time.Second,
		// A crashed bot's claims must free soon on PostgreSQL, where they outlive the process.
		ClaimLease: 2 * time.Second,
	}
	for _, o := range opts {
		o(h)
	}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	h.now = h.now.Add(d)
	h.mu.Unlock()
}

// start opens the DB and runs the bot until stop.
func (h *harness) start() {
	h.t.Helper()
	db, err := openE2E(h.dbPath)
	if err != nil {
		h.t.Fatal(err)
	}
	var store Store = db
	if h.wrap != nil {
		store = h.wrap(db)
	}
	b, err := New(h.cfg, store)
	if err != nil {
		h.t.Fatal(err)
	}
	b.out.hookAfterSend = h.hook
	if h.noDelivery {
		b.out.workers = 0
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.db, h.bot, h.cancel, h.done = db, b, cancel, make(chan error, 1)
	opened := h.fake.ConnectionsOpened()
	go func() { h.done <- b.Run(ctx) }()
	h.waitFor("the bot to connect", func() bool { return h.fake.ConnectionsOpened() > opened && h.fake.Connections() > 0 })
}

// stop asks the bot to stop like SIGTERM does, waits for it, checks the DB and closes it.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("bot.Run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		h.t.Error("the bot did not stop within 30 s")
	}
	// The next start must not find this bot's socket still open on Slack's side.
	h.waitFor("the socket to close", func() bool { return h.fake.Connections() == 0 })
	if err := h.db.CheckConsistency(); err != nil {
		h.t.Errorf("consistency: %v", err)
	}
	if err := h.db.Close(); err != nil {
		h.t.Errorf("close: %v", err)
	}
	h.cancel = nil
}

func (h *harness) restart() {
	h.stop()
	h.start()
}

func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	if err := h.fake.WaitForTimeout(wait, cond); err != nil {
		h.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// pollFor waits for a condition the fake cannot see change (files on disk), re-checking it often.
func (h *harness) pollFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(wait)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("waiting for %s: timed out", what)
		}
		<-tick.C
	}
}

// command runs a slash command and waits for its ack.
func (h *harness) command(user, channel, text string) {
	h.t.Helper()
	d, err := h.fake.SlashCommand(user, channel, SlashCommand, text)
	if err != nil {
		h.t.Fatal(err)
	}
	ack, err := d.WaitTimeout(wait)
	if err != nil {
		h.t.Fatalf("/work %s: %v", text, err)
	}
	if ack.Latency > 3*time.Second {
		h.t.Errorf("/work %s acked after %v", text, ack.Latency)
	}
}

// reply runs a command and returns the text of the next ephemeral answer to user.
func (h *harness) reply(user, channel, text string) string {
	h.t.Helper()
	before := len(h.fake.Ephemerals(user))
	h.command(user, channel, text)
	h.waitFor("an answer to /work "+text, func() bool { return len(h.fake.Ephemerals(user)) > before })
	return h.fake.Ephemerals(user)[before].AllText()
}

// lastEphemeral returns the latest ephemeral message to user.
func (h *harness) lastEphemeral(user string) slackfake.Ephemeral {
	h.t.Helper()
	es := h.fake.Ephemerals(user)
	if len(es) == 0 {
		h.t.Fatalf("no ephemeral message for %s", user)
	}
	return es[len(es)-1]
}

// click presses a button and waits for the ack.
func (h *harness) click(user string, on slackfake.Surface, actionOrText string) {
	h.t.Helper()
	d, err := h.fake.ClickButton(user, on, actionOrText)
	if err != nil {
		h.t.Fatalf("click %q: %v", actionOrText, err)
	}
	if _, err := d.WaitTimeout(wait); err != nil {
		h.t.Fatalf("click %q: %v", actionOrText, err)
	}
}

// clickExpectingReply presses a button and returns the next ephemeral answer to user.
func (h *harness) clickExpectingReply(user string, on slackfake.Surface, actionOrText string) string {
	h.t.Helper()
	before := len(h.fake.Ephemerals(user))
	beforeDM := len(h.fake.DMs(user))
	h.click(user, on, actionOrText)
	h.waitFor("an answer to the click on "+actionOrText, func() bool {
		return len(h.fake.Ephemerals(user)) > before || len(h.fake.DMs(user)) > beforeDM
	})
	if es := h.fake.Ephemerals(user); len(es) > before {
		return es[before].AllText()
	}
	return h.fake.DMs(user)[beforeDM].AllText()
}

// modal waits for user's top modal with the callback ID.
func (h *harness) modal(user, callbackID string) slackfake.View {
	h.t.Helper()
	var v slackfake.View
	h.waitFor("modal "+callbackID, func() bool {
		var ok bool
		v, ok = h.fake.TopModal(user)
		return ok && v.CallbackID == callbackID
	})
	return v
}

// submit fills and submits user's top modal and returns the ack.
func (h *harness) submit(user string, v slackfake.View, values map[string]slackfake.Value) slackfake.Ack {
	h.t.Helper()
	in := map[string]map[string]slackfake.Value{}
	for block, val := range values {
		in[block] = map[string]slackfake.Value{inputAction: val}
	}
	d, err := h.fake.SubmitView(user, v.ID, in)
	if err != nil {
		h.t.Fatalf("submit %s: %v", v.CallbackID, err)
	}
	ack, err := d.WaitTimeout(wait)
	if err != nil {
		h.t.Fatalf("submit %s: %v", v.CallbackID, err)
	}
	return ack
}

// itemMessage returns the canonical message of the item with key, from the intake channel.
func (h *harness) itemMessage(key string) slackfake.Message {
	h.t.Helper()
	var found slackfake.Message
	h.waitFor("the item message of "+key, func() bool {
		for _, m := range h.fake.Messages(cIntake) {
			if m.ThreadTS == "" && strings.HasPrefix(m.Text, key+":") {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// thread returns the replies under a message.
func (h *harness) thread(m slackfake.Message) []string {
	var out []string
	for _, r := range h.fake.Messages(m.Channel) {
		if r.ThreadTS == m.TS && r.TS != m.TS {
			out = append(out, r.Text)
		}
	}
	return out
}

func (h *harness) waitThread(m slackfake.Message, contains string) {
	h.t.Helper()
	h.waitFor(fmt.Sprintf("thread line %q (thread so far: %q)", contains, h.thread(m)), func() bool {
		for _, l := range h.thread(m) {
			if strings.Contains(l, contains) {
				return true
			}
		}
		return false
	})
}

// waitDM waits for a DM to user containing text and returns it.
func (h *harness) waitDM(user, contains string) slackfake.Message {
	h.t.Helper()
	var found slackfake.Message
	h.waitFor("a DM to "+user+" containing "+contains, func() bool {
		for _, m := range h.fake.DMs(user) {
			if strings.Contains(m.AllText(), contains) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// item reads an item from the DB.
func (h *harness) item(id domain.ItemID) domain.Item {
	h.t.Helper()
	var it domain.Item
	err := h.db.View(context.Background(), func(tx domain.ReadTx) error {
		var err error
		it, err = tx.Item(id)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return it
}

// eventCount is the number of audit events stored for an item.
func (h *harness) eventCount(id domain.ItemID) int {
	n := 0
	_ = h.db.View(context.Background(), func(tx domain.ReadTx) error {
		return tx.ItemEvents(id, func(domain.Event) bool { n++; return true })
	})
	return n
}

func (h *harness) home(user string) string {
	h.t.Helper()
	v, ok := h.fake.Home(user)
	if !ok {
		h.t.Fatalf("no App Home published for %s", user)
	}
	return v.AllText()
}

func (h *harness) waitHome(user, contains string) {
	h.t.Helper()
	h.waitFor("App Home of "+user+" to show "+contains, func() bool {
		v, ok := h.fake.Home(user)
		return ok && strings.Contains(v.AllText(), contains)
	})
}

// request files an item through the intake modal and returns its key's ID.
func (h *harness) request(user, title string, size string) domain.ItemID {
	h.t.Helper()
	h.command(user, cGeneral, "request "+title)
	v := h.modal(user, ViewIntake)
	ack := h.submit(user, v, map[string]slackfake.Value{
		BlockDetails: slackfake.TextValue("Steps: open the login page."),
		BlockSize:    slackfake.OptionValue(size),
	})
	if len(ack.Payload) > 0 && strings.Contains(string(ack.Payload), "errors") {
		h.t.Fatalf("intake refused: %s", ack.Payload)
	}
	var id domain.ItemID
	h.waitFor("the new item", func() bool {
		_ = h.db.View(context.Background(), func(tx domain.ReadTx) error {
			return tx.ItemsByRequester(domain.UserID(user), func(it domain.Item) bool {
				if it.Title == title {
					id = it.ID
					return false
				}
				return true
			})
		})
		return id != 0
	})
	return id
}
