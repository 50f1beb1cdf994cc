package storage

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"workbot/domain"
)

const crashWriterEnv = "WORKBOT_STORAGE_TEST_CRASH_DB"

// TestHelperCrashWriter is not a test: TestKilledWriterLeavesAConsistentFile runs the test binary
// again with it selected, and kills it while it writes.
func TestHelperCrashWriter(t *testing.T) {
	path := os.Getenv(crashWriterEnv)
	if path == "" {
		t.Skip("helper process for TestKilledWriterLeavesAConsistentFile")
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("child Open: %v", err)
	}
	for n := 1; ; n++ {
		// Several records per transaction, so a kill can land in the middle of one.
		err := db.Update(context.Background(), func(tx domain.Tx) error {
			for i := 0; i < 5; i++ {
				it := fullItem(0)
				it.Details = strings.Repeat("x", 500)
				if _, err := createItem(tx, it); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("child Update: %v", err)
		}
		fmt.Printf("committed %d\n", n*5)
	}
}

// A writer killed mid-transaction leaves a file that opens, passes Check, and holds every item whose
// Update had returned: commits are all or nothing, and durable once acknowledged.
func TestKilledWriterLeavesAConsistentFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "workbot.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCrashWriter$")
	cmd.Env = append(os.Environ(), crashWriterEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	committed := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		last := 0
		for sc.Scan() {
			if n, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
				last, _ = strconv.Atoi(n)
				if last >= 1000 {
					break
				}
			}
		}
		committed <- last
		// Keep draining, so the child is killed while writing the database, not blocked on a full pipe.
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var acknowledged int
	select {
	case acknowledged = <-committed:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("child did not commit 1000 items within 60s")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if acknowledged < 1000 {
		t.Fatalf("child stopped after %d items", acknowledged)
	}

	if err := Check(path); err != nil {
		t.Fatalf("Check after kill: %v", err)
	}
	db := openAt(t, path)
	var items, events int
	if err := db.ExportItems(func(domain.Item) error { items++; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.ExportEvents(func(domain.Event) error { events++; return nil }); err != nil {
		t.Fatal(err)
	}
	if items < acknowledged || items%5 != 0 || events != items {
		t.Errorf("after kill: %d items, %d events; want at least %d acknowledged, whole transactions of 5, one event each",
			items, events, acknowledged)
	}
}
