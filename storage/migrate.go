package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// migration moves the file from version-1 to version. Each runs in its own transaction together
// with the version bump, so a crash leaves the file at one version or the next, never between.
// A migration must keep working on the data as it was at its version: if a later change alters a
// record format, the migration keeps its own copy of the old decoder rather than calling the new one.
type migration struct {
	version uint64
	name    string
	apply   func(tx *bolt.Tx) error
}

// migrations is ordered by version, starting at 1, without gaps.
var migrations = []migration{
	{1, "initial layout", migrateInitialLayout},
	{2, "index items by requester", migrateRequesterIndex},
	{3, "the outbox of Slack side effects", migrateOutbox},
	{4, "index the text of open items", migrateTextIndex},
}

// SchemaVersion is the schema this build writes.
var SchemaVersion = migrations[len(migrations)-1].version

// v1Buckets are the top-level buckets of version 1.
var v1Buckets = [][]byte{
	bucketMeta, bucketItems, bucketOpen, bucketByAssignee, bucketByStage,
	bucketHandoffs, bucketHandoffPending, bucketPeople,
	bucketEvents, bucketEventsByTime, bucketEventsByItem, bucketKV,
}

func migrateInitialLayout(tx *bolt.Tx) error {
	for _, name := range v1Buckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrateOutbox adds the outbox and its index of unfinished entries. Nothing is owed yet: effects of
// changes made before this version were announced, or lost, by the bot of their time.
func migrateOutbox(tx *bolt.Tx) error {
	for _, name := range [][]byte{bucketOutbox, bucketOutboxPending} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrateRequesterIndex adds idx_requester and fills it from every stored item.
func migrateRequesterIndex(tx *bolt.Tx) error {
	idx, err := tx.CreateBucketIfNotExists(bucketByRequester)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
		id, ok := keySeq(k)
		if !ok {
			return fmt.Errorf("items/%x: malformed key", k)
		}
		r, err := decodeItem(v)
		if err != nil {
			return fmt.Errorf("items/%d: %w", id, err)
		}
		return idx.Put(groupKey(r.Requester, id), nil)
	})
}

// errNotWorkbot is returned for a bbolt file that holds buckets but no workbot schema version.
var errNotWorkbot = errors.New("the file is a bbolt database but not a workbot one (no meta/schema_version)")

// readSchemaVersion returns 0 for a brand-new (empty) file.
func readSchemaVersion(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if empty {
			return 0, nil
		}
		return 0, errNotWorkbot
	}
	v := meta.Get(keySchemaVersion)
	if v == nil {
		// Version 1 creates meta and sets the version in one transaction, so meta without a
		// version was not written by workbot.
		return 0, errNotWorkbot
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("meta/schema_version is %d bytes, want 8", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

func writeSchemaVersion(tx *bolt.Tx, v uint64) error {
	return tx.Bucket(bucketMeta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, v))
}

// migrate applies every migration newer than the file's version, one transaction each.
func migrate(bdb *bolt.DB) error {
	return migrateTo(bdb, SchemaVersion)
}

func migrateTo(bdb *bolt.DB, target uint64) error {
	var current uint64
	if err := bdb.View(func(tx *bolt.Tx) error {
		var err error
		current, err = readSchemaVersion(tx)
		return err
	}); err != nil {
		return err
	}
	if current > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this workbot understands (%d); run a newer workbot", current, SchemaVersion)
	}
	for _, m := range migrations {
		if m.version <= current || m.version > target {
			continue
		}
		err := bdb.Update(func(tx *bolt.Tx) error {
			if err := m.apply(tx); err != nil {
				return err
			}
			return writeSchemaVersion(tx, m.version)
		})
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// requireCurrentSchema is the read-only open's check: it cannot migrate, so it refuses anything else.
func (db *DB) requireCurrentSchema() error {
	return db.bolt.View(func(tx *bolt.Tx) error {
		v, err := readSchemaVersion(tx)
		if err != nil {
			return err
		}
		if v != SchemaVersion {
			return fmt.Errorf("schema version %d, this workbot needs %d; open it once read-write (workbot run) to migrate", v, SchemaVersion)
		}
		return nil
	})
}
