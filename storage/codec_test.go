package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
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

// dictTx runs fn with a dictionary in a write transaction of a fresh database, and rolls it back.
func dictTx(tb testing.TB, fn func(d *dictionary)) {
	tb.Helper()
	db, err := Open(filepath.Join(tb.TempDir(), "dict.db"), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	btx, err := db.bolt.Begin(true)
	if err != nil {
		tb.Fatal(err)
	}
	defer btx.Rollback()
	fn(db.txn(btx).dictionary())
}

func FuzzDecodeOtherRecords(f *testing.F) {
	f.Add(handoffToRecord(domain.Handoff{ID: 1, Status: domain.HandoffPending, RequestedAt: baseTime}).encode())
	f.Add(personToRecord(domain.Person{ID: "U1", Capacity: 5}).encode())
	f.Add(encodeEventV1(eventToRecord(domain.Event{Seq: 1, At: baseTime, Changes: []domain.Change{{Field: "a", Before: "b", After: "c"}}})))
	dictTx(f, func(d *dictionary) {
		rec, err := encodeEventV2(eventToRecord(domain.Event{Type: "moved", Actor: "U1", Changes: []domain.Change{{Field: "stage", Before: "b", After: "c"}, {Field: "x"}}}), d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(rec)
	})
	f.Add(closureOf(&itemRecord{Resolution: "done", CreatedAt: baseTime}).encode())
	f.Add(itemToRecord(fullItem(3)).encode())
	f.Add(briefOf(&itemRecord{Team: "core", Assignee: "U1", Value: 3, CreatedAt: baseTime}).encode())
	f.Add(encodeRefs([]eventRef{{seq: 5, timeKey: 1 << 62}, {seq: 9, timeKey: 1<<62 + 77}}, 0))
	dictTx(f, func(d *dictionary) {
		if _, err := d.id("U1"); err != nil {
			f.Fatal(err)
		}
		f.Fuzz(func(t *testing.T, b []byte) {
			_, _ = decodeHandoff(b)
			_, _ = decodePerson(b)
			_, _ = decodeEventV1(b)
			_, _ = decodeEventV2(b, 1, baseTime, d)
			_, _ = decodeClosure(b)
			_, _ = decodeBrief(groupKey("todo", 1), b, interner{})
			_, _ = decodeRefs(b)
		})
	})
}

// TestEventRecordV2RoundTrip: known types and fields become codes, unknown ones keep their names,
// people and stages become dictionary ids, long names are written out, and everything but Seq and At
// (which the key holds) comes back.
func TestEventRecordV2RoundTrip(t *testing.T) {
	dictTx(t, func(d *dictionary) {
		long := strings.Repeat("x", maxInterned+1)
		for _, e := range []domain.Event{
			{Type: domain.EventMoved, Actor: "U1", ItemID: 7, Changes: []domain.Change{{Field: "stage", Before: "todo", After: "in_progress"}}},
			{Type: "something_new", Actor: domain.UserID(long), Subject: "U2", Handoff: 3, Note: "a note",
				Changes: []domain.Change{{Field: "a_new_field", Before: "x"}, {Field: "resolution", After: "done"}, {Field: "assignee", After: long}}},
			{Type: domain.EventCreated, Changes: []domain.Change{{Field: "title", After: "a title that is not interned"}}},
		} {
			e.Seq, e.At = 42, baseTime
			rec, err := encodeEventV2(eventToRecord(e), d)
			if err != nil {
				t.Fatal(err)
			}
			r, err := decodeEventV2(rec, 42, baseTime, d)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.toDomain(); !reflect.DeepEqual(got, e) {
				t.Errorf("round trip:\n got  %+v\n want %+v", got, e)
			}
		}
		rec, err := encodeEventV2(eventToRecord(domain.Event{Type: domain.EventMoved, Actor: "U0123456789", ItemID: 123456,
			Changes: []domain.Change{{Field: "stage", Before: "todo", After: "in_progress"}}}), d)
		if err != nil || len(rec) > 16 {
			t.Errorf("a stage move takes %d bytes (%v)", len(rec), err)
		}
		if _, err := d.str(999); err == nil {
			t.Error("an unknown dictionary id decoded")
		}
	})
}

// A dictionary entry enters the DB's cache only when its transaction commits: a rolled-back write
// leaves nothing a later transaction could trust.
func TestDictionaryCacheOnlyLearnsCommittedEntries(t *testing.T) {
	db := openTestDB(t)
	errRollback := errors.New("roll back")
	err := db.Update(context.Background(), func(tx domain.Tx) error {
		if _, err := tx.(*txn).dictionary().id("U_ROLLED_BACK"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if _, ok := db.dict.id("U_ROLLED_BACK"); ok {
		t.Fatal("the cache learned an entry of a rolled-back transaction")
	}
	mustUpdate(t, db, func(tx domain.Tx) error {
		return tx.AppendEvent(domain.Event{At: baseTime, Actor: "U_COMMITTED", Type: domain.EventCreated, ItemID: 1})
	})
	id, ok := db.dict.id("U_COMMITTED")
	if !ok {
		t.Fatal("the cache did not learn a committed entry")
	}
	if s, ok := db.dict.str(id); !ok || s != "U_COMMITTED" {
		t.Errorf("id %d is %q", id, s)
	}
}

func TestEventRefsRoundTrip(t *testing.T) {
	want := []eventRef{{seq: 3, timeKey: 1<<63 + 1000}, {seq: 9, timeKey: 1<<63 + 500}, {seq: 1 << 40, timeKey: 1<<63 + 1<<50}}
	chunk := encodeRefs(want[:1], 0)
	if len(chunk) != chunkClasses[0] {
		t.Errorf("a first reference takes a chunk of %d bytes, want %d", len(chunk), chunkClasses[0])
	}
	for i := 2; i <= len(want); i++ {
		size := len(chunk)
		chunk = encodeRefs(want[:i], size)
		if len(chunk) != size {
			t.Errorf("appending a reference resized the chunk from %d to %d bytes", size, len(chunk))
		}
	}
	got, err := decodeRefs(chunk)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeRefs = %v, %v; want %v", got, err, want)
	}
	many := make([]eventRef, refsPerChunk)
	for i := range many {
		many[i] = eventRef{seq: uint64(i) * 20000, timeKey: 1<<63 + uint64(i)*1e14}
	}
	if n := len(encodeRefs(many, 0)); n > chunkClasses[len(chunkClasses)-1] {
		t.Errorf("a full chunk of everyday references takes %d bytes, more than the largest class", n)
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
