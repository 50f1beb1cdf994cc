package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

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
	// resume, when set, finishes a migration too large for one transaction, one step per transaction
	// after apply has committed with the version, until a step reports done. Meanwhile
	// meta/incomplete holds the version, so every read-write Open carries on first and read-only
	// opens refuse the file; older workbots already refuse the version. Each step must leave the file
	// consistent for the next to continue from.
	resume func(tx *bolt.Tx) (done bool, err error)
}

// migrations is ordered by version, starting at 1, without gaps.
var migrations = []migration{
	{1, "initial layout", migrateInitialLayout, nil},
	{2, "index items by requester", migrateRequesterIndex, nil},
	{3, "the outbox of Slack side effects", migrateOutbox, nil},
	{4, "index the text of open items", migrateTextIndex, nil},
	{5, "aggregates of open work, closed items by DoneAt, hourly event counts, briefs in idx_stage, the rank index", migrateAggregates, nil},
	{6, "the audit log in time order, with compact records and per-item references", migrateEventLogStart, migrateEventLogStep},
}

// keyIncomplete, in meta, names a migration whose resume has not finished.
var keyIncomplete = []byte("incomplete")

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

// migrateAggregates fills agg_open, idx_closed and agg_events (aggregates.go) from every item and
// event, gives idx_stage's entries their briefs (briefs.go) and fills idx_rank (rank.go). Keys are gathered and sorted before they are written: bbolt splits a leaf only at commit,
// so inserting a million keys out of order into one transaction would shift ever longer leaves.
func migrateAggregates(tx *bolt.Tx) error {
	agg, err := tx.CreateBucketIfNotExists(bucketAggOpen)
	if err != nil {
		return err
	}
	closed, err := tx.CreateBucketIfNotExists(bucketClosed)
	if err != nil {
		return err
	}
	hourly, err := tx.CreateBucketIfNotExists(bucketAggEvents)
	if err != nil {
		return err
	}
	open := newOpenTally()
	type kv struct{ k, v []byte }
	var closures, briefs, ranks []kv
	err = tx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
		r, err := decodeItem(v)
		if err != nil {
			return fmt.Errorf("items/%x: %w", k, err)
		}
		if r.open() {
			open.add(&r)
			briefs = append(briefs, kv{groupKey(r.Stage, r.ID), briefOf(&r).encode()})
			for _, e := range rankEntries(&r) {
				ranks = append(ranks, kv{e.key, e.val})
			}
		} else {
			closures = append(closures, kv{closedKey(r.DoneAt, r.ID), closureOf(&r).encode()})
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(closures, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	closed.FillPercent = appendFill
	for _, c := range closures {
		if err := closed.Put(c.k, c.v); err != nil {
			return err
		}
	}
	slices.SortFunc(briefs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	byStage := tx.Bucket(bucketByStage)
	for _, b := range briefs {
		if err := byStage.Put(b.k, b.v); err != nil {
			return err
		}
	}
	slices.SortFunc(ranks, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
	rank, err := tx.CreateBucketIfNotExists(bucketRank)
	if err != nil {
		return err
	}
	for _, r := range ranks {
		if err := rank.Put(r.k, r.v); err != nil {
			return err
		}
	}
	for _, k := range sortedKeys(open.counts) {
		if err := agg.Put([]byte(k), open.value(k)); err != nil {
			return err
		}
	}
	counts := map[string]int64{}
	err = tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
		r, err := decodeEventV1(v)
		if err != nil {
			return fmt.Errorf("events/%x: %w", k, err)
		}
		counts[string(eventCountKey(eventHour(r.At), r.Type))]++
		return nil
	})
	if err != nil {
		return err
	}
	hourly.FillPercent = appendFill
	for _, k := range sortedKeys(counts) {
		if err := hourly.Put([]byte(k), binary.AppendVarint(nil, counts[k])); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
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
	var current, incomplete uint64
	if err := bdb.View(func(tx *bolt.Tx) error {
		var err error
		current, err = readSchemaVersion(tx)
		if err == nil {
			incomplete, err = readIncomplete(tx)
		}
		return err
	}); err != nil {
		return err
	}
	if current > SchemaVersion {
		return fmt.Errorf("schema version %d is newer than this workbot understands (%d); run a newer workbot", current, SchemaVersion)
	}
	for _, m := range migrations {
		if m.version == incomplete && m.resume != nil {
			if err := resumeMigration(bdb, m); err != nil {
				return err
			}
		}
		if m.version <= current || m.version > target {
			continue
		}
		err := bdb.Update(func(tx *bolt.Tx) error {
			if err := m.apply(tx); err != nil {
				return err
			}
			if m.resume != nil {
				if err := tx.Bucket(bucketMeta).Put(keyIncomplete, binary.BigEndian.AppendUint64(nil, m.version)); err != nil {
					return err
				}
			}
			return writeSchemaVersion(tx, m.version)
		})
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if m.resume != nil {
			if err := resumeMigration(bdb, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// resumeMigration runs m's steps until one reports done, and clears meta/incomplete with the last.
func resumeMigration(bdb *bolt.DB, m migration) error {
	for done := false; !done; {
		err := bdb.Update(func(tx *bolt.Tx) error {
			var err error
			if done, err = m.resume(tx); err != nil || !done {
				return err
			}
			return tx.Bucket(bucketMeta).Delete(keyIncomplete)
		})
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

// readIncomplete is the version of a migration whose steps have not finished, or 0.
func readIncomplete(tx *bolt.Tx) (uint64, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(keyIncomplete)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("meta/incomplete is %d bytes, want 8", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
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
		if m, err := readIncomplete(tx); err != nil || m != 0 {
			return fmt.Errorf("migration %d has not finished; open it once read-write (workbot run) to finish it (%v)", m, err)
		}
		return nil
	})
}
