package slackfake

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every wait in these tests; they normally finish in
// milliseconds, so hitting it means a real failure.
const waitLimit = 5 * time.Second

// fastOptions shortens Slack's durations so tests run in milliseconds.
func fastOptions(t testing.TB) Options {
	return Options{
		Logf:            t.Logf,
		PingInterval:    50 * time.Millisecond,
		DisconnectGrace: 100 * time.Millisecond,
		RedeliveryAfter: 100 * time.Millisecond,
	}
}

func startFake(t testing.TB, opts Options) *Fake {
	t.Helper()
	f := New(opts)
	if err := f.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	f.AddUser(User{ID: "U1", Name: "alice", RealName: "Alice Liddell", TZ: "Europe/Paris"})
	f.AddUser(User{ID: "U2", Name: "bob", RealName: "Bob Builder", TZ: "America/New_York"})
	f.AddChannel("C1", "general")
	return f
}

// newAPI returns a slack-go client on the fake whose idle connections are
// closed at cleanup, so goleak sees no leftover transport goroutines.
func newAPI(t testing.TB, f *Fake, opts ...slack.Option) *slack.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	all := append([]slack.Option{
		slack.OptionAppLevelToken(f.AppToken()),
		slack.OptionAPIURL(f.URL()),
		slack.OptionHTTPClient(&http.Client{Transport: tr}),
	}, opts...)
	return slack.New(f.BotToken(), all...)
}

// app runs the real slack-go socketmode client against the fake.
type app struct {
	api    *slack.Client
	sm     *socketmode.Client
	events chan socketmode.Event
}

func startApp(t testing.TB, f *Fake, opts ...slack.Option) *app {
	t.Helper()
	api := newAPI(t, f, opts...)
	// The fake must ping more often than this, or the client reconnects.
	sm := socketmode.New(api, socketmode.OptionPingInterval(2*time.Second))
	a := &app{api: api, sm: sm, events: make(chan socketmode.Event, 256)}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	drainDone := make(chan struct{})
	go func() { runDone <- sm.RunContext(ctx) }()
	go func() {
		defer close(drainDone)
		for {
			select {
			case evt := <-sm.Events:
				select {
				case a.events <- evt:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-runDone:
		case <-time.After(waitLimit):
			t.Error("socketmode client did not stop")
		}
		<-drainDone
	})
	return a
}

// next returns the next event of type typ, skipping others.
func (a *app) next(t testing.TB, typ socketmode.EventType) socketmode.Event {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		select {
		case evt := <-a.events:
			if evt.Type == typ {
				return evt
			}
		case <-deadline:
			t.Fatalf("no %s event within %v", typ, waitLimit)
		}
	}
}

func (a *app) ack(t testing.TB, req *socketmode.Request, payload any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := a.sm.AckCtx(ctx, req.EnvelopeID, payload); err != nil {
		t.Fatalf("ack: %v", err)
	}
}

func waitFor(t testing.TB, f *Fake, what string, cond func() bool) {
	t.Helper()
	if err := f.WaitForTimeout(waitLimit, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func await(t testing.TB, d *Delivery) Ack {
	t.Helper()
	ack, err := d.WaitTimeout(waitLimit)
	if err != nil {
		t.Fatalf("delivery %s: %v", d.EnvelopeID, err)
	}
	return ack
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}
