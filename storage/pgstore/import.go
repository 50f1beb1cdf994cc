package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"workbot/domain"
	"workbot/storage"
	"workbot/storage/textindex"
)

// Source is a whole store to copy from: *storage.DB, or another *Store.
type Source interface {
	ExportItems(fn func(domain.Item) error) error
	ExportHandoffs(fn func(domain.Handoff) error) error
	ExportPeople(fn func(domain.Person) error) error
	ExportEvents(fn func(domain.Event) error) error
	ExportState(fn func(bucket, key string, val []byte) error) error
	ExportOutbox(fn func(domain.OutboxEntry) error) error
	Sequences() (storage.Sequences, error)
}

var _ Source = (*storage.DB)(nil)
var _ Source = (*Store)(nil)

// ErrNotEmpty is returned by Import when the target holds data and force was not given.
var ErrNotEmpty = fmt.Errorf("the target database is not empty")

// ImportOptions tune Import.
type ImportOptions struct {
	// Force replaces whatever the target holds.
	Force bool
	// Progress, when set, is called after each batch with the table and the rows copied to it so far.
	Progress func(table string, rows int64)
}

// importBatch is how many rows one COPY carries.
const importBatch = 5000

// Import copies everything src holds into this database, keeping every ID, Seq and sequence, in
// one transaction: a failure leaves the target as it was. A target that holds data is refused unless
// opts.Force, which empties it in the same transaction. Claims are not copied: a copy starts with
// nothing in flight.
func (s *Store) Import(ctx context.Context, src Source, opts ImportOptions) error {
	seqs, err := src.Sequences()
	if err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return s.ioErr("begin import", err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	// No replica may write while the target is replaced under it.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+quoteTables()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return s.ioErr("lock tables", err)
	}
	var held int64
	for _, table := range Tables {
		var n int64
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT 1 FROM "+table+" LIMIT 1) t").Scan(&n); err != nil {
			return s.ioErr("count "+table, err)
		}
		held += n
	}
	if held > 0 {
		if !opts.Force {
			return ErrNotEmpty
		}
		if _, err := tx.Exec(ctx, "TRUNCATE "+quoteTables()+", seen_events, text_docs, text_postings"); err != nil {
			return s.ioErr("empty the target", err)
		}
	}
	c := &copier{ctx: ctx, tx: tx, progress: opts.Progress}
	steps := []func() error{
		func() error {
			return c.copy("items", itemCopyColumns, func(add func([]any) error) error {
				return src.ExportItems(func(it domain.Item) error { return add(itemArgs(it)) })
			})
		},
		func() error {
			// The text index is derived: rebuilt from the open items just copied, not read from the
			// source again (the verification hashes every record the source hands out).
			return c.rebuildTextIndex()
		},
		func() error {
			return c.copy("handoffs", handoffCopyColumns, func(add func([]any) error) error {
				return src.ExportHandoffs(func(h domain.Handoff) error { return add(handoffArgs(h)) })
			})
		},
		func() error {
			return c.copy("people", personCopyColumns, func(add func([]any) error) error {
				return src.ExportPeople(func(p domain.Person) error { return add(personArgs(p)) })
			})
		},
		func() error {
			return c.copy("events", eventCopyColumns, func(add func([]any) error) error {
				return src.ExportEvents(func(e domain.Event) error {
					changes, err := changesArg(e.Changes)
					if err != nil {
						return err
					}
					return add([]any{int64(e.Seq), timeArg(e.At), string(e.Actor), string(e.Type), int64(e.ItemID),
						string(e.Subject), int64(e.Handoff), changes, e.Note})
				})
			})
		},
		func() error {
			return c.copy("bot_state", []string{"bucket", "key", "value"}, func(add func([]any) error) error {
				return src.ExportState(func(bucket, key string, val []byte) error {
					if val == nil {
						val = []byte{}
					}
					return add([]any{bucket, key, val})
				})
			})
		},
		func() error {
			return c.copy("outbox", outboxCopyColumns, func(add func([]any) error) error {
				return src.ExportOutbox(func(e domain.OutboxEntry) error {
					payload := e.Payload
					if payload == nil {
						payload = []byte{}
					}
					return add([]any{int64(e.ID), e.Kind, e.Key, e.Channel, timeArg(e.At), payload, int16(e.State),
						timeArg(e.AttemptedAt), e.Attempts, e.Result.Channel, e.Result.TS, e.Result.Error, timeArg(e.Result.At)})
				})
			})
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return s.ioErr("import", err)
		}
	}
	// Each sequence continues after the source's, or after the highest ID copied if that is higher.
	for _, sq := range []struct {
		name, table, col string
		last             uint64
	}{
		{"item_ids", "items", "id", seqs.Items}, {"handoff_ids", "handoffs", "id", seqs.Handoffs},
		{"event_seq", "events", "seq", seqs.Events}, {"outbox_ids", "outbox", "id", seqs.Outbox},
	} {
		q := fmt.Sprintf("SELECT setval('%s', greatest($1::bigint, (SELECT coalesce(max(%s), 0) FROM %s), 1), greatest($1::bigint, (SELECT coalesce(max(%s), 0) FROM %s)) > 0)",
			sq.name, sq.col, sq.table, sq.col, sq.table)
		if _, err := tx.Exec(ctx, q, int64(sq.last)); err != nil {
			return s.ioErr("set "+sq.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return s.ioErr("commit import", err)
	}
	return nil
}

func quoteTables() string {
	out := ""
	for i, t := range Tables {
		if i > 0 {
			out += ", "
		}
		out += t
	}
	return out
}

var (
	itemCopyColumns = []string{"id", "key", "title", "details", "kind", "requester", "team", "value", "urgency",
		"size", "due", "stage", "assignee", "blocked_reason", "blocked_at", "depends_on", "depends_since", "pin",
		"triaged", "resolution", "duplicate_of", "pending_handoff", "nudged_at", "snoozed_until", "created_at",
		"stage_entered_at", "last_activity_at", "done_at", "updated_at", "version", "rec", "source_key"}
	handoffCopyColumns = []string{"id", "item_id", "from_user", "to_user", "to_team", "note_done", "note_next",
		"note_links", "next_stage", "status", "requested_by", "requested_at", "approved_by", "approved_at",
		"decided_by", "decided_at", "reason", "escalated_at"}
	personCopyColumns = []string{"id", "team", "capacity", "capacity_set", "away_until", "nudges_off",
		"personal_digest_off", "updated_at"}
	eventCopyColumns  = []string{"seq", "at", "actor", "type", "item_id", "subject", "handoff_id", "changes", "note"}
	outboxCopyColumns = []string{"id", "kind", "lane_key", "channel", "at", "payload", "state", "attempted_at",
		"attempts", "result_channel", "result_ts", "result_error", "result_at"}
)

// rebuildTextIndex fills the text tables from the open items in the import transaction.
func (c *copier) rebuildTextIndex() error {
	rows, err := c.tx.Query(c.ctx, "SELECT rec FROM items WHERE resolution = '' ORDER BY id")
	if err != nil {
		return fmt.Errorf("text index: %w", err)
	}
	var docs, postings [][]any
	for rows.Next() {
		var rec []byte
		if err := rows.Scan(&rec); err != nil {
			rows.Close()
			return fmt.Errorf("text index: %w", err)
		}
		it, err := storage.DecodeItem(rec)
		if err != nil {
			rows.Close()
			return fmt.Errorf("text index: item: %w", err)
		}
		d := textindex.Analyze(it.Title, it.Details)
		docs = append(docs, []any{int64(it.ID), textFingerprint(it.Title, it.Details), int32(d.Len), textindex.AnalyzerVersion})
		for _, tf := range d.Terms {
			postings = append(postings, []any{tf.Term, int64(it.ID), int32(tf.TF), int32(d.Len)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("text index: %w", err)
	}
	if _, err := c.tx.CopyFrom(c.ctx, pgx.Identifier{"text_docs"}, []string{"item_id", "fingerprint", "len", "analyzer"}, pgx.CopyFromRows(docs)); err != nil {
		return fmt.Errorf("text_docs: %w", err)
	}
	if _, err := c.tx.CopyFrom(c.ctx, pgx.Identifier{"text_postings"}, []string{"term", "item_id", "tf", "len"}, pgx.CopyFromRows(postings)); err != nil {
		return fmt.Errorf("text_postings: %w", err)
	}
	return nil
}

// copier sends rows with COPY in batches inside the import transaction.
type copier struct {
	ctx      context.Context
	tx       pgx.Tx
	progress func(string, int64)
}

func (c *copier) copy(table string, cols []string, produce func(add func([]any) error) error) error {
	var rows [][]any
	var total int64
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		n, err := c.tx.CopyFrom(c.ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		if err != nil {
			return fmt.Errorf("%s: %w", table, err)
		}
		total += n
		rows = rows[:0]
		if c.progress != nil {
			c.progress(table, total)
		}
		return nil
	}
	err := produce(func(r []any) error {
		rows = append(rows, r)
		if len(rows) >= importBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if c.progress != nil && total == 0 {
		c.progress(table, 0)
	}
	return nil
}

// Sequences reports the last number each sequence handed out (0 for none).
func (s *Store) Sequences() (storage.Sequences, error) {
	var out storage.Sequences
	for _, sq := range []struct {
		name string
		dst  *uint64
	}{{"item_ids", &out.Items}, {"handoff_ids", &out.Handoffs}, {"event_seq", &out.Events}, {"outbox_ids", &out.Outbox}} {
		var last int64
		var called bool
		if err := s.pool.QueryRow(context.Background(), "SELECT last_value, is_called FROM "+sq.name).Scan(&last, &called); err != nil {
			return out, s.ioErr("read "+sq.name, err)
		}
		if called {
			*sq.dst = uint64(last)
		}
	}
	return out, nil
}

// ExportHandoffs visits every handoff in ID order, on one snapshot.
func (s *Store) ExportHandoffs(fn func(domain.Handoff) error) error {
	return s.exportRows("SELECT "+handoffColumns+" FROM handoffs ORDER BY id", func(rows pgx.Rows) error {
		h, err := scanHandoff(rows)
		if err != nil {
			return err
		}
		return fn(h)
	})
}

// ExportPeople visits every person in ID order.
func (s *Store) ExportPeople(fn func(domain.Person) error) error {
	return s.exportRows("SELECT "+personColumns+" FROM people ORDER BY id", func(rows pgx.Rows) error {
		p, err := scanPerson(rows)
		if err != nil {
			return err
		}
		return fn(p)
	})
}

// ExportState visits the bot's state in (bucket, key) byte order.
func (s *Store) ExportState(fn func(bucket, key string, val []byte) error) error {
	return s.exportRows("SELECT bucket, key, value FROM bot_state ORDER BY bucket, key", func(rows pgx.Rows) error {
		var b, k string
		var v []byte
		if err := rows.Scan(&b, &k, &v); err != nil {
			return err
		}
		if v == nil {
			v = []byte{}
		}
		return fn(b, k, v)
	})
}

// ExportOutbox visits every outbox entry in ID order.
func (s *Store) ExportOutbox(fn func(domain.OutboxEntry) error) error {
	return s.exportRows("SELECT "+outboxColumns+" FROM outbox ORDER BY id", func(rows pgx.Rows) error {
		e, err := scanOutbox(rows)
		if err != nil {
			return err
		}
		return fn(e)
	})
}

// exportRows streams one query on a snapshot. These tables are small next to items and events, so
// one query suffices.
func (s *Store) exportRows(q string, fn func(pgx.Rows) error) error {
	return s.exportRead(func(t *txn) error {
		rows, err := t.query("export", q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := fn(rows); err != nil {
				return err
			}
		}
		return t.fail("export", rows.Err())
	})
}
