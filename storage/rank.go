package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// idx_rank (schema 5) lists every open item in the order ranking reads it (domain.RankReader), three
// times: among all open items, in its stage, and in its team:
//
//	idx_rank/<scope><pinned><pin BE2><static desc BE8><created BE8><seq BE>   value, urgency, size, due
//
// scope is "a", "s"+group(stage) or "t"+group(team) (items without a team have no "t" entry);
// pinned is 0 for pinned items, so they come first, by pin, and 1 for the rest, which follow by
// domain.StaticScore, highest first. A list of the first twenty of 100k open items reads the pinned
// ones and the few hundred whose static score leaves them a chance, not every item (domain.TopOpen).
// PutItem rewrites an item's entries whenever what they hold changes.

var bucketRank = []byte("idx_rank")

type rankEntry struct{ key, val []byte }

func rankScope(kind byte, name string) []byte {
	if kind == 'a' {
		return []byte{'a'}
	}
	return append([]byte{kind}, groupPrefix(name)...)
}

// staticKey orders float64 scores highest first as unsigned big-endian bytes.
func staticKey(f float64) uint64 {
	u := math.Float64bits(f)
	if f >= 0 {
		u ^= 1 << 63
	} else {
		u = ^u
	}
	return ^u
}

// rankEntries are the idx_rank entries of an open item record.
func rankEntries(r *itemRecord) []rankEntry {
	var tail []byte
	if r.Pin > 0 {
		tail = append(tail, 0)
		tail = binary.BigEndian.AppendUint16(tail, uint16(min(r.Pin, math.MaxUint16)))
	} else {
		tail = append(tail, 1, 0, 0)
	}
	tail = binary.BigEndian.AppendUint64(tail, staticKey(domain.StaticScore(r.Value, r.Urgency, r.Size)))
	tail = append(tail, timeKeyPrefix(r.CreatedAt)...)
	tail = binary.BigEndian.AppendUint64(tail, r.ID)
	val := binary.AppendVarint(nil, int64(r.Value))
	val = binary.AppendVarint(val, int64(r.Urgency))
	val = binary.AppendVarint(val, int64(r.Size))
	val = binary.AppendVarint(val, int64(r.Due.Year))
	val = binary.AppendUvarint(val, uint64(r.Due.Month))
	val = binary.AppendUvarint(val, uint64(r.Due.Day))
	out := []rankEntry{{append(rankScope('a', ""), tail...), val}, {append(rankScope('s', r.Stage), tail...), val}}
	if r.Team != "" {
		out = append(out, rankEntry{append(rankScope('t', r.Team), tail...), val})
	}
	return out
}

func sameRank(a, b []rankEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].key, b[i].key) || !bytes.Equal(a[i].val, b[i].val) {
			return false
		}
	}
	return true
}

// updateRank moves an item's idx_rank entries from old (nil: none) to r.
func (t *txn) updateRank(old, r *itemRecord) error {
	var before, after []rankEntry
	if old != nil && old.open() {
		before = rankEntries(old)
	}
	if r.open() {
		after = rankEntries(r)
	}
	if sameRank(before, after) {
		return nil
	}
	b, err := t.bucket(bucketRank)
	if err != nil {
		return err
	}
	for _, e := range before {
		if err := b.Delete(e.key); err != nil {
			return err
		}
	}
	for _, e := range after {
		if err := b.Put(e.key, e.val); err != nil {
			return err
		}
	}
	return nil
}

// The bbolt store keeps the rank index; the contract suite checks OpenByRank only where a store has it.
var _ domain.RankReader = (*txn)(nil)

// OpenByRank implements domain.RankReader with a prefix walk of idx_rank.
func (t *txn) OpenByRank(scope domain.Scope, fn func(domain.RankEntry) bool) error {
	b, err := t.bucket(bucketRank)
	if err != nil {
		return err
	}
	prefix := rankScope('a', "")
	switch {
	case scope.Stage != "" && scope.Team != "":
		return domain.Errorf(domain.EINVALID, "A ranking is by stage or by team, not both.")
	case scope.Stage != "":
		prefix = rankScope('s', string(scope.Stage))
	case scope.Team != "":
		prefix = rankScope('t', string(scope.Team))
	}
	const tailLen = 3 + 8 + keyLen + keyLen
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if len(k) != len(prefix)+tailLen {
			return fmt.Errorf("%w: idx_rank/%x", errCorrupt, k)
		}
		tail := k[len(prefix):]
		e := domain.RankEntry{ID: domain.ItemID(binary.BigEndian.Uint64(tail[3+8+keyLen:])), CreatedAt: timeFromKey(tail[3+8:])}
		if tail[0] == 0 {
			e.Pin = int(binary.BigEndian.Uint16(tail[1:3]))
		}
		var vals [6]int64
		for i := range vals {
			var w int
			if i < 4 {
				vals[i], w = binary.Varint(v)
			} else {
				var u uint64
				u, w = binary.Uvarint(v)
				vals[i] = int64(u)
			}
			if w <= 0 {
				return fmt.Errorf("%w: idx_rank/%x: malformed value", errCorrupt, k)
			}
			v = v[w:]
		}
		e.Value, e.Urgency, e.Size = int(vals[0]), int(vals[1]), int(vals[2])
		e.Due = domain.Date{Year: int(vals[3]), Month: time.Month(vals[4]), Day: int(vals[5])}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// checkRank recounts idx_rank from the open items and reports every difference.
func checkRank(tx *bolt.Tx, p *problems) {
	want := map[string][]byte{}
	c := tx.Bucket(bucketOpen).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, err := decodeItem(v)
		if err != nil {
			continue // reported with the item
		}
		for _, e := range rankEntries(&r) {
			want[string(e.key)] = e.val
		}
	}
	b := tx.Bucket(bucketRank)
	seen := 0
	rc := b.Cursor()
	for k, v := rc.First(); k != nil && !p.full(); k, v = rc.Next() {
		w, ok := want[string(k)]
		switch {
		case !ok:
			p.addf("idx_rank/%x is stored but no open item wants it", k)
		case !bytes.Equal(w, v):
			p.addf("idx_rank/%x holds %x, the item %x", k, v, w)
		default:
			seen++
		}
	}
	if seen < len(want) && !p.full() {
		for k := range want {
			if b.Get([]byte(k)) == nil {
				p.addf("idx_rank/%x is missing", k)
				if p.full() {
					break
				}
			}
		}
	}
}
