// Command workbot is the workbot Slack bot and its operator tools. It only wires things together:
// config, the logger, the database and the bot; the rules live in package domain.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	// Embedded zone data: time zones in the config must load on minimal machines and containers.
	_ "time/tzdata"

	"workbot/bot"
	"workbot/domain"
	"workbot/storage"
	"workbot/storage/pgstore"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed (locked DB, damaged file, bot error)
	exitUsage   = 2 // bad arguments or bad config: nothing was started
)

const usage = `workbot: a Slack bot for work intake, prioritisation, assignment, handoffs and digests.

Usage:
  workbot [run] [--config FILE] [--db FILE] [--log-level LEVEL] [--log-format json|console]
  workbot sandbox [--addr 127.0.0.1:8089] [--config FILE] [--db FILE]   (local Slack + web client, no tokens)
  workbot export --db FILE|URL [--format json|csv] [--events] [--out FILE]
  workbot backup --db FILE --out FILE
  workbot compact --db FILE --out FILE   (a smaller copy of a stopped bot's file, checked)
  workbot check --db FILE|URL
  workbot migrate --from FILE --to postgres://... [--force]
  workbot ready [--config FILE] [--ops-addr HOST:PORT]   (exit 0 when a running workbot's /readyz says so)
  workbot version
  workbot help

--db (WORKBOT_DB) is a bbolt file, or a postgres:// URL for a database several replicas share.
Environment: WORKBOT_CONFIG, WORKBOT_DB, WORKBOT_LOG_LEVEL, WORKBOT_LOG_FORMAT,
SLACK_BOT_TOKEN (xoxb-...), SLACK_APP_TOKEN (xapp-...), SLACK_API_URL.
Flags override the environment, which overrides the config file. See README.md.
`

// cli holds what a command may touch, so tests run commands in-process with their own environment and
// a stand-in bot.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	startBot       func(ctx context.Context, cfg *Config, db bot.Store, logger zerolog.Logger) error
}

func main() {
	tuneRuntime()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one workbot command line and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: os.Getenv, startBot: startBot}
	return c.run(args)
}

func (c *cli) run(args []string) int {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return c.runBot(args)
	case "sandbox":
		return c.sandbox(args)
	case "export":
		return c.export(args)
	case "backup":
		return c.backup(args)
	case "compact":
		return c.compact(args)
	case "check":
		return c.check(args)
	case "migrate":
		return c.migrate(args)
	case "ready":
		return c.ready(args)
	case "version":
		fmt.Fprintln(c.stdout, versionString())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, usage)
		return exitOK
	}
	fmt.Fprintf(c.stderr, "workbot: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// fail prints a user-facing error. Domain errors carry a message meant for people; others are shown whole.
func (c *cli) fail(code int, err error) int {
	msg := err.Error()
	var de *domain.Error
	if errors.As(err, &de) {
		msg = de.Message
	}
	fmt.Fprintf(c.stderr, "workbot: %s\n", msg)
	return code
}

func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("workbot "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

// parse parses flags and refuses stray arguments. It returns -1 to go on, or the exit code.
func parse(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage
	}
	return -1
}

type runtimeFlags struct {
	config, db, logLevel, logFormat, opsAddr string
}

func (f *runtimeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "YAML config file (default $WORKBOT_CONFIG; none means all defaults)")
	fs.StringVar(&f.db, "db", "", "database file (default $WORKBOT_DB or "+DefaultDBPath+")")
	fs.StringVar(&f.logLevel, "log-level", "", "trace, debug, info, warn or error (default $WORKBOT_LOG_LEVEL or info)")
	fs.StringVar(&f.logFormat, "log-format", "", "json or console (default $WORKBOT_LOG_FORMAT or json)")
	fs.StringVar(&f.opsAddr, "ops-addr", "", "where run serves /metrics, /healthz and /readyz, or off (default $WORKBOT_OPS_ADDR, ops_addr or "+DefaultOpsAddr+")")
}

// loadConfig layers the config file, the environment and the flags, then validates the result.
func (c *cli) loadConfig(f runtimeFlags) (*Config, error) {
	path := f.config
	if path == "" {
		path = strings.TrimSpace(c.getenv("WORKBOT_CONFIG"))
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		return nil, err
	}
	cfg.ApplyEnv(c.getenv)
	for _, o := range []struct {
		dst *string
		v   string
	}{{&cfg.DBPath, f.db}, {&cfg.LogLevel, f.logLevel}, {&cfg.LogFormat, f.logFormat}, {&cfg.OpsAddr, f.opsAddr}} {
		if o.v != "" {
			*o.dst = o.v
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

const tokensHelp = `workbot run needs two Slack tokens in the environment:
  SLACK_BOT_TOKEN  the bot token, xoxb-...  (Slack app > OAuth & Permissions, after installing the app)
  SLACK_APP_TOKEN  the app-level token, xapp-... with connections:write  (Slack app > Basic Information)
Create the app from manifest.yaml; README.md ("Create the Slack app") walks through it.
Without tokens, "make run" starts the local sandbox instead.`

func (c *cli) runBot(args []string) int {
	var f runtimeFlags
	fs := c.flags("run")
	f.register(fs)
	if code := parse(fs, args); code >= 0 {
		return code
	}
	cfg, err := c.loadConfig(f)
	if err != nil {
		return c.fail(exitUsage, err)
	}
	var missing []string
	if cfg.BotToken == "" {
		missing = append(missing, "SLACK_BOT_TOKEN")
	}
	if cfg.AppToken == "" {
		missing = append(missing, "SLACK_APP_TOKEN")
	}
	if len(missing) > 0 {
		fmt.Fprintf(c.stderr, "workbot: %s not set.\n%s\n", strings.Join(missing, " and "), tokensHelp)
		return exitUsage
	}
	if strings.TrimSpace(cfg.IntakeChannel) == "" {
		fmt.Fprintln(c.stderr, "workbot: config: intake_channel: required by run: the ID of the channel where requests are posted "+
			"(like C0123ABCD; in Slack, open the channel details and copy the ID at the bottom), set in the file named by --config or WORKBOT_CONFIG")
		return exitUsage
	}
	logger, err := newLogger(c.stderr, cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return c.fail(exitUsage, err)
	}

	db, err := openForRun(cfg.DBPath)
	if err != nil {
		return c.fail(exitFailure, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger.Info().Str("version", version).Str("db", dbName(cfg.DBPath)).Str("config", cfg.ConfigPath).Msg("workbot starting")
	if f, ok := db.(interface{ FreeSpace() (int, int64) }); ok {
		if pages, bytes := f.FreeSpace(); pages >= storage.ManyFreePages {
			logger.Warn().Int("free_pages", pages).Str("free", byteSize(bytes)).
				Msg("the database file has much free space, and every commit rewrites its list, so writes are slower; stop workbot and run `workbot compact` (README: Compact)")
		}
	}
	botErr := c.startBot(ctx, cfg, db, logger)
	stopped := ctx.Err() != nil
	if err := db.Close(); err != nil {
		logger.Error().Err(err).Msg("closing the database")
		return exitFailure
	}
	if botErr != nil && !(stopped && errors.Is(botErr, context.Canceled)) {
		logger.Error().Err(botErr).Msg("workbot stopped with an error")
		fmt.Fprintf(c.stderr, "workbot: %v\n", botErr)
		return exitFailure
	}
	logger.Info().Msg("workbot stopped")
	return exitOK
}

// dbPath is --db, else WORKBOT_DB; the operator tools require one of them so they never create or read
// a file by accident.
func (c *cli) dbPath(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if v := strings.TrimSpace(c.getenv("WORKBOT_DB")); v != "" {
		return v, nil
	}
	return "", errors.New("--db FILE is required (or set WORKBOT_DB)")
}

func (c *cli) backup(args []string) int {
	fs := c.flags("backup")
	db := fs.String("db", "", "database file to copy (default $WORKBOT_DB)")
	out := fs.String("out", "", "file to write the backup to (required)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	path, err := c.dbPath(*db)
	if err != nil {
		return c.fail(exitUsage, err)
	}
	if *out == "" {
		return c.fail(exitUsage, errors.New("--out FILE is required"))
	}
	if pgstore.IsURL(path) {
		return c.pgBackupHint(path, *out)
	}
	src, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		return c.fail(exitFailure, err)
	}
	defer src.Close()
	if err := c.backupWithProgress(src, *out); err != nil {
		return c.fail(exitFailure, err)
	}
	fmt.Fprintf(c.stdout, "backed up %s to %s\n", path, *out)
	return exitOK
}

// compact writes a compacted copy of a bbolt file and checks it, so the copy can replace the file.
func (c *cli) compact(args []string) int {
	fs := c.flags("compact")
	db := fs.String("db", "", "database file to compact, held by no running workbot (default $WORKBOT_DB)")
	out := fs.String("out", "", "file to write the compacted copy to (required)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	path, err := c.dbPath(*db)
	if err != nil {
		return c.fail(exitUsage, err)
	}
	if *out == "" {
		return c.fail(exitUsage, errors.New("--out FILE is required"))
	}
	if pgstore.IsURL(path) {
		return c.fail(exitUsage, errors.New("compact rewrites bbolt files; PostgreSQL reclaims space itself (VACUUM)"))
	}
	before, err := os.Stat(path)
	if err != nil {
		return c.fail(exitFailure, err)
	}
	src, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		return c.fail(exitFailure, err)
	}
	err = src.CompactFile(*out)
	_ = src.Close()
	if err != nil {
		return c.fail(exitFailure, err)
	}
	if err := c.checkWithProgress(*out); err != nil {
		return c.fail(exitFailure, fmt.Errorf("the compacted copy %s failed its check (the original is untouched): %w", *out, err))
	}
	after, err := os.Stat(*out)
	if err != nil {
		return c.fail(exitFailure, err)
	}
	fmt.Fprintf(c.stdout, "compacted %s (%s) to %s (%s), checked; stop workbot and move it into place to use it\n",
		path, byteSize(before.Size()), *out, byteSize(after.Size()))
	return exitOK
}

// byteSize prints a file size the way people read them.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (c *cli) check(args []string) int {
	fs := c.flags("check")
	db := fs.String("db", "", "database file or postgres:// URL to check (default $WORKBOT_DB)")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	path, err := c.dbPath(*db)
	if err != nil {
		return c.fail(exitUsage, err)
	}
	if err := c.checkWithProgress(path); err != nil {
		return c.fail(exitFailure, err)
	}
	fmt.Fprintln(c.stdout, "ok")
	return exitOK
}

func versionString() string {
	s := "workbot " + version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return s
	}
	s += " (" + bi.GoVersion
	var rev, modified string
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			rev = kv.Value
		case "vcs.modified":
			modified = kv.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		s += ", commit " + rev
		if modified == "true" {
			s += "-dirty"
		}
	}
	return s + ")"
}
