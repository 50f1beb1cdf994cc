package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// txn adapts a bbolt transaction to domain.Tx (and domain.ReadTx, KVTx). A fresh txn wraps every run
// of a transaction function, so nothing survives a Batch retry.
type txn struct {
	btx *bolt.Tx
	// cache is the DB's dictionary cache (dict.go); dict is this transaction's view of it, made on
	// first use.
	cache *dictCache
	dict  *dictionary
}

// dictionary is the transaction's dictionary. A txn made without its DB's cache (tests, tools) gets
// one of its own.
func (t *txn) dictionary() *dictionary {
	if t.dict == nil {
		if t.cache == nil {
			t.cache = newDictCache()
		}
		t.dict = &dictionary{btx: t.btx, cache: t.cache}
	}
	return t.dict
}

var (
	_ domain.Tx = (*txn)(nil)
	_ KVTx      = (*txn)(nil)
	_ KVDeleter = (*txn)(nil)
)

func (t *txn) bucket(name []byte) (*bolt.Bucket, error) {
	b := t.btx.Bucket(name)
	if b == nil {
		return nil, fmt.Errorf("storage: bucket %s is missing; run workbot check", name)
	}
	if t.btx.Writable() {
		b.FillPercent = fillPercent(name)
	}
	return b, nil
}

// Item returns ENOTFOUND if there is no item with that ID.
func (t *txn) Item(id domain.ItemID) (domain.Item, error) {
	b, err := t.bucket(bucketItems)
	if err != nil {
		return domain.Item{}, err
	}
	v := b.Get(seqKey(uint64(id)))
	if v == nil {
		return domain.Item{}, domain.Errorf(domain.ENOTFOUND, "There is no item %d.", id)
	}
	r, err := decodeItem(v)
	if err != nil {
		return domain.Item{}, fmt.Errorf("items/%d: %w", id, err)
	}
	return r.toDomain(), nil
}

// OpenItems reads the covering copies in idx_open, so its cost depends only on the open items however
// long the closed history grows.
func (t *txn) OpenItems(fn func(domain.Item) bool) error {
	b, err := t.bucket(bucketOpen)
	if err != nil {
		return err
	}
	if !t.btx.Writable() && runtime.GOMAXPROCS(0) > 1 {
		return scanOpenPipelined(b, fn)
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, err := decodeItem(v)
		if err != nil {
			return fmt.Errorf("idx_open/%x: %w", k, err)
		}
		if !fn(r.toDomain()) {
			return nil
		}
	}
	return nil
}

// openBatch is how many decoded values the scanning goroutine hands over at a time.
const openBatch = 256

// scanOpenPipelined decodes open items on a second goroutine while fn consumes the previous batch, so
// a scan of 100k items uses both cores.
func scanOpenPipelined(b *bolt.Bucket, fn func(domain.Item) bool) error {
	return scanPipelined(func(emit func(domain.Item) bool) error {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			r, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("idx_open/%x: %w", k, err)
			}
			if !emit(r.toDomain()) {
				return nil
			}
		}
		return nil
	}, fn)
}

// scanPipelined runs produce on a second goroutine and hands what it emits to fn on this one, in
// batches. It is only used in read-only transactions: the producer touches nothing but its own cursor
// (bbolt's read paths share no mutable state), and fn cannot write under it.
func scanPipelined[T any](produce func(emit func(T) bool) error, fn func(T) bool) error {
	batches := make(chan []T, 2)
	// Consumed batches come back to be refilled: fn gets each value by value, so nothing it keeps
	// points into a batch, and a scan of 100k values allocates three batches instead of 400.
	spare := make(chan []T, 3)
	stop := make(chan struct{})
	scanErr := make(chan error, 1)
	next := func() []T {
		select {
		case b := <-spare:
			return b[:0]
		default:
			return make([]T, 0, openBatch)
		}
	}
	go func() {
		defer close(batches)
		defer func() {
			if r := recover(); r != nil {
				scanErr <- fmt.Errorf("scan: %v", r)
			}
		}()
		batch := next()
		emit := func(v T) bool {
			batch = append(batch, v)
			if len(batch) < openBatch {
				return true
			}
			select {
			case batches <- batch:
			case <-stop:
				return false
			}
			batch = next()
			return true
		}
		if err := produce(emit); err != nil {
			scanErr <- err
			return
		}
		if len(batch) > 0 {
			select {
			case batches <- batch:
			case <-stop:
			}
		}
	}()
	// However fn ends, the scanner must be finished before the transaction is: it reads its pages.
	defer func() {
		close(stop)
		for range batches {
		}
	}()
	for batch := range batches {
		for i := range batch {
			if !fn(batch[i]) {
				return nil
			}
		}
		clear(batch) // drop what it points to before it waits to be reused
		select {
		case spare <- batch:
		default:
		}
	}
	select {
	case err := <-scanErr:
		return err
	default:
		return nil
	}
}

func (t *txn) OpenItemsByAssignee(user domain.UserID, fn func(domain.Item) bool) error {
	return t.openItemsInGroup(bucketByAssignee, string(user), fn)
}

func (t *txn) OpenItemsInStage(stage domain.StageID, fn func(domain.Item) bool) error {
	return t.openItemsInGroup(bucketByStage, string(stage), fn)
}

// openItemsInGroup walks one group of an open-items index in ID order and reads each item's copy
// from idx_open.
func (t *txn) openItemsInGroup(index []byte, group string, fn func(domain.Item) bool) error {
	idx, err := t.bucket(index)
	if err != nil {
		return err
	}
	open, err := t.bucket(bucketOpen)
	if err != nil {
		return err
	}
	prefix := groupPrefix(group)
	c := idx.Cursor()
	for k, _ := c.Seek(prefix); hasPrefix(k, prefix); k, _ = c.Next() {
		seq := k[len(prefix):]
		v := open.Get(seq)
		if v == nil {
			return fmt.Errorf("%s/%x: points to item %x, which is not open", index, k, seq)
		}
		r, err := decodeItem(v)
		if err != nil {
			return fmt.Errorf("idx_open/%x: %w", seq, err)
		}
		if !fn(r.toDomain()) {
			return nil
		}
	}
	return nil
}

// ItemsByRequester walks the requester's group backwards, newest item first.
func (t *txn) ItemsByRequester(user domain.UserID, fn func(domain.Item) bool) error {
	idx, err := t.bucket(bucketByRequester)
	if err != nil {
		return err
	}
	items, err := t.bucket(bucketItems)
	if err != nil {
		return err
	}
	prefix := groupPrefix(string(user))
	last := groupKey(string(user), ^uint64(0))
	c := idx.Cursor()
	k, _ := c.Seek(last)
	switch {
	case k == nil:
		k, _ = c.Last()
	case !bytes.Equal(k, last):
		k, _ = c.Prev()
	}
	for ; hasPrefix(k, prefix); k, _ = c.Prev() {
		seq := k[len(prefix):]
		v := items.Get(seq)
		if v == nil {
			return fmt.Errorf("idx_requester/%x: points to missing item %x", k, seq)
		}
		r, err := decodeItem(v)
		if err != nil {
			return fmt.Errorf("items/%x: %w", seq, err)
		}
		if !fn(r.toDomain()) {
			return nil
		}
	}
	return nil
}

// Handoff returns ENOTFOUND if there is no handoff with that ID.
func (t *txn) Handoff(id domain.HandoffID) (domain.Handoff, error) {
	b, err := t.bucket(bucketHandoffs)
	if err != nil {
		return domain.Handoff{}, err
	}
	v := b.Get(seqKey(uint64(id)))
	if v == nil {
		return domain.Handoff{}, domain.Errorf(domain.ENOTFOUND, "There is no handoff %d.", id)
	}
	r, err := decodeHandoff(v)
	if err != nil {
		return domain.Handoff{}, fmt.Errorf("handoffs/%d: %w", id, err)
	}
	return r.toDomain(), nil
}

func (t *txn) PendingHandoffs(fn func(domain.Handoff) bool) error {
	idx, err := t.bucket(bucketHandoffPending)
	if err != nil {
		return err
	}
	hs, err := t.bucket(bucketHandoffs)
	if err != nil {
		return err
	}
	c := idx.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		v := hs.Get(k)
		if v == nil {
			return fmt.Errorf("idx_handoff_pending/%x: points to a missing handoff", k)
		}
		r, err := decodeHandoff(v)
		if err != nil {
			return fmt.Errorf("handoffs/%x: %w", k, err)
		}
		if !fn(r.toDomain()) {
			return nil
		}
	}
	return nil
}

func (t *txn) Person(id domain.UserID) (domain.Person, bool, error) {
	b, err := t.bucket(bucketPeople)
	if err != nil {
		return domain.Person{}, false, err
	}
	if id == "" {
		return domain.Person{}, false, nil
	}
	v := b.Get([]byte(id))
	if v == nil {
		return domain.Person{}, false, nil
	}
	r, err := decodePerson(v)
	if err != nil {
		return domain.Person{}, false, fmt.Errorf("people/%s: %w", id, err)
	}
	return r.toDomain(), true, nil
}

func (t *txn) People(fn func(domain.Person) bool) error {
	b, err := t.bucket(bucketPeople)
	if err != nil {
		return err
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		r, err := decodePerson(v)
		if err != nil {
			return fmt.Errorf("people/%s: %w", k, err)
		}
		if !fn(r.toDomain()) {
			return nil
		}
	}
	return nil
}

// EventsBetween walks event_log from from to to: (At, Seq) order, one cursor, no lookups.
func (t *txn) EventsBetween(from, to time.Time, fn func(domain.Event) bool) error {
	log, err := t.bucket(bucketEventLog)
	if err != nil || !from.Before(to) {
		return err
	}
	end := timeKeyPrefix(to)
	c := log.Cursor()
	for k, v := c.Seek(timeKeyPrefix(from)); k != nil && bytes.Compare(k[:min(len(k), keyLen)], end) < 0; k, v = c.Next() {
		e, err := eventFromLog(k, v, t.dictionary())
		if err != nil {
			return err
		}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// ItemEvents reads the item's references in order and looks each event up in event_log.
func (t *txn) ItemEvents(id domain.ItemID, fn func(domain.Event) bool) error {
	byItem, err := t.bucket(bucketEventByItem)
	if err != nil {
		return err
	}
	log, err := t.bucket(bucketEventLog)
	if err != nil {
		return err
	}
	prefix := seqKey(uint64(id))
	c := byItem.Cursor()
	for k, v := c.Seek(prefix); hasPrefix(k, prefix); k, v = c.Next() {
		refs, err := decodeRefs(v)
		if err != nil {
			return fmt.Errorf("event_log_by_item/%x: %w", k, err)
		}
		for _, r := range refs {
			key := r.key()
			v := log.Get(key)
			if v == nil {
				return fmt.Errorf("event_log_by_item/%x points to missing event %d", k, r.seq)
			}
			e, err := eventFromLog(key, v, t.dictionary())
			if err != nil {
				return err
			}
			if !fn(e) {
				return nil
			}
		}
	}
	return nil
}

func (t *txn) NextItemID() (domain.ItemID, error) {
	b, err := t.bucket(bucketItems)
	if err != nil {
		return 0, err
	}
	n, err := b.NextSequence()
	return domain.ItemID(n), err
}

func (t *txn) NextHandoffID() (domain.HandoffID, error) {
	b, err := t.bucket(bucketHandoffs)
	if err != nil {
		return 0, err
	}
	n, err := b.NextSequence()
	return domain.HandoffID(n), err
}

func checkIndexed(what, s string) error {
	if len(s) > maxIndexedLen {
		return domain.Errorf(domain.EINVALID, "The %s is too long (%d bytes; at most %d).", what, len(s), maxIndexedLen)
	}
	return nil
}

// PutItem stores the item and moves its index entries: it reads the stored version to know which
// entries to drop.
func (t *txn) PutItem(it domain.Item) error {
	if it.ID == 0 {
		return domain.Errorf(domain.EINVALID, "An item needs an ID from NextItemID.")
	}
	for _, c := range []struct{ what, s string }{
		{"assignee", string(it.Assignee)}, {"stage", string(it.Stage)}, {"requester", string(it.Requester)},
	} {
		if err := checkIndexed(c.what, c.s); err != nil {
			return err
		}
	}
	items, err := t.bucket(bucketItems)
	if err != nil {
		return err
	}
	open, err := t.bucket(bucketOpen)
	if err != nil {
		return err
	}
	byAssignee, err := t.bucket(bucketByAssignee)
	if err != nil {
		return err
	}
	byStage, err := t.bucket(bucketByStage)
	if err != nil {
		return err
	}
	byRequester, err := t.bucket(bucketByRequester)
	if err != nil {
		return err
	}

	id := uint64(it.ID)
	key := seqKey(id)
	rec := itemToRecord(it)
	var oldRec *itemRecord
	if prev := items.Get(key); prev != nil {
		old, err := decodeItem(prev)
		if err != nil {
			return fmt.Errorf("items/%d: %w", id, err)
		}
		oldRec = &old
		if old.open() {
			if err := open.Delete(key); err != nil {
				return err
			}
			if err := byAssignee.Delete(groupKey(old.Assignee, id)); err != nil {
				return err
			}
			if err := byStage.Delete(groupKey(old.Stage, id)); err != nil {
				return err
			}
		}
		if old.Requester != rec.Requester {
			if err := byRequester.Delete(groupKey(old.Requester, id)); err != nil {
				return err
			}
		}
	}
	if err := t.indexText(rec); err != nil {
		return err
	}
	val := rec.encode()
	if err := items.Put(key, val); err != nil {
		return err
	}
	if rec.open() {
		if err := open.Put(key, val); err != nil {
			return err
		}
		if err := byAssignee.Put(groupKey(rec.Assignee, id), nil); err != nil {
			return err
		}
		if err := byStage.Put(groupKey(rec.Stage, id), briefOf(&rec).encode()); err != nil {
			return err
		}
	}
	if err := byRequester.Put(groupKey(rec.Requester, id), nil); err != nil {
		return err
	}
	if err := t.indexSource(rec, id); err != nil {
		return err
	}
	if err := t.updateAggregates(oldRec, &rec); err != nil {
		return err
	}
	if err := t.updateRank(oldRec, &rec); err != nil {
		return err
	}
	// A caller that set an ID beyond the sequence (an import) must not get it handed out again.
	if items.Sequence() < id {
		return items.SetSequence(id)
	}
	return nil
}

func (t *txn) PutHandoff(h domain.Handoff) error {
	if h.ID == 0 {
		return domain.Errorf(domain.EINVALID, "A handoff needs an ID from NextHandoffID.")
	}
	hs, err := t.bucket(bucketHandoffs)
	if err != nil {
		return err
	}
	pending, err := t.bucket(bucketHandoffPending)
	if err != nil {
		return err
	}
	rec := handoffToRecord(h)
	key := seqKey(rec.ID)
	if err := hs.Put(key, rec.encode()); err != nil {
		return err
	}
	if rec.pending() {
		err = pending.Put(key, nil)
	} else {
		err = pending.Delete(key)
	}
	if err != nil {
		return err
	}
	if hs.Sequence() < rec.ID {
		return hs.SetSequence(rec.ID)
	}
	return nil
}

func (t *txn) PutPerson(p domain.Person) error {
	if p.ID == "" {
		return domain.Errorf(domain.EINVALID, "A person needs a user ID.")
	}
	if err := checkIndexed("user ID", string(p.ID)); err != nil {
		return err
	}
	b, err := t.bucket(bucketPeople)
	if err != nil {
		return err
	}
	return b.Put([]byte(p.ID), personToRecord(p).encode())
}

// AppendEvent assigns the next Seq, writes the event at its place in time, counts it in its hour and
// adds it to its item's references.
func (t *txn) AppendEvent(e domain.Event) error {
	log, err := t.bucket(bucketEventLog)
	if err != nil {
		return err
	}
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	e.Seq = seq
	key := eventTimeKey(e.At, seq)
	rec, err := encodeEventV2(eventToRecord(e), t.dictionary())
	if err != nil {
		return err
	}
	if err := log.Put(key, rec); err != nil {
		return err
	}
	if err := t.countEvent(e.At, e.Type); err != nil {
		return err
	}
	if e.ItemID == 0 {
		return nil
	}
	byItem, err := t.bucket(bucketEventByItem)
	if err != nil {
		return err
	}
	return addItemRef(byItem, uint64(e.ItemID), eventRef{seq: seq, timeKey: binary.BigEndian.Uint64(key)})
}

// GetKV returns a copy of bucket/key's value, or nil.
func (t *txn) GetKV(bucket, key string) []byte {
	kv := t.btx.Bucket(bucketKV)
	if kv == nil {
		return nil
	}
	b := kv.Bucket([]byte(bucket))
	if b == nil || key == "" {
		return nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil
	}
	return append([]byte{}, v...)
}

func (t *txn) PutKV(bucket, key string, val []byte) error {
	if bucket == "" || key == "" {
		return domain.Errorf(domain.EINVALID, "A KV bucket and key must not be empty.")
	}
	if len(bucket) > maxIndexedLen || len(key) > maxIndexedLen {
		return domain.Errorf(domain.EINVALID, "A KV bucket or key is too long (at most %d bytes).", maxIndexedLen)
	}
	kv, err := t.bucket(bucketKV)
	if err != nil {
		return err
	}
	b, err := kv.CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return err
	}
	if val == nil {
		val = []byte{} // bbolt stores nil as empty anyway; say so, so GetKV's nil means "absent"
	}
	return b.Put([]byte(key), val)
}

func (t *txn) DeleteKV(bucket, key string) error {
	kv, err := t.bucket(bucketKV)
	if err != nil {
		return err
	}
	b := kv.Bucket([]byte(bucket))
	if b == nil || key == "" {
		return nil
	}
	return b.Delete([]byte(key))
}
