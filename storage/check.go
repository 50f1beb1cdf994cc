package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
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
	if m, err := readIncomplete(tx); err != nil || m != 0 {
		p.addf("migration %d has not finished (open the file read-write to finish it) %v", m, err)
		return
	}
	missing := false
	for _, name := range append(append([][]byte{}, currentBuckets...), textBuckets...) {
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
	// One dictionary for both passes over the log: the first lookup loads it whole.
	dict := &dictionary{btx: tx, cache: newDictCache()}
	checkEvents(tx, dict, p)
	checkOutbox(tx, p)
	checkSources(tx, p)
	checkTextIndex(tx, p)
	checkAggregates(tx, dict, p)
}

// checkAggregates recounts every aggregate from the records (aggregates.go) and compares, key for key
// and in both directions: a missing key, a stale one and a wrong count are each reported.
func checkAggregates(tx *bolt.Tx, dict *dictionary, p *problems) {
	open := newOpenTally()
	closed := tx.Bucket(bucketClosed)
	items := tx.Bucket(bucketItems)
	c := items.Cursor()
	for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
		r, err := decodeItem(v)
		if err != nil {
			continue // reported with the item
		}
		if r.open() {
			open.add(&r)
			continue
		}
		cv := closed.Get(closedKey(r.DoneAt, r.ID))
		if cv == nil {
			p.addf("items/%d is closed but missing from idx_closed", r.ID)
		} else if cr, err := decodeClosure(cv); err != nil {
			p.addf("idx_closed of item %d: %v", r.ID, err)
		} else if want := closureOf(&r); cr.Resolution != want.Resolution || !cr.CreatedAt.Equal(want.CreatedAt) || cr.Due != want.Due {
			p.addf("idx_closed of item %d says %+v, the item %+v", r.ID, cr, want)
		}
	}
	cc := closed.Cursor()
	for k, _ := cc.First(); k != nil && !p.full(); k, _ = cc.Next() {
		if len(k) != 2*keyLen {
			p.addf("idx_closed/%x: malformed key", k)
			continue
		}
		v := items.Get(k[keyLen:])
		if v == nil {
			p.addf("idx_closed/%x points to a missing item", k)
			continue
		}
		if r, err := decodeItem(v); err == nil && (r.open() || !bytes.Equal(closedKey(r.DoneAt, r.ID), k)) {
			p.addf("idx_closed/%x does not match item %d", k, r.ID)
		}
	}
	compareCounts(tx.Bucket(bucketAggOpen), "agg_open", open.counts, p)
	checkRank(tx, p)

	hourly := map[string][]int64{}
	ec := tx.Bucket(bucketEventLog).Cursor()
	for k, v := ec.First(); k != nil && !p.full(); k, v = ec.Next() {
		if e, err := eventFromLog(k, v, dict); err == nil {
			key := string(eventCountKey(eventHour(e.At), string(e.Type)))
			if hourly[key] == nil {
				hourly[key] = []int64{0}
			}
			hourly[key][0]++
		}
	}
	compareCounts(tx.Bucket(bucketAggEvents), "agg_events", hourly, p)
}

// compareCounts reports every difference between a bucket of varint counts and a recount of it.
func compareCounts(b *bolt.Bucket, name string, want map[string][]int64, p *problems) {
	seen := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
		w, ok := want[string(k)]
		if !ok {
			p.addf("%s/%q is stored but a recount finds nothing there", name, k)
			continue
		}
		seen++
		var got []int64
		for rest := v; len(rest) > 0; {
			n, size := binary.Varint(rest)
			if size <= 0 {
				p.addf("%s/%q: malformed value", name, k)
				break
			}
			got, rest = append(got, n), rest[size:]
		}
		if !slices.Equal(got, w) {
			p.addf("%s/%q is %v, a recount gives %v", name, k, got, w)
		}
	}
	if seen < len(want) && !p.full() {
		for _, k := range sortedKeys(want) {
			if b.Get([]byte(k)) == nil {
				p.addf("%s/%q is missing; a recount gives %v", name, k, want[k])
				if p.full() {
					break
				}
			}
		}
	}
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
			if b := byStage.Get(groupKey(r.Stage, id)); b == nil {
				p.addf("items/%d is open but missing from idx_stage/%q", id, r.Stage)
			} else if !bytes.Equal(b, briefOf(&r).encode()) {
				p.addf("idx_stage/%q/%d holds a brief that differs from the item", r.Stage, id)
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

// checkEvents: every event decodes; every event with an item is referenced by that item exactly
// once, in Seq order; every reference points to an event of that item.
func checkEvents(tx *bolt.Tx, dict *dictionary, p *problems) {
	log := tx.Bucket(bucketEventLog)
	byItem := tx.Bucket(bucketEventByItem)
	checkDictionary(tx, p)
	var maxSeq uint64
	withItem := 0
	c := log.Cursor()
	for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
		e, err := eventFromLog(k, v, dict)
		if err != nil {
			p.addf("%v", err)
			continue
		}
		maxSeq = max(maxSeq, e.Seq)
		if e.ItemID != 0 {
			withItem++
		}
	}
	if log.Sequence() < maxSeq {
		p.addf("event_log sequence %d is below the highest event Seq %d", log.Sequence(), maxSeq)
	}
	refs := 0
	var lastItem, lastSeq uint64
	ic := byItem.Cursor()
	for k, v := ic.First(); k != nil && !p.full(); k, v = ic.Next() {
		if len(k) != keyLen+4 {
			p.addf("event_log_by_item/%x: malformed key", k)
			continue
		}
		item := binary.BigEndian.Uint64(k)
		if item != lastItem {
			lastItem, lastSeq = item, 0
		}
		list, err := decodeRefs(v)
		if err != nil {
			p.addf("event_log_by_item/%x: %v", k, err)
			continue
		}
		for _, r := range list {
			refs++
			if r.seq <= lastSeq {
				p.addf("event_log_by_item/%x: event %d is listed out of order", k, r.seq)
			}
			lastSeq = r.seq
			ev := log.Get(r.key())
			if ev == nil {
				p.addf("event_log_by_item/%x points to missing event %d", k, r.seq)
				continue
			}
			if e, err := eventFromLog(r.key(), ev, dict); err == nil && uint64(e.ItemID) != item {
				p.addf("event_log_by_item/%x lists event %d of item %d", k, r.seq, e.ItemID)
			}
		}
	}
	if refs != withItem && !p.full() {
		p.addf("event_log_by_item holds %d references, event_log %d events with an item", refs, withItem)
	}
}

// checkDictionary: the two directions of the dictionary agree, and its sequence covers every id.
func checkDictionary(tx *bolt.Tx, p *problems) {
	byStr, byID := tx.Bucket(bucketDict), tx.Bucket(bucketDictIDs)
	var maxID uint64
	c := byID.Cursor()
	for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
		id, ok := keySeq(k)
		if !ok {
			p.addf("dict_ids/%x: malformed key", k)
			continue
		}
		maxID = max(maxID, id)
		back := byStr.Get(v)
		if n, w := binary.Uvarint(back); w <= 0 || n != id {
			p.addf("dict_ids/%d is %q, but dict/%q says %x", id, v, v, back)
		}
	}
	if byID.Sequence() < maxID {
		p.addf("dict_ids sequence %d is below the highest id %d", byID.Sequence(), maxID)
	}
	if nStr, nID := byStr.Stats().KeyN, byID.Stats().KeyN; nStr != nID && !p.full() {
		p.addf("the dictionary has %d strings but %d ids", nStr, nID)
	}
}

// IsCheckError reports whether err is a CheckError (damage found) rather than a failure to check.
func IsCheckError(err error) bool {
	var ce *CheckError
	return errors.As(err, &ce)
}
