package storage

import (
	"bytes"
	"context"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// stateTx is domain.StateTx on a bbolt transaction: the bot's buckets under kv/ and the outbox.
type stateTx struct {
	t        *txn
	finished []uint64 // claims to drop once the transaction commits
}

var _ domain.StateTx = (*stateTx)(nil)

func (s *stateTx) Get(bucket, key string) ([]byte, error) { return s.t.GetKV(bucket, key), nil }

func (s *stateTx) Scan(bucket, prefix string, fn func(key string, val []byte) bool) error {
	return s.t.scanKV(bucket, prefix, fn)
}

func (s *stateTx) Effect(id uint64) (domain.OutboxEntry, bool, error) { return s.t.outboxEntry(id) }

func (s *stateTx) Put(bucket, key string, val []byte) error { return s.t.PutKV(bucket, key, val) }

func (s *stateTx) Delete(bucket, key string) error { return s.t.DeleteKV(bucket, key) }

func (s *stateTx) Enqueue(effects ...domain.Effect) error { return s.t.Enqueue(effects...) }

func (s *stateTx) FinishEffect(id uint64, state domain.OutboxState, res domain.OutboxResult) error {
	if err := s.t.finishEffect(id, state, res); err != nil {
		return err
	}
	s.finished = append(s.finished, id)
	return nil
}

// State implements domain.Tx. Claims of effects finished through it are dropped when they expire;
// the bot finishes effects through UpdateState, which drops them at once.
func (t *txn) State() domain.StateTx { return &stateTx{t: t} }

func (t *txn) scanKV(bucket, prefix string, fn func(key string, val []byte) bool) error {
	kv := t.btx.Bucket(bucketKV)
	if kv == nil {
		return nil
	}
	b := kv.Bucket([]byte(bucket))
	if b == nil {
		return nil
	}
	p := []byte(prefix)
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if !fn(string(k), append([]byte(nil), v...)) {
			return nil
		}
	}
	return nil
}

// UpdateState runs fn in a write transaction over the bot's state and the outbox. Like Update it may
// be grouped with concurrent writers, so fn may run more than once.
func (db *DB) UpdateState(ctx context.Context, fn func(domain.StateTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var st *stateTx
	err := db.write(func(btx *bolt.Tx) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		st = &stateTx{t: db.txn(btx)}
		return CallSafely(func() error { return fn(st) })
	})
	if err == nil && st != nil {
		db.dropClaims(st.finished)
	}
	return err
}

// ViewState runs fn on a read-only snapshot of the bot's state and the outbox.
func (db *DB) ViewState(ctx context.Context, fn func(domain.StateReader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(func(btx *bolt.Tx) error {
		return CallSafely(func() error { return fn(&stateTx{t: db.txn(btx)}) })
	})
}
