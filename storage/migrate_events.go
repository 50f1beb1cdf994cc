package storage

import (
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// Migration 6 moves the audit log from the layout of versions 1–5 to event_log (eventlog.go):
//
//	events/<seq BE>                   eventRecord v1 (with its Seq and At)
//	events_by_time/<time BE><seq BE>  empty
//	events_by_item/<item BE><seq BE>  empty
//
// A year of events does not fit one transaction comfortably (millions of puts held in memory until
// commit), so the migration runs in steps (migration.resume): each moves the oldest eventsPerStep
// events by Seq and deletes them and their time-index entries, so the pages they free are reused by
// the next step and the file does not grow by a second copy of the log. The last step drops the old
// buckets. A crash between steps leaves every event in exactly one of the two layouts, and the next
// Open carries on.

// eventsPerStep bounds one step's transaction (a variable so tests can take many small steps).
var eventsPerStep = 100_000

const eventRecordV1 byte = 1

// encodeEventV1 is the record of versions 1–5; tests write old files with it.
func encodeEventV1(r eventRecord) []byte {
	e := newEncoder(64 + len(r.Note))
	e.uvarint(r.Seq)
	e.timestamp(r.At)
	e.str(r.Actor)
	e.str(r.Type)
	e.uvarint(r.ItemID)
	e.str(r.Subject)
	e.uvarint(r.Handoff)
	e.changes(r.Changes)
	e.str(r.Note)
	return e.finish(eventRecordV1)
}

// decodeEventV1 reads the record of versions 1–5. Migrations that read old events use it, never the
// current decoder.
func decodeEventV1(b []byte) (eventRecord, error) {
	var d decoder
	d.init(b)
	if d.err == nil && d.version != eventRecordV1 {
		return eventRecord{}, fmt.Errorf("%w: event record version %d is not supported", errCorrupt, d.version)
	}
	r := eventRecord{
		Seq: d.uvarint(), At: d.timestamp(), Actor: d.str(), Type: d.str(), ItemID: d.uvarint(),
		Subject: d.str(), Handoff: d.uvarint(), Changes: d.changes(), Note: d.str(),
	}
	if d.err != nil {
		return eventRecord{}, fmt.Errorf("event: %w", d.err)
	}
	return r, nil
}

// migrateEventLogStart creates the new buckets and carries the Seq counter over.
func migrateEventLogStart(tx *bolt.Tx) error {
	log, err := tx.CreateBucketIfNotExists(bucketEventLog)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketEventByItem, bucketDict, bucketDictIDs} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	old := tx.Bucket(bucketEvents)
	if old == nil {
		return nil
	}
	return log.SetSequence(old.Sequence())
}

// migrateEventLogStep moves the next eventsPerStep events and reports whether none are left, in which
// case it has dropped the old buckets.
func migrateEventLogStep(tx *bolt.Tx) (bool, error) {
	old := tx.Bucket(bucketEvents)
	if old == nil {
		return true, nil // a file that never had the old layout, or a finished move
	}
	byTime := tx.Bucket(bucketEventsByTime)
	log := tx.Bucket(bucketEventLog)
	byItem := tx.Bucket(bucketEventByItem)
	log.FillPercent, byItem.FillPercent = fillPercent(bucketEventLog), fillPercent(bucketEventByItem)
	dict := &dictionary{btx: tx, cache: newDictCache()}
	// The step reads its events with one forward walk and deletes them afterwards: deleting under
	// the cursor and starting again from First would walk over every emptied leaf each time.
	c := old.Cursor()
	var done [][2][]byte // events key, events_by_time key
	for k, v := c.First(); k != nil && len(done) < eventsPerStep; k, v = c.Next() {
		seq, ok := keySeq(k)
		if !ok {
			return false, fmt.Errorf("%w: events/%x: malformed key", errCorrupt, k)
		}
		r, err := decodeEventV1(v)
		if err != nil {
			return false, fmt.Errorf("events/%d: %w", seq, err)
		}
		r.Seq = seq
		key := eventTimeKey(r.At, seq)
		rec, err := encodeEventV2(r, dict)
		if err != nil {
			return false, err
		}
		if err := log.Put(key, rec); err != nil {
			return false, err
		}
		if r.ItemID != 0 {
			if err := addItemRef(byItem, r.ItemID, eventRef{seq: seq, timeKey: binary.BigEndian.Uint64(key)}); err != nil {
				return false, err
			}
		}
		done = append(done, [2][]byte{slices.Clone(k), key})
	}
	for _, d := range done {
		if err := old.Delete(d[0]); err != nil {
			return false, err
		}
		if byTime != nil {
			if err := byTime.Delete(d[1]); err != nil {
				return false, err
			}
		}
	}
	if k, _ := c.First(); k != nil {
		return false, nil
	}
	if log.Sequence() < old.Sequence() {
		if err := log.SetSequence(old.Sequence()); err != nil {
			return false, err
		}
	}
	for _, name := range [][]byte{bucketEvents, bucketEventsByTime, bucketEventsByItem} {
		if tx.Bucket(name) != nil {
			if err := tx.DeleteBucket(name); err != nil {
				return false, fmt.Errorf("drop %s: %w", name, err)
			}
		}
	}
	return true, nil
}
