package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"workbot/bot/slackfake"
	"workbot/storage/pgstore/pgtest"
)

// Replicas of the real binary on one PostgreSQL schema, against the local Slack, which spreads
// envelopes over their sockets round-robin. Each test builds its own cluster: a fake Slack, a fresh
// schema, a config file, and as many `workbot run` processes as it starts.

type replica struct {
	name string
	cmd  *exec.Cmd
	dir  string // its log is dir/workbot.log
	ops  string // http://host:port of its ops listener
	conn int    // its Socket Mode connection, as the fake numbers them (Ack.Connection)
	dead bool
}

type cluster struct {
	t    testing.TB
	fake *slackfake.Fake
	cfg  string // the config file every replica reads
	db   string // the schema's URL
	reps []*replica
}

// newCluster starts a fake Slack with the channels the tests use and writes cfgYAML. The database
// is a fresh schema; the test is skipped without a PostgreSQL server (see pgtest).
func newCluster(t testing.TB, cfgYAML string) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs several real binaries")
	}
	return newClusterOn(t, cfgYAML, pgtest.URL(t))
}

// newClusterOn is newCluster on the database db: a bbolt file holds one process only.
func newClusterOn(t testing.TB, cfgYAML, db string) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs real binaries")
	}
	fake := slackfake.New(slackfake.Options{PingInterval: time.Second})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Close() })
	for _, ch := range []string{cIntake, cGeneral, cLeads, cLeads2} {
		fake.AddChannel(ch, strings.ToLower(ch))
	}
	return &cluster{t: t, fake: fake, cfg: writeConfig(t, cfgYAML), db: db}
}

const (
	cIntake  = "C0INTAKE"
	cGeneral = "C0GENERAL"
	cLeads   = "C0LEADS"
	cLeads2  = "C0LEADS2"
)

// start runs one more replica on db (the cluster's schema, or a URL through a proxy to it) and waits
// until its /readyz answers 200.
func (c *cluster) start(name, db string) *replica {
	c.t.Helper()
	dir := filepath.Join(c.t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	addr := freeAddr(c.t)
	r := &replica{name: name, dir: dir, ops: "http://" + addr}
	r.cmd = startWorkbot(c.t, c.fake, dir, "WORKBOT_CONFIG="+c.cfg, "WORKBOT_DB="+db, "WORKBOT_OPS_ADDR="+addr)
	r.conn = c.fake.ConnectionsOpened() // startWorkbot returns once this process's socket is open
	c.reps = append(c.reps, r)
	if _, _, ok := pollHTTP(r.ops+"/readyz", 30*time.Second, func(code int, _ string) bool { return code == http.StatusOK }); !ok {
		c.fatalf("%s never became ready", name)
	}
	return r
}

// kill ends a replica with SIGKILL: no goodbye, wherever it is.
func (c *cluster) kill(r *replica) {
	c.t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	_ = r.cmd.Wait()
	r.dead = true
}

// stopAll stops every live replica with SIGTERM, as an operator would, and checks each exits 0.
func (c *cluster) stopAll() {
	c.t.Helper()
	for _, r := range c.reps {
		if !r.dead {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, r := range c.reps {
		if r.dead {
			continue
		}
		if err := r.cmd.Wait(); err != nil {
			c.t.Errorf("%s did not stop cleanly: %v\n%s", r.name, err, r.log())
		}
		r.dead = true
	}
}

func (r *replica) log() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "workbot.log"))
	if len(b) > 8000 {
		b = append([]byte("…"), b[len(b)-8000:]...)
	}
	return string(b)
}

// fatalf fails the test with every replica's log.
func (c *cluster) fatalf(format string, args ...any) {
	c.t.Helper()
	var logs strings.Builder
	for _, r := range c.reps {
		fmt.Fprintf(&logs, "\n--- %s:\n%s", r.name, r.log())
	}
	c.t.Fatalf(format+"%s", append(args, logs.String())...)
}

// pollHTTP asks url until want holds or timeout passes: another process's listener cannot signal.
func pollHTTP(url string, timeout time.Duration, want func(code int, body string) bool) (int, string, bool) {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		code, body := 0, ""
		if resp, err := client.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code, body = resp.StatusCode, strings.TrimSpace(string(b))
		} else {
			body = err.Error()
		}
		if want(code, body) {
			return code, body, true
		}
		if time.Now().After(deadline) {
			return code, body, false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readyz is a replica's /readyz answer now.
func (r *replica) readyz() (int, string) {
	code, body, _ := pollHTTP(r.ops+"/readyz", 0, func(int, string) bool { return true })
	return code, body
}

// leader waits until exactly one live replica says it leads and every other live one stands by.
func (c *cluster) leader(timeout time.Duration) *replica {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var leaders []*replica
		standby := 0
		live := 0
		for _, r := range c.reps {
			if r.dead {
				continue
			}
			live++
			switch _, body := r.readyz(); body {
			case "ok (leader)":
				leaders = append(leaders, r)
			case "ok (standby)":
				standby++
			}
		}
		if len(leaders) == 1 && standby == live-1 {
			return leaders[0]
		}
		if time.Now().After(deadline) {
			c.fatalf("no single leader among the replicas within %v", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// metric reads one series of a replica's /metrics, or -1 when it is absent.
func (r *replica) metric(series string) float64 {
	_, body, _ := pollHTTP(r.ops+"/metrics", 0, func(int, string) bool { return true })
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// postIDs counts, over every channel and DM, the workbot posts carrying each outbox entry's name, and
// lists the posts without one. Every announcement carries it: in its metadata, or for a digest's
// chart (a file, which takes no metadata) in the file's name. Answers to the person who ran a command
// or submitted a form are not announcements (they skip the outbox, and are not owed after a crash),
// and a form's answer goes by DM.
func postIDs(fake *slackfake.Fake) (ids map[string]int, untagged []slackfake.Message) {
	ids = map[string]int{}
	for _, ch := range fake.Channels() {
		for _, m := range fake.Messages(ch.ID) {
			if m.BotID == "" {
				continue
			}
			if len(m.Files) > 0 {
				for _, f := range m.Files {
					ids["file "+f.Name]++
				}
				continue
			}
			var p struct {
				ID string `json:"id"`
			}
			if m.Metadata == nil || json.Unmarshal(m.Metadata.EventPayload, &p) != nil || p.ID == "" {
				untagged = append(untagged, m)
				continue
			}
			ids[p.ID]++
		}
	}
	return ids, untagged
}

// checkNothingTwice fails t for any outbox entry posted more than once, any post in a channel
// without its outbox metadata, and any top-level item message repeated for one key.
func checkNothingTwice(t *testing.T, fake *slackfake.Fake) {
	t.Helper()
	ids, untagged := postIDs(fake)
	for id, n := range ids {
		if n > 1 {
			t.Errorf("outbox entry %s was posted %d times", id, n)
		}
	}
	ims := map[string]bool{}
	for _, ch := range fake.Channels() {
		ims[ch.ID] = ch.IsIM
	}
	for _, m := range untagged {
		if !ims[m.Channel] {
			t.Errorf("a post in %s carries no outbox metadata: %q", m.Channel, m.Text)
		}
	}
	keys := map[string]int{}
	for _, m := range fake.Messages(cIntake) {
		if m.ThreadTS == "" && m.BotID != "" {
			key, _, _ := strings.Cut(m.Text, ":")
			keys[key]++
		}
	}
	for key, n := range keys {
		if n > 1 {
			t.Errorf("item %s has %d item messages", key, n)
		}
	}
}

// digests lists the top-level digests in a leadership channel.
func digests(fake *slackfake.Fake, channel string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range fake.Messages(channel) {
		if m.ThreadTS == "" && strings.HasPrefix(m.Text, "Work digest") {
			out = append(out, m)
		}
	}
	return out
}

// untilNextMinute waits, on the wall clock, until lead before the next minute boundary that is at
// least minAhead away: digest.schedule has minute resolution, and these tests need a slot to fall
// at a moment they choose. There is no condition to wait on but the clock itself.
func untilNextMinute(minAhead, lead time.Duration) time.Time {
	slot := time.Now().Truncate(time.Minute).Add(time.Minute)
	for time.Until(slot) < minAhead {
		slot = slot.Add(time.Minute)
	}
	time.Sleep(time.Until(slot.Add(-lead)))
	return slot
}
