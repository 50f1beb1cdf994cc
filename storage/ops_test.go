package storage

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

const holdLockEnv = "WORKBOT_STORAGE_TEST_HOLD_DB"

// TestHelperHoldLock is not a test: the lock test runs the test binary again with this test selected,
// so a second process holds the database the way a running bot would.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv(holdLockEnv)
	if path == "" {
		t.Skip("helper process for TestOpenLockedByAnotherProcess")
	}
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("child Open: %v", err)
	}
	defer db.Close()
	os.Stdout.WriteString("locked\n")
	// Hold the lock until the parent closes our stdin.
	_, _ = io.Copy(io.Discard, os.Stdin)
}

func TestOpenLockedByAnotherProcessFailsPromptly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "workbot.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), holdLockEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()

	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "locked" {
				ready <- true
				break
			}
		}
		ready <- false
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("child exited without taking the lock")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("child did not take the lock within 30s")
	}

	start := time.Now()
	_, err = Open(path, Options{Timeout: 150 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Open succeeded on a file another process holds")
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("error %v does not match ErrInUse", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, path) || !strings.Contains(msg, "is in use by another process (is workbot already running?)") {
		t.Errorf("error %q should name the file and say it is in use", msg)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Open took %v to give up with a 150ms timeout", elapsed)
	}
	if err := Check(path); !errors.Is(err, ErrInUse) {
		t.Errorf("Check on a held file = %v, want ErrInUse", err)
	}
}

func TestBackupWhileWritersRunIsAValidSnapshot(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	// Seed so the backup is never empty.
	mustUpdate(t, db, func(tx domain.Tx) error { _, err := createItem(tx, fullItem(0)); return err })

	var stop atomic.Bool
	var wg sync.WaitGroup
	var writeErr atomic.Value
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				// Items are never changed after creation here, so every backed-up item must equal
				// the live one.
				if err := db.Update(ctx, func(tx domain.Tx) error { _, err := createItem(tx, fullItem(0)); return err }); err != nil {
					writeErr.Store(err)
					return
				}
			}
		}()
	}
	// Wait until writers have committed something beyond the seed, with a deadline.
	deadline := time.Now().Add(30 * time.Second)
	for countItems(t, db) < 50 {
		if time.Now().After(deadline) {
			t.Fatal("writers made no progress")
		}
		runtime.Gosched()
	}
	backupPath := filepath.Join(t.TempDir(), "backup.db")
	if err := db.BackupFile(backupPath); err != nil {
		t.Fatalf("BackupFile: %v", err)
	}
	var buf bytes.Buffer
	n, err := db.Backup(&buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Errorf("Backup(w) = %d, %v; wrote %d bytes", n, err, buf.Len())
	}
	stop.Store(true)
	wg.Wait()
	if err, _ := writeErr.Load().(error); err != nil {
		t.Fatal(err)
	}

	if fi, err := os.Stat(backupPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(backupPath + ".tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary backup file left behind: %v", err)
	}
	if err := Check(backupPath); err != nil {
		t.Fatalf("Check(backup): %v", err)
	}
	live := map[domain.ItemID]domain.Item{}
	if err := db.ExportItems(func(it domain.Item) error { live[it.ID] = it; return nil }); err != nil {
		t.Fatal(err)
	}
	bk, err := Open(backupPath, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	backedUp := 0
	if err := bk.ExportItems(func(it domain.Item) error {
		backedUp++
		if !reflect.DeepEqual(live[it.ID], it) {
			t.Errorf("backup item %d differs from live: %+v vs %+v", it.ID, it, live[it.ID])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if backedUp < 50 || backedUp > len(live) {
		t.Errorf("backup has %d items; live has %d and there were at least 50 at backup time", backedUp, len(live))
	}
	// The backup is a snapshot: IDs are dense from 1, no half-written transaction.
	var lastEvent uint64
	if err := bk.ExportEvents(func(e domain.Event) error { lastEvent = e.Seq; return nil }); err != nil {
		t.Fatal(err)
	}
	if lastEvent != uint64(backedUp) {
		t.Errorf("backup has %d items but %d creation events", backedUp, lastEvent)
	}
}

func countItems(t *testing.T, db *DB) int {
	n := 0
	mustView(t, db, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(domain.Item) bool { n++; return true })
	})
	return n
}

func TestBackupFileRefusesTheLiveDatabase(t *testing.T) {
	db := openTestDB(t)
	if err := db.BackupFile(db.Path()); err == nil || !strings.Contains(err.Error(), "live database") {
		t.Errorf("BackupFile(live path) = %v, want a refusal", err)
	}
	// Through another name for the same file, too.
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(db.Path(), link); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	if err := db.BackupFile(link); err == nil {
		t.Error("BackupFile through a symlink to the live file succeeded")
	}
}

// buildClosedDB writes a database with enough items to span many pages and returns its path, closed.
func buildClosedDB(t *testing.T, items int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "workbot.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, func(tx domain.Tx) error {
		for i := 0; i < items; i++ {
			it := fullItem(0)
			it.Details = strings.Repeat("d", 200)
			if _, err := createItem(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	checkAndClose(t, db)
	if err := Check(path); err != nil {
		t.Fatalf("Check on a healthy file: %v", err)
	}
	return path
}

func TestCheckDetectsDamagedPages(t *testing.T) {
	path := buildClosedDB(t, 500)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Find a leaf page holding item records and scribble over its header, as a torn write would.
	at := bytes.Index(data, []byte("title-0"))
	if at < 0 {
		t.Fatal("no item record found in the file")
	}
	pageSize := os.Getpagesize()
	page := at / pageSize * pageSize
	damaged := bytes.Clone(data)
	for i := page; i < page+16; i++ {
		damaged[i] ^= 0xA5
	}
	copyPath := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(copyPath, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	err = Check(copyPath)
	if err == nil {
		t.Fatal("Check passed a file with a damaged page")
	}
	t.Logf("Check reported: %v", err)
}

func TestCheckDetectsGarbageRecords(t *testing.T) {
	path := buildClosedDB(t, 10)
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketItems).Put(seqKey(3), []byte{1, 200, 1, 2})
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	err = Check(path)
	if err == nil || !strings.Contains(err.Error(), "items/3") {
		t.Errorf("Check = %v, want a problem with items/3", err)
	}
}

func TestCheckDetectsIndexEntriesPointingNowhere(t *testing.T) {
	path := buildClosedDB(t, 10)
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketByAssignee).Put(groupKey("UGHOST", 999), nil); err != nil {
			return err
		}
		// And an item whose stage entry went missing.
		return tx.Bucket(bucketByStage).Delete(groupKey("in_progress", 4))
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	err = Check(path)
	if err == nil {
		t.Fatal("Check passed a file with a dangling index entry")
	}
	msg := err.Error()
	if !strings.Contains(msg, `idx_assignee/"UGHOST"/999 points to a missing item`) || !strings.Contains(msg, `items/4 is open but missing from idx_stage`) {
		t.Errorf("Check = %v; want both the dangling and the missing entry reported", err)
	}
	if !IsCheckError(err) {
		t.Errorf("Check's error is not a *CheckError: %T", err)
	}
}
