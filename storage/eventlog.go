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
// time is timeKeyPrefix(At). The record leaves out what its key says (Seq and At), writes event types
// and change fields as small codes (eventTypeCodes, changeFieldCodes), and names people, stages and
// the like by their dictionary ids (dict.go), so most events take about 25 bytes instead of 80. A reference is uvarint(seq − previous seq) then zigzag varint of the
// time key's difference from the previous reference (the first is relative to zero), so an item's
// eight-odd events cost about a hundred bytes of references in one key (see encodeRefs), not eight
// keys. Both buckets grow at their end, and the log's pages are filled before a new one starts
// (appendFill) instead of being split in half.

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

// internedFields are the change fields whose values come from small sets (stages, people, numbers,
// dates), so their values go through the dictionary; the rest (titles, reasons, times) are written out.
var internedFields = map[string]bool{
	"stage": true, "resolution": true, "assignee": true, "value": true, "urgency": true, "size": true,
	"due": true, "team": true, "pin": true, "triaged": true, "handoff_status": true, "capacity": true,
	"away_until": true, "nudges_off": true, "personal_digest_off": true,
}

// appendName writes a string that is usually a dictionary entry: uvarint 0 for "", 2·id for an entry,
// 2·len+1 followed by the bytes for a string written out (too long to be worth an entry).
func appendName(b []byte, s string, d *dictionary) ([]byte, error) {
	switch {
	case s == "":
		return append(b, 0), nil
	case len(s) > maxInterned:
		return append(binary.AppendUvarint(b, 2*uint64(len(s))+1), s...), nil
	}
	id, err := d.id(s)
	if err != nil {
		return nil, err
	}
	return binary.AppendUvarint(b, 2*id), nil
}

func (d *decoder) rawName(dict *dictionary) string {
	x := d.rawUvarint()
	switch {
	case d.err != nil || x == 0:
		return ""
	case x%2 == 1:
		n := (x - 1) / 2
		if n > uint64(len(d.buf)) {
			d.err = errCorrupt
			return ""
		}
		off := d.size - len(d.buf)
		d.buf = d.buf[n:]
		return d.text[off : off+int(n)]
	}
	s, err := dict.str(x / 2)
	if err != nil {
		d.err = err
	}
	return s
}

func (d *decoder) name(dict *dictionary) string {
	if !d.next() {
		return ""
	}
	return d.rawName(dict)
}

// encodeEventV2 writes the fields in this order: type code, actor (name), item, subject (name),
// handoff, changes (count, then code, [field when the code is 0], before, after: names for
// internedFields, strings otherwise), note, and the type when its code is 0.
func encodeEventV2(r eventRecord, dict *dictionary) ([]byte, error) {
	e := newEncoder(32 + len(r.Note))
	code, known := eventTypeCode[r.Type]
	e.uvarint(code)
	var err error
	if e.buf, err = appendName(e.buf, r.Actor, dict); err != nil {
		return nil, err
	}
	e.fields++
	e.uvarint(r.ItemID)
	if e.buf, err = appendName(e.buf, r.Subject, dict); err != nil {
		return nil, err
	}
	e.fields++
	e.uvarint(r.Handoff)
	e.buf = binary.AppendUvarint(e.buf, uint64(len(r.Changes)))
	for _, c := range r.Changes {
		fc, ok := changeFieldCode[c.Field]
		e.buf = binary.AppendUvarint(e.buf, fc)
		if !ok {
			e.buf = appendString(e.buf, c.Field)
		}
		if !internedFields[c.Field] {
			e.buf = appendString(appendString(e.buf, c.Before), c.After)
			continue
		}
		if e.buf, err = appendName(e.buf, c.Before, dict); err != nil {
			return nil, err
		}
		if e.buf, err = appendName(e.buf, c.After, dict); err != nil {
			return nil, err
		}
	}
	e.fields++
	e.str(r.Note)
	if !known {
		e.str(r.Type)
	}
	return e.finish(eventRecordV2), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decodeEventV2 reads a record of event_log; seq and at come from its key.
func decodeEventV2(b []byte, seq uint64, at time.Time, dict *dictionary) (eventRecord, error) {
	var d decoder
	d.init(b)
	if d.err == nil && d.version != eventRecordV2 {
		return eventRecord{}, fmt.Errorf("%w: event record version %d is not supported", errCorrupt, d.version)
	}
	r := eventRecord{Seq: seq, At: at}
	code := d.uvarint()
	r.Actor = d.name(dict)
	r.ItemID = d.uvarint()
	r.Subject = d.name(dict)
	r.Handoff = d.uvarint()
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
				if internedFields[field] {
					r.Changes[i] = changeRecord{Field: field, Before: d.rawName(dict), After: d.rawName(dict)}
				} else {
					r.Changes[i] = changeRecord{Field: field, Before: d.rawString(), After: d.rawString()}
				}
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

// A chunk is uvarint(count), the references, then zero bytes up to its size class. An item's
// references arrive over its whole life; if each one grew the value, bbolt would split the item's page
// again and again into a full one and a nearly empty one. Rewriting a value at the same size never
// splits, so a chunk is allocated a little larger than it needs and grows by doubling.
var chunkClasses = []int{96, 192, 384, 768}

func decodeRefs(v []byte) ([]eventRef, error) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)) {
		return nil, errCorrupt
	}
	v = v[w:]
	out := make([]eventRef, 0, n)
	var prev eventRef
	for i := uint64(0); i < n; i++ {
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

// encodeRefs writes refs as a chunk of at least size bytes (the smallest class that holds them).
func encodeRefs(refs []eventRef, size int) []byte {
	body := binary.AppendUvarint(make([]byte, 0, size), uint64(len(refs)))
	var prev eventRef
	for _, r := range refs {
		body = binary.AppendUvarint(body, r.seq-prev.seq)
		body = binary.AppendVarint(body, int64(r.timeKey-prev.timeKey))
		prev = r
	}
	for _, c := range chunkClasses {
		if c >= len(body) {
			size = max(size, c)
			break
		}
	}
	if size > len(body) {
		body = append(body, make([]byte, size-len(body))...)
	}
	return body
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
		return byItem.Put(itemChunkKey(item, 0), encodeRefs([]eventRef{r}, 0))
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
		return byItem.Put(itemChunkKey(item, n+1), encodeRefs([]eventRef{r}, 0))
	}
	key := slices.Clone(k)
	return byItem.Put(key, encodeRefs(append(refs, r), len(v)))
}

func eventFromLog(k, v []byte, dict *dictionary) (domain.Event, error) {
	if len(k) != 2*keyLen {
		return domain.Event{}, fmt.Errorf("%w: event_log/%x: malformed key", errCorrupt, k)
	}
	r, err := decodeEventV2(v, binary.BigEndian.Uint64(k[keyLen:]), timeFromKey(k[:keyLen]), dict)
	if err != nil {
		return domain.Event{}, fmt.Errorf("event_log/%x: %w", k, err)
	}
	return r.toDomain(), nil
}
