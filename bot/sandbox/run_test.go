package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"workbot/bot"
	"workbot/bot/sandbox"
	"workbot/bot/slackfake"
	"workbot/domain"
	"workbot/storage"
)

type idleBot struct{}

func (idleBot) Run(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

// runOnce runs the sandbox with a bot that never connects, stopping as soon as the page is announced,
// and returns how many items the database then holds and Run's error.
func runOnce(t *testing.T, path string, mode sandbox.DemoMode) (int, error) {
	t.Helper()
	db, err := storage.Open(path, storage.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := domain.DefaultPolicy()
	sandbox.ApplyWorkspace(p)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = sandbox.Run(ctx, sandbox.RunConfig{
		Listener: ln, Store: db, Policy: p, Demo: mode, Log: zerolog.Nop(), ConnectTimeout: 10 * time.Millisecond,
		NewBot: func(*slackfake.Fake) (sandbox.Runner, error) { return idleBot{}, nil },
		Ready:  func(string) { cancel() },
	})
	n := 0
	_ = db.View(context.Background(), func(tx domain.ReadTx) error {
		for id := domain.ItemID(1); ; id++ {
			if _, err := tx.Item(id); err != nil {
				return nil
			}
			n++
		}
	})
	return n, err
}

// TestRunDemoModes: the demo goes into a new database by default and never into one that holds work;
// --demo=false starts empty; --demo refuses a database that holds work.
func TestRunDemoModes(t *testing.T) {
	dir := t.TempDir()
	if n, err := runOnce(t, filepath.Join(dir, "off.db"), sandbox.DemoOff); err != nil || n != 0 {
		t.Errorf("DemoOff: %v, %d items", err, n)
	}
	auto := filepath.Join(dir, "auto.db")
	n, err := runOnce(t, auto, sandbox.DemoAuto)
	if err != nil || n < 35 {
		t.Fatalf("DemoAuto on a new file: %v, %d items", err, n)
	}
	if again, err := runOnce(t, auto, sandbox.DemoAuto); err != nil || again != n {
		t.Errorf("DemoAuto on the same file again: %v, %d items (was %d)", err, again, n)
	}
	if again, err := runOnce(t, auto, sandbox.DemoOn); !errors.Is(err, sandbox.ErrNotEmpty) || again != n {
		t.Errorf("DemoOn on a file with work: %v, %d items", err, again)
	}
}

// live is sandbox.Run with the real bot, as `workbot sandbox` runs it, on the given files.
type live struct {
	*env
	stop func() // stops the sandbox and waits for Run to return nil
}

func runLive(t *testing.T, dbPath, slackPath string, mode sandbox.DemoMode) *live {
	t.Helper()
	db, err := storage.Open(dbPath, storage.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := domain.DefaultPolicy()
	sandbox.ApplyWorkspace(p)
	logger := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	fakes := make(chan *slackfake.Fake, 1)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- sandbox.Run(ctx, sandbox.RunConfig{
			Listener: ln, Store: db, Policy: p, Demo: mode, Log: logger, SlackState: slackPath, SaveDelay: 50 * time.Millisecond,
			Web: sandbox.Options{PollTimeout: 2 * time.Second, IntakeReaction: sandbox.IntakeReaction, ReactionChannels: sandbox.ReactionChannels},
			NewBot: func(fake *slackfake.Fake) (sandbox.Runner, error) {
				fakes <- fake
				return bot.New(bot.Config{
					BotToken: fake.BotToken(), AppToken: fake.AppToken(), APIURL: fake.URL(),
					IntakeChannel: sandbox.IntakeChannel, LeadershipChannels: []string{sandbox.LeadershipChannel},
					IntakeReaction: sandbox.IntakeReaction, ReactionChannels: sandbox.ReactionChannels, NotifySourceThread: true,
					Policy: p, Log: logger, ShutdownGrace: 5 * time.Second,
				}, db)
			},
			Ready: func(url string) { ready <- url },
		})
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("the sandbox stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the sandbox did not start")
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sandbox.Run: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return &live{env: &env{t: t, fake: <-fakes, url: url}, stop: stop}
}

// topLevel returns the top-level messages of a conversation.
func topLevel(msgs []slackfake.Message) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range msgs {
		if m.ThreadTS == "" || m.ThreadTS == m.TS {
			out = append(out, m)
		}
	}
	return out
}

// TestDemoItemsHaveMessages: a fresh sandbox's #work-intake holds a message for every demo item, each
// with its history in the thread, and people have the DMs the history left them (Quinn the pending
// handoff of W-24, with its buttons), because the demo was written through the bot's outbox.
func TestDemoItemsHaveMessages(t *testing.T) {
	t0 := time.Now()
	l := runLive(t, filepath.Join(t.TempDir(), "sandbox.db"), "", sandbox.DemoAuto)
	const items = 40
	keyRe := regexp.MustCompile(`\bW-(\d+)\b`)
	keysOf := func() map[string]slackfake.Message {
		keys := map[string]slackfake.Message{}
		for _, m := range topLevel(l.fake.Messages(sandbox.IntakeChannel)) {
			if k := keyRe.FindString(string(m.Blocks)); k != "" {
				keys[k] = m
			}
		}
		return keys
	}
	if err := l.fake.WaitForTimeout(30*time.Second, func() bool { return len(keysOf()) >= items }); err != nil {
		t.Fatalf("#work-intake has messages for %d items, want %d", len(keysOf()), items)
	}
	t.Logf("all %d item messages after %v", items, time.Since(t0))
	keys := keysOf()
	for i := 1; i <= items; i++ {
		if _, ok := keys[fmt.Sprintf("W-%d", i)]; !ok {
			t.Errorf("no message for W-%d", i)
		}
	}
	// The stalled item's thread tells its history: assigned, started, moved to review.
	stalled := keys[sandbox.DemoStalled]
	var lines []string
	if err := l.fake.WaitForTimeout(wait, func() bool {
		lines = nil
		for _, m := range l.fake.Messages(sandbox.IntakeChannel) {
			if m.ThreadTS == stalled.TS && m.TS != stalled.TS {
				lines = append(lines, m.Text)
			}
		}
		return len(lines) >= 3
	}); err != nil {
		t.Errorf("%s's thread: %q", sandbox.DemoStalled, lines)
	}
	// Quinn has the handoff of W-24 to accept, with its buttons.
	if err := l.fake.WaitForTimeout(wait, func() bool {
		for _, m := range l.fake.DMs(sandbox.QA) {
			if strings.Contains(string(m.Blocks), sandbox.DemoHandoff) && strings.Contains(string(m.Blocks), bot.ActionHandoffAccept) {
				return true
			}
		}
		return false
	}); err != nil {
		t.Errorf("Quinn has no handoff DM for %s", sandbox.DemoHandoff)
	}
	for _, u := range sandbox.Users {
		t.Logf("%-14s %3d DMs", u.RealName, len(topLevel(l.fake.DMs(u.ID))))
	}
	// #general has something to try the ⋯ menu and the :ticket: on.
	if got := topLevel(l.fake.Messages(sandbox.GeneralChannel)); len(got) != len(sandbox.DemoChatter) || got[0].User != sandbox.DemoChatter[0].User {
		t.Errorf("#general: %+v", got)
	}
}

// TestSlackSideKept: the Slack side outlives a restart. An item filed before the stop keeps its
// message and its reactions, and a button on it (and on a demo item's) still acts after the start: the
// bot edits the old message in place.
func TestSlackSideKept(t *testing.T) {
	dir := t.TempDir()
	dbPath, slackPath := filepath.Join(dir, "sandbox.db"), filepath.Join(dir, "sandbox.db.slack.json")
	const title = "Kept across a restart"

	l := runLive(t, dbPath, slackPath, sandbox.DemoAuto)
	l.mustPost("/api/send", map[string]string{"user": sandbox.Requester, "conv": sandbox.GeneralChannel, "text": "/work request " + title})
	st := l.waitState("the intake modal", sandbox.Requester, sandbox.GeneralChannel, func(s sandbox.State) bool { return s.Modal != nil })
	l.mustPost("/api/submit", map[string]any{"user": sandbox.Requester, "view_id": st.Modal.ID, "values": map[string]any{}})
	l.mustPost("/api/send", map[string]string{"user": sandbox.Lead, "conv": sandbox.IntakeChannel, "text": "/work assign W-41 @devon"})
	var before sandbox.Msg
	l.waitState("W-41 assigned", sandbox.Lead, sandbox.IntakeChannel, func(s sandbox.State) bool {
		m, ok := itemMessage(s, title)
		before = m
		return ok && strings.Contains(string(m.Blocks), "@"+sandbox.Developer2) && strings.Contains(string(m.Blocks), bot.ActionStart)
	})
	demoItem := "Audit-log export for SOC 2" // W-12: Dana's, not started
	l.waitState("W-12's message", sandbox.Developer, sandbox.IntakeChannel, func(s sandbox.State) bool {
		_, ok := itemMessage(s, demoItem)
		return ok
	})
	l.mustPost("/api/react", map[string]any{"user": sandbox.Developer, "channel": sandbox.IntakeChannel, "ts": before.TS, "emoji": "eyes"})
	l.stop()
	if _, err := os.Stat(slackPath); err != nil {
		t.Fatalf("the Slack side was not kept: %v", err)
	}

	l = runLive(t, dbPath, slackPath, sandbox.DemoAuto)
	st = l.state(sandbox.Developer, sandbox.IntakeChannel)
	after, ok := itemMessage(st, title)
	if !ok || after.TS != before.TS {
		t.Fatalf("W-41's message after the restart: %+v (was ts %s)", after, before.TS)
	}
	if len(after.Reactions) != 1 || after.Reactions[0].Name != "eyes" || !after.Reactions[0].Mine {
		t.Errorf("reactions after the restart: %+v", after.Reactions)
	}
	for key, who := range map[string]string{title: sandbox.Developer2, demoItem: sandbox.Developer} {
		m, _ := itemMessage(st, key)
		b, el := find(t, m.Blocks, bot.ActionStart)
		l.mustPost("/api/act", map[string]any{"user": who, "surface": m.Surface, "block": b, "element": el})
		l.waitState(key+" started, in its old message", who, sandbox.IntakeChannel, func(s sandbox.State) bool {
			now, ok := itemMessage(s, key)
			return ok && now.TS == m.TS && now.Edited && strings.Contains(string(now.Blocks), "In progress")
		})
	}
	if n := len(topLevel(l.fake.Messages(sandbox.IntakeChannel))); n != 41 {
		t.Errorf("#work-intake has %d messages after the restart, want 41 (nothing posted again)", n)
	}
}

// TestSlackSideGoesWithItsDatabase: a new database starts a new workspace even when an old Slack side
// lies beside it, and a Slack side that cannot be read is moved aside rather than stop the sandbox.
func TestSlackSideGoesWithItsDatabase(t *testing.T) {
	dir := t.TempDir()
	dbPath, slackPath := filepath.Join(dir, "sandbox.db"), filepath.Join(dir, "sandbox.db.slack.json")
	const said = "Said before the database was deleted"

	l := runLive(t, dbPath, slackPath, sandbox.DemoOff)
	l.mustPost("/api/send", map[string]string{"user": sandbox.Requester, "conv": sandbox.GeneralChannel, "text": "/work request Keep the database"})
	l.waitState("the form", sandbox.Requester, sandbox.GeneralChannel, func(s sandbox.State) bool { return s.Modal != nil })
	l.mustPost("/api/send", map[string]string{"user": sandbox.Requester, "conv": sandbox.GeneralChannel, "text": said})
	l.stop()

	// The same database: the message is back.
	l = runLive(t, dbPath, slackPath, sandbox.DemoOff)
	if n := len(l.fake.Messages(sandbox.GeneralChannel)); n != 1 {
		t.Errorf("#general after a restart: %d messages, want 1", n)
	}
	l.stop()

	// A new database: a new workspace.
	if err := os.Remove(dbPath); err != nil {
		t.Fatal(err)
	}
	l = runLive(t, dbPath, slackPath, sandbox.DemoOff)
	if n := len(l.fake.Messages(sandbox.GeneralChannel)); n != 0 {
		t.Errorf("#general with a new database: %d messages, want 0", n)
	}
	l.mustPost("/api/send", map[string]string{"user": sandbox.Requester, "conv": sandbox.GeneralChannel, "text": "/work request A new start"})
	l.waitState("the form", sandbox.Requester, sandbox.GeneralChannel, func(s sandbox.State) bool { return s.Modal != nil })
	l.stop()

	// A Slack side that cannot be read is moved aside.
	if err := os.WriteFile(slackPath, []byte(`{"version": 99}`), 0o600); err != nil {
		t.Fatal(err)
	}
	l = runLive(t, dbPath, slackPath, sandbox.DemoOff)
	if _, err := os.Stat(slackPath + ".unreadable"); err != nil {
		t.Errorf("the unreadable state was not moved aside: %v", err)
	}
	l.stop()
}
