package storage

import (
	"encoding/binary"
	"reflect"
	"testing"
	"time"

	"workbot/domain"
)

func TestTimeEncodingKeepsZeroEpochAndNegatives(t *testing.T) {
	for _, tm := range []time.Time{
		{}, time.Unix(0, 0).UTC(), time.Unix(-1, 5).UTC(), baseTime, time.Date(2200, 1, 1, 0, 0, 0, 1, time.UTC),
	} {
		if got := decodeTime(encodeTime(tm)); !got.Equal(tm) || got.IsZero() != tm.IsZero() {
			t.Errorf("decodeTime(encodeTime(%v)) = %v", tm, got)
		}
	}
	local := time.Date(2026, 3, 29, 2, 30, 0, 0, time.FixedZone("X", 3600))
	if got := decodeTime(encodeTime(local)); !got.Equal(local) || got.Location() != time.UTC {
		t.Errorf("a zoned time decodes to %v; want the same instant in UTC", got)
	}
}

// rewriteFieldCount builds a record with a different declared field count and body, as an older or
// newer writer would have.
func rewriteFieldCount(rec []byte, fields uint64, body []byte) []byte {
	out := []byte{rec[0]}
	out = binary.AppendUvarint(out, fields)
	return append(out, body...)
}

func TestDecodeToleratesOlderAndNewerRecords(t *testing.T) {
	want := itemToRecord(fullItem(9))
	rec := want.encode()
	n, k := binary.Uvarint(rec[1:])
	body := rec[1+k:]

	// Newer: two unknown fields appended after the known ones.
	newer := rewriteFieldCount(rec, n+2, append(append([]byte{}, body...), binary.AppendUvarint(binary.AppendUvarint(nil, 7), 8)...))
	got, err := decodeItem(newer)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("record with extra trailing fields: %+v, %v", got, err)
	}

	// Older: only the first field (ID) existed; every later field reads as its zero value.
	idOnly := binary.AppendUvarint(nil, 9)
	got, err = decodeItem(rewriteFieldCount(rec, 1, idOnly))
	if err != nil || !reflect.DeepEqual(got, itemRecord{ID: 9}) {
		t.Errorf("record with one field: %+v, %v", got, err)
	}
}

func TestDecodeRejectsDamagedRecords(t *testing.T) {
	rec := itemToRecord(fullItem(9)).encode()
	for name, b := range map[string][]byte{
		"empty":           nil,
		"unknown version": append([]byte{99}, rec[1:]...),
		"truncated":       rec[:len(rec)/2],
		"huge length":     {1, 2, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := decodeItem(b); err == nil {
			t.Errorf("%s: decodeItem accepted a damaged record", name)
		}
	}
	if _, err := decodePerson([]byte{1, 4, 0, 0, 0, 9}); err == nil {
		t.Error("decodePerson accepted a bool byte of 9")
	}
}

func FuzzDecodeItem(f *testing.F) {
	f.Add(itemToRecord(fullItem(1)).encode())
	f.Add(itemToRecord(domain.Item{ID: 2}).encode())
	f.Add([]byte{1, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeItem(b) // must not panic on anything
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes to the same record.
		again, err := decodeItem(r.encode())
		if err != nil || !reflect.DeepEqual(normalize(again), normalize(r)) {
			t.Fatalf("re-encoding changed the record: %+v vs %+v (%v)", again, r, err)
		}
	})
}

// normalize makes an empty DependsOn comparable with a nil one.
func normalize(r itemRecord) itemRecord {
	if len(r.DependsOn) == 0 {
		r.DependsOn = nil
	}
	return r
}

func FuzzDecodeOtherRecords(f *testing.F) {
	f.Add(handoffToRecord(domain.Handoff{ID: 1, Status: domain.HandoffPending, RequestedAt: baseTime}).encode())
	f.Add(personToRecord(domain.Person{ID: "U1", Capacity: 5}).encode())
	f.Add(encodeEventV1(eventToRecord(domain.Event{Seq: 1, At: baseTime, Changes: []domain.Change{{Field: "a", Before: "b", After: "c"}}})))
	f.Add(encodeEventV2(eventToRecord(domain.Event{Type: "moved", Changes: []domain.Change{{Field: "stage", Before: "b", After: "c"}, {Field: "x"}}})))
	f.Add(closureOf(&itemRecord{Resolution: "done", CreatedAt: baseTime}).encode())
	f.Add(itemToRecord(fullItem(3)).encode())
	f.Add(appendRef(appendRef(nil, eventRef{}, eventRef{seq: 5, timeKey: 1 << 62}), eventRef{seq: 5, timeKey: 1 << 62}, eventRef{seq: 9, timeKey: 1<<62 + 77}))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeHandoff(b)
		_, _ = decodePerson(b)
		_, _ = decodeEventV1(b)
		_, _ = decodeEventV2(b, 1, baseTime)
		_, _ = decodeClosure(b)
		_, _ = decodeBrief(b, interner{})
		_, _ = decodeRefs(b)
	})
}

// TestEventRecordV2RoundTrip: known types and fields become codes, unknown ones keep their names, and
// everything but Seq and At (which the key holds) comes back.
func TestEventRecordV2RoundTrip(t *testing.T) {
	for _, e := range []domain.Event{
		{Type: domain.EventMoved, Actor: "U1", ItemID: 7, Changes: []domain.Change{{Field: "stage", Before: "todo", After: "in_progress"}}},
		{Type: "something_new", Actor: "U1", Subject: "U2", Handoff: 3, Note: "a note",
			Changes: []domain.Change{{Field: "a_new_field", Before: "x"}, {Field: "resolution", After: "done"}}},
		{Type: domain.EventCreated},
	} {
		e.Seq, e.At = 42, baseTime
		r, err := decodeEventV2(encodeEventV2(eventToRecord(e)), 42, baseTime)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.toDomain(); !reflect.DeepEqual(got, e) {
			t.Errorf("round trip:\n got  %+v\n want %+v", got, e)
		}
	}
	if n := len(encodeEventV2(eventToRecord(domain.Event{Type: domain.EventMoved, Actor: "U0123456789", ItemID: 123456,
		Changes: []domain.Change{{Field: "stage", Before: "todo", After: "in_progress"}}}))); n > 40 {
		t.Errorf("a stage move takes %d bytes", n)
	}
}

func TestEventRefsRoundTrip(t *testing.T) {
	want := []eventRef{{seq: 3, timeKey: 1<<63 + 1000}, {seq: 9, timeKey: 1<<63 + 500}, {seq: 1 << 40, timeKey: 1<<63 + 1<<50}}
	var chunk []byte
	var last eventRef
	for _, r := range want {
		chunk, last = appendRef(chunk, last, r), r
	}
	got, err := decodeRefs(chunk)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRefs = %v, %v; want %v", got, err, want)
	}
}

func TestGroupKeysDoNotCollide(t *testing.T) {
	a := groupPrefix("U1")
	b := groupKey("U12", 1)
	if hasPrefix(b, a) {
		t.Error(`group "U1" is a prefix of a key of group "U12"`)
	}
	g, seq, ok := splitGroupKey(groupKey("stage", 77))
	if !ok || g != "stage" || seq != 77 {
		t.Errorf("splitGroupKey = %q, %d, %v", g, seq, ok)
	}
	if _, _, ok := splitGroupKey([]byte{5, 'a'}); ok {
		t.Error("splitGroupKey accepted a short key")
	}
}

func BenchmarkDecodeItem(b *testing.B) {
	it := fullItem(12345)
	it.Details = "Some details about the work, as a person would type them into the intake form."
	rec := itemToRecord(it).encode()
	b.SetBytes(int64(len(rec)))
	for b.Loop() {
		r, err := decodeItem(rec)
		if err != nil || r.ID != 12345 {
			b.Fatal(err)
		}
		_ = r.toDomain()
	}
}
