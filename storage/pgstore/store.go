package pgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"workbot/domain"
	"workbot/storage"
)

// Options tune Open. The zero value is the right choice for the bot.
type Options struct {
	// ReadOnly refuses to migrate: check and export use it, so they never change a database that a
	// newer or older workbot may be running on. Writes are not otherwise prevented.
	ReadOnly bool
	// MaxConns bounds the pool; 0 means the URL's pool_max_conns, or DefaultMaxConns.
	MaxConns int32
	// MaxRetries bounds how often Update runs fn again after a serialization failure or a deadlock;
	// 0 means DefaultMaxRetries.
	MaxRetries int
}

// DefaultMaxConns is the pool size when neither Options nor the URL set one. Mind the server's
// max_connections when running several replicas.
const DefaultMaxConns = 16

// DefaultMaxRetries is enough for a burst of writers on one item: row locks queue them, so retries
// only follow deadlocks, which are rare and resolved at once.
const DefaultMaxRetries = 10

// Store is workbot's PostgreSQL database. It implements the same ports as *storage.DB. Safe for
// concurrent use by any number of goroutines and processes.
type Store struct {
	pool *pgxpool.Pool
	// schema is current_schema() at Open. Advisory lock keys are derived from it, so installations
	// (and tests) in different schemas of one database never wait for each other.
	schema     string
	safeURL    string
	maxRetries int

	leadMu   sync.Mutex
	leadConn *pgx.Conn
	leadStop context.CancelFunc
	leadDone chan struct{}

	pruneMu   sync.Mutex
	lastPrune time.Time
}

// IsURL reports whether s names a PostgreSQL database rather than a bbolt file.
func IsURL(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Redact returns the URL with any password replaced, for logs and messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Open connects to the database at url, brings its schema up to date (unless opts.ReadOnly) and
// refuses a schema newer than this binary.
func Open(ctx context.Context, rawURL string, opts Options) (*Store, error) {
	safe := Redact(rawURL)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// pgx's parse errors can quote the URL, password included.
		return nil, fmt.Errorf("database %s: the URL does not parse", safe)
	}
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(rawURL, "pool_max_conns"):
		// pgxpool's default (4 on this size of machine) starves concurrent writers: creates from 64
		// writers ran about 20% faster with 16 (docs/benchmarks.md). ?pool_max_conns=N overrides.
		cfg.MaxConns = DefaultMaxConns
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "workbot"
	}
	// Every read and write uses UTC, so times come back as they were written and date columns are
	// never shifted by a session time zone.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	// pgx prepares every statement, and after five runs PostgreSQL may switch to a generic plan that
	// ignores the actual keyset and page size: the paged open-item scan at 100k open items took three
	// times as long once it did. Planning each run costs far less.
	cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	// A writer cut off from the server mid-transaction (a network partition, a frozen host) leaves
	// its session idle in that transaction with its locks held, and nothing tells the server: other
	// replicas would wait on them for hours, and every replica's outbox on the claims lock. The
	// server ends such a session instead. check and export (ReadOnly) are left alone: they take no
	// locks, and export streams to a consumer that may be slow.
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok && !opts.ReadOnly {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.Itoa(int(idleInTransactionTimeout.Milliseconds()))
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", safe, err)
	}
	s := &Store{pool: pool, safeURL: safe, maxRetries: opts.MaxRetries}
	if s.maxRetries <= 0 {
		s.maxRetries = DefaultMaxRetries
	}
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&s.schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", safe, err)
	}
	if opts.ReadOnly {
		err = s.requireCurrentSchema(ctx)
	} else {
		err = s.migrate(ctx)
	}
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s: %w", safe, err)
	}
	return s, nil
}

// Close releases leadership and closes every connection.
func (s *Store) Close() error {
	s.leadMu.Lock()
	stop, done := s.leadStop, s.leadDone
	s.leadMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	s.pool.Close()
	return nil
}

// String names the database without its password.
func (s *Store) String() string { return s.safeURL }

// Pool is the connection pool, for tests and operator tools that need plain SQL.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// lockKey maps a name to an advisory lock key in this store's schema. FNV-1a is fixed here, not
// PostgreSQL's hashtext, so every replica of every version computes the same key.
func (s *Store) lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s.schema))
	h.Write([]byte{0})
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// Update runs fn in a READ COMMITTED write transaction. Reads of items, handoffs, people and bot
// state in it lock what they read (see txn), so operations on one record are serialised by the
// database. On a serialization failure or a deadlock the whole transaction is rolled back and fn
// runs again, after a short random backoff, at most MaxRetries times. fn's own error comes back
// unchanged.
func (s *Store) Update(ctx context.Context, fn func(domain.Tx) error) error {
	return s.write(ctx, func(t *txn) error { return fn(t) })
}

// View runs fn in a REPEATABLE READ, READ ONLY transaction: one snapshot for everything fn reads.
func (s *Store) View(ctx context.Context, fn func(domain.ReadTx) error) error {
	return s.read(ctx, func(t *txn) error { return fn(t) })
}

func (s *Store) read(ctx context.Context, fn func(*txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.ioErr("begin", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	t := &txn{s: s, ctx: ctx, db: tx}
	return storage.CallSafely(func() error { return fn(t) })
}

// write runs fn in a write transaction with retries. A commit whose outcome is unknown (the
// connection broke during it) is not retried: the change may be in, and running fn again would do it
// twice.
func (s *Store) write(ctx context.Context, fn func(*txn) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.writeOnce(ctx, fn)
		if !retryable(err) || attempt >= s.maxRetries {
			return err
		}
		// Random backoff, growing: two transactions that deadlocked must not collide again at once.
		d := time.Duration(1+rand.IntN(4<<min(attempt, 6))) * time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// retryable reports a failure that rolling back and running the transaction again can cure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// A second item for one source message, committed by a concurrent transaction after this one
		// looked: run again, and the domain finds the first.
		return pe.Code == "40001" || pe.Code == "40P01" || (pe.Code == "23505" && pe.ConstraintName == "items_by_source")
	}
	var re *retryError
	return errors.As(err, &re)
}

// retryError marks a transaction that failed with a retryable database error which fn swallowed or
// replaced: the transaction is aborted either way, so it must run again.
type retryError struct{ cause error }

func (e *retryError) Error() string { return "transaction must be retried: " + e.cause.Error() }
func (e *retryError) Unwrap() error { return e.cause }

func (s *Store) writeOnce(ctx context.Context, fn func(*txn) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.ioErr("connect", err)
	}
	// A connection still inside a transaction (a failed rollback) is discarded by the pool.
	defer conn.Release()
	t := &txn{s: s, ctx: ctx, db: conn, write: true}
	err = storage.CallSafely(func() error { return fn(t) })
	if err != nil {
		t.rollback()
		if t.dbErr != nil && retryable(t.dbErr) && !retryable(err) {
			return &retryError{cause: t.dbErr}
		}
		return err
	}
	// A caller that gave up must not have its change committed.
	if err := ctx.Err(); err != nil {
		t.rollback()
		return err
	}
	if err := t.commit(); err != nil {
		t.rollback()
		var pe *pgconn.PgError
		switch {
		case retryable(t.dbErr):
			return &retryError{cause: t.dbErr}
		case errors.As(t.dbErr, &pe):
			// The server refused a deferred write or the commit: nothing was committed.
			return err
		default:
			// The connection broke during the commit: the change may be in. Not retried.
			return s.ioErr("commit (outcome unknown)", t.dbErr)
		}
	}
	return nil
}

// ioErr wraps a database failure that is not the caller's doing. Data errors (a value PostgreSQL
// refuses) become EINVALID, as the bbolt store refuses what it cannot store.
func (s *Store) ioErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "40001" || pe.Code == "40P01":
			return err
		case strings.HasPrefix(pe.Code, "22") || pe.Code == "23514" || pe.Code == "23502":
			return domain.Errorf(domain.EINVALID, "The database refused a value (%s).", pe.Message)
		}
	}
	return fmt.Errorf("database %s: %s: %w", s.safeURL, op, err)
}
