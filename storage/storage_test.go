package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

func TestUpdateReturnsFnErrorUnchangedAndRollsBack(t *testing.T) {
	db := openTestDB(t)
	conflict := domain.Errorf(domain.ECONFLICT, "already decided")
	err := db.Update(context.Background(), func(tx domain.Tx) error {
		if _, err := createItem(tx, fullItem(0)); err != nil {
			return err
		}
		if kv, ok := tx.(KVTx); !ok {
			t.Fatal("the Update tx does not implement KVTx")
		} else if err := kv.PutKV("refs", "W-1", []byte("ts")); err != nil {
			return err
		}
		return conflict
	})
	if err != conflict {
		t.Fatalf("Update error = %v, want the fn's error itself", err)
	}
	mustView(t, db, func(tx domain.ReadTx) error {
		if _, err := tx.Item(1); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("item written by a failed Update is visible: %v", err)
		}
		return nil
	})
	if v, err := db.GetKV("refs", "W-1"); err != nil || v != nil {
		t.Errorf("KV written by a failed Update is visible: %q, %v", v, err)
	}
	// The sequence rolled back too, so the next item is still 1.
	mustUpdate(t, db, func(tx domain.Tx) error {
		id, err := createItem(tx, fullItem(0))
		if id != 1 {
			t.Errorf("first committed item ID = %d, want 1", id)
		}
		return err
	})
}

func TestKVCommitsWithDomainChange(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx domain.Tx) error {
		id, err := createItem(tx, fullItem(0))
		if err != nil {
			return err
		}
		return tx.(KVTx).PutKV("item_msg", domain.FormatKey("W", id), []byte("C1/1700.0001"))
	})
	got, err := db.GetKV("item_msg", "W-1")
	if err != nil || string(got) != "C1/1700.0001" {
		t.Fatalf("GetKV = %q, %v", got, err)
	}
	if err := db.PutKV("dedupe", "Ev1", nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetKV("dedupe", "Ev1"); got == nil || len(got) != 0 {
		t.Errorf("an empty value reads back as %#v, want a non-nil empty slice", got)
	}
	var keys []string
	if err := db.ForEachKV("item_msg", func(k string, v []byte) bool { keys = append(keys, k); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"W-1"}) {
		t.Errorf("ForEachKV keys = %v", keys)
	}
	if err := db.DeleteKV("item_msg", "W-1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.GetKV("item_msg", "W-1"); got != nil {
		t.Errorf("after DeleteKV, GetKV = %q", got)
	}
	if got, err := db.GetKV("no_such_bucket", "k"); got != nil || err != nil {
		t.Errorf("GetKV on a missing bucket = %q, %v", got, err)
	}
	if err := db.PutKV("", "k", []byte("v")); domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("PutKV with empty bucket = %v, want EINVALID", err)
	}
}

func TestNewFileIsPrivateAndExistingModeIsKept(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "new.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAndClose(t, db)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkAndClose(t, db)
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("existing file mode changed to %v, want 0640 kept", fi.Mode().Perm())
	}
}

func TestOpenRejectsFilesThatAreNotWorkbotDatabases(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("hello, this is not bbolt\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(text, Options{})
	if err == nil || !strings.Contains(err.Error(), "not a workbot database") || !strings.Contains(err.Error(), text) {
		t.Errorf("Open(text file) = %v, want a 'not a workbot database' error naming the file", err)
	}

	other := filepath.Join(dir, "other.db")
	bdb, err := bolt.Open(other, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("something_else")); return err }); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	if _, err := Open(other, Options{}); !errors.Is(err, errNotWorkbot) {
		t.Errorf("Open(other bbolt file) = %v, want errNotWorkbot", err)
	}
	if _, err := Open(filepath.Join(dir, "missing.db"), Options{ReadOnly: true}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing, read-only) = %v, want not-exist", err)
	}
}

func TestReadOnlyOpenRefusesWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "workbot.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, db, func(tx domain.Tx) error { _, err := createItem(tx, fullItem(0)); return err })
	checkAndClose(t, db)

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var n int
	if err := ro.ExportItems(func(domain.Item) error { n++; return nil }); err != nil || n != 1 {
		t.Errorf("ExportItems read-only = %d items, %v", n, err)
	}
	if err := ro.Update(context.Background(), func(tx domain.Tx) error { _, err := createItem(tx, fullItem(0)); return err }); err == nil {
		t.Error("Update on a read-only DB succeeded")
	}
}
