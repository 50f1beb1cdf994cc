package storage

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// Whole-database reads for moving a file elsewhere (workbot migrate) and for progress counts. Each
// runs in one read transaction; values are copies.

// Sequences are the last numbers a store handed out. They can be above the highest stored ID (an
// outbox entry that was pruned, say), and a copy of the store must continue after them.
type Sequences struct {
	Items, Handoffs, Events, Outbox uint64
}

// Sequences reports the bucket sequences.
func (db *DB) Sequences() (Sequences, error) {
	var s Sequences
	err := db.bolt.View(func(btx *bolt.Tx) error {
		for _, b := range []struct {
			name []byte
			dst  *uint64
		}{{bucketItems, &s.Items}, {bucketHandoffs, &s.Handoffs}, {bucketEventLog, &s.Events}, {bucketOutboxPending, &s.Outbox}} {
			bk := btx.Bucket(b.name)
			if bk == nil {
				return fmt.Errorf("storage: bucket %s is missing; run workbot check", b.name)
			}
			*b.dst = bk.Sequence()
		}
		return nil
	})
	return s, err
}

// Counts reports how many records each kind holds, under the PostgreSQL store's table names.
func (db *DB) Counts() (map[string]int64, error) {
	out := map[string]int64{}
	err := db.bolt.View(func(btx *bolt.Tx) error {
		for table, name := range map[string][]byte{
			"items": bucketItems, "handoffs": bucketHandoffs, "people": bucketPeople, "events": bucketEventLog,
			"outbox": bucketOutbox,
		} {
			if b := btx.Bucket(name); b != nil {
				out[table] = int64(b.Stats().KeyN)
			}
		}
		if b := btx.Bucket(bucketOutboxPending); b != nil {
			out["outbox"] += int64(b.Stats().KeyN) // unfinished entries live apart from finished ones
		}
		var state int64
		if kv := btx.Bucket(bucketKV); kv != nil {
			_ = kv.ForEachBucket(func(k []byte) error {
				state += int64(kv.Bucket(k).Stats().KeyN)
				return nil
			})
		}
		out["bot_state"] = state
		return nil
	})
	return out, err
}

// ExportHandoffs visits every handoff in ID order.
func (db *DB) ExportHandoffs(fn func(domain.Handoff) error) error {
	return db.bolt.View(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketHandoffs).ForEach(func(k, v []byte) error {
			r, err := decodeHandoff(v)
			if err != nil {
				return fmt.Errorf("handoffs/%x: %w", k, err)
			}
			return fn(r.toDomain())
		})
	})
}

// ExportPeople visits every person in ID order.
func (db *DB) ExportPeople(fn func(domain.Person) error) error {
	return db.bolt.View(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketPeople).ForEach(func(k, v []byte) error {
			r, err := decodePerson(v)
			if err != nil {
				return fmt.Errorf("people/%q: %w", k, err)
			}
			return fn(r.toDomain())
		})
	})
}

// ExportState visits the bot's state, bucket by bucket, keys in byte order.
func (db *DB) ExportState(fn func(bucket, key string, val []byte) error) error {
	return db.bolt.View(func(btx *bolt.Tx) error {
		kv := btx.Bucket(bucketKV)
		if kv == nil {
			return nil
		}
		return kv.ForEachBucket(func(name []byte) error {
			return kv.Bucket(name).ForEach(func(k, v []byte) error {
				return fn(string(name), string(k), append([]byte{}, v...))
			})
		})
	})
}

// ExportOutbox visits every outbox entry, pending and finished, in ID order. Claims are not part of
// an entry: they live in the memory of the process that holds the file.
func (db *DB) ExportOutbox(fn func(domain.OutboxEntry) error) error {
	return db.bolt.View(func(btx *bolt.Tx) error {
		// Unfinished entries are in outbox_pending, finished ones in outbox: merge the two in ID order.
		var cursors []*bolt.Cursor
		for _, name := range [][]byte{bucketOutbox, bucketOutboxPending} {
			if b := btx.Bucket(name); b != nil {
				cursors = append(cursors, b.Cursor())
			}
		}
		type head struct{ k, v []byte }
		heads := make([]head, len(cursors))
		for i, c := range cursors {
			heads[i].k, heads[i].v = c.First()
		}
		for {
			next := -1
			for i, h := range heads {
				if h.k != nil && (next < 0 || bytes.Compare(h.k, heads[next].k) < 0) {
					next = i
				}
			}
			if next < 0 {
				return nil
			}
			k, v := heads[next].k, heads[next].v
			heads[next].k, heads[next].v = cursors[next].Next()
			id, ok := keySeq(k)
			if !ok {
				return fmt.Errorf("%w: outbox/%x", errCorrupt, k)
			}
			r, err := decodeOutbox(v)
			if err != nil {
				return fmt.Errorf("outbox/%d: %w", id, err)
			}
			e := r.toDomain(id)
			e.Payload = append([]byte(nil), e.Payload...)
			if err := fn(e); err != nil {
				return err
			}
		}
	})
}
