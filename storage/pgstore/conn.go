package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Round trips. A write transaction does not send BEGIN, or its writes, on their own: BEGIN goes out
// with the transaction's first statement, writes (PutItem, AppendEvent, Enqueue, …) wait for the next
// read or for the commit, and COMMIT goes out with the last writes, all as one pipelined batch. A
// create (nextval, then the item, its event and its effects) is two round trips instead of six,
// which is what bounds intake throughput. Reads always see the transaction's earlier writes,
// because pending writes are sent ahead of them. A database error in a deferred write surfaces at
// the next read or at commit, and the transaction fails as it would have.

// dbconn is what a transaction sends statements through: a pgx.Tx for reads, a pooled connection
// (with BEGIN and COMMIT managed here) for writes.
type dbconn interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

const beginWrite = "BEGIN ISOLATION LEVEL READ COMMITTED"

// later queues a write to go out with the next statement or the commit.
func (t *txn) later(sql string, args ...any) {
	if t.pending == nil {
		t.pending = &pgx.Batch{}
	}
	t.pending.Queue(sql, args...)
}

// prefix takes what must precede the next statement: BEGIN, if not sent yet, and pending writes.
func (t *txn) prefix() []*pgx.QueuedQuery {
	var out []*pgx.QueuedQuery
	if t.write && !t.begun {
		t.begun = true
		b := &pgx.Batch{}
		b.Queue(beginWrite)
		out = append(out, b.QueuedQueries...)
	}
	if t.pending != nil {
		out = append(out, t.pending.QueuedQueries...)
		t.pending = nil
	}
	return out
}

// batchRows closes its batch with its rows.
type batchRows struct {
	pgx.Rows
	br pgx.BatchResults
}

func (r batchRows) Close() {
	r.Rows.Close()
	_ = r.br.Close()
}

// query runs one query after whatever must precede it.
func (t *txn) query(op, sql string, args ...any) (pgx.Rows, error) {
	pre := t.prefix()
	if len(pre) == 0 {
		rows, err := t.db.Query(t.ctx, sql, args...)
		if err != nil {
			return nil, t.fail(op, err)
		}
		return rows, nil
	}
	b := &pgx.Batch{QueuedQueries: pre}
	b.Queue(sql, args...)
	br := t.db.SendBatch(t.ctx, b)
	for range pre {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return nil, t.fail(op, err)
		}
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, t.fail(op, err)
	}
	return batchRows{Rows: rows, br: br}, nil
}

// exec runs one statement after whatever must precede it.
func (t *txn) exec(op, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	err := t.runBatch(op, b, 0, func(br pgx.BatchResults) error {
		var err error
		tag, err = br.Exec()
		return t.fail(op, err)
	})
	return tag, err
}

// runBatch sends whatever must precede b, then b. The first skip statements of b are only checked;
// read, if set, reads the results after them (it must consume every remaining result it wants
// checked); without read, every statement is checked.
func (t *txn) runBatch(op string, b *pgx.Batch, skip int, read func(pgx.BatchResults) error) error {
	pre := t.prefix()
	all := &pgx.Batch{QueuedQueries: append(pre, b.QueuedQueries...)}
	if read == nil {
		skip = len(b.QueuedQueries)
	}
	br := t.db.SendBatch(t.ctx, all)
	for i := 0; i < len(pre)+skip; i++ {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return t.fail(op, err)
		}
	}
	var err error
	if read != nil {
		err = read(br)
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = t.fail(op, cerr)
	}
	return err
}

// commit sends the pending writes and COMMIT together. A transaction that never sent anything has
// nothing to commit.
func (t *txn) commit() error {
	if !t.begun && t.pending == nil {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue("COMMIT")
	return t.runBatch("commit", b, 0, nil)
}

// rollback ends a transaction that was begun. If it fails, the connection is left inside a
// transaction and the pool discards it rather than hand it out again.
func (t *txn) rollback() {
	if t.begun {
		_, _ = t.db.Exec(context.WithoutCancel(t.ctx), "ROLLBACK")
	}
}
