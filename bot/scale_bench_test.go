package bot

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"workbot/domain"
	"workbot/storage"
	"workbot/storage/fixture"
)

// The scale benchmarks run the bot's own handlers and renderers over a fixture file shaped like the
// product owner's measurement (storage/fixture): WORKBOT_SCALE=1m for 1M items, 100k open, 2,000
// people and 7.7M events (make bench), else a 20k-item file of the same shape. Slack is a local HTTP
// server that accepts every call and discards it, so the figures are the bot's own cost: reading,
// ranking, rendering and sending. Each benchmark reports percentiles of its iterations.

func scaleSpec() fixture.Spec {
	if os.Getenv("WORKBOT_SCALE") == "1m" {
		return fixture.Scale
	}
	return fixture.Small
}

// scaleEnv is a bot on a fixture file and a sink for its Web API calls.
type scaleEnv struct {
	spec   fixture.Spec
	db     *storage.DB
	bot    *Bot
	sink   *httptest.Server
	policy *domain.Policy
	// member has open work and leads nothing; lead is the global lead, who sees everyone.
	member, lead domain.UserID
}

var (
	writableOnce sync.Once
	writablePath string
	writableErr  error
)

// openScale opens the fixture: the cached file read-only, or, for benchmarks that write, one copy
// shared by every writing benchmark of this run and removed by TestMain (scaleCleanup).
func openScale(b *testing.B, writable bool) *scaleEnv {
	b.Helper()
	spec := scaleSpec()
	path, err := fixture.Path(spec, b.Logf)
	if err != nil {
		b.Fatal(err)
	}
	opts := storage.Options{ReadOnly: true}
	if writable {
		writableOnce.Do(func() {
			dir, err := os.MkdirTemp("", "workbot-scale-")
			if err != nil {
				writableErr = err
				return
			}
			writablePath = filepath.Join(dir, "workbot.db")
			writableErr = fixture.Copy(path, writablePath)
		})
		if writableErr != nil {
			b.Fatal(writableErr)
		}
		path, opts = writablePath, storage.Options{}
	}
	db, err := storage.Open(path, opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"channel":"D0000","ts":"1.000001"}`)
	}))
	b.Cleanup(sink.Close)
	p := fixture.Policy(spec)
	bot, err := New(Config{
		BotToken: "xoxb-bench", AppToken: "xapp-bench", APIURL: sink.URL + "/api/",
		IntakeChannel: fixture.IntakeChannel, LeadershipChannels: []string{fixture.LeadershipChannel},
		Policy: p, Now: func() time.Time { return fixture.Now }, Log: zerolog.Nop(),
	}, db)
	if err != nil {
		b.Fatal(err)
	}
	return &scaleEnv{spec: spec, db: db, bot: bot, sink: sink, policy: p,
		member: fixture.Person(spec.Teams + 7), lead: fixture.Lead}
}

// scaleCleanup removes the writable copy; TestMain calls it once every benchmark is done.
func scaleCleanup() {
	if writablePath != "" {
		os.RemoveAll(filepath.Dir(writablePath))
	}
}

func (e *scaleEnv) command(user domain.UserID, text string) {
	e.bot.handleCommand(context.Background(), slack.SlashCommand{
		Command: SlashCommand, Text: text, UserID: string(user), ChannelID: "C0GENERAL", ResponseURL: e.sink.URL + "/hook",
	})
}

// latencies collects one duration per iteration and reports percentiles in milliseconds.
type latencies []time.Duration

func (l *latencies) time(fn func()) {
	start := time.Now()
	fn()
	*l = append(*l, time.Since(start))
}

func (l latencies) pct(p float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
}

func (l latencies) report(b *testing.B, prefix string) {
	b.ReportMetric(l.pct(0.50), prefix+"p50-ms")
	b.ReportMetric(l.pct(0.99), prefix+"p99-ms")
	b.ReportMetric(l.pct(1), prefix+"max-ms")
}

// openItem finds an open item that is not assigned to any of avoid, in a stage assign accepts.
func (e *scaleEnv) openItem(b *testing.B, skip int, avoid ...domain.UserID) domain.Item {
	var found domain.Item
	err := e.db.View(context.Background(), func(tx domain.ReadTx) error {
		return tx.OpenItemsInStage(domain.StageTodo, func(it domain.Item) bool {
			if slices.Contains(avoid, it.Assignee) {
				return true
			}
			if skip--; skip < 0 {
				found = it
				return false
			}
			return true
		})
	})
	if err != nil || found.ID == 0 {
		b.Fatalf("no open item to assign: %v", err)
	}
	return found
}

// BenchmarkScaleMine is /work mine, from the command to the answer sent.
func BenchmarkScaleMine(b *testing.B) {
	e := openScale(b, false)
	for _, who := range []struct {
		name string
		user domain.UserID
	}{{"member", e.member}, {"lead", e.lead}} {
		b.Run(who.name, func(b *testing.B) {
			var l latencies
			for b.Loop() {
				l.time(func() { e.command(who.user, "mine") })
			}
			l.report(b, "")
		})
	}
}

// BenchmarkScaleHome builds a person's App Home and publishes it (what the outbox's home effect
// does after clearing its marker).
func BenchmarkScaleHome(b *testing.B) {
	e := openScale(b, false)
	ctx := context.Background()
	for _, who := range []struct {
		name string
		user domain.UserID
	}{{"member", e.member}, {"lead", e.lead}} {
		b.Run(who.name, func(b *testing.B) {
			var l latencies
			for b.Loop() {
				l.time(func() {
					d, err := e.bot.homeData(ctx, who.user)
					if err != nil {
						b.Fatal(err)
					}
					if err := e.bot.api.publishHome(ctx, string(who.user), homeView(d)); err != nil {
						b.Fatal(err)
					}
				})
			}
			l.report(b, "")
		})
	}
}

// BenchmarkScaleList is /work list with no filter: the first page of every open item by priority.
func BenchmarkScaleList(b *testing.B) {
	e := openScale(b, false)
	var l latencies
	for b.Loop() {
		l.time(func() { e.command(e.member, "list") })
	}
	l.report(b, "")
}

// BenchmarkScaleLoad is a lead's /work load.
func BenchmarkScaleLoad(b *testing.B) {
	e := openScale(b, false)
	var l latencies
	for b.Loop() {
		l.time(func() { e.command(e.lead, "load") })
	}
	l.report(b, "")
}

// BenchmarkScaleAssignPreview is /work assign to someone it would overload, up to the warning sent.
func BenchmarkScaleAssignPreview(b *testing.B) {
	e := openScale(b, false)
	it := e.openItem(b, 0, e.member)
	text := "assign " + it.Key + " <@" + string(e.member) + ">"
	var l latencies
	for b.Loop() {
		l.time(func() { e.command(e.lead, text) })
	}
	l.report(b, "")
}

// timingStore measures how long each Update holds bbolt's writer: from the first run of its function
// (the lock is taken before it) to the commit's return (the lock is released just before).
type timingStore struct {
	Store
	mu   sync.Mutex
	held latencies
}

func (s *timingStore) Update(ctx context.Context, fn func(domain.Tx) error) error {
	var start time.Time
	err := s.Store.Update(ctx, func(tx domain.Tx) error {
		if start.IsZero() {
			start = time.Now()
		}
		return fn(tx)
	})
	s.mu.Lock()
	s.held = append(s.held, time.Since(start))
	s.mu.Unlock()
	return err
}

// BenchmarkScaleAssignConfirm is the "Assign anyway" button: the confirmed assignment committed and
// answered. It alternates the item between two people so every click changes something.
func BenchmarkScaleAssignConfirm(b *testing.B) {
	e := openScale(b, true)
	ts := &timingStore{Store: e.db}
	e.bot.store.Store = ts
	e.bot.svc.Store = e.bot.store
	ctx := context.Background()
	other := fixture.Person(e.spec.Teams + 8)
	it := e.openItem(b, 3, e.member, other)
	r := replier{b: e.bot, user: e.lead, responseURL: e.sink.URL + "/hook"}
	var l latencies
	i := 0
	for b.Loop() {
		b.StopTimer()
		cur, err := e.bot.svc.Item(ctx, it.ID)
		if err != nil {
			b.Fatal(err)
		}
		to := e.member
		if i%2 == 1 {
			to = other
		}
		i++
		b.StartTimer()
		l.time(func() { e.bot.assignWithCheck(ctx, r, e.lead, it.ID, to, cur.Version) })
	}
	b.StopTimer()
	if got, _ := e.bot.svc.Item(ctx, it.ID); got.Version == it.Version {
		b.Fatal("the assignments did not commit")
	}
	l.report(b, "")
	ts.held.report(b, "lock-")
}

// BenchmarkScaleIntake is 64 concurrent writers creating requests through the domain, alone and
// while a lead assigns in a loop, in items per second.
func BenchmarkScaleIntake(b *testing.B) {
	e := openScale(b, true)
	ctx := context.Background()
	svc := &domain.Service{Store: e.db, Policy: e.policy, Now: func() time.Time { return fixture.Now }}
	create := func() error {
		_, err := svc.Create(ctx, e.member, domain.NewItem{Title: "A request from the load test", Details: "Some details.", Size: 3})
		return err
	}
	for _, mode := range []string{"alone", "with-assign-loop"} {
		b.Run(mode, func(b *testing.B) {
			stop := make(chan struct{})
			var assigned atomic.Int64
			var wg sync.WaitGroup
			if mode == "with-assign-loop" {
				other := fixture.Person(e.spec.Teams + 8)
				it := e.openItem(b, 5, e.member, other)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						to := e.member
						if i%2 == 1 {
							to = other
						}
						if _, err := svc.Assign(ctx, e.lead, it.ID, to); err != nil {
							b.Error(err)
							return
						}
						assigned.Add(1)
					}
				}()
			}
			start := time.Now()
			runWriters(b, 64, create)
			elapsed := time.Since(start)
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "items/s")
			if mode == "with-assign-loop" {
				b.ReportMetric(float64(assigned.Load())/elapsed.Seconds(), "assigns/s")
			}
		})
	}
}

// runWriters shares b.N writes among n goroutines.
func runWriters(b *testing.B, n int, write func() error) {
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	var failed atomic.Value
	b.ResetTimer()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if err := write(); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScaleDigest builds the leadership digest from the file and renders its blocks, as a
// scheduled digest does before it is queued.
func BenchmarkScaleDigest(b *testing.B) {
	// Writable, so the plan-versus-execution reports are stored as the bot stores them: computed once
	// (below, untimed; BenchmarkScaleAlignmentWeek measures that) and read by every digest.
	e := openScale(b, true)
	ctx := context.Background()
	e.bot.warmAlignment(ctx, fixture.Now)
	var l latencies
	for b.Loop() {
		l.time(func() {
			d, err := e.bot.buildDigest(ctx, fixture.Now, 10)
			if err != nil {
				b.Fatal(err)
			}
			plan := lastWeek(e.bot.digestAlignment(ctx, fixture.Now))
			if plan == nil {
				b.Fatal("no plan-versus-execution section")
			}
			blocks := digestBlocks(d, d.ChangesSince(domain.DigestSnapshot{}), true, e.policy, "Work digest", plan)
			if len(blocks) == 0 || d.OpenItems == 0 {
				b.Fatalf("digest of %d open items, %d blocks", d.OpenItems, len(blocks))
			}
		})
	}
	l.report(b, "")
}

// BenchmarkScaleAlignmentWeek computes one complete week of plan versus execution from the audit log
// for everyone and every team, as the hourly warm-up does once a week (alignment_cache.go).
func BenchmarkScaleAlignmentWeek(b *testing.B) {
	e := openScale(b, false)
	ctx := context.Background()
	weeks := e.policy.Calendar.WeeksBefore(fixture.Now, 1)
	var l latencies
	for b.Loop() {
		l.time(func() {
			err := e.db.View(ctx, func(tx domain.ReadTx) error {
				_, err := domain.BuildAlignmentReports(tx, e.policy, weeks[0], nil, e.bot.allAlignmentTeams())
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	}
	l.report(b, "")
}
