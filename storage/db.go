package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"workbot/domain"
)

// Defaults for Options' zero values.
const (
	DefaultTimeout       = 2 * time.Second
	DefaultMaxBatchDelay = 2 * time.Millisecond
)

// Options tune Open. The zero value is the right choice for the bot.
type Options struct {
	// Timeout bounds the wait for the file lock; 0 means DefaultTimeout. bbolt would otherwise wait
	// forever on a file another process holds.
	Timeout time.Duration
	// ReadOnly opens with a shared lock and refuses writes; used by check, export and backups of a
	// file no process holds. A read-only open never migrates.
	ReadOnly bool
	// MaxBatchDelay is how long Update waits to group concurrent writes into one commit; 0 means
	// DefaultMaxBatchDelay.
	MaxBatchDelay time.Duration
}

// ErrInUse is matched (errors.Is) by the error Open returns when another process holds the file.
var ErrInUse = errors.New("database is in use by another process")

type inUseError struct{ path string }

func (e *inUseError) Error() string {
	return fmt.Sprintf("database %s is in use by another process (is workbot already running?)", e.path)
}

func (e *inUseError) Is(target error) bool { return target == ErrInUse }

// DB is workbot's bbolt file. It implements domain.Store. Safe for concurrent use.
type DB struct {
	bolt *bolt.DB
	path string
	// writers counts Updates in progress. A lone writer commits at once instead of waiting
	// MaxBatchDelay for company that is not coming; only when writers overlap is the batch worth it.
	writers atomic.Int64
	claims  claims
	dict    *dictCache
}

// txn wraps a bbolt transaction of this database.
func (db *DB) txn(btx *bolt.Tx) *txn { return &txn{btx: btx, cache: db.dict} }

var _ domain.Store = (*DB)(nil)

// Open opens or creates the database at path (new files get mode 0600; an existing file keeps its
// mode) and brings its schema up to date, one transaction per migration.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxBatchDelay <= 0 {
		opts.MaxBatchDelay = DefaultMaxBatchDelay
	}
	if opts.ReadOnly {
		// bbolt opens a missing file read-only with a confusing error; say what is wrong.
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	bdb, err := openBolt(path, &bolt.Options{Timeout: opts.Timeout, ReadOnly: opts.ReadOnly})
	if err != nil {
		return nil, err
	}
	bdb.MaxBatchDelay = opts.MaxBatchDelay
	db := &DB{bolt: bdb, path: path, dict: newDictCache()}
	if opts.ReadOnly {
		err = db.requireCurrentSchema()
	} else {
		err = migrate(bdb)
	}
	if err == nil {
		// The first command after start-up should not be the one that learns the dictionary.
		err = bdb.View(db.dict.load)
	}
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return db, nil
}

// openBolt turns bbolt's errors into ones a person can act on. bbolt can panic on a file whose
// first pages are garbage, so the panic is caught and reported as a damaged file.
func openBolt(path string, o *bolt.Options) (bdb *bolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			bdb, err = nil, fmt.Errorf("database %s is not a workbot database or is damaged: %v", path, p)
		}
	}()
	bdb, err = bolt.Open(path, 0o600, o)
	switch {
	case err == nil:
		return bdb, nil
	case errors.Is(err, berrors.ErrTimeout):
		return nil, &inUseError{path: path}
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("database %s is not a workbot database or is damaged: %w", path, err)
	default:
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
}

// Close waits for running transactions and closes the file.
func (db *DB) Close() error { return db.bolt.Close() }

// Path is the file the database was opened from.
func (db *DB) Path() string { return db.path }

// Update runs fn in a write transaction. Concurrent Updates are grouped into one commit (bbolt's
// Batch), which may run fn more than once; domain.Store allows that. An Update with no other in
// progress commits on its own without waiting. fn's error comes back unchanged.
func (db *DB) Update(ctx context.Context, fn func(domain.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	run := func(btx *bolt.Tx) error {
		// A caller that gave up while waiting for the batch must not have its change committed.
		if err := ctx.Err(); err != nil {
			return err
		}
		return CallSafely(func() error { return fn(db.txn(btx)) })
	}
	return db.write(run)
}

// write commits run alone when no other write is in progress and in a batch otherwise.
func (db *DB) write(run func(*bolt.Tx) error) error {
	defer db.writers.Add(-1)
	if db.writers.Add(1) == 1 {
		return db.bolt.Update(run)
	}
	return db.bolt.Batch(run)
}

// View runs fn on a read-only snapshot.
func (db *DB) View(ctx context.Context, fn func(domain.ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(func(btx *bolt.Tx) error {
		return CallSafely(func() error { return fn(db.txn(btx)) })
	})
}

// updateSolo is one bbolt Update per call, for writes that are rare or must not wait for a batch.
func (db *DB) updateSolo(fn func(*txn) error) error {
	return db.bolt.Update(func(btx *bolt.Tx) error {
		return CallSafely(func() error { return fn(db.txn(btx)) })
	})
}

// CallSafely turns a panic in a transaction function into an error, so a bug in one handler rolls
// back its transaction instead of taking the process down (bbolt's Batch would otherwise recover it
// in one mode and not in the other). The PostgreSQL store wraps its transactions in it too.
func CallSafely(fn func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in transaction: %v\n%s", p, debug.Stack())
		}
	}()
	return fn()
}

// Backup writes a consistent copy of the live database to w without stopping writers, and returns the
// number of bytes written.
func (db *DB) Backup(w io.Writer) (int64, error) {
	var n int64
	err := db.bolt.View(func(btx *bolt.Tx) error {
		var err error
		n, err = btx.WriteTo(w)
		return err
	})
	return n, err
}

// BackupFile writes a backup to path atomically: into path+".tmp" (mode 0600), synced, then renamed.
// It refuses to write over the live database.
func (db *DB) BackupFile(path string) error { return db.BackupFileVia(path, nil) }

// BackupFileVia is BackupFile writing through wrap(file), so a caller can count the bytes.
func (db *DB) BackupFileVia(path string, wrap func(io.Writer) io.Writer) error {
	if same, err := sameFile(path, db.path); err != nil {
		return err
	} else if same {
		return fmt.Errorf("backup: %s is the live database; choose another file", path)
	}
	tmp := path + ".tmp"
	if same, err := sameFile(tmp, db.path); err != nil {
		return err
	} else if same {
		return fmt.Errorf("backup: %s is the live database; choose another file", tmp)
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	var w io.Writer = f
	if wrap != nil {
		w = wrap(f)
	}
	_, err = db.Backup(w)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is synced.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// sameFile reports whether a and b name the same existing file; a missing file is not the same.
func sameFile(a, b string) (bool, error) {
	ai, err := os.Stat(a)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("backup: %w", err)
	}
	bi, err := os.Stat(b)
	if err != nil {
		return false, fmt.Errorf("backup: %w", err)
	}
	return os.SameFile(ai, bi), nil
}

// ExportItems visits every item, open and closed, in ID order, in one read transaction.
func (db *DB) ExportItems(fn func(domain.Item) error) error {
	return db.bolt.View(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketItems).ForEach(func(k, v []byte) error {
			r, err := decodeItem(v)
			if err != nil {
				return fmt.Errorf("items/%x: %w", k, err)
			}
			return fn(r.toDomain())
		})
	})
}

// ExportEvents visits every audit event in time order (At, then Seq; Seq order too unless a clock
// went back), in one read transaction.
func (db *DB) ExportEvents(fn func(domain.Event) error) error {
	return db.bolt.View(func(btx *bolt.Tx) error {
		t := db.txn(btx)
		return btx.Bucket(bucketEventLog).ForEach(func(k, v []byte) error {
			e, err := eventFromLog(k, v, t.dictionary())
			if err != nil {
				return err
			}
			return fn(e)
		})
	})
}

// KVTx is implemented by the transaction Update passes to fn, so the bot can commit its own small state
// (message refs, digest slots, dedupe marks) atomically with a domain change:
//
//	kv, ok := tx.(storage.KVTx)
//
// GetKV returns a copy of the value, or nil if there is none.
type KVTx interface {
	GetKV(bucket, key string) []byte
	PutKV(bucket, key string, val []byte) error
}

// KVDeleter is also implemented by the Update transaction.
type KVDeleter interface {
	DeleteKV(bucket, key string) error
}

// GetKV returns a copy of the value stored under bucket/key, or nil if there is none.
func (db *DB) GetKV(bucket, key string) ([]byte, error) {
	var out []byte
	err := db.bolt.View(func(btx *bolt.Tx) error {
		out = (db.txn(btx)).GetKV(bucket, key)
		return nil
	})
	return out, err
}

// PutKV stores val under bucket/key, creating the bucket as needed.
func (db *DB) PutKV(bucket, key string, val []byte) error {
	return db.write(func(btx *bolt.Tx) error { return (db.txn(btx)).PutKV(bucket, key, val) })
}

// DeleteKV removes bucket/key; a missing key or bucket is not an error.
func (db *DB) DeleteKV(bucket, key string) error {
	return db.write(func(btx *bolt.Tx) error { return (db.txn(btx)).DeleteKV(bucket, key) })
}

// ForEachKV visits bucket's keys in byte order with copies of their values; fn returning false stops.
func (db *DB) ForEachKV(bucket string, fn func(key string, val []byte) bool) error {
	return db.bolt.View(func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketKV).Bucket([]byte(bucket))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if !fn(string(k), append([]byte(nil), v...)) {
				return nil
			}
		}
		return nil
	})
}

// ManyFreePages is where FreeSpace's warning starts: with this many free pages each commit spends
// about half a millisecond rewriting their list (2.1 ms at 78k pages, measured on the 1M-item file).
const ManyFreePages = 20_000

// FreeSpace is how many pages of the file are free (kept for reuse) and their bytes. bbolt writes the
// list of free pages on every commit, so a file with hundreds of megabytes free (after a migration,
// a bulk import or the first pruning of a year of state) commits several times slower until the
// space is reused or the file is compacted (CompactFile). A read-only DB reports 0.
func (db *DB) FreeSpace() (pages int, bytes int64) {
	// Pages freed by the latest commits are pending until no reader can see them; the list written at
	// each commit holds both.
	st := db.bolt.Stats()
	n := st.FreePageN + st.PendingPageN
	return n, int64(n) * int64(db.bolt.Info().PageSize)
}

// CompactFile writes a compacted copy of the database to path: every bucket rewritten with full pages
// and none of the free pages that pruning and migrations leave behind, which bbolt reuses but never
// returns to the file system. Like BackupFile it writes path+".tmp" (mode 0600) and renames it, so
// an interrupted run leaves nothing half-written under path. db should be opened read-only on a file
// no bot holds: a copy of a live file would miss what the bot commits meanwhile.
func (db *DB) CompactFile(path string) error {
	for _, p := range []string{path, path + ".tmp"} {
		if same, err := sameFile(p, db.path); err != nil {
			return err
		} else if same {
			return fmt.Errorf("compact: %s is the database itself; choose another file", p)
		}
	}
	tmp := path + ".tmp"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("compact: %w", err)
	}
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: DefaultTimeout})
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	// 64 MiB per transaction keeps the copy's memory bounded on a file of any size.
	err = bolt.Compact(dst, db.bolt, 64<<20)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("compact to %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
