package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// OpenBriefs reads the briefs straight from idx_open's records: it walks an item record's fields in
// place, keeps the ones a brief has and skips the rest (title and details included) without copying
// them, and shares one string per distinct stage, team and assignee. Ranking every open item for a
// list therefore allocates almost nothing per item.
func (t *txn) OpenBriefs(stage domain.StageID, fn func(domain.Brief) bool) error {
	open, err := t.bucket(bucketOpen)
	if err != nil {
		return err
	}
	in := interner{}
	visit := func(k, v []byte) (bool, error) {
		b, err := decodeBrief(v, in)
		if err != nil {
			return false, fmt.Errorf("idx_open/%x: %w", k, err)
		}
		return fn(b), nil
	}
	if stage == "" {
		c := open.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if more, err := visit(k, v); err != nil || !more {
				return err
			}
		}
		return nil
	}
	idx, err := t.bucket(bucketByStage)
	if err != nil {
		return err
	}
	return eachInGroup(idx, open, string(stage), func(seq, v []byte) (bool, error) { return visit(seq, v) })
}

// eachInGroup walks one group of an open-items index and hands each item's idx_open record to fn.
func eachInGroup(idx, open *bolt.Bucket, group string, fn func(seq, v []byte) (bool, error)) error {
	prefix := groupPrefix(group)
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); hasPrefix(k, prefix); k, _ = c.Next() {
		seq := k[len(prefix):]
		v := open.Get(seq)
		if v == nil {
			return fmt.Errorf("index entry %x points to item %x, which is not open", k, seq)
		}
		if more, err := fn(seq, v); err != nil || !more {
			return err
		}
	}
	return nil
}

// interner hands out one string per distinct byte sequence; the map lookup with a converted []byte
// does not allocate.
type interner map[string]string

func (in interner) of(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	in[s] = s
	return s
}

// fieldReader walks a record's fields in place (see decoder for the layout), without copying. Past
// the declared field count every read is a zero value, as in decoder.
type fieldReader struct {
	buf  []byte
	left uint64
	err  error
}

func newFieldReader(b []byte, version byte) fieldReader {
	if len(b) == 0 || b[0] != version {
		return fieldReader{err: errCorrupt}
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 {
		return fieldReader{err: errCorrupt}
	}
	return fieldReader{buf: b[1+k:], left: n}
}

func (r *fieldReader) next() bool {
	if r.err != nil || r.left == 0 {
		return false
	}
	r.left--
	return true
}

func (r *fieldReader) rawUvarint() uint64 {
	if len(r.buf) > 0 && r.buf[0] < 0x80 {
		v := uint64(r.buf[0])
		r.buf = r.buf[1:]
		return v
	}
	v, k := binary.Uvarint(r.buf)
	if k <= 0 {
		r.err, r.buf = errCorrupt, nil
		return 0
	}
	r.buf = r.buf[k:]
	return v
}

func (r *fieldReader) rawVarint() int64 {
	v, k := binary.Varint(r.buf)
	if k <= 0 {
		r.err, r.buf = errCorrupt, nil
		return 0
	}
	r.buf = r.buf[k:]
	return v
}

func (r *fieldReader) bytes() []byte {
	if !r.next() {
		return nil
	}
	n := r.rawUvarint()
	if r.err != nil || n > uint64(len(r.buf)) {
		r.err, r.buf = errCorrupt, nil
		return nil
	}
	s := r.buf[:n]
	r.buf = r.buf[n:]
	return s
}

func (r *fieldReader) uvarint() uint64 {
	if !r.next() {
		return 0
	}
	return r.rawUvarint()
}

func (r *fieldReader) int() int {
	if !r.next() {
		return 0
	}
	return int(int32(r.rawVarint()))
}

func (r *fieldReader) boolean() bool {
	if !r.next() {
		return false
	}
	if len(r.buf) == 0 || r.buf[0] > 1 {
		r.err, r.buf = errCorrupt, nil
		return false
	}
	v := r.buf[0] == 1
	r.buf = r.buf[1:]
	return v
}

func (r *fieldReader) timestamp() time.Time {
	if !r.next() {
		return time.Time{}
	}
	return decodeTime(r.rawUvarint())
}

func (r *fieldReader) date() domain.Date {
	if !r.next() {
		return domain.Date{}
	}
	y, m, d := r.rawVarint(), r.rawUvarint(), r.rawUvarint()
	if m > 12 || d > 31 {
		r.err = errCorrupt
		return domain.Date{}
	}
	return domain.Date{Year: int(y), Month: time.Month(m), Day: int(d)}
}

func (r *fieldReader) skipIDs() {
	if !r.next() {
		return
	}
	n := r.rawUvarint()
	if n > uint64(len(r.buf)) {
		r.err, r.buf = errCorrupt, nil
		return
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		r.rawUvarint()
	}
}

// decodeBrief reads the brief's fields of an item record, in encode's order (records.go).
func decodeBrief(v []byte, in interner) (domain.Brief, error) {
	r := newFieldReader(v, itemRecordV1)
	var b domain.Brief
	b.ID = domain.ItemID(r.uvarint())
	r.bytes() // key
	r.bytes() // title
	r.bytes() // details
	r.bytes() // kind
	r.bytes() // requester
	b.Team = domain.TeamID(in.of(r.bytes()))
	b.Value = r.int()
	b.Urgency = r.int()
	b.Size = r.int()
	b.Due = r.date()
	b.Stage = domain.StageID(in.of(r.bytes()))
	b.Assignee = domain.UserID(in.of(r.bytes()))
	r.bytes()     // blocked reason
	r.timestamp() // blocked at
	r.skipIDs()   // depends on
	r.timestamp() // depends since
	b.Pin = r.int()
	b.Triaged = r.boolean()
	r.bytes()     // resolution
	r.uvarint()   // duplicate of
	r.uvarint()   // pending handoff
	r.timestamp() // nudged at
	r.timestamp() // snoozed until
	b.CreatedAt = r.timestamp()
	if r.err != nil {
		return domain.Brief{}, fmt.Errorf("item brief: %w", r.err)
	}
	return b, nil
}
