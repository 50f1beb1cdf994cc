package main

import (
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"
)

// ready asks /readyz of a running workbot: 0 and the reason when it answers 200, 1 and the reason
// otherwise, 1 when nothing answers, 2 when ops_addr is off. A listener on every interface is asked
// on loopback.
func TestReadyAsksReadyz(t *testing.T) {
	var mu sync.Mutex
	ok, reason := true, "ok (standby)"
	ops, err := startOps("0.0.0.0:0", newRegistry(), func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return ok, reason
	}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer ops.close()
	e := env{"WORKBOT_OPS_ADDR": ops.addr}
	if r := runCLI(t, e, nil, "ready"); r.code != exitOK || strings.TrimSpace(r.stdout) != "ok (standby)" {
		t.Errorf("ready while ready: %d %q %q", r.code, r.stdout, r.stderr)
	}
	mu.Lock()
	ok, reason = false, "not connected to Slack (Socket Mode)"
	mu.Unlock()
	if r := runCLI(t, e, nil, "ready"); r.code != exitFailure || !strings.Contains(r.stderr, "503") || !strings.Contains(r.stderr, "not connected to Slack") {
		t.Errorf("ready while not ready: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, env{"WORKBOT_OPS_ADDR": freeAddr(t)}, nil, "ready", "--timeout", "1s"); r.code != exitFailure || !strings.Contains(r.stderr, "not ready") {
		t.Errorf("ready with nothing listening: %d %q", r.code, r.stderr)
	}
	if r := runCLI(t, env{}, nil, "ready", "--ops-addr", "off"); r.code != exitUsage {
		t.Errorf("ready with ops_addr off: %d %q", r.code, r.stderr)
	}
}
