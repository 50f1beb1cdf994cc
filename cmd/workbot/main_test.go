package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"workbot/bot"
	"workbot/bot/slackfake"
	"workbot/domain"
	"workbot/storage"
)

const (
	testBotToken = "xoxb-1111-2222-abcdefTESTTOKEN"
	testAppToken = "xapp-1-A111-2222-abcdefTESTTOKEN"
	lead         = domain.UserID("U0LEAD")
)

// env is a fake environment, so tests do not depend on (or change) the process's own.
type env map[string]string

func (e env) get(k string) string { return e[k] }

type result struct {
	code           int
	stdout, stderr string
}

func runCLI(t *testing.T, e env, start func(context.Context, *Config, bot.Store, zerolog.Logger) error, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	if start == nil {
		start = func(context.Context, *Config, bot.Store, zerolog.Logger) error {
			t.Error("the bot must not start")
			return nil
		}
	}
	c := &cli{stdout: &out, stderr: &errb, getenv: e.get, startBot: start}
	code := c.run(args)
	return result{code, out.String(), errb.String()}
}

// seedDB creates a real database holding three items: one plain, one assigned and blocked with a
// dependency, and one done, with a title that tries CSV formula injection.
func seedDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "workbot.db")
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	policy := domain.DefaultPolicy()
	policy.Leads = []domain.UserID{lead}
	now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	svc := &domain.Service{Store: db, Policy: policy, Now: func() time.Time { return now }}
	ctx := context.Background()
	must := func(_ domain.Result, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.Create(ctx, "U0REQ", domain.NewItem{Title: "Fix login, \"quoted\" & <b>", Kind: "bug", Value: 5, Urgency: 4, Size: 3}))
	must(svc.Create(ctx, "U0REQ", domain.NewItem{Title: "=HYPERLINK(\"evil\")", Kind: "feature", Size: 8, Due: domain.Date{Year: 2026, Month: 3, Day: 20}}))
	must(svc.Create(ctx, "U0REQ", domain.NewItem{Title: "Rotate certs", Kind: "ops", Size: 1}))
	must(svc.Assign(ctx, lead, 2, "U0DEV"))
	must(svc.Block(ctx, lead, 2, "waiting for legal"))
	must(svc.AddDependency(ctx, lead, 2, 1))
	must(svc.Reject(ctx, lead, 3, "not needed"))
	return path
}

func TestExportJSON(t *testing.T) {
	path := seedDB(t)
	r := runCLI(t, env{}, nil, "export", "--db", path)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var items []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatalf("output is not a JSON array: %v\n%s", err, r.stdout)
	}
	if len(items) != 3 {
		t.Fatalf("got %d items, want 3", len(items))
	}
	for _, field := range []string{"key", "title", "stage", "assignee", "requester", "size", "created_at", "updated_at"} {
		if _, ok := items[0][field]; !ok {
			t.Errorf("item lacks %q: %v", field, items[0])
		}
	}
	second := items[1]
	want := map[string]any{
		"key": "W-2", "title": "=HYPERLINK(\"evil\")", "assignee": "U0DEV", "requester": "U0REQ", "size": 8.0,
		"due": "2026-03-20", "blocked_reason": "waiting for legal", "created_at": "2026-03-02T10:00:00Z",
	}
	for k, v := range want {
		if second[k] != v {
			t.Errorf("items[1].%s = %#v, want %#v", k, second[k], v)
		}
	}
	if deps, _ := second["depends_on"].([]any); len(deps) != 1 || deps[0] != "W-1" {
		t.Errorf("items[1].depends_on = %v, want [W-1]", second["depends_on"])
	}
	if items[2]["resolution"] != "rejected" || items[2]["done_at"] == "" {
		t.Errorf("items[2] = %v, want rejected with done_at", items[2])
	}
	if items[0]["title"] != "Fix login, \"quoted\" & <b>" {
		t.Errorf("title not kept verbatim: %q", items[0]["title"])
	}
}

func TestExportCSV(t *testing.T) {
	path := seedDB(t)
	out := filepath.Join(t.TempDir(), "items.csv")
	r := runCLI(t, env{"WORKBOT_DB": path}, nil, "export", "--format", "csv", "--out", out)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fi, _ := f.Stat(); fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", fi.Mode().Perm())
	}
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("not valid CSV: %v", err)
	}
	if len(rows) != 4 {
		t.Fatalf("got %d rows, want header + 3", len(rows))
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	for _, h := range []string{"key", "title", "stage", "assignee", "requester", "size", "created_at", "updated_at"} {
		if _, ok := col[h]; !ok {
			t.Errorf("header lacks %q: %v", h, rows[0])
		}
	}
	if got := rows[1][col["title"]]; got != "Fix login, \"quoted\" & <b>" {
		t.Errorf("title = %q", got)
	}
	if got := rows[2][col["title"]]; got != "'=HYPERLINK(\"evil\")" {
		t.Errorf("a formula title must be defused, got %q", got)
	}
	if got := rows[2][col["depends_on"]]; got != "W-1" {
		t.Errorf("depends_on = %q, want W-1", got)
	}
	if got := rows[2][col["assignee"]]; got != "U0DEV" {
		t.Errorf("assignee = %q", got)
	}
}

func TestExportEvents(t *testing.T) {
	path := seedDB(t)
	r := runCLI(t, env{}, nil, "export", "--db", path, "--events")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var types []string
	var lastSeq uint64
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var ev exportedEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		if ev.Seq <= lastSeq {
			t.Errorf("seq %d after %d: not increasing", ev.Seq, lastSeq)
		}
		lastSeq = ev.Seq
		types = append(types, ev.Type)
	}
	want := []string{"created", "created", "created", "assigned", "moved", "blocked", "dependency_added", "rejected"}
	if strings.Join(types, ",") != strings.Join(want, ",") {
		t.Errorf("event types = %v, want %v", types, want)
	}
}

func TestExportRefusesBadFlags(t *testing.T) {
	path := seedDB(t)
	for name, args := range map[string][]string{
		"unknown format": {"export", "--db", path, "--format", "xml"},
		"csv events":     {"export", "--db", path, "--events", "--format", "csv"},
		"no db":          {"export"},
		"stray argument": {"export", "--db", path, "extra"},
	} {
		t.Run(name, func(t *testing.T) {
			if r := runCLI(t, env{}, nil, args...); r.code != exitUsage || r.stderr == "" {
				t.Errorf("exit %d, stderr %q; want %d with a message", r.code, r.stderr, exitUsage)
			}
		})
	}
}

func TestBackupIsAValidDatabase(t *testing.T) {
	path := seedDB(t)
	out := filepath.Join(t.TempDir(), "backup.db")
	r := runCLI(t, env{}, nil, "backup", "--db", path, "--out", out)
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if err := storage.Check(out); err != nil {
		t.Fatalf("backup fails check: %v", err)
	}
	if r := runCLI(t, env{}, nil, "check", "--db", out); r.code != exitOK || strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("check on backup: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	r = runCLI(t, env{}, nil, "export", "--db", out)
	var items []exportedItem
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil || len(items) != 3 {
		t.Fatalf("backup export: %d items, %v", len(items), err)
	}
	if r := runCLI(t, env{}, nil, "backup", "--db", path); r.code != exitUsage || !strings.Contains(r.stderr, "--out") {
		t.Errorf("backup without --out: exit %d %q", r.code, r.stderr)
	}
}

// A file that grew and was pruned keeps its size; compact writes a smaller copy holding the same data,
// checked, private, and refuses to overwrite the file it reads.
func TestCompactShrinksAPrunedFile(t *testing.T) {
	path := seedDB(t)
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	blob := bytes.Repeat([]byte("x"), 1000)
	for batch := range 10 {
		if err := db.UpdateState(ctx, func(tx domain.StateTx) error {
			for i := range 500 {
				if err := tx.Put("wip_samples", fmt.Sprintf("%d-%d", batch, i), blob); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.UpdateState(ctx, func(tx domain.StateTx) error {
		for batch := range 10 {
			for i := range 500 {
				if err := tx.Delete("wip_samples", fmt.Sprintf("%d-%d", batch, i)); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	freed, freedBytes := db.FreeSpace()
	if freed < 1000 || freedBytes != int64(freed)*int64(os.Getpagesize()) {
		t.Errorf("after deleting 5 MB: %d free pages, %d bytes", freed, freedBytes)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "compact.db")
	r := runCLI(t, env{}, nil, "compact", "--db", path, "--out", out)
	if r.code != exitOK || !strings.Contains(r.stdout, "checked") {
		t.Fatalf("compact: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	before, _ := os.Stat(path)
	after, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() >= before.Size()/2 {
		t.Errorf("compacted %d bytes to %d; want less than half", before.Size(), after.Size())
	}
	if cdb, err := storage.Open(out, storage.Options{}); err != nil {
		t.Fatal(err)
	} else {
		if pages, _ := cdb.FreeSpace(); pages > 10 {
			t.Errorf("the compacted copy has %d free pages, the original %d", pages, freed)
		}
		cdb.Close()
	}
	if after.Mode().Perm() != 0o600 {
		t.Errorf("the compacted file's mode is %v, want 0600", after.Mode().Perm())
	}
	if _, err := os.Stat(out + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the temporary file is left behind: %v", err)
	}
	orig := runCLI(t, env{}, nil, "export", "--db", path)
	copied := runCLI(t, env{}, nil, "export", "--db", out)
	if orig.code != exitOK || orig.stdout != copied.stdout {
		t.Errorf("the compacted copy exports differently:\n%s\nvs\n%s", orig.stdout, copied.stdout)
	}
	for _, bad := range [][]string{
		{"compact", "--db", path},
		{"compact", "--db", path, "--out", path},
		{"compact", "--db", "postgres://localhost/x", "--out", out},
	} {
		if r := runCLI(t, env{}, nil, bad...); r.code == exitOK || r.stderr == "" {
			t.Errorf("%v: exit %d with no complaint", bad, r.code)
		}
	}
	if r := runCLI(t, env{}, nil, "check", "--db", path); r.code != exitOK {
		t.Errorf("the original after a refused compact: %s", r.stderr)
	}
}

func TestCheckDetectsCorruption(t *testing.T) {
	path := seedDB(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Keep the two meta pages so the file still opens, and scribble over every page after them: the
	// freelist and the item pages are then garbage that only a page-level check notices.
	page := os.Getpagesize()
	if len(data) < 4*page {
		t.Fatalf("seed file too small (%d bytes) to corrupt meaningfully", len(data))
	}
	for i := 2 * page; i < len(data); i++ {
		data[i] ^= 0x5a
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, env{}, nil, "check", "--db", path)
	if r.code != exitFailure || !strings.Contains(r.stderr, path) {
		t.Errorf("check on a corrupted file: exit %d, stderr %q; want %d naming the file", r.code, r.stderr, exitFailure)
	}
	if r.stdout == "ok\n" {
		t.Error("check said ok on a corrupted file")
	}
}

func TestCheckHealthyAndMissing(t *testing.T) {
	path := seedDB(t)
	if r := runCLI(t, env{}, nil, "check", "--db", path); r.code != exitOK || r.stdout != "ok\n" {
		t.Errorf("healthy: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	missing := filepath.Join(t.TempDir(), "nope.db")
	if r := runCLI(t, env{}, nil, "check", "--db", missing); r.code != exitFailure || !strings.Contains(r.stderr, "nope.db") {
		t.Errorf("missing: exit %d, %q", r.code, r.stderr)
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Error("check must not create the file it was asked to check")
	}
}

func writeConfig(t testing.TB, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "workbot.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runEnv(t *testing.T, cfgYAML string) env {
	return env{
		"SLACK_BOT_TOKEN": testBotToken,
		"SLACK_APP_TOKEN": testAppToken,
		"WORKBOT_CONFIG":  writeConfig(t, cfgYAML),
		"WORKBOT_DB":      filepath.Join(t.TempDir(), "run.db"),
		// Tests run side by side: each ops listener takes a port of its own.
		"WORKBOT_OPS_ADDR": "127.0.0.1:0",
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", "intake_channel: C1\ncalendar:\n  timezone: UTC\n  foo: 1\n", "calendar.foo: unknown key (line 4)"},
		{"bad timezone", "intake_channel: C1\ncalendar: {timezone: Mars/Base}\n", `calendar.timezone: unknown time zone "Mars/Base"`},
		{"bad cron", "intake_channel: C1\ndigest: {schedule: \"every morning\"}\n", "digest.schedule:"},
		{"bad duration", "intake_channel: C1\nhandoff: {escalate_after: soon}\n", "handoff.escalate_after:"},
		{"not yaml", "intake_channel: [C1\n", "config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, runEnv(t, tc.yaml), nil, "run")
			if r.code != exitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want %d containing %q", r.code, r.stderr, exitUsage, tc.want)
			}
		})
	}
}

func TestRunNeedsTokens(t *testing.T) {
	for name, e := range map[string]env{
		"none":     {},
		"bot only": {"SLACK_BOT_TOKEN": testBotToken},
	} {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, e, nil, "run")
			if r.code != exitUsage {
				t.Errorf("exit %d, want %d", r.code, exitUsage)
			}
			for _, want := range []string{"SLACK_APP_TOKEN", "xoxb-", "xapp-", "connections:write", "README", "make run", "sandbox"} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("message lacks %q:\n%s", want, r.stderr)
				}
			}
		})
	}
	r := runCLI(t, env{"SLACK_BOT_TOKEN": "xoxp-user-token", "SLACK_APP_TOKEN": testAppToken}, nil, "run")
	if r.code != exitUsage || !strings.Contains(r.stderr, "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-") {
		t.Errorf("wrong token kind: exit %d %q", r.code, r.stderr)
	}
	if strings.Contains(r.stderr, "xoxp-user-token") {
		t.Error("the refused token was echoed")
	}
}

func TestRunNeedsIntakeChannel(t *testing.T) {
	e := runEnv(t, "leads: [U0LEAD]\n")
	r := runCLI(t, e, nil, "run")
	if r.code != exitUsage || !strings.Contains(r.stderr, "config: intake_channel: required by run") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(e["WORKBOT_DB"]); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused start must not create the database")
	}
}

func TestRunLockedDatabase(t *testing.T) {
	e := runEnv(t, "intake_channel: C1\n")
	held, err := storage.Open(e["WORKBOT_DB"], storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	start := time.Now()
	r := runCLI(t, e, nil, "run")
	if r.code != exitFailure || !strings.Contains(r.stderr, e["WORKBOT_DB"]) || !strings.Contains(r.stderr, "in use") {
		t.Errorf("exit %d, stderr %q; want %d naming the file as in use", r.code, r.stderr, exitFailure)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Errorf("waited %v for the lock; want the bounded timeout", waited)
	}
}

// TestRunStopsGracefullyOnSIGTERM sends a real SIGTERM to the test process while the (stand-in) bot
// runs: run must cancel the bot's context, close the database and exit 0.
func TestRunStopsGracefullyOnSIGTERM(t *testing.T) {
	e := runEnv(t, "intake_channel: C1\nleads: [U0LEAD]\n")
	e["WORKBOT_LOG_FORMAT"] = "console"
	var gotCfg *Config
	start := func(ctx context.Context, cfg *Config, db bot.Store, logger zerolog.Logger) error {
		gotCfg = cfg
		logger.Info().Str("token", cfg.BotToken).Msg("bot up")
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
			return errors.New("context not cancelled by SIGTERM")
		}
	}
	r := runCLI(t, e, start, "run")
	if r.code != exitOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if gotCfg == nil || gotCfg.IntakeChannel != "C1" || gotCfg.BotToken != testBotToken {
		t.Errorf("bot got config %+v", gotCfg)
	}
	if strings.Contains(r.stderr, testBotToken) || !strings.Contains(r.stderr, "[redacted]") {
		t.Errorf("token not redacted in logs:\n%s", r.stderr)
	}
	// The database was closed: another open succeeds at once.
	db, err := storage.Open(e["WORKBOT_DB"], storage.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("database still held after stop: %v", err)
	}
	db.Close()
	if fi, err := os.Stat(e["WORKBOT_DB"]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
}

func TestRunReportsBotFailure(t *testing.T) {
	e := runEnv(t, "intake_channel: C1\n")
	r := runCLI(t, e, func(context.Context, *Config, bot.Store, zerolog.Logger) error {
		return errors.New("socket refused")
	}, "run", "--log-level", "error")
	if r.code != exitFailure || !strings.Contains(r.stderr, "socket refused") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRunServesSlackAndStopsOnSIGTERM runs the real `workbot run` against the local Slack: it connects
// over Socket Mode, answers a command, and stops with exit 0 on SIGTERM.
func TestRunServesSlackAndStopsOnSIGTERM(t *testing.T) {
	fake := slackfake.New(slackfake.Options{PingInterval: time.Second})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.AddUser(slackfake.User{ID: "U0REQ", Name: "req"})
	fake.AddChannel("C0INTAKE", "intake")
	e := runEnv(t, "intake_channel: C0INTAKE\nleads: [U0LEAD]\n")
	e["SLACK_BOT_TOKEN"], e["SLACK_APP_TOKEN"], e["SLACK_API_URL"] = fake.BotToken(), fake.AppToken(), fake.URL()

	done := make(chan result, 1)
	go func() { done <- runCLI(t, e, startBot, "run") }()
	if err := fake.WaitForTimeout(10*time.Second, func() bool { return fake.Connections() > 0 }); err != nil {
		t.Fatalf("workbot run did not connect: %v", err)
	}
	d, err := fake.SlashCommand("U0REQ", "C0INTAKE", "/work", "help")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitTimeout(5 * time.Second); err != nil {
		t.Fatalf("no ack: %v", err)
	}
	if err := fake.WaitForTimeout(5*time.Second, func() bool {
		es := fake.Ephemerals("U0REQ")
		return len(es) > 0 && strings.Contains(es[0].AllText(), "/work request")
	}); err != nil {
		t.Fatalf("no usage answer: %v", err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.code != exitOK {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
		for _, tok := range []string{fake.BotToken(), fake.AppToken()} {
			if strings.Contains(r.stderr, tok) {
				t.Errorf("a token appears in the logs")
			}
		}
	case <-time.After(30 * time.Second):
		t.Fatal("workbot run did not stop on SIGTERM")
	}
}

func TestFlagsOverrideEnvOverrideFile(t *testing.T) {
	e := runEnv(t, "intake_channel: C1\n")
	flagDB := filepath.Join(t.TempDir(), "flag.db")
	var got *Config
	r := runCLI(t, e, func(_ context.Context, cfg *Config, _ bot.Store, _ zerolog.Logger) error {
		got = cfg
		return nil
	}, "run", "--db", flagDB, "--log-format", "console")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got.DBPath != flagDB || got.LogFormat != "console" || got.APIURL != DefaultAPIURL {
		t.Errorf("config = db %q format %q api %q", got.DBPath, got.LogFormat, got.APIURL)
	}
	if _, err := os.Stat(flagDB); err != nil {
		t.Errorf("run did not open the --db file: %v", err)
	}
}

func TestMiscCommands(t *testing.T) {
	if r := runCLI(t, env{}, nil, "version"); r.code != exitOK || !strings.HasPrefix(r.stdout, "workbot ") {
		t.Errorf("version: %d %q", r.code, r.stdout)
	}
	if r := runCLI(t, env{}, nil, "help"); r.code != exitOK || !strings.Contains(r.stdout, "workbot export") {
		t.Errorf("help: %d %q", r.code, r.stdout)
	}
	if r := runCLI(t, env{}, nil, "frobnicate"); r.code != exitUsage || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, env{}, nil, "sandbox", "--addr", "0.0.0.0:8089"); r.code != exitUsage || !strings.Contains(r.stderr, "loopback only") {
		t.Errorf("sandbox on all interfaces: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, env{}, nil, "sandbox", "stray"); r.code != exitUsage {
		t.Errorf("sandbox with an argument: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, env{}, nil, "run", "--no-such-flag"); r.code != exitUsage {
		t.Errorf("bad flag: %d", r.code)
	}
}

// syncBuffer lets a test read what a running command has written so far, and wait for more.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.changed)
	b.changed = make(chan struct{})
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor returns the first match of re once it has been written.
func (b *syncBuffer) waitFor(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		m := re.FindStringSubmatch(b.buf.String())
		ch := b.changed
		b.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("waited %v for %s; got:\n%s", timeout, re, b.String())
		}
	}
}

// TestSandboxServesAndStopsOnSIGTERM runs `workbot sandbox` without tokens: it keeps its database next
// to the user (workbot-sandbox.db in the working directory, said in the log), serves the web client,
// runs /work through it against the real bot, and stops with exit 0 on SIGTERM.
func TestSandboxServesAndStopsOnSIGTERM(t *testing.T) {
	client := &http.Client{Transport: &http.Transport{}}
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	defer client.CloseIdleConnections()
	dir := t.TempDir()
	t.Chdir(dir)
	e := env{"WORKBOT_CONFIG": writeConfig(t, "intake_channel: C9\nleads: [U9]\ncapacity: {default_points: 7}\n")}
	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	c := &cli{stdout: stdout, stderr: stderr, getenv: e.get, startBot: func(context.Context, *Config, bot.Store, zerolog.Logger) error {
		t.Error("the sandbox must not start a bot against real Slack")
		return nil
	}}
	done := make(chan int, 1)
	go func() { done <- c.run([]string{"sandbox", "--addr", "127.0.0.1:0"}) }()

	url := stdout.waitFor(t, regexp.MustCompile(`workbot sandbox: open (http://127\.0\.0\.1:\d+)\n`), 10*time.Second)[1]
	resp, err := client.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "app.js") {
		t.Errorf("GET /: %d %s", resp.StatusCode, page)
	}
	post := func(path, body string) {
		t.Helper()
		resp, err := client.Post(url+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, msg)
		}
	}
	// The leads of the config are replaced by the demo lead: only a lead may post the digest now.
	post("/api/send", `{"user":"U0LEAD","conv":"C0LEADS","text":"/work digest post"}`)
	var st struct {
		Version  uint64
		Messages []struct {
			Text      string
			Blocks    json.RawMessage
			Ephemeral bool
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url + "/api/state?user=U0LEAD&conv=C0LEADS")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		posted := false
		for _, m := range st.Messages {
			posted = posted || !m.Ephemeral
		}
		if posted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no digest in #leadership: %+v", st.Messages)
		}
		if resp, err := client.Get(fmt.Sprintf("%s/api/wait?since=%d", url, st.Version)); err == nil {
			resp.Body.Close()
		}
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("workbot sandbox did not stop on SIGTERM")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "workbot-sandbox.db") || !strings.Contains(logs, "sandbox default") {
		t.Errorf("the log does not say which database:\n%s", logs)
	}
	db, err := storage.Open(filepath.Join(dir, "workbot-sandbox.db"), storage.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("database missing or still held: %v", err)
	}
	db.Close()
}
