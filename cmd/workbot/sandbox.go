package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"workbot/bot/sandbox"
	"workbot/bot/slackfake"
	"workbot/storage"
)

// DefaultSandboxDBPath keeps the sandbox's items apart from a real workbot.db in the same directory.
const DefaultSandboxDBPath = "./workbot-sandbox.db"

// DefaultSandboxAddr is where the sandbox's web client listens.
const DefaultSandboxAddr = "127.0.0.1:8089"

// sandboxDigest is the demo's leadership digest: every weekday at 09:00, whatever the config says, so
// that the demo behaves as the README describes.
const sandboxDigest = "0 9 * * 1-5"

// sandbox runs the real bot against the embedded fake Slack, seeded with a demo workspace, and serves a
// web client in which a person acts as any member. It needs no tokens and no network.
func (c *cli) sandbox(args []string) int {
	var f runtimeFlags
	fs := c.flags("sandbox")
	f.register(fs)
	addr := fs.String("addr", DefaultSandboxAddr, "where the web client listens; loopback only")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	dbPath, dbFrom := f.db, "--db"
	if dbPath == "" {
		dbPath, dbFrom = strings.TrimSpace(c.getenv("WORKBOT_DB")), "WORKBOT_DB"
	}
	if dbPath == "" {
		dbPath, dbFrom = DefaultSandboxDBPath, "the sandbox default"
	}
	f.db = dbPath
	if f.logFormat == "" && strings.TrimSpace(c.getenv("WORKBOT_LOG_FORMAT")) == "" {
		f.logFormat = "console" // a person is reading this terminal
	}
	cfg, err := c.loadConfig(f)
	if err != nil {
		return c.fail(exitUsage, err)
	}
	if err := checkLoopback(*addr); err != nil {
		return c.fail(exitUsage, err)
	}
	logger, err := newLogger(c.stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return c.fail(exitUsage, err)
	}

	fake := slackfake.New(slackfake.Options{
		BotName: "workbot",
		Logf:    func(format string, args ...any) { logger.Debug().Str("component", "slackfake").Msgf(format, args...) },
	})
	if err := fake.Start(); err != nil {
		return c.fail(exitFailure, fmt.Errorf("starting the local Slack: %w", err))
	}
	defer fake.Close()
	sandbox.Seed(fake)

	// The demo workspace replaces whatever people and channels the config names; workflow, calendar,
	// capacity and handoff settings from the config still apply.
	cfg.BotToken, cfg.AppToken, cfg.APIURL = fake.BotToken(), fake.AppToken(), fake.URL()
	cfg.IntakeChannel = sandbox.IntakeChannel
	cfg.LeadershipChannels = []string{sandbox.LeadershipChannel}
	cfg.Leads = []string{sandbox.Lead}
	cfg.Teams = []TeamConfig{{
		ID: "eng", Name: "Engineering", Leads: []string{sandbox.Lead},
		Members: []string{sandbox.Developer, sandbox.Developer2, sandbox.QA},
	}}
	cfg.Digest.Schedule = sandboxDigest
	// A demo should leave nothing behind but its one database file.
	cfg.Backup.Schedule = "off"
	if err := cfg.Validate(); err != nil {
		return c.fail(exitUsage, err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return c.fail(exitFailure, fmt.Errorf("--addr %s: %w", *addr, err))
	}
	defer ln.Close()
	db, err := storage.Open(cfg.DBPath, storage.Options{})
	if err != nil {
		return c.fail(exitFailure, err)
	}
	b, err := newBot(cfg, db, logger)
	if err != nil {
		_ = db.Close()
		return c.fail(exitUsage, err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger.Info().Str("version", version).Str("db", dbName(cfg.DBPath)).Str("db_from", dbFrom).Str("config", cfg.ConfigPath).
		Msg("workbot sandbox starting")

	botDone := make(chan error, 1)
	go func() {
		err := b.Run(ctx)
		cancel() // a bot that stops on its own takes the sandbox down with it
		botDone <- err
	}()
	web := sandbox.New(fake, sandbox.Options{
		Logf: func(format string, args ...any) { logger.Warn().Str("component", "sandbox").Msgf(format, args...) },
	})
	srv := &http.Server{Handler: web, ReadHeaderTimeout: 10 * time.Second}
	webDone := make(chan error, 1)
	go func() { webDone <- srv.Serve(ln) }()

	// Announce the page only once the bot is connected, so the first command typed there is served.
	waitCtx, waitDone := context.WithTimeout(ctx, 15*time.Second)
	if err := fake.WaitFor(waitCtx, func() bool { return fake.Connections() > 0 }); err != nil && ctx.Err() == nil {
		logger.Warn().Err(err).Msg("the bot has not connected to the sandbox's Slack yet")
	}
	waitDone()
	url := "http://" + ln.Addr().String()
	logger.Info().Str("url", url).Msg("web client listening")
	fmt.Fprintf(c.stdout, "workbot sandbox: open %s\n", url)

	var webErr error
	select {
	case <-ctx.Done():
	case webErr = <-webDone:
		cancel()
	}
	stopped := ctx.Err() != nil

	// Long polls end first, so that Shutdown does not wait out their timeout.
	web.Close()
	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn().Err(err).Msg("stopping the web client")
	}
	botErr := <-botDone
	_ = fake.Close()
	if err := db.Close(); err != nil {
		logger.Error().Err(err).Msg("closing the database")
		return exitFailure
	}
	for _, err := range []error{webErr, botErr} {
		if err == nil || errors.Is(err, http.ErrServerClosed) || (stopped && errors.Is(err, context.Canceled)) {
			continue
		}
		logger.Error().Err(err).Msg("workbot sandbox stopped with an error")
		fmt.Fprintf(c.stderr, "workbot: %v\n", err)
		return exitFailure
	}
	logger.Info().Msg("workbot sandbox stopped")
	return exitOK
}

// checkLoopback refuses addresses reachable from other machines: whoever reaches the sandbox can act as
// anyone in it.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want host:port like %s", addr, DefaultSandboxAddr)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %q: the sandbox listens on loopback only (127.0.0.1, ::1 or localhost), since anyone who reaches it can act as anyone", addr)
}
