package sandbox_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

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
