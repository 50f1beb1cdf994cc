package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
)

// The outbox: side effects owed to Slack, written in the transaction of the change that owes them
// (domain.Tx.Enqueue) and delivered afterwards by the bot. Entries are kept after delivery with their
// result until PruneOutbox removes them.
//
//	outbox/<seq BE>          outboxRecord; bucket sequence = last entry ID
//	outbox_pending/<seq BE>  lanes of unfinished entries: uvarint len, Key, uvarint len, Channel
//
// Claims (who is delivering what) live in memory: one process owns a bbolt file, so a claim cannot
// outlive the process that holds it, and a crash releases every claim with it.

const outboxRecordV1 byte = 1

type outboxRecord struct {
	Kind        string
	Key         string
	Channel     string
	At          time.Time
	Payload     []byte
	State       uint64
	AttemptedAt time.Time
	Attempts    uint64
	ResChannel  string
	ResTS       string
	ResError    string
	ResAt       time.Time
}

func effectToRecord(e domain.Effect) outboxRecord {
	return outboxRecord{Kind: e.Kind, Key: e.Key, Channel: e.Channel, At: e.At, Payload: e.Payload}
}

func (r outboxRecord) toDomain(id uint64) domain.OutboxEntry {
	return domain.OutboxEntry{
		ID:          id,
		Effect:      domain.Effect{Kind: r.Kind, Key: r.Key, Channel: r.Channel, At: r.At, Payload: r.Payload},
		State:       domain.OutboxState(r.State),
		AttemptedAt: r.AttemptedAt,
		Attempts:    int(r.Attempts),
		Result:      domain.OutboxResult{Channel: r.ResChannel, TS: r.ResTS, Error: r.ResError, At: r.ResAt},
	}
}

func (r outboxRecord) encode() []byte {
	e := newEncoder(64 + len(r.Payload))
	e.str(r.Kind)
	e.str(r.Key)
	e.str(r.Channel)
	e.timestamp(r.At)
	e.str(string(r.Payload))
	e.uvarint(r.State)
	e.timestamp(r.AttemptedAt)
	e.uvarint(r.Attempts)
	e.str(r.ResChannel)
	e.str(r.ResTS)
	e.str(r.ResError)
	e.timestamp(r.ResAt)
	return e.finish(outboxRecordV1)
}

func decodeOutbox(b []byte) (outboxRecord, error) {
	var d decoder
	d.init(b)
	if d.err == nil && d.version != outboxRecordV1 {
		return outboxRecord{}, fmt.Errorf("%w: outbox record version %d is not supported", errCorrupt, d.version)
	}
	r := outboxRecord{
		Kind: d.str(), Key: d.str(), Channel: d.str(), At: d.timestamp(), Payload: []byte(d.str()),
		State: d.uvarint(), AttemptedAt: d.timestamp(), Attempts: d.uvarint(),
		ResChannel: d.str(), ResTS: d.str(), ResError: d.str(), ResAt: d.timestamp(),
	}
	if d.err != nil {
		return outboxRecord{}, fmt.Errorf("outbox: %w", d.err)
	}
	return r, nil
}

func encodeLanes(key, channel string) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 4+len(key)+len(channel)), uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(channel)))
	return append(b, channel...)
}

func decodeLanes(b []byte) (key, channel string, ok bool) {
	n, w := binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) < n {
		return "", "", false
	}
	key, b = string(b[w:w+int(n)]), b[w+int(n):]
	n, w = binary.Uvarint(b)
	if w <= 0 || uint64(len(b)-w) != n {
		return "", "", false
	}
	return key, string(b[w:]), true
}

// Enqueue implements domain.Tx.
func (t *txn) Enqueue(effects ...domain.Effect) error {
	if len(effects) == 0 {
		return nil
	}
	box, err := t.bucket(bucketOutbox)
	if err != nil {
		return err
	}
	pending, err := t.bucket(bucketOutboxPending)
	if err != nil {
		return err
	}
	for _, e := range effects {
		if err := domain.ValidEffect(e); err != nil {
			return err
		}
		id, err := box.NextSequence()
		if err != nil {
			return err
		}
		k := seqKey(id)
		if err := box.Put(k, effectToRecord(e).encode()); err != nil {
			return err
		}
		if err := pending.Put(k, encodeLanes(e.Key, e.Channel)); err != nil {
			return err
		}
	}
	return nil
}

func (t *txn) outboxEntry(id uint64) (domain.OutboxEntry, bool, error) {
	box := t.btx.Bucket(bucketOutbox)
	if box == nil {
		return domain.OutboxEntry{}, false, nil
	}
	v := box.Get(seqKey(id))
	if v == nil {
		return domain.OutboxEntry{}, false, nil
	}
	r, err := decodeOutbox(v)
	if err != nil {
		return domain.OutboxEntry{}, false, fmt.Errorf("outbox/%d: %w", id, err)
	}
	e := r.toDomain(id)
	e.Payload = append([]byte(nil), e.Payload...)
	return e, true, nil
}

// finishEffect records a delivery's outcome and takes the entry out of the pending index.
func (t *txn) finishEffect(id uint64, state domain.OutboxState, res domain.OutboxResult) error {
	if state == domain.OutboxPending {
		return domain.Errorf(domain.EINVALID, "An outbox entry is finished as delivered or failed.")
	}
	box, err := t.bucket(bucketOutbox)
	if err != nil {
		return err
	}
	k := seqKey(id)
	v := box.Get(k)
	if v == nil {
		return domain.Errorf(domain.ENOTFOUND, "There is no outbox entry %d.", id)
	}
	r, err := decodeOutbox(v)
	if err != nil {
		return fmt.Errorf("outbox/%d: %w", id, err)
	}
	r.State = uint64(state)
	r.ResChannel, r.ResTS, r.ResError, r.ResAt = res.Channel, res.TS, res.Error, res.At
	if err := box.Put(k, r.encode()); err != nil {
		return err
	}
	pending, err := t.bucket(bucketOutboxPending)
	if err != nil {
		return err
	}
	return pending.Delete(k)
}

// claims tracks which unfinished entries a deliverer holds, so two deliverers never take the same
// entry and an entry's lanes stay blocked while it is in flight.
type claims struct {
	mu sync.Mutex
	by map[uint64]claim
}

type claim struct {
	owner string
	until time.Time
}

// maxClaimScan bounds one ClaimEffects scan, so a huge backlog costs a bounded read per call; entries
// beyond it are reached as the ones before them finish.
const maxClaimScan = 50000

// ClaimEffects returns up to max entries that are ready, oldest first: unfinished, not held by a live
// claim, and with no earlier unfinished entry sharing their Key or Channel. The caller holds them
// until it finishes or releases them, or until lease has passed.
func (db *DB) ClaimEffects(ctx context.Context, owner string, max int, lease time.Duration) ([]domain.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, nil
	}
	db.claims.mu.Lock()
	defer db.claims.mu.Unlock()
	now := time.Now()
	var out []domain.OutboxEntry
	err := db.bolt.View(func(btx *bolt.Tx) error {
		t := db.txn(btx)
		pending := btx.Bucket(bucketOutboxPending)
		if pending == nil {
			return nil
		}
		blockedKey, blockedChan := map[string]bool{}, map[string]bool{}
		c := pending.Cursor()
		scanned := 0
		for k, v := c.First(); k != nil && len(out) < max && scanned < maxClaimScan; k, v = c.Next() {
			scanned++
			id, ok := keySeq(k)
			key, channel, ok2 := decodeLanes(v)
			if !ok || !ok2 {
				return fmt.Errorf("%w: outbox_pending/%x", errCorrupt, k)
			}
			held := false
			if cl, ok := db.claims.by[id]; ok && now.Before(cl.until) {
				held = true
			}
			blocked := (key != "" && blockedKey[key]) || (channel != "" && blockedChan[channel])
			if key != "" {
				blockedKey[key] = true
			}
			if channel != "" {
				blockedChan[channel] = true
			}
			if held || blocked {
				continue
			}
			e, found, err := t.outboxEntry(id)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("%w: outbox_pending/%d has no entry", errCorrupt, id)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if db.claims.by == nil {
		db.claims.by = map[uint64]claim{}
	}
	for _, e := range out {
		db.claims.by[e.ID] = claim{owner: owner, until: now.Add(lease)}
	}
	return out, nil
}

// ReleaseEffect gives up owner's claim on an unfinished entry, so it can be claimed again at once.
func (db *DB) ReleaseEffect(_ context.Context, owner string, id uint64) error {
	db.claims.mu.Lock()
	defer db.claims.mu.Unlock()
	if cl, ok := db.claims.by[id]; ok && cl.owner == owner {
		delete(db.claims.by, id)
	}
	return nil
}

func (db *DB) dropClaims(ids []uint64) {
	if len(ids) == 0 {
		return
	}
	db.claims.mu.Lock()
	defer db.claims.mu.Unlock()
	for _, id := range ids {
		delete(db.claims.by, id)
	}
}

// MarkAttempt durably records that a delivery which may take effect is about to start, so that after
// a crash the deliverer looks for its result before acting again. The first attempt's time is kept:
// a search for an earlier attempt's result must start from it.
func (db *DB) MarkAttempt(ctx context.Context, id uint64, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.write(func(btx *bolt.Tx) error {
		return callSafely(func() error {
			box := btx.Bucket(bucketOutbox)
			k := seqKey(id)
			v := box.Get(k)
			if v == nil {
				return domain.Errorf(domain.ENOTFOUND, "There is no outbox entry %d.", id)
			}
			r, err := decodeOutbox(v)
			if err != nil {
				return fmt.Errorf("outbox/%d: %w", id, err)
			}
			if r.AttemptedAt.IsZero() {
				r.AttemptedAt = at
			}
			r.Attempts++
			return box.Put(k, r.encode())
		})
	})
}

// OutboxStats reports how many entries are unfinished and when the oldest of them was enqueued.
func (db *DB) OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	err = db.bolt.View(func(btx *bolt.Tx) error {
		p := btx.Bucket(bucketOutboxPending)
		if p == nil {
			return nil
		}
		pending = p.Stats().KeyN
		if k, _ := p.Cursor().First(); k != nil {
			id, _ := keySeq(k)
			e, ok, err := (db.txn(btx)).outboxEntry(id)
			if err != nil {
				return err
			}
			if ok {
				oldest = e.At
			}
		}
		return nil
	})
	return pending, oldest, err
}

// PruneOutbox deletes finished entries enqueued before before, oldest first, at most limit of them,
// and returns how many it deleted. Unfinished entries are never pruned.
func (db *DB) PruneOutbox(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := db.write(func(btx *bolt.Tx) error {
		n = 0
		box := btx.Bucket(bucketOutbox)
		pending := btx.Bucket(bucketOutboxPending)
		var doomed [][]byte
		c := box.Cursor()
		for k, v := c.First(); k != nil && len(doomed) < limit; k, v = c.Next() {
			r, err := decodeOutbox(v)
			if err != nil {
				return fmt.Errorf("outbox/%x: %w", k, err)
			}
			if !r.At.Before(before) {
				break
			}
			if r.State != uint64(domain.OutboxPending) && pending.Get(k) == nil {
				doomed = append(doomed, append([]byte(nil), k...))
			}
		}
		for _, k := range doomed {
			if err := box.Delete(k); err != nil {
				return err
			}
		}
		n = len(doomed)
		return nil
	})
	return n, err
}
