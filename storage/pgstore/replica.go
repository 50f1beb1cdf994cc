package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// What several replicas of the bot need from the database beyond the stores' common ports.

// SeenEvent atomically records a Slack event_id and reports whether it was already recorded within
// window before now: the first replica to see a redelivered event handles it, the others drop it.
// Records older than the window count as new and are pruned now and then.
func (s *Store) SeenEvent(ctx context.Context, id string, now time.Time, window time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	rows, err := s.pool.Query(ctx, `INSERT INTO seen_events (event_id, seen_at) VALUES ($1, $2)
		ON CONFLICT (event_id) DO UPDATE SET seen_at = EXCLUDED.seen_at
		WHERE seen_events.seen_at <= $3
		RETURNING 1`, id, now.UTC(), now.Add(-window).UTC())
	if err != nil {
		return false, s.ioErr("record event", err)
	}
	fresh := rows.Next()
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, s.ioErr("record event", err)
	}
	s.pruneSeen(ctx, now.Add(-window))
	return !fresh, nil
}

// seenPruneEvery spaces out pruning: expired rows do no harm, they only take room.
const seenPruneEvery = time.Minute

func (s *Store) pruneSeen(ctx context.Context, before time.Time) {
	s.pruneMu.Lock()
	due := time.Since(s.lastPrune) >= seenPruneEvery
	if due {
		s.lastPrune = time.Now()
	}
	s.pruneMu.Unlock()
	if !due {
		return
	}
	// A failed prune is retried a minute later; the event itself was recorded.
	_, _ = s.pool.Exec(ctx, `DELETE FROM seen_events WHERE event_id IN (
		SELECT event_id FROM seen_events WHERE seen_at < $1 LIMIT 10000)`, before.UTC())
}

// Ping checks that the database is reachable and accepts writes (a standby or a full disk does not),
// for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO ping (id, at) VALUES (1, clock_timestamp())
		ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at`)
	return s.ioErr("ping", err)
}

// Leadership timing. A leader checks its lock every LeaderCheck and gives up when a check fails or
// takes longer than LeaderCheckTimeout; a waiting replica tries every LeaderRetry. The server ends
// a leader's session after leaderIdleTimeout without a check (a frozen or cut-off leader), which
// frees the lock. Together: a replica takes over within about leaderIdleTimeout+LeaderRetry of a
// leader vanishing silently, and within LeaderRetry of its connection being closed.
var (
	LeaderCheck        = time.Second
	LeaderCheckTimeout = 2 * time.Second
	LeaderRetry        = 2 * time.Second
)

const leaderIdleTimeout = "10s"

// leaderClass is the first key of the two-key advisory lock form, whose key space PostgreSQL keeps
// apart from the single-key form used for the other locks: no lock name can collide with it.
const leaderClass int32 = 0x776b6274 // "wkbt"

func (s *Store) leaderKey() int32 {
	h := fnv.New32a()
	h.Write([]byte(s.schema))
	return int32(h.Sum32())
}

// ErrAlreadyLeading is returned by Lead while this store already leads.
var ErrAlreadyLeading = errors.New("this process already holds the leadership")

// Lead blocks until this process holds the leader lock, a session-level advisory lock on a
// connection of its own, then returns a context that is cancelled as soon as leadership is lost:
// the connection died, a check failed or ctx ended. It returns ctx's error if ctx ends first.
func (s *Store) Lead(ctx context.Context) (context.Context, error) {
	s.leadMu.Lock()
	busy := s.leadConn != nil
	s.leadMu.Unlock()
	if busy {
		return nil, ErrAlreadyLeading
	}
	for {
		conn, err := s.tryLead(ctx)
		if err == nil && conn != nil {
			lctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			s.leadMu.Lock()
			s.leadConn, s.leadStop, s.leadDone = conn, cancel, done
			s.leadMu.Unlock()
			go s.holdLead(lctx, cancel, conn, done)
			return lctx, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(LeaderRetry):
		}
	}
}

// tryLead opens a dedicated connection and tries the lock once: nil, nil means someone else leads.
func (s *Store) tryLead(ctx context.Context) (*pgx.Conn, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	cctx, cancel := context.WithTimeout(ctx, LeaderCheckTimeout+3*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, err
	}
	// PostgreSQL 14 and later: the server itself ends the session when the checks stop. Older
	// servers refuse the setting and rely on TCP timeouts.
	_, _ = conn.Exec(cctx, "SET idle_session_timeout = '"+leaderIdleTimeout+"'")
	var got bool
	if err := conn.QueryRow(cctx, "SELECT pg_try_advisory_lock($1, $2)", leaderClass, s.leaderKey()).Scan(&got); err != nil || !got {
		_ = conn.Close(context.Background())
		return nil, err
	}
	return conn, nil
}

// holdLead checks the lock until a check fails or ctx ends, then cancels and closes the connection,
// which releases the lock if the server still has it.
func (s *Store) holdLead(ctx context.Context, cancel context.CancelFunc, conn *pgx.Conn, done chan struct{}) {
	defer func() {
		cancel()
		_ = conn.Close(context.Background())
		s.leadMu.Lock()
		if s.leadConn == conn {
			s.leadConn, s.leadStop, s.leadDone = nil, nil, nil
		}
		s.leadMu.Unlock()
		close(done)
	}()
	tick := time.NewTicker(LeaderCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.checkLead(ctx, conn); err != nil {
			return
		}
	}
}

func (s *Store) checkLead(ctx context.Context, conn *pgx.Conn) error {
	cctx, cancel := context.WithTimeout(ctx, LeaderCheckTimeout)
	defer cancel()
	var held bool
	err := conn.QueryRow(cctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
		AND pid = pg_backend_pid() AND classid = $1::bigint::oid AND objid = $2::bigint::oid AND objsubid = 2 AND granted)`,
		int64(uint32(leaderClass)), int64(uint32(s.leaderKey()))).Scan(&held)
	if err != nil {
		return err
	}
	if !held {
		return fmt.Errorf("the leader lock is no longer held")
	}
	return nil
}

// leaderPID is the server process of the leader connection, for tests; 0 when not leading.
func (s *Store) leaderPID() uint32 {
	s.leadMu.Lock()
	defer s.leadMu.Unlock()
	if s.leadConn == nil {
		return 0
	}
	return s.leadConn.PgConn().PID()
}

// idleInTransactionTimeout ends a writer's session that sits inside a transaction without a statement
// for that long, and with it every lock the transaction held.
const idleInTransactionTimeout = 10 * time.Second
