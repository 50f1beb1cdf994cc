package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// The audit log (schema 6). Events are kept in time order, so a period is one cursor range and never a
// lookup per event, and each item's history is a short list of references:
//
//	event_log/<time BE><seq BE>              eventRecord v2; bucket sequence = last Seq
//	event_log_by_item/<item BE><chunk BE4>   up to refsPerChunk references to the item's events
//
// time is timeKeyPrefix(At). The record leaves out what its key says (Seq and At) and writes event
// types and change fields as small codes (eventTypeCodes, changeFieldCodes), so most events take
// about 40 bytes instead of 80. A reference is uvarint(seq − previous seq) then zigzag varint of the
// time key's difference from the previous reference (the first is relative to zero), so an item's
// eight-odd events cost about ninety bytes of references in one key, not eight keys. Both buckets
// grow at their end, and their pages are filled before a new one starts (appendFill) instead of being
// split in half.

var (
	bucketEventLog    = []byte("event_log")
	bucketEventByItem = []byte("event_log_by_item")
)

// refsPerChunk bounds one key of event_log_by_item, so appending to a long history rewrites a small
// value.
const refsPerChunk = 64

const eventRecordV2 byte = 2

// eventTypeCodes gives stored event types their codes: the index. Only ever append; a type not listed
// is stored as code 0 with its name in the record.
var eventTypeCodes = []string{"",
	"created", "triaged", "pinned", "assigned", "moved", "blocked", "unblocked", "dependency_added",
	"rejected", "duplicate", "edited", "handoff_requested", "handoff_approved", "handoff_refused",
	"handoff_accepted", "handoff_declined", "handoff_cancelled", "handoff_escalated", "capacity_set",
	"away_set", "prefs_set", "snoozed", "nudged",
}

// changeFieldCodes does the same for the fields named in changes.
var changeFieldCodes = []string{"",
	"stage", "resolution", "assignee", "title", "value", "urgency", "size", "due", "team", "pin", "triaged",
	"blocked_reason", "depends_on", "duplicate_of", "handoff_status", "pending_handoff", "capacity",
	"away_until", "nudges_off", "personal_digest_off", "snoozed_until", "nudged_at", "escalated_at",
}

var (
	eventTypeCode   = codeIndex(eventTypeCodes)
	changeFieldCode = codeIndex(changeFieldCodes)
)

func codeIndex(names []string) map[string]uint64 {
	m := make(map[string]uint64, len(names))
	for i, n := range names {
		if n != "" {
			m[n] = uint64(i)
		}
	}
	return m
}

// encodeEventV2 writes the fields in this order: type code, actor, item, subject, handoff, changes
// (count, then code, [name when the code is 0], before, after), note, and the type's name when its
// code is 0.
func encodeEventV2(r eventRecord) []byte {
	e := newEncoder(32 + len(r.Note))
	code, known := eventTypeCode[r.Type]
	e.uvarint(code)
	e.str(r.Actor)
	e.uvarint(r.ItemID)
	e.str(r.Subject)
	e.uvarint(r.Handoff)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(r.Changes)))
	for _, c := range r.Changes {
		fc, ok := changeFieldCode[c.Field]
		e.buf = binary.AppendUvarint(e.buf, fc)
		if !ok {
			e.buf = appendString(e.buf, c.Field)
		}
		e.buf = appendString(appendString(e.buf, c.Before), c.After)
	}
	e.fields++
	e.str(r.Note)
	if !known {
		e.str(r.Type)
	}
	return e.finish(eventRecordV2)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeEventV2 reads a record of event_log; seq and at come from its key.
func decodeEventV2(b []byte, seq uint64, at time.Time) (eventRecord, error) {
	var d decoder
	d.init(b)
	if d.err == nil && d.version != eventRecordV2 {
		return eventRecord{}, fmt.Errorf("%w: event record version %d is not supported", errCorrupt, d.version)
	}
	r := eventRecord{Seq: seq, At: at}
	code := d.uvarint()
	r.Actor, r.ItemID, r.Subject, r.Handoff = d.str(), d.uvarint(), d.str(), d.uvarint()
	if d.next() {
		n := d.rawUvarint()
		if d.err == nil && n > uint64(len(d.buf)) {
			d.err = errCorrupt
		}
		if d.err == nil && n > 0 {
			r.Changes = make([]changeRecord, n)
			for i := range r.Changes {
				fc := d.rawUvarint()
				var field string
				switch {
				case fc == 0:
					field = d.rawString()
				case fc < uint64(len(changeFieldCodes)):
					field = changeFieldCodes[fc]
				default:
					d.err = errCorrupt
				}
				r.Changes[i] = changeRecord{Field: field, Before: d.rawString(), After: d.rawString()}
			}
		}
	}
	r.Note = d.str()
	switch {
	case code == 0:
		r.Type = d.str()
	case code < uint64(len(eventTypeCodes)):
		r.Type = eventTypeCodes[code]
	default:
		return eventRecord{}, fmt.Errorf("%w: unknown event type code %d", errCorrupt, code)
	}
	if d.err != nil {
		return eventRecord{}, fmt.Errorf("event: %w", d.err)
	}
	return r, nil
}

// eventRef names one event of an item: enough to build its event_log key.
type eventRef struct {
	seq     uint64
	timeKey uint64 // timeKeyPrefix(At) as a number
}

func (r eventRef) key() []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 2*keyLen), r.timeKey)
	return binary.BigEndian.AppendUint64(k, r.seq)
}

func decodeRefs(v []byte) ([]eventRef, error) {
	var out []eventRef
	var prev eventRef
	for len(v) > 0 {
		ds, w := binary.Uvarint(v)
		if w <= 0 {
			return nil, errCorrupt
		}
		v = v[w:]
		dt, w := binary.Varint(v)
		if w <= 0 {
			return nil, errCorrupt
		}
		v = v[w:]
		prev = eventRef{seq: prev.seq + ds, timeKey: prev.timeKey + uint64(dt)}
		out = append(out, prev)
	}
	return out, nil
}

// appendRef adds r to a chunk whose last reference is last (zero for an empty chunk).
func appendRef(chunk []byte, last, r eventRef) []byte {
	chunk = binary.AppendUvarint(chunk, r.seq-last.seq)
	return binary.AppendVarint(chunk, int64(r.timeKey-last.timeKey))
}

func itemChunkKey(item uint64, chunk uint32) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, keyLen+4), item)
	return binary.BigEndian.AppendUint32(k, chunk)
}

// addItemRef appends a reference to the item's last chunk, or starts a new chunk when it is full.
func addItemRef(byItem *bolt.Bucket, item uint64, r eventRef) error {
	prefix := seqKey(item)
	c := byItem.Cursor()
	k, v := c.Seek(itemChunkKey(item, ^uint32(0)))
	if k == nil || !bytes.Equal(k, itemChunkKey(item, ^uint32(0))) {
		k, v = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return byItem.Put(itemChunkKey(item, 0), appendRef(nil, eventRef{}, r))
	}
	if len(k) != keyLen+4 {
		return fmt.Errorf("%w: event_log_by_item/%x", errCorrupt, k)
	}
	refs, err := decodeRefs(v)
	if err != nil {
		return fmt.Errorf("event_log_by_item/%x: %w", k, err)
	}
	n := binary.BigEndian.Uint32(k[keyLen:])
	if len(refs) >= refsPerChunk {
		return byItem.Put(itemChunkKey(item, n+1), appendRef(nil, eventRef{}, r))
	}
	key := slices.Clone(k)
	return byItem.Put(key, appendRef(slices.Clone(v), refs[len(refs)-1], r))
}

func eventFromLog(k, v []byte) (domain.Event, error) {
	if len(k) != 2*keyLen {
		return domain.Event{}, fmt.Errorf("%w: event_log/%x: malformed key", errCorrupt, k)
	}
	r, err := decodeEventV2(v, binary.BigEndian.Uint64(k[keyLen:]), timeFromKey(k[:keyLen]))
	if err != nil {
		return domain.Event{}, fmt.Errorf("event_log/%x: %w", k, err)
	}
	return r.toDomain(), nil
}
