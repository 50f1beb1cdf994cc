package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// Aggregates (schema 5). They answer the questions that would otherwise scan every open item or every
// event of a period, and each is changed by the same write that changes what it counts, in the same
// transaction, so it can never disagree with a recount (Check recounts them all):
//
//	agg_open/n                      varint: open items
//	agg_open/s<stage>               varint: open items in stage
//	agg_open/t<team>                varint: open items of team ("t" alone: no team)
//	agg_open/w<user>                varint points, varint items: open items assigned to user
//	idx_closed/<DoneAt><seq BE>     closureRecord of every closed item, by DoneAt
//	agg_events/<hour><type>         varint: events of type with At in the hour starting at <hour>
//
// PutItem moves an item's contribution from its old record to its new one; AppendEvent counts the
// event in its hour. A count that falls to zero is deleted, so a recount and the bucket agree key for
// key, and a key's presence means "some".

var (
	bucketAggOpen   = []byte("agg_open")
	bucketClosed    = []byte("idx_closed")
	bucketAggEvents = []byte("agg_events")
)

// Key prefixes in agg_open. They sort n < s < t < w, so OpenCounts stops before the per-user keys.
const (
	aggTotal = 'n'
	aggStage = 's'
	aggTeam  = 't'
	aggWork  = 'w'
)

func aggKey(kind byte, s string) []byte {
	k := make([]byte, 0, 1+len(s))
	return append(append(k, kind), s...)
}

// addCounts adds delta to the varints of key (missing ones count 0) and deletes the key when all
// reach zero. A count of items below zero means the aggregate disagrees with the items: it is
// reported rather than stored, since every later answer would be wrong. Points (a workload's first
// field) are sums of sizes, which the store does not restrict to positive numbers.
func addCounts(b *bolt.Bucket, key []byte, delta ...int64) error {
	cur := make([]int64, len(delta))
	if v := b.Get(key); v != nil {
		for i := range cur {
			n, w := binary.Varint(v)
			if w <= 0 {
				return fmt.Errorf("%w: aggregate %q", errCorrupt, key)
			}
			cur[i], v = n, v[w:]
		}
	}
	zero := true
	var buf []byte
	for i := range cur {
		cur[i] += delta[i]
		if cur[i] < 0 && i == len(cur)-1 {
			return fmt.Errorf("%w: aggregate %q would fall below zero; run workbot check", errCorrupt, key)
		}
		zero = zero && cur[i] == 0
		buf = binary.AppendVarint(buf, cur[i])
	}
	if zero {
		return b.Delete(key)
	}
	return b.Put(key, buf)
}

// openTally is agg_open recounted from items, for the migration that fills it and for Check.
type openTally struct {
	counts map[string][]int64
}

func newOpenTally() *openTally { return &openTally{counts: map[string][]int64{}} }

func (o *openTally) bump(key []byte, by ...int64) {
	c := o.counts[string(key)]
	if c == nil {
		c = make([]int64, len(by))
		o.counts[string(key)] = c
	}
	for i := range by {
		c[i] += by[i]
	}
}

func (o *openTally) add(r *itemRecord) {
	o.bump([]byte{aggTotal}, 1)
	o.bump(aggKey(aggStage, r.Stage), 1)
	o.bump(aggKey(aggTeam, r.Team), 1)
	if r.Assignee != "" {
		o.bump(aggKey(aggWork, r.Assignee), int64(r.Size), 1)
	}
}

// value is key's stored form.
func (o *openTally) value(key string) []byte {
	var buf []byte
	for _, n := range o.counts[key] {
		buf = binary.AppendVarint(buf, n)
	}
	return buf
}

// appendFill is the FillPercent of buckets whose keys arrive in order (by time or by sequence): their
// pages are filled before a new one starts, not split at half, since nothing lands between their keys
// later.
const appendFill = 0.95

// openContribution adds (sign +1) or removes (-1) an open item's share of agg_open.
func openContribution(b *bolt.Bucket, r *itemRecord, sign int64) error {
	if err := addCounts(b, []byte{aggTotal}, sign); err != nil {
		return err
	}
	if err := addCounts(b, aggKey(aggStage, r.Stage), sign); err != nil {
		return err
	}
	if err := addCounts(b, aggKey(aggTeam, r.Team), sign); err != nil {
		return err
	}
	if r.Assignee != "" {
		return addCounts(b, aggKey(aggWork, r.Assignee), sign*int64(r.Size), sign)
	}
	return nil
}

// sameOpenShare reports whether two open records count the same in agg_open, so rewriting one as the
// other (a nudge, a title edit) touches none of its keys.
func sameOpenShare(a, b *itemRecord) bool {
	return a.Stage == b.Stage && a.Team == b.Team && a.Assignee == b.Assignee && (a.Assignee == "" || a.Size == b.Size)
}

// updateAggregates moves an item's contributions from old (nil for a new item) to r.
func (t *txn) updateAggregates(old, r *itemRecord) error {
	agg, err := t.bucket(bucketAggOpen)
	if err != nil {
		return err
	}
	closed, err := t.bucket(bucketClosed)
	if err != nil {
		return err
	}
	oldOpen, newOpen := old != nil && old.open(), r.open()
	if !(oldOpen && newOpen && sameOpenShare(old, r)) {
		if oldOpen {
			if err := openContribution(agg, old, -1); err != nil {
				return err
			}
		}
		if newOpen {
			if err := openContribution(agg, r, +1); err != nil {
				return err
			}
		}
	}
	oldClosed := old != nil && !old.open()
	if oldClosed && !newOpen && sameClosure(old, r) {
		return nil
	}
	if oldClosed {
		if err := closed.Delete(closedKey(old.DoneAt, old.ID)); err != nil {
			return err
		}
	}
	if !newOpen {
		return closed.Put(closedKey(r.DoneAt, r.ID), closureOf(r).encode())
	}
	return nil
}

func sameClosure(a, b *itemRecord) bool {
	return a.DoneAt.Equal(b.DoneAt) && a.Resolution == b.Resolution && a.CreatedAt.Equal(b.CreatedAt) && a.Due == b.Due
}

func closedKey(doneAt time.Time, id uint64) []byte {
	return binary.BigEndian.AppendUint64(timeKeyPrefix(doneAt), id)
}

// closureRecord is idx_closed's value: what flow metrics read of a closed item, so the digest needs no
// item reads for the period's closures. Fields: resolution, created at, due.
type closureRecord struct {
	Resolution string
	CreatedAt  time.Time
	Due        domain.Date
}

const closureRecordV1 byte = 1

func closureOf(r *itemRecord) closureRecord {
	return closureRecord{Resolution: r.Resolution, CreatedAt: r.CreatedAt, Due: r.Due}
}

func (c closureRecord) encode() []byte {
	e := newEncoder(24)
	e.str(c.Resolution)
	e.timestamp(c.CreatedAt)
	e.date(c.Due)
	return e.finish(closureRecordV1)
}

func decodeClosure(b []byte) (closureRecord, error) {
	var d decoder
	d.init(b)
	if d.err == nil && d.version != closureRecordV1 {
		return closureRecord{}, fmt.Errorf("%w: closure record version %d is not supported", errCorrupt, d.version)
	}
	c := closureRecord{Resolution: d.str(), CreatedAt: d.timestamp(), Due: d.date()}
	if d.err != nil {
		return closureRecord{}, fmt.Errorf("closure: %w", d.err)
	}
	return c, nil
}

// eventHour is the start of the hour an event's At falls in (absolute hours, so every zone agrees).
func eventHour(at time.Time) time.Time { return at.Truncate(time.Hour) }

func eventCountKey(hour time.Time, typ string) []byte {
	return append(timeKeyPrefix(hour), typ...)
}

// countEvent adds an appended event to its hour's count.
func (t *txn) countEvent(at time.Time, typ domain.EventType) error {
	b, err := t.bucket(bucketAggEvents)
	if err != nil {
		return err
	}
	return addCounts(b, eventCountKey(eventHour(at), string(typ)), 1)
}

// OpenCounts reads agg_open's totals, per stage and per team.
func (t *txn) OpenCounts() (domain.OpenCounts, error) {
	b, err := t.bucket(bucketAggOpen)
	if err != nil {
		return domain.OpenCounts{}, err
	}
	out := domain.OpenCounts{ByStage: map[domain.StageID]int{}, ByTeam: map[domain.TeamID]int{}}
	c := b.Cursor()
	for k, v := c.First(); k != nil && k[0] < aggWork; k, v = c.Next() {
		n, w := binary.Varint(v)
		if w <= 0 {
			return domain.OpenCounts{}, fmt.Errorf("%w: agg_open/%q", errCorrupt, k)
		}
		switch k[0] {
		case aggTotal:
			out.Total = int(n)
		case aggStage:
			out.ByStage[domain.StageID(k[1:])] = int(n)
		case aggTeam:
			out.ByTeam[domain.TeamID(k[1:])] = int(n)
		}
	}
	return out, nil
}

func decodeWorkload(k, v []byte) (domain.Workload, error) {
	points, w1 := binary.Varint(v)
	if w1 <= 0 {
		return domain.Workload{}, fmt.Errorf("%w: agg_open/%q", errCorrupt, k)
	}
	items, w2 := binary.Varint(v[w1:])
	if w2 <= 0 {
		return domain.Workload{}, fmt.Errorf("%w: agg_open/%q", errCorrupt, k)
	}
	return domain.Workload{Points: int(points), Items: int(items)}, nil
}

// Workload reads one person's workload from agg_open.
func (t *txn) Workload(user domain.UserID) (domain.Workload, error) {
	b, err := t.bucket(bucketAggOpen)
	if err != nil || user == "" {
		return domain.Workload{}, err
	}
	k := aggKey(aggWork, string(user))
	v := b.Get(k)
	if v == nil {
		return domain.Workload{}, nil
	}
	return decodeWorkload(k, v)
}

// Workloads walks agg_open's per-user keys, which sort by user ID.
func (t *txn) Workloads(fn func(domain.UserID, domain.Workload) bool) error {
	b, err := t.bucket(bucketAggOpen)
	if err != nil {
		return err
	}
	c := b.Cursor()
	for k, v := c.Seek([]byte{aggWork}); k != nil && k[0] == aggWork; k, v = c.Next() {
		w, err := decodeWorkload(k, v)
		if err != nil {
			return err
		}
		if !fn(domain.UserID(k[1:]), w) {
			return nil
		}
	}
	return nil
}

// ClosedBetween walks idx_closed from from to to.
func (t *txn) ClosedBetween(from, to time.Time, fn func(domain.Closure) bool) error {
	b, err := t.bucket(bucketClosed)
	if err != nil || !from.Before(to) {
		return err
	}
	end := timeKeyPrefix(to)
	c := b.Cursor()
	for k, v := c.Seek(timeKeyPrefix(from)); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		if len(k) != 2*keyLen {
			return fmt.Errorf("%w: idx_closed/%x", errCorrupt, k)
		}
		r, err := decodeClosure(v)
		if err != nil {
			return fmt.Errorf("idx_closed/%x: %w", k, err)
		}
		cl := domain.Closure{ID: domain.ItemID(binary.BigEndian.Uint64(k[keyLen:])), Resolution: domain.Resolution(r.Resolution),
			CreatedAt: r.CreatedAt, DoneAt: timeFromKey(k[:keyLen]), Due: r.Due}
		if !fn(cl) {
			return nil
		}
	}
	return nil
}

// timeFromKey undoes timeKeyPrefix.
func timeFromKey(k []byte) time.Time {
	v := binary.BigEndian.Uint64(k)
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(v^(1<<63))).UTC()
}

// CountEvents adds the hourly counts of the whole hours inside [from, to) and counts the events of
// the partial hours at either end one by one, so the answer is exact at any boundary and costs at
// most two hours of events.
func (t *txn) CountEvents(typ domain.EventType, from, to time.Time) (int, error) {
	if !from.Before(to) {
		return 0, nil
	}
	first := eventHour(from)
	if first.Before(from) {
		first = first.Add(time.Hour)
	}
	last := eventHour(to)
	if !first.Before(last) {
		return t.countEventsOneByOne(typ, from, to)
	}
	head, err := t.countEventsOneByOne(typ, from, first)
	if err != nil {
		return 0, err
	}
	tail, err := t.countEventsOneByOne(typ, last, to)
	if err != nil {
		return 0, err
	}
	b, err := t.bucket(bucketAggEvents)
	if err != nil {
		return 0, err
	}
	n := head + tail
	end := timeKeyPrefix(last)
	c := b.Cursor()
	for k, v := c.Seek(timeKeyPrefix(first)); k != nil && bytes.Compare(k[:min(len(k), keyLen)], end) < 0; k, v = c.Next() {
		if len(k) < keyLen {
			return 0, fmt.Errorf("%w: agg_events/%x", errCorrupt, k)
		}
		if string(k[keyLen:]) != string(typ) {
			continue
		}
		count, w := binary.Varint(v)
		if w <= 0 {
			return 0, fmt.Errorf("%w: agg_events/%x", errCorrupt, k)
		}
		n += int(count)
	}
	return n, nil
}

func (t *txn) countEventsOneByOne(typ domain.EventType, from, to time.Time) (int, error) {
	n := 0
	err := t.EventsBetween(from, to, func(e domain.Event) bool {
		if e.Type == typ {
			n++
		}
		return true
	})
	return n, err
}
