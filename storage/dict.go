package storage

import (
	"encoding/binary"
	"fmt"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// The dictionary (schema 6) gives the short strings the audit log repeats millions of times (user IDs,
// stage names, small numbers, dates) small numbers, so an event names its actor in one or two bytes
// instead of eleven:
//
//	dict/<string>      uvarint id
//	dict_ids/<id BE>   string
//
// Ids are handed out by dict_ids's sequence in the transaction that first needs them, and never
// change or go away. Each DB keeps the mapping in memory as it learns it; an entry enters that cache
// only once it is known committed (read by a read-only transaction, or written by one that
// committed), so a rolled-back or retried transaction can never leave behind an id that is not in
// the file.

var (
	bucketDict    = []byte("dict")
	bucketDictIDs = []byte("dict_ids")
)

// maxInterned bounds the strings worth a dictionary entry; longer ones are written out.
const maxInterned = 48

type dictMaps struct {
	ids  map[string]uint64
	strs map[uint64]string
}

// dictCache is the committed part of the dictionary, copied on write so readers never lock.
type dictCache struct {
	mu  sync.Mutex // serialises writers
	cur atomic.Pointer[dictMaps]
}

func newDictCache() *dictCache {
	c := &dictCache{}
	c.cur.Store(&dictMaps{ids: map[string]uint64{}, strs: map[uint64]string{}})
	return c
}

func (c *dictCache) id(s string) (uint64, bool) {
	v, ok := c.cur.Load().ids[s]
	return v, ok
}

func (c *dictCache) str(id uint64) (string, bool) {
	v, ok := c.cur.Load().strs[id]
	return v, ok
}

func (c *dictCache) add(entries map[uint64]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cur.Load()
	next := &dictMaps{ids: make(map[string]uint64, len(old.ids)+len(entries)), strs: make(map[uint64]string, len(old.strs)+len(entries))}
	for s, id := range old.ids {
		next.ids[s], next.strs[id] = id, s
	}
	for id, s := range entries {
		next.ids[s], next.strs[id] = id, s
	}
	c.cur.Store(next)
}

// load reads the whole dictionary of a read-only transaction into the cache: cheaper than learning
// thousands of entries one copy of the maps at a time, and a read-only snapshot holds only committed
// entries.
func (c *dictCache) load(btx *bolt.Tx) error {
	byID := btx.Bucket(bucketDictIDs)
	if byID == nil || btx.Writable() {
		return nil
	}
	all := map[uint64]string{}
	err := byID.ForEach(func(k, v []byte) error {
		if len(k) != keyLen {
			return fmt.Errorf("%w: dict_ids/%x", errCorrupt, k)
		}
		all[binary.BigEndian.Uint64(k)] = string(v)
		return nil
	})
	if err != nil {
		return err
	}
	c.add(all)
	return nil
}

// dictionary resolves strings and ids inside one transaction.
type dictionary struct {
	btx   *bolt.Tx
	cache *dictCache
	// fresh (and freshIDs, its inverse) are the entries this write transaction read or created before
	// they are known committed; they reach the cache when it commits.
	fresh    map[uint64]string
	freshIDs map[string]uint64
}

func (d *dictionary) buckets() (*bolt.Bucket, *bolt.Bucket, error) {
	byStr, byID := d.btx.Bucket(bucketDict), d.btx.Bucket(bucketDictIDs)
	if byStr == nil || byID == nil {
		return nil, nil, fmt.Errorf("storage: the dictionary is missing; run workbot check")
	}
	return byStr, byID, nil
}

// id returns s's id, giving it one if it has none (write transactions only).
func (d *dictionary) id(s string) (uint64, error) {
	if id, ok := d.cache.id(s); ok {
		return id, nil
	}
	if id, ok := d.freshIDs[s]; ok {
		return id, nil
	}
	byStr, byID, err := d.buckets()
	if err != nil {
		return 0, err
	}
	if v := byStr.Get([]byte(s)); v != nil {
		id, w := binary.Uvarint(v)
		if w <= 0 {
			return 0, fmt.Errorf("%w: dict/%q", errCorrupt, s)
		}
		if d.btx.Writable() {
			d.remember(id, s) // may be an entry of this very transaction
		} else if err := d.cache.load(d.btx); err != nil {
			return 0, err
		}
		return id, nil
	}
	if !d.btx.Writable() {
		return 0, fmt.Errorf("storage: %q is not in the dictionary", s)
	}
	byID.FillPercent, byStr.FillPercent = fillPercent(bucketDictIDs), fillPercent(bucketDict)
	id, err := byID.NextSequence()
	if err != nil {
		return 0, err
	}
	if err := byID.Put(binary.BigEndian.AppendUint64(nil, id), []byte(s)); err != nil {
		return 0, err
	}
	if err := byStr.Put([]byte(s), binary.AppendUvarint(nil, id)); err != nil {
		return 0, err
	}
	d.remember(id, s)
	return id, nil
}

// remember holds an entry seen in a write transaction until it commits.
func (d *dictionary) remember(id uint64, s string) {
	if d.fresh == nil {
		d.fresh, d.freshIDs = map[uint64]string{}, map[string]uint64{}
		fresh := d.fresh
		d.btx.OnCommit(func() { d.cache.add(fresh) })
	}
	d.fresh[id], d.freshIDs[s] = s, id
}

// str returns the string of id.
func (d *dictionary) str(id uint64) (string, error) {
	if s, ok := d.cache.str(id); ok {
		return s, nil
	}
	if s, ok := d.fresh[id]; ok {
		return s, nil
	}
	_, byID, err := d.buckets()
	if err != nil {
		return "", err
	}
	v := byID.Get(binary.BigEndian.AppendUint64(nil, id))
	if v == nil {
		return "", fmt.Errorf("%w: dictionary id %d is missing", errCorrupt, id)
	}
	s := string(v)
	if d.btx.Writable() {
		d.remember(id, s)
	} else if err := d.cache.load(d.btx); err != nil {
		return "", err
	}
	return s, nil
}
