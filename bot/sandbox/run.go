package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/rs/zerolog"

	"workbot/bot/slackfake"
	"workbot/domain"
)

// DemoMode says when Run writes the demo company into the database.
type DemoMode int

const (
	// DemoAuto seeds the demo into a new (empty) database and leaves any other alone.
	DemoAuto DemoMode = iota
	// DemoOn insists on the demo: a database that already holds work is refused (ErrNotEmpty).
	DemoOn
	// DemoOff never seeds.
	DemoOff
)

// ErrNotEmpty is returned by Run when DemoOn meets a database that already holds work: the demo's
// history would be mixed into someone's items.
var ErrNotEmpty = errors.New("the database already holds work")

// Runner is the bot as Run needs it.
type Runner interface {
	Run(ctx context.Context) error
}

// RunConfig is what Run needs. Listener, Store, Policy and NewBot are required.
type RunConfig struct {
	// Listener is where the web client is served; the caller makes sure it is loopback.
	Listener net.Listener
	// Store is the bot's database. Policy is the bot's policy: the demo is written under it.
	Store  domain.Store
	Policy *domain.Policy
	Demo   DemoMode
	// NewBot builds the bot against the fake Slack, once the fake is up and the demo is written.
	NewBot func(fake *slackfake.Fake) (Runner, error)
	// Ready is called with the page's URL once the bot is connected (or gave up connecting), so that
	// the first command typed there is served.
	Ready func(url string)
	Log   zerolog.Logger
	// Now is the demo's "now" (default time.Now).
	Now func() time.Time
	// Web tunes the web server; ConnectTimeout bounds the wait for the bot before Ready (default 15 s).
	Web            Options
	ConnectTimeout time.Duration
	// SlackState, when set, is the file that keeps the Slack side (people, channels, messages, threads,
	// DMs, reactions, views) across restarts: loaded at start when the database already holds work,
	// saved a moment after each change (SaveDelay, default 1 s) and at stop, atomically.
	SlackState string
	SaveDelay  time.Duration
}

// Effecter is a bot that can announce changes made beside it: the Service that writes the demo's
// history runs this hook in each transaction, so the demo's items get their messages, threads and DMs
// from the bot's outbox once it runs (*bot.Bot is one).
type Effecter interface {
	Effects() func(domain.Tx, domain.Result) error
}

// Run is `workbot sandbox`: the fake Slack seeded with the demo workspace, the demo company's history
// in a new database, the real bot connected to the fake, and the web client, until ctx ends. It returns
// nil after a stop through ctx.
func Run(ctx context.Context, cfg RunConfig) error {
	if cfg.Listener == nil || cfg.Store == nil || cfg.Policy == nil || cfg.NewBot == nil {
		return errors.New("sandbox.Run needs a Listener, a Store, a Policy and NewBot")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	logger := cfg.Log
	fake := slackfake.New(slackfake.Options{
		BotName: "workbot",
		Logf:    func(format string, args ...any) { logger.Debug().Str("component", "slackfake").Msgf(format, args...) },
	})
	if err := fake.Start(); err != nil {
		return fmt.Errorf("starting the local Slack: %w", err)
	}
	defer fake.Close()

	empty, err := isEmpty(ctx, cfg.Store)
	if err != nil {
		return err
	}
	if !empty && cfg.Demo == DemoOn {
		return ErrNotEmpty
	}
	kept, err := keptSlack(ctx, cfg)
	if err != nil {
		return err
	}
	if err := loadSlack(fake, cfg, kept); err != nil {
		return err
	}
	Seed(fake)
	b, err := cfg.NewBot(fake)
	if err != nil {
		return err
	}
	if empty {
		var effects func(domain.Tx, domain.Result) error
		if e, ok := b.(Effecter); ok {
			effects = e.Effects()
		}
		if err := seedDemo(ctx, cfg, fake, effects); err != nil {
			return err
		}
	}
	saved := make(chan struct{})
	saveCtx, stopSaving := context.WithCancel(context.Background())
	go func() {
		defer close(saved)
		keepSlack(saveCtx, fake, cfg)
	}()
	defer func() {
		stopSaving()
		<-saved
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	botDone := make(chan error, 1)
	go func() {
		err := b.Run(ctx)
		cancel() // a bot that stops on its own takes the sandbox down with it
		botDone <- err
	}()
	web := cfg.Web
	if web.Logf == nil {
		web.Logf = func(format string, args ...any) { logger.Warn().Str("component", "sandbox").Msgf(format, args...) }
	}
	srv := New(fake, web)
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	webDone := make(chan error, 1)
	go func() { webDone <- hs.Serve(cfg.Listener) }()

	waitCtx, waitDone := context.WithTimeout(ctx, cfg.ConnectTimeout)
	if err := fake.WaitFor(waitCtx, func() bool { return fake.Connections() > 0 }); err != nil && ctx.Err() == nil {
		logger.Warn().Err(err).Msg("the bot has not connected to the sandbox's Slack yet")
	}
	waitDone()
	url := "http://" + cfg.Listener.Addr().String()
	logger.Info().Str("url", url).Msg("web client listening")
	if cfg.Ready != nil && ctx.Err() == nil {
		cfg.Ready(url)
	}

	var webErr error
	select {
	case <-ctx.Done():
	case webErr = <-webDone:
		cancel()
	}
	stopped := ctx.Err() != nil

	// Long polls end first, so that Shutdown does not wait out their timeout.
	srv.Close()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		logger.Warn().Err(err).Msg("stopping the web client")
	}
	botErr := <-botDone
	// The bot has stopped: whatever it posted is in the fake, and is kept before the fake closes.
	stopSaving()
	<-saved
	saveSlack(fake, cfg)
	_ = fake.Close()
	for _, err := range []error{webErr, botErr} {
		if err == nil || errors.Is(err, http.ErrServerClosed) || (stopped && errors.Is(err, context.Canceled)) {
			continue
		}
		return err
	}
	return nil
}

// seedDemo writes the demo company into an empty database as cfg.Demo asks, through effects when the
// bot offers them.
func seedDemo(ctx context.Context, cfg RunConfig, fake *slackfake.Fake, effects func(domain.Tx, domain.Result) error) error {
	if cfg.Demo == DemoOff {
		return nil
	}
	t0 := time.Now()
	err := SeedDemoEffects(ctx, cfg.Store, cfg.Policy, cfg.Now(), effects)
	if errors.Is(err, ErrNoDemo) && cfg.Demo == DemoAuto {
		cfg.Log.Warn().Err(err).Msg("starting without the demo company")
		return nil
	}
	if err != nil {
		return fmt.Errorf("writing the demo company: %w", err)
	}
	cfg.Log.Info().Int("items", len(demoScript)).Dur("took", time.Since(t0)).Msg("the demo company's last weeks are in the database")
	return SeedChatter(fake)
}

// kvSandbox/kvSlackSide marks a database whose Slack side the sandbox keeps in cfg.SlackState.
const (
	kvSandbox   = "sandbox"
	kvSlackSide = "slack_side"
)

// keptSlack reports whether the database's Slack side was kept before (the file beside it is its
// own), and marks it as kept from now on.
func keptSlack(ctx context.Context, cfg RunConfig) (bool, error) {
	if cfg.SlackState == "" {
		return false, nil
	}
	kept := false
	err := cfg.Store.Update(ctx, func(tx domain.Tx) error {
		v, err := tx.State().Get(kvSandbox, kvSlackSide)
		if err != nil {
			return err
		}
		kept = v != nil
		if kept {
			return nil
		}
		return tx.State().Put(kvSandbox, kvSlackSide, []byte{1})
	})
	if err != nil {
		return false, fmt.Errorf("the sandbox's database: %w", err)
	}
	return kept, nil
}

// loadSlack loads the kept Slack side, if there is one and it belongs to this database: a new
// database starts a new workspace too, so deleting the database starts everything afresh. A file
// that cannot be read is moved aside, and the workspace starts empty.
func loadSlack(fake *slackfake.Fake, cfg RunConfig, kept bool) error {
	if cfg.SlackState == "" {
		return nil
	}
	log := cfg.Log.With().Str("slack_state", cfg.SlackState).Logger()
	if _, err := os.Stat(cfg.SlackState); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("the sandbox's Slack state: %w", err)
	}
	if !kept {
		log.Info().Msg("the database is new, so its Slack side starts afresh too; the old one will be replaced")
		return nil
	}
	if err := fake.LoadFile(cfg.SlackState); err != nil {
		aside := cfg.SlackState + ".unreadable"
		log.Warn().Err(err).Str("moved_to", aside).Msg("cannot read the kept Slack side; starting with an empty one")
		if err := os.Rename(cfg.SlackState, aside); err != nil {
			return fmt.Errorf("moving the unreadable Slack state aside: %w", err)
		}
		return nil
	}
	log.Info().Int("channels", len(fake.Channels())).Msg("the Slack side is back as it was")
	return nil
}

// keepSlack saves the Slack side a moment after it changes (SaveDelay, so that a burst of changes is
// saved once), until ctx ends.
func keepSlack(ctx context.Context, fake *slackfake.Fake, cfg RunConfig) {
	if cfg.SlackState == "" {
		return
	}
	delay := cfg.SaveDelay
	if delay <= 0 {
		delay = time.Second
	}
	changed := fake.Changed()
	for {
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		// Taken before the save: a change while it runs is saved next time.
		changed = fake.Changed()
		saveSlack(fake, cfg)
	}
}

func saveSlack(fake *slackfake.Fake, cfg RunConfig) {
	if cfg.SlackState == "" {
		return
	}
	if err := fake.SaveFile(cfg.SlackState); err != nil {
		cfg.Log.Warn().Err(err).Str("slack_state", cfg.SlackState).Msg("cannot keep the Slack side")
	}
}

// isEmpty reports whether the store has never recorded anything: every change appends an event.
func isEmpty(ctx context.Context, store domain.Store) (bool, error) {
	empty := true
	err := store.View(ctx, func(tx domain.ReadTx) error {
		if err := tx.EventsBetween(time.Time{}, time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), func(domain.Event) bool {
			empty = false
			return false
		}); err != nil {
			return err
		}
		return tx.People(func(domain.Person) bool {
			empty = false
			return false
		})
	})
	return empty, err
}
