package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"workbot/domain"
	"workbot/storage"
)

// TestSandboxDemoRefusesWork: --demo insists on a new database, so the demo's history is never mixed
// into someone's items; the refusal says what to do.
func TestSandboxDemoRefusesWork(t *testing.T) {
	path := seedDB(t)
	r := runCLI(t, env{}, nil, "sandbox", "--addr", "127.0.0.1:0", "--db", path, "--demo")
	if r.code != exitUsage || !strings.Contains(r.stderr, "already holds work") || !strings.Contains(r.stderr, "--db") {
		t.Fatalf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	db, err := storage.Open(path, storage.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(context.Background(), func(tx domain.ReadTx) error {
		_, err := tx.Item(4)
		return err
	})
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("the demo was written into %s: item 4: %v", path, err)
	}
}
