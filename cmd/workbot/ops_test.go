package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"workbot/bot/slackfake"
)

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitHTTP polls url until want holds, for what the fake cannot signal (another process's listener).
func waitHTTP(t *testing.T, url, what string, want func(code int, body string) bool) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := get(t, url)
		if want(code, body) {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: last answer %d %q", what, code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The ops listener of `workbot run`: /healthz while alive, /readyz 200 only while Slack is reachable
// and 503 with the reason when it is not, and /metrics with workbot's own series.
func TestOpsEndpoints(t *testing.T) {
	fake := slackfake.New(slackfake.Options{PingInterval: time.Second})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.AddUser(slackfake.User{ID: "U0REQ", Name: "req"})
	fake.AddChannel("C0INTAKE", "intake")
	e := runEnv(t, "intake_channel: C0INTAKE\nleads: [U0LEAD]\n")
	e["SLACK_BOT_TOKEN"], e["SLACK_APP_TOKEN"], e["SLACK_API_URL"] = fake.BotToken(), fake.AppToken(), fake.URL()
	addr := freeAddr(t)
	e["WORKBOT_OPS_ADDR"] = addr
	base := "http://" + addr

	done := make(chan result, 1)
	go func() { done <- runCLI(t, e, startBot, "run") }()
	waitHTTP(t, base+"/readyz", "ready once connected", func(code int, _ string) bool { return code == http.StatusOK })
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || !strings.Contains(body, "ok") {
		t.Errorf("/healthz = %d %q", code, body)
	}

	d, err := fake.SlashCommand("U0REQ", "C0INTAKE", "/work", "help")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitTimeout(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// A rate-limited reconnect shows as a 429 outcome.
	fake.FailNext("apps.connections.open", 1, slackfake.Fault{Status: 429, RetryAfter: time.Second})
	fake.Disconnect("refresh_requested")
	metrics := waitHTTP(t, base+"/metrics", "the metrics of a command and a rate-limited reconnect", func(code int, body string) bool {
		return code == http.StatusOK && strings.Contains(body, `workbot_slack_api_calls_total{method="apps.connections.open",outcome="http_429"} 1`) &&
			strings.Contains(body, `workbot_handler_seconds_count{kind="command",name="help"} 1`)
	})
	for _, want := range []string{
		`workbot_envelopes_total{type="slash_commands"} 1`,
		"workbot_ack_seconds_count 1",
		`workbot_slack_api_calls_total{method="apps.connections.open",outcome="ok"}`,
		"workbot_outbox_pending 0",
		"workbot_outbox_oldest_age_seconds 0",
		`workbot_store_transaction_seconds_count{kind="state_update"}`,
		"workbot_socket_connected",
		"go_goroutines", "process_resident_memory_bytes",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	waitHTTP(t, base+"/readyz", "ready again after the reconnect", func(code int, _ string) bool { return code == http.StatusOK })

	// Slack becomes unreachable: not ready, and the body says why.
	fake.FailNext("apps.connections.open", 1000, slackfake.Fault{Status: 503})
	fake.DropSockets()
	body := waitHTTP(t, base+"/readyz", "not ready while Slack is unreachable", func(code int, _ string) bool { return code == http.StatusServiceUnavailable })
	if !strings.Contains(body, "not connected to Slack") {
		t.Errorf("/readyz says %q", body)
	}
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d while Slack is down; the process is alive", code)
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.code != exitOK {
			t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("workbot run did not stop on SIGTERM")
	}
}
