package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"workbot/domain"
)

// The outbox and the bot's state.
//
// Ordering. Outbox IDs come from a sequence when the entry is inserted, so they increase in the
// order transactions enqueued, which is not always the order they commit: T1 may take 10, T2 take 11
// and commit first. ClaimEffects therefore never relies on "no lower ID will appear": an entry is
// ready only when no other unfinished entry in any of its lanes is either earlier or under a live
// claim. Hence, per lane:
//   - at most one entry is in flight at a time, whatever commits later;
//   - if T1 committed before T2 began (or before T2 enqueued, which the domain does last, after
//     taking its locks), T1's entries have lower IDs and are visible whenever T2's are, so they go
//     first: causal order is kept;
//   - only entries of transactions that overlapped can go in either order, which is the order of
//     some serial execution of those transactions, so nothing a person saw happen can be reordered.
// Entries of one item (Key "item:N") are enqueued by transactions holding that item's row lock, so
// for them ID order is exactly commit order.
//
// Claims. A claim is a lease in the row (claimed_by, claimed_until, on the database's clock, so
// replicas with skewed clocks agree). ClaimEffects runs under a transaction-scoped advisory lock, so
// two claimers never both see a lane free; FOR UPDATE SKIP LOCKED makes it pass over rows that a
// finish, release or attempt mark is changing instead of waiting for them.

const outboxColumns = `id, kind, lane_key, channel, at, payload, state, attempted_at, attempts,
	result_channel, result_ts, result_error, result_at`

func scanOutbox(rows pgx.Rows) (domain.OutboxEntry, error) {
	var e domain.OutboxEntry
	var id int64
	var state int16
	var at, attemptedAt, resAt *time.Time
	err := rows.Scan(&id, &e.Kind, &e.Key, &e.Channel, &at, &e.Payload, &state, &attemptedAt, &e.Attempts,
		&e.Result.Channel, &e.Result.TS, &e.Result.Error, &resAt)
	e.ID, e.State = uint64(id), domain.OutboxState(state)
	e.At, e.AttemptedAt, e.Result.At = timeOf(at), timeOf(attemptedAt), timeOf(resAt)
	if len(e.Payload) == 0 {
		e.Payload = nil
	}
	return e, err
}

const outboxInsert = `INSERT INTO outbox (id, kind, lane_key, channel, at, payload)
	VALUES (nextval('outbox_ids'), $1, $2, $3, $4, $5)`

// Enqueue adds effects in order; they commit with the transaction.
func (t *txn) Enqueue(effects ...domain.Effect) error {
	if len(effects) == 0 {
		return nil
	}
	for _, e := range effects {
		if err := domain.ValidEffect(e); err != nil {
			return err
		}
	}
	for _, e := range effects {
		payload := e.Payload
		if payload == nil {
			payload = []byte{}
		}
		t.later(outboxInsert, e.Kind, e.Key, e.Channel, timeArg(e.At), payload)
	}
	return nil
}

func (t *txn) effect(id uint64) (domain.OutboxEntry, bool, error) {
	rows, err := t.query("read outbox", "SELECT "+outboxColumns+" FROM outbox WHERE id = $1", int64(id))
	if err != nil {
		return domain.OutboxEntry{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return domain.OutboxEntry{}, false, t.fail("read outbox", rows.Err())
	}
	e, err := scanOutbox(rows)
	if err != nil {
		return domain.OutboxEntry{}, false, t.fail("read outbox", err)
	}
	return e, true, nil
}

func (t *txn) finishEffect(id uint64, state domain.OutboxState, res domain.OutboxResult) error {
	if state == domain.OutboxPending {
		return domain.Errorf(domain.EINVALID, "An outbox entry is finished as delivered or failed.")
	}
	tag, err := t.exec("finish effect", `UPDATE outbox SET state = $2, result_channel = $3, result_ts = $4,
		result_error = $5, result_at = $6, claimed_by = NULL, claimed_until = NULL WHERE id = $1`,
		int64(id), int16(state), res.Channel, res.TS, res.Error, timeArg(res.At))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return domain.Errorf(domain.ENOTFOUND, "There is no outbox entry %d.", id)
	}
	return nil
}

// stateTx is domain.StateTx on a txn.
type stateTx struct{ t *txn }

var _ domain.StateTx = stateTx{}

func stateLock(bucket, key string) string { return "state:" + bucket + "\x00" + key }

func checkState(bucket, key string) error {
	if bucket == "" || key == "" {
		return domain.Errorf(domain.EINVALID, "A KV bucket and key must not be empty.")
	}
	if len(bucket) > maxIndexedLen || len(key) > maxIndexedLen {
		return domain.Errorf(domain.EINVALID, "A KV bucket or key is too long (at most %d bytes).", maxIndexedLen)
	}
	return nil
}

// Get holds the key's advisory lock in a write transaction (existing or not), so a read-modify-write
// of bot state is never lost to a concurrent one.
func (s stateTx) Get(bucket, key string) ([]byte, error) {
	if bucket == "" || key == "" || len(bucket) > maxIndexedLen || len(key) > maxIndexedLen {
		return nil, nil
	}
	b := &pgx.Batch{}
	s.t.queueLocks(b, stateLock(bucket, key))
	locks := b.Len()
	b.Queue("SELECT value FROM bot_state WHERE bucket = $1 AND key = $2", bucket, key)
	var out []byte
	err := s.t.runBatch("read state", b, locks, func(br pgx.BatchResults) error {
		err := br.QueryRow().Scan(&out)
		if err == pgx.ErrNoRows {
			out = nil
			return nil
		}
		if err == nil && out == nil {
			out = []byte{}
		}
		return s.t.fail("read state", err)
	})
	return out, err
}

// Scan visits bucket's keys starting with prefix in byte order (the columns are COLLATE "C").
func (s stateTx) Scan(bucket, prefix string, fn func(key string, val []byte) bool) error {
	last := prefix
	inclusive := true
	for page := firstPage; ; page = min(2*page, maxPage) {
		op := ">"
		if inclusive {
			op = ">="
		}
		rows, err := s.t.query("scan state", `SELECT key, value FROM bot_state WHERE bucket = $1 AND key `+op+` $2
			AND starts_with(key, $3) ORDER BY key LIMIT $4`, bucket, last, prefix, page)
		if err != nil {
			return err
		}
		// Read in full before visiting: fn may read through this transaction (see queryItems).
		type kv struct {
			k string
			v []byte
		}
		var kvs []kv
		for rows.Next() {
			var k string
			var v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return s.t.fail("scan state", err)
			}
			if v == nil {
				v = []byte{}
			}
			kvs = append(kvs, kv{k, v})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s.t.fail("scan state", err)
		}
		for _, e := range kvs {
			if !fn(e.k, e.v) {
				return nil
			}
			last, inclusive = e.k, false
		}
		if len(kvs) < page {
			return nil
		}
	}
}

func (s stateTx) Effect(id uint64) (domain.OutboxEntry, bool, error) { return s.t.effect(id) }

func (s stateTx) Put(bucket, key string, val []byte) error {
	if err := checkState(bucket, key); err != nil {
		return err
	}
	if val == nil {
		val = []byte{}
	}
	s.t.lockLater(stateLock(bucket, key))
	s.t.later(`INSERT INTO bot_state (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value`, bucket, key, val)
	return nil
}

func (s stateTx) Delete(bucket, key string) error {
	if bucket == "" || key == "" || len(bucket) > maxIndexedLen || len(key) > maxIndexedLen {
		return nil
	}
	s.t.lockLater(stateLock(bucket, key))
	s.t.later("DELETE FROM bot_state WHERE bucket = $1 AND key = $2", bucket, key)
	return nil
}

func (s stateTx) Enqueue(effects ...domain.Effect) error { return s.t.Enqueue(effects...) }

func (s stateTx) FinishEffect(id uint64, state domain.OutboxState, res domain.OutboxResult) error {
	return s.t.finishEffect(id, state, res)
}

// UpdateState runs fn in a write transaction over the bot's state and the outbox, with Update's
// retries.
func (s *Store) UpdateState(ctx context.Context, fn func(domain.StateTx) error) error {
	return s.write(ctx, func(t *txn) error { return fn(stateTx{t: t}) })
}

// ViewState runs fn on one read-only snapshot.
func (s *Store) ViewState(ctx context.Context, fn func(domain.StateReader) error) error {
	return s.read(ctx, func(t *txn) error { return fn(stateTx{t: t}) })
}

// claimQuery picks ready entries: unfinished, not under a live claim, and alone in their lanes
// (no other unfinished entry that is earlier or under a live claim shares its Key or Channel).
const claimQuery = `
SELECT ` + outboxColumns + ` FROM outbox o
WHERE o.state = 0
  AND (o.claimed_until IS NULL OR o.claimed_until <= clock_timestamp())
  AND (o.lane_key = '' OR NOT EXISTS (
        SELECT 1 FROM outbox p
        WHERE p.state = 0 AND p.lane_key = o.lane_key AND p.id <> o.id
          AND (p.id < o.id OR p.claimed_until > clock_timestamp())))
  AND (o.channel = '' OR NOT EXISTS (
        SELECT 1 FROM outbox p
        WHERE p.state = 0 AND p.channel = o.channel AND p.id <> o.id
          AND (p.id < o.id OR p.claimed_until > clock_timestamp())))
ORDER BY o.id
LIMIT $1
FOR UPDATE OF o SKIP LOCKED`

// ClaimEffects returns up to max ready entries, oldest first, and leases them to owner for lease.
func (s *Store) ClaimEffects(ctx context.Context, owner string, max int, lease time.Duration) ([]domain.OutboxEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if max <= 0 {
		return nil, nil
	}
	var out []domain.OutboxEntry
	err := s.write(ctx, func(t *txn) error {
		out = nil
		if _, err := t.exec("claim effects", "SELECT pg_advisory_xact_lock($1)", s.lockKey("outbox-claims")); err != nil {
			return err
		}
		rows, err := t.query("claim effects", claimQuery, max)
		if err != nil {
			return err
		}
		ids := []int64{}
		for rows.Next() {
			e, err := scanOutbox(rows)
			if err != nil {
				rows.Close()
				return t.fail("claim effects", err)
			}
			out = append(out, e)
			ids = append(ids, int64(e.ID))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return t.fail("claim effects", err)
		}
		if len(ids) == 0 {
			return nil
		}
		_, err = t.exec("claim effects", `UPDATE outbox SET claimed_by = $2,
			claimed_until = clock_timestamp() + make_interval(secs => $3) WHERE id = ANY($1)`,
			ids, owner, lease.Seconds())
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReleaseEffect gives up owner's claim on an unfinished entry; another owner's claim is left alone.
func (s *Store) ReleaseEffect(ctx context.Context, owner string, id uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
		WHERE id = $1 AND claimed_by = $2 AND state = 0`, int64(id), owner)
	return s.ioErr("release effect", err)
}

// ExtendClaims renews owner's claims on ids for another lease, on the database's clock.
func (s *Store) ExtendClaims(ctx context.Context, owner string, ids []uint64, lease time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	arg := make([]int64, len(ids))
	for i, id := range ids {
		arg[i] = int64(id)
	}
	_, err := s.pool.Exec(ctx, `UPDATE outbox SET claimed_until = clock_timestamp() + make_interval(secs => $3)
		WHERE id = ANY($1) AND claimed_by = $2 AND state = 0`, arg, owner, lease.Seconds())
	return s.ioErr("extend claims", err)
}

// MarkAttempt durably records that a delivery which may take effect starts at at. Only the entry's
// live claimant may start one: a replica whose lease ran out (cut off from the database, paused)
// must not post beside the replica that took the entry over.
func (s *Store) MarkAttempt(ctx context.Context, owner string, id uint64, at time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var claimed bool
	err := s.pool.QueryRow(ctx, `WITH e AS (SELECT id, coalesce(claimed_by = $3 AND claimed_until > clock_timestamp(), false) AS mine
			FROM outbox WHERE id = $1 AND state = 0),
		u AS (UPDATE outbox o SET attempted_at = coalesce(o.attempted_at, $2), attempts = o.attempts + 1
			FROM e WHERE o.id = e.id AND e.mine RETURNING o.id)
		SELECT e.mine FROM e`, int64(id), timeArg(at), owner).Scan(&claimed)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Errorf(domain.ENOTFOUND, "There is no unfinished outbox entry %d.", id)
	}
	if err != nil {
		return s.ioErr("mark attempt", err)
	}
	if !claimed {
		return domain.Errorf(domain.ECONFLICT, "Outbox entry %d is not claimed by %s.", id, owner)
	}
	return nil
}

// OutboxStats reports the unfinished entries and when the oldest of them (by ID) was enqueued.
func (s *Store) OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return 0, time.Time{}, err
	}
	var at *time.Time
	err = s.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM outbox WHERE state = 0),
		(SELECT at FROM outbox WHERE state = 0 ORDER BY id LIMIT 1)`).Scan(&pending, &at)
	if err != nil {
		return 0, time.Time{}, s.ioErr("outbox stats", err)
	}
	return pending, timeOf(at), nil
}

// PruneOutbox deletes at most limit finished entries enqueued before before, oldest first.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM outbox WHERE id IN (
		SELECT id FROM outbox WHERE state <> 0 AND (at IS NULL OR at < $1) ORDER BY id LIMIT $2)`, before.UTC(), limit)
	if err != nil {
		return 0, s.ioErr("prune outbox", err)
	}
	return int(tag.RowsAffected()), nil
}
