package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"workbot/bot/sandbox"
	"workbot/bot/slackfake"
	"workbot/storage"
)

// DefaultSandboxDBPath keeps the sandbox's items apart from a real workbot.db in the same directory.
const DefaultSandboxDBPath = "./workbot-sandbox.db"

// DefaultSandboxAddr is where the sandbox's web client listens.
const DefaultSandboxAddr = "127.0.0.1:8089"

// SandboxSlackState is where the sandbox keeps its Slack side: beside its database, so that the two
// go together (a new database starts a new workspace).
func SandboxSlackState(dbPath string) string { return dbPath + ".slack.json" }

// sandboxDigest is the demo's leadership digest: every weekday at 09:00, whatever the config says, so
// that the demo behaves as the README describes.
const sandboxDigest = "0 9 * * 1-5"

// sandbox runs the real bot against the embedded fake Slack, seeded with a demo workspace (and, in a new
// database, the demo company's last weeks), and serves a web client in which a person acts as any
// member. It needs no tokens and no network.
func (c *cli) sandbox(args []string) int {
	var f runtimeFlags
	fs := c.flags("sandbox")
	f.register(fs)
	addr := fs.String("addr", DefaultSandboxAddr, "where the web client listens; loopback only")
	demo := fs.Bool("demo", true, "write the demo company (13 people, about 40 items, weeks of history) into a new database; "+
		"--demo insists on it (refusing a database that holds work), --demo=false starts empty")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	// Unset, the demo goes only into a new database; given, it is insisted on or refused.
	demoMode := sandbox.DemoAuto
	fs.Visit(func(fl *flag.Flag) {
		switch {
		case fl.Name != "demo":
		case *demo:
			demoMode = sandbox.DemoOn
		default:
			demoMode = sandbox.DemoOff
		}
	})
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

	// The demo workspace replaces whatever people and channels the config names; workflow, calendar,
	// capacity and handoff settings from the config still apply.
	cfg.IntakeChannel = sandbox.IntakeChannel
	cfg.LeadershipChannels = []string{sandbox.LeadershipChannel}
	cfg.Leads = nil
	for _, l := range sandbox.Leads {
		cfg.Leads = append(cfg.Leads, string(l))
	}
	cfg.Teams = nil
	for _, t := range sandbox.Teams {
		tc := TeamConfig{ID: string(t.ID), Name: t.Name}
		for _, u := range t.Leads {
			tc.Leads = append(tc.Leads, string(u))
		}
		for _, u := range t.Members {
			tc.Members = append(tc.Members, string(u))
		}
		cfg.Teams = append(cfg.Teams, tc)
	}
	// A :ticket: on a message in #general files it (the config may name another emoji); the demo's
	// channel IDs replace any the config names.
	if cfg.IntakeReaction == "" {
		cfg.IntakeReaction = sandbox.IntakeReaction
	}
	cfg.IntakeReactionChannels = append([]string(nil), sandbox.ReactionChannels...)
	cfg.Digest.Schedule = sandboxDigest
	// A demo should leave nothing behind but its one database file.
	cfg.Backup.Schedule = "off"
	if err := cfg.Validate(); err != nil {
		return c.fail(exitUsage, err)
	}
	policy, err := cfg.Policy()
	if err != nil {
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

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger.Info().Str("version", version).Str("db", dbName(cfg.DBPath)).Str("db_from", dbFrom).Str("config", cfg.ConfigPath).
		Str("slack_state", SandboxSlackState(cfg.DBPath)).Msg("workbot sandbox starting")

	var badBot error
	err = sandbox.Run(ctx, sandbox.RunConfig{
		Listener: ln, Store: db, Policy: policy, Demo: demoMode, Log: logger,
		SlackState: SandboxSlackState(cfg.DBPath),
		Web:        sandbox.Options{IntakeReaction: cfg.IntakeReaction, ReactionChannels: cfg.IntakeReactionChannels},
		NewBot: func(fake *slackfake.Fake) (sandbox.Runner, error) {
			cfg.BotToken, cfg.AppToken, cfg.APIURL = fake.BotToken(), fake.AppToken(), fake.URL()
			b, err := newBot(cfg, db, logger, nil)
			badBot = err
			return b, err
		},
		Ready: func(url string) { fmt.Fprintf(c.stdout, "workbot sandbox: open %s\n", url) },
	})
	closeErr := db.Close()
	switch {
	case errors.Is(err, sandbox.ErrNotEmpty):
		return c.fail(exitUsage, fmt.Errorf("--demo: %s %w; the demo goes into a new database: pass --db NEW.db, or delete the file", cfg.DBPath, err))
	case err != nil && err == badBot:
		return c.fail(exitUsage, err)
	case err != nil:
		logger.Error().Err(err).Msg("workbot sandbox stopped with an error")
		fmt.Fprintf(c.stderr, "workbot: %v\n", err)
		return exitFailure
	case closeErr != nil:
		logger.Error().Err(closeErr).Msg("closing the database")
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
