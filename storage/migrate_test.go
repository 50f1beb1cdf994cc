package storage

import (
	"encoding/binary"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// schemaVersionOf reads the version straight from the file, independent of Open.
func schemaVersionOf(t *testing.T, path string) uint64 {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: DefaultTimeout})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var v uint64
	if err := bdb.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readSchemaVersion(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMigrationsAreOrderedWithoutGaps(t *testing.T) {
	for i, m := range migrations {
		if m.version != uint64(i+1) || m.name == "" || m.apply == nil {
			t.Errorf("migrations[%d] = {%d %q}; want version %d with a name and a function", i, m.version, m.name, i+1)
		}
	}
}

// Version 0 is an empty bbolt file; migration 1 lays out the buckets.
func TestMigration1CreatesInitialLayout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v0.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(bdb, 1); err != nil {
		t.Fatalf("migrate to 1: %v", err)
	}
	if err := bdb.View(func(tx *bolt.Tx) error {
		v, err := readSchemaVersion(tx)
		if err != nil || v != 1 {
			t.Errorf("version after migration 1 = %d, %v", v, err)
		}
		for _, name := range v1Buckets {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing after migration 1", name)
			}
		}
		if tx.Bucket(bucketByRequester) != nil {
			t.Error("idx_requester exists at version 1; it belongs to migration 2")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()

	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open at version 1: %v", err)
	}
	checkAndClose(t, db)
	if v := schemaVersionOf(t, path); v != SchemaVersion {
		t.Errorf("version after Open = %d, want %d", v, SchemaVersion)
	}
}

// A file written at version 1 (no requester index) gets idx_requester backfilled from its items.
func TestMigration2BackfillsRequesterIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(bdb, 1); err != nil {
		t.Fatal(err)
	}
	requesters := map[uint64]string{1: "UALICE", 2: "UBOB", 3: "UALICE", 4: ""}
	if err := bdb.Update(func(tx *bolt.Tx) error {
		items := tx.Bucket(bucketItems)
		for id, req := range requesters {
			it := fullItem(domain.ItemID(id))
			it.Requester = domain.UserID(req)
			if id == 3 {
				it.Resolution = domain.ResolutionDone // closed items are indexed too
			}
			rec := itemToRecord(it).encode()
			if err := items.Put(seqKey(id), rec); err != nil {
				return err
			}
			if it.Open() {
				if err := tx.Bucket(bucketOpen).Put(seqKey(id), rec); err != nil {
					return err
				}
				if err := tx.Bucket(bucketByAssignee).Put(groupKey(string(it.Assignee), id), nil); err != nil {
					return err
				}
				if err := tx.Bucket(bucketByStage).Put(groupKey(string(it.Stage), id), nil); err != nil {
					return err
				}
			}
		}
		return items.SetSequence(4)
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()

	db := openAt(t, path)
	mustView(t, db, func(tx domain.ReadTx) error {
		alice := itemIDs(collectItems(t, func(f func(domain.Item) bool) error { return tx.ItemsByRequester("UALICE", f) }))
		if !slices.Equal(alice, []domain.ItemID{3, 1}) {
			t.Errorf("ItemsByRequester(UALICE) = %v, want [3 1]", alice)
		}
		anon := itemIDs(collectItems(t, func(f func(domain.Item) bool) error { return tx.ItemsByRequester("", f) }))
		if !slices.Equal(anon, []domain.ItemID{4}) {
			t.Errorf("ItemsByRequester(\"\") = %v, want [4]", anon)
		}
		return nil
	})
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		if v, err := readSchemaVersion(tx); v != SchemaVersion || err != nil {
			t.Errorf("version after Open = %d, %v; want %d", v, err, SchemaVersion)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "future.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return writeSchemaVersion(tx, SchemaVersion+1) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(path, Options{})
	if err == nil || !strings.Contains(err.Error(), "newer than this workbot") {
		t.Errorf("Open(newer schema) = %v, want a 'newer than this workbot' error", err)
	}
	if err := Check(path); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Errorf("Check(newer schema) = %v, want a schema version problem", err)
	}
}

func TestReadOnlyOpenRefusesOldSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(bdb, 1); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	if _, err := Open(path, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "migrate") {
		t.Errorf("read-only Open at version 1 = %v, want an error asking to migrate", err)
	}
	if v := schemaVersionOf(t, path); v != 1 {
		t.Errorf("read-only Open changed the version to %d", v)
	}
}

func TestSchemaVersionIsBigEndianUint64(t *testing.T) {
	db := openTestDB(t)
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keySchemaVersion)
		if len(v) != 8 || binary.BigEndian.Uint64(v) != SchemaVersion {
			t.Errorf("meta/schema_version = %x, want %d as 8 bytes BE", v, SchemaVersion)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func openAt(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { checkAndClose(t, db) })
	return db
}
