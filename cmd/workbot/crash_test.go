package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"workbot/bot/slackfake"
)

// buildWorkbot compiles the real binary once per test run.
var buildWorkbot = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "workbot-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "workbot")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startWorkbot runs `workbot run` as its own process against the local Slack. extraEnv ("KEY=value")
// overrides the defaults: a postgres:// WORKBOT_DB or an ops address of its own, for replicas.
func startWorkbot(t testing.TB, fake *slackfake.Fake, dir string, extraEnv ...string) *exec.Cmd {
	t.Helper()
	bin, err := buildWorkbot()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run")
	cmd.Env = append(os.Environ(),
		"SLACK_BOT_TOKEN="+fake.BotToken(), "SLACK_APP_TOKEN="+fake.AppToken(), "SLACK_API_URL="+fake.URL(),
		"WORKBOT_CONFIG="+filepath.Join(dir, "workbot.yaml"), "WORKBOT_DB="+filepath.Join(dir, "workbot.db"),
		"WORKBOT_LOG_LEVEL=warn", "WORKBOT_OPS_ADDR=127.0.0.1:0",
	)
	cmd.Env = append(cmd.Env, extraEnv...) // exec keeps the last value of a repeated key
	log, err := os.OpenFile(filepath.Join(dir, "workbot.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	cmd.Stdout, cmd.Stderr = log, log
	opened := fake.ConnectionsOpened()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := fake.WaitForTimeout(20*time.Second, func() bool { return fake.ConnectionsOpened() > opened && fake.Connections() > 0 }); err != nil {
		logs, _ := os.ReadFile(filepath.Join(dir, "workbot.log"))
		t.Fatalf("workbot did not connect: %v\n%s", err, logs)
	}
	return cmd
}

// TestKillNineMidBurstLosesAndRepeatsNothing files requests through the intake form while the real
// binary is killed with SIGKILL, restarts it, and counts what Slack received: every request whose form
// was acked has exactly one item message and one "Got it" DM, and nothing was posted twice.
func TestKillNineMidBurstLosesAndRepeatsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	fake := slackfake.New(slackfake.Options{PingInterval: time.Second})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	const requester = "U0REQ"
	fake.AddUser(slackfake.User{ID: requester, Name: "req"})
	fake.AddUser(slackfake.User{ID: "U0LEAD", Name: "lead"})
	fake.AddChannel("C0INTAKE", "intake")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "workbot.yaml"), []byte("intake_channel: C0INTAKE\nleads: [U0LEAD]\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	first := startWorkbot(t, fake, dir)
	const burst, killAfter = 40, 15
	var acked []string
	for i := range burst {
		title := fmt.Sprintf("Burst request %02d", i)
		if ok := fileRequest(fake, requester, title); ok {
			acked = append(acked, title)
		}
		if len(acked) == killAfter && first.ProcessState == nil {
			// No goodbye: the process dies wherever it is, mid-commit or mid-post.
			if err := first.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = first.Wait()
		}
	}
	if len(acked) < killAfter {
		t.Fatalf("only %d forms were acked before the kill", len(acked))
	}

	second := startWorkbot(t, fake, dir)
	itemMessages := func() map[string]int {
		n := map[string]int{}
		for _, m := range fake.Messages("C0INTAKE") {
			if m.ThreadTS == "" {
				for _, title := range acked {
					if strings.Contains(m.Text, title) {
						n[title]++
					}
				}
			}
		}
		return n
	}
	gotIts := func() int {
		n := 0
		for _, m := range fake.DMs(requester) {
			if strings.Contains(m.Text, "Got it") {
				n++
			}
		}
		return n
	}
	if err := fake.WaitForTimeout(30*time.Second, func() bool { return len(itemMessages()) == len(acked) && gotIts() >= len(acked) }); err != nil {
		logs, _ := os.ReadFile(filepath.Join(dir, "workbot.log"))
		t.Fatalf("after the restart %d of %d acked requests have a message and %d have a DM: %v\n%s", len(itemMessages()), len(acked), gotIts(), err, logs)
	}
	// Let anything still queued arrive before counting duplicates.
	_ = fake.WaitForTimeout(2*time.Second, func() bool { return false })
	for title, n := range itemMessages() {
		if n != 1 {
			t.Errorf("%q has %d item messages, want 1", title, n)
		}
	}
	// Requests submitted around the kill may have been saved without an ack; they must not be
	// announced twice either.
	keys := map[string]int{}
	for _, m := range fake.Messages("C0INTAKE") {
		if m.ThreadTS == "" {
			key, _, _ := strings.Cut(m.Text, ":")
			keys[key]++
		}
	}
	for key, n := range keys {
		if n != 1 {
			t.Errorf("item %s has %d messages", key, n)
		}
	}
	dms := map[string]int{}
	for _, m := range fake.DMs(requester) {
		dms[m.Text]++
	}
	for text, n := range dms {
		if n != 1 {
			t.Errorf("DM %q arrived %d times", text, n)
		}
	}
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Errorf("the restarted workbot did not stop cleanly: %v", err)
	}
}

// fileRequest runs /work request and submits the form; it reports whether the submission was acked
// without errors (the request is then saved).
func fileRequest(fake *slackfake.Fake, user, title string) bool {
	before := len(fake.Views(user))
	d, err := fake.SlashCommand(user, "C0INTAKE", "/work", "request "+title)
	if err != nil {
		return false
	}
	if _, err := d.WaitTimeout(3 * time.Second); err != nil {
		return false
	}
	var modal slackfake.View
	if fake.WaitForTimeout(3*time.Second, func() bool {
		v, ok := fake.TopModal(user)
		modal = v
		return ok && v.CallbackID == "intake" && len(fake.Views(user)) > before
	}) != nil {
		return false
	}
	d, err = fake.SubmitView(user, modal.ID, nil)
	if err != nil {
		return false
	}
	ack, err := d.WaitTimeout(3 * time.Second)
	return err == nil && !strings.Contains(string(ack.Payload), "errors")
}
