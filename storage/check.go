package storage

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// maxProblems bounds a report: past this many, a file is damaged enough that more lines do not help.
const maxProblems = 50

// CheckError lists what Check or CheckConsistency found.
type CheckError struct {
	Path     string
	Problems []string
	// Truncated is true when more problems were found than are listed.
	Truncated bool
}

func (e *CheckError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "database %s has %d problem(s)", e.Path, len(e.Problems))
	if e.Truncated {
		b.WriteString(" (list truncated)")
	}
	b.WriteString(":")
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

type problems struct {
	list      []string
	truncated bool
}

func (p *problems) addf(format string, args ...any) {
	if len(p.list) >= maxProblems {
		p.truncated = true
		return
	}
	p.list = append(p.list, fmt.Sprintf(format, args...))
}

func (p *problems) full() bool { return len(p.list) >= maxProblems }

func (p *problems) err(path string) error {
	if len(p.list) == 0 {
		return nil
	}
	return &CheckError{Path: path, Problems: p.list, Truncated: p.truncated}
}

// Check opens the file read-only (waiting at most DefaultTimeout for the lock) and reports every
// problem it finds: bbolt page-level damage, a wrong schema version, records that do not decode and
// index entries that disagree with their records. It returns nil for a healthy file.
func Check(path string) error {
	bdb, err := openBolt(path, &bolt.Options{Timeout: DefaultTimeout, ReadOnly: true})
	if err != nil {
		return err
	}
	defer bdb.Close()
	var p problems
	err = bdb.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			p.addf("bbolt: %v", err)
		}
		if p.full() {
			return nil
		}
		checkRecords(tx, &p)
		return nil
	})
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	return p.err(path)
}

// CheckConsistency runs Check's record and index checks on the open database.
func (db *DB) CheckConsistency() error {
	var p problems
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		checkRecords(tx, &p)
		return nil
	}); err != nil {
		return err
	}
	return p.err(db.path)
}

// checkRecords walks every record and every index entry. Each index is checked in both directions
// with point lookups rather than in-memory sets, so memory stays flat on a large history. A damaged
// page can make bbolt panic mid-walk; that is reported as a problem.
func checkRecords(tx *bolt.Tx, p *problems) {
	defer func() {
		if r := recover(); r != nil {
			p.addf("reading records failed (the file is damaged): %v", r)
		}
	}()
	v, err := readSchemaVersion(tx)
	if err != nil {
		p.addf("schema: %v", err)
		return
	}
	if v != SchemaVersion {
		p.addf("schema version is %d, want %d", v, SchemaVersion)
		return
	}
	all := append(append(append([][]byte{}, v1Buckets...), bucketByRequester, bucketOutbox, bucketOutboxPending), textBuckets...)
	missing := false
	for _, name := range all {
		if tx.Bucket(name) == nil {
			p.addf("bucket %s is missing", name)
			missing = true
		}
	}
	if missing {
		return
	}
	checkItems(tx, p)
	checkHandoffs(tx, p)
	checkPeople(tx, p)
	checkEvents(tx, p)
	checkOutbox(tx, p)
	checkSources(tx, p)
	checkTextIndex(tx, p)
}

// checkOutbox: every entry decodes, unfinished entries are pending and finished ones are not, and no
// entry is in both buckets.
func checkOutbox(tx *bolt.Tx, p *problems) {
	box, pending := tx.Bucket(bucketOutbox), tx.Bucket(bucketOutboxPending)
	check := func(b *bolt.Bucket, name string, wantPending bool) {
		c := b.Cursor()
		for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
			id, ok := keySeq(k)
			r, err := decodeOutbox(v)
			if !ok || err != nil {
				p.addf("%s/%x: %v", name, k, err)
				continue
			}
			if (r.State == uint64(domain.OutboxPending)) != wantPending {
				p.addf("%s/%d is in state %s", name, id, domain.OutboxState(r.State))
			}
			if wantPending && box.Get(k) != nil {
				p.addf("outbox entry %d is both unfinished and finished", id)
			}
		}
	}
	check(pending, "outbox_pending", true)
	check(box, "outbox", false)
}

func checkItems(tx *bolt.Tx, p *problems) {
	items := tx.Bucket(bucketItems)
	open := tx.Bucket(bucketOpen)
	byAssignee := tx.Bucket(bucketByAssignee)
	byStage := tx.Bucket(bucketByStage)
	byRequester := tx.Bucket(bucketByRequester)

	var maxID uint64
	c := items.Cursor()
	for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
		id, ok := keySeq(k)
		if !ok {
			p.addf("items/%x: malformed key", k)
			continue
		}
		maxID = max(maxID, id)
		r, err := decodeItem(v)
		if err != nil {
			p.addf("items/%d: %v", id, err)
			continue
		}
		if r.ID != id {
			p.addf("items/%d: record says ID %d", id, r.ID)
		}
		if r.open() {
			if ov := open.Get(k); ov == nil {
				p.addf("items/%d is open but missing from idx_open", id)
			} else if !bytes.Equal(ov, v) {
				p.addf("idx_open/%d differs from items/%d", id, id)
			}
			if byAssignee.Get(groupKey(r.Assignee, id)) == nil {
				p.addf("items/%d is open but missing from idx_assignee/%q", id, r.Assignee)
			}
			if byStage.Get(groupKey(r.Stage, id)) == nil {
				p.addf("items/%d is open but missing from idx_stage/%q", id, r.Stage)
			}
		}
		if byRequester.Get(groupKey(r.Requester, id)) == nil {
			p.addf("items/%d is missing from idx_requester/%q", id, r.Requester)
		}
	}
	if items.Sequence() < maxID {
		p.addf("items sequence %d is below the highest item ID %d", items.Sequence(), maxID)
	}

	// Every index entry must point to a record that wants exactly that entry.
	oc := open.Cursor()
	for k, _ := oc.First(); k != nil && !p.full(); k, _ = oc.Next() {
		id, _ := keySeq(k)
		if items.Get(k) == nil {
			p.addf("idx_open/%x points to a missing item", k)
		} else if r, err := decodeItem(items.Get(k)); err == nil && !r.open() {
			p.addf("idx_open/%d lists a closed item", id)
		}
	}
	checkGroupIndex(byAssignee, "idx_assignee", items, p, func(r itemRecord) (string, bool) { return r.Assignee, r.open() })
	checkGroupIndex(byStage, "idx_stage", items, p, func(r itemRecord) (string, bool) { return r.Stage, r.open() })
	checkGroupIndex(byRequester, "idx_requester", items, p, func(r itemRecord) (string, bool) { return r.Requester, true })
}

// checkGroupIndex verifies that each <group><seq> entry points to an item whose want() is (group, true).
func checkGroupIndex(idx *bolt.Bucket, name string, items *bolt.Bucket, p *problems, want func(itemRecord) (string, bool)) {
	c := idx.Cursor()
	for k, _ := c.First(); k != nil && !p.full(); k, _ = c.Next() {
		group, id, ok := splitGroupKey(k)
		if !ok {
			p.addf("%s/%x: malformed key", name, k)
			continue
		}
		v := items.Get(seqKey(id))
		if v == nil {
			p.addf("%s/%q/%d points to a missing item", name, group, id)
			continue
		}
		r, err := decodeItem(v)
		if err != nil {
			continue // reported with the item
		}
		if g, indexed := want(r); !indexed || g != group {
			p.addf("%s/%q/%d does not match the item (wanted %q, indexed %v)", name, group, id, g, indexed)
		}
	}
}

func checkHandoffs(tx *bolt.Tx, p *problems) {
	hs := tx.Bucket(bucketHandoffs)
	pending := tx.Bucket(bucketHandoffPending)
	var maxID uint64
	c := hs.Cursor()
	for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
		id, ok := keySeq(k)
		if !ok {
			p.addf("handoffs/%x: malformed key", k)
			continue
		}
		maxID = max(maxID, id)
		r, err := decodeHandoff(v)
		if err != nil {
			p.addf("handoffs/%d: %v", id, err)
			continue
		}
		if r.ID != id {
			p.addf("handoffs/%d: record says ID %d", id, r.ID)
		}
		if listed := pending.Get(k) != nil; listed != r.pending() {
			p.addf("handoffs/%d has status %q but idx_handoff_pending lists it: %v", id, r.Status, listed)
		}
	}
	if hs.Sequence() < maxID {
		p.addf("handoffs sequence %d is below the highest handoff ID %d", hs.Sequence(), maxID)
	}
	pc := pending.Cursor()
	for k, _ := pc.First(); k != nil && !p.full(); k, _ = pc.Next() {
		if hs.Get(k) == nil {
			p.addf("idx_handoff_pending/%x points to a missing handoff", k)
		}
	}
}

func checkPeople(tx *bolt.Tx, p *problems) {
	c := tx.Bucket(bucketPeople).Cursor()
	for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
		r, err := decodePerson(v)
		if err != nil {
			p.addf("people/%q: %v", k, err)
			continue
		}
		if r.ID != string(k) {
			p.addf("people/%q: record says ID %q", k, r.ID)
		}
	}
}

func checkEvents(tx *bolt.Tx, p *problems) {
	evs := tx.Bucket(bucketEvents)
	byTime := tx.Bucket(bucketEventsByTime)
	byItem := tx.Bucket(bucketEventsByItem)
	var maxSeq uint64
	c := evs.Cursor()
	for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
		seq, ok := keySeq(k)
		if !ok {
			p.addf("events/%x: malformed key", k)
			continue
		}
		maxSeq = max(maxSeq, seq)
		r, err := decodeEvent(v)
		if err != nil {
			p.addf("events/%d: %v", seq, err)
			continue
		}
		if r.Seq != seq {
			p.addf("events/%d: record says Seq %d", seq, r.Seq)
		}
		if byTime.Get(eventTimeKey(r.At, seq)) == nil {
			p.addf("events/%d is missing from events_by_time", seq)
		}
		if r.ItemID != 0 && byItem.Get(eventItemKey(r.ItemID, seq)) == nil {
			p.addf("events/%d is missing from events_by_item", seq)
		}
	}
	if evs.Sequence() < maxSeq {
		p.addf("events sequence %d is below the highest event Seq %d", evs.Sequence(), maxSeq)
	}
	checkEventIndex(byTime, "events_by_time", evs, p, func(r eventRecord, seq uint64) []byte { return eventTimeKey(r.At, seq) })
	checkEventIndex(byItem, "events_by_item", evs, p, func(r eventRecord, seq uint64) []byte {
		if r.ItemID == 0 {
			return nil
		}
		return eventItemKey(r.ItemID, seq)
	})
}

func checkEventIndex(idx *bolt.Bucket, name string, evs *bolt.Bucket, p *problems, want func(eventRecord, uint64) []byte) {
	c := idx.Cursor()
	for k, _ := c.First(); k != nil && !p.full(); k, _ = c.Next() {
		if len(k) != 2*keyLen {
			p.addf("%s/%x: malformed key", name, k)
			continue
		}
		seq, _ := keySeq(k[keyLen:])
		v := evs.Get(k[keyLen:])
		if v == nil {
			p.addf("%s/%x points to missing event %d", name, k, seq)
			continue
		}
		r, err := decodeEvent(v)
		if err != nil {
			continue // reported with the event
		}
		if !bytes.Equal(want(r, seq), k) {
			p.addf("%s/%x does not match event %d", name, k, seq)
		}
	}
}

// IsCheckError reports whether err is a CheckError (damage found) rather than a failure to check.
func IsCheckError(err error) bool {
	var ce *CheckError
	return errors.As(err, &ce)
}
