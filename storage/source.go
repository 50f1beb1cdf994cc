package storage

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// idx_source/<conversation "/" message> → <seq BE>: the item filed from a chat message, so one message
// never becomes two items. The bucket is created by the first item with a source; a file without it
// simply has none. Sources never change once an item exists, so entries are only ever added.
var bucketBySource = []byte("idx_source")

func sourceKey(r itemRecord) string {
	return domain.Source{Conversation: r.SourceConversation, Message: r.SourceMessage}.Key()
}

// indexSource records rec's source message, refusing a second item for the same message.
func (t *txn) indexSource(rec itemRecord, id uint64) error {
	if rec.SourceMessage == "" {
		return nil
	}
	b, err := t.btx.CreateBucketIfNotExists(bucketBySource)
	if err != nil {
		return err
	}
	k := []byte(sourceKey(rec))
	if v := b.Get(k); v != nil {
		if other, ok := keySeq(v); ok && other != id {
			return domain.Errorf(domain.ECONFLICT, "That message was already filed as item %d.", other)
		}
		return nil
	}
	return b.Put(k, seqKey(id))
}

// ItemBySource implements domain.ReadTx.
func (t *txn) ItemBySource(key string) (domain.ItemID, bool, error) {
	b := t.btx.Bucket(bucketBySource)
	if b == nil || key == "" {
		return 0, false, nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return 0, false, nil
	}
	id, ok := keySeq(v)
	if !ok {
		return 0, false, fmt.Errorf("%w: idx_source/%s", errCorrupt, key)
	}
	return domain.ItemID(id), true, nil
}

// checkSources: every item with a source has its entry, and every entry points to an item with that
// source.
func checkSources(tx *bolt.Tx, p *problems) {
	idx := tx.Bucket(bucketBySource)
	items := tx.Bucket(bucketItems)
	_ = items.ForEach(func(k, v []byte) error {
		if p.full() {
			return nil
		}
		r, err := decodeItem(v)
		if err != nil || r.SourceMessage == "" {
			return nil
		}
		if idx == nil || idx.Get([]byte(sourceKey(r))) == nil {
			p.addf("items/%d has a source but no idx_source entry", r.ID)
		}
		return nil
	})
	if idx == nil {
		return
	}
	_ = idx.ForEach(func(k, v []byte) error {
		if p.full() {
			return nil
		}
		id, ok := keySeq(v)
		rv := items.Get(v)
		if !ok || rv == nil {
			p.addf("idx_source/%s points to no item", k)
			return nil
		}
		if r, err := decodeItem(rv); err == nil && sourceKey(r) != string(k) {
			p.addf("idx_source/%s points to item %d, whose source differs", k, id)
		}
		return nil
	})
}
