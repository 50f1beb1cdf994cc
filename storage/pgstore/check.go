package pgstore

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"

	"workbot/domain"
	"workbot/storage"
)

// Check reports what is wrong with the database, as storage.Check does for a file: a schema version
// other than this binary's, invalid indexes, rows that break the domain's invariants, sequences
// behind their tables, and outbox rows out of step. It returns nil for a healthy database, a
// *storage.CheckError listing the problems, or an error when the check itself failed.
//
// Column constraints need no walk: PostgreSQL refuses a row that breaks them. What is checked is
// what the schema cannot say.
func (s *Store) Check(ctx context.Context) error { return s.CheckProgress(ctx, nil) }

// CheckProgress is Check, calling progress after each of its steps.
func (s *Store) CheckProgress(ctx context.Context, progress func(done, total int)) error {
	var p []string
	truncated := false
	add := func(format string, args ...any) {
		if len(p) >= maxProblems {
			truncated = true
			return
		}
		p = append(p, fmt.Sprintf(format, args...))
	}
	v, err := s.dbVersion(ctx)
	if err != nil {
		return fmt.Errorf("check %s: %w", s.safeURL, err)
	}
	if v != SchemaVersion {
		add("schema version is %d, want %d", v, SchemaVersion)
		return &storage.CheckError{Path: s.safeURL, Problems: p}
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("check %s: %w", s.safeURL, err)
	}
	defer func() { _ = tx.Rollback(context.Background()) }()
	for i, c := range checks {
		if progress != nil {
			progress(i, len(checks)+1)
		}
		rows, err := tx.Query(ctx, c.query)
		if err != nil {
			return fmt.Errorf("check %s: %s: %w", s.safeURL, c.name, err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return fmt.Errorf("check %s: %s: %w", s.safeURL, c.name, err)
			}
			add(c.format, vals...)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("check %s: %s: %w", s.safeURL, c.name, err)
		}
	}
	if progress != nil {
		progress(len(checks), len(checks)+1)
	}
	if err := checkRecords(ctx, tx, add); err != nil {
		return fmt.Errorf("check %s: %w", s.safeURL, err)
	}
	if progress != nil {
		progress(len(checks)+1, len(checks)+1)
	}
	if len(p) == 0 {
		return nil
	}
	return &storage.CheckError{Path: s.safeURL, Problems: p, Truncated: truncated}
}

// CheckConsistency is Check without a context, the name the bbolt store and the contract suite use.
func (s *Store) CheckConsistency() error { return s.Check(context.Background()) }

const maxProblems = 50

// checks are queries whose every row is a problem, formatted with the row's columns.
var checks = []struct{ name, query, format string }{
	{"indexes", `SELECT c.relname::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND NOT (i.indisvalid AND i.indisready)`,
		"index %s is invalid (a failed CREATE INDEX CONCURRENTLY?); rebuild it with REINDEX"},
	{"item keys", `SELECT id, key FROM items WHERE key <> '' AND key NOT LIKE '%-' || id::text LIMIT 50`,
		"items/%d has key %q, which does not end in its ID"},
	{"item dependencies", `SELECT id FROM items WHERE 0 = ANY(depends_on) OR array_ndims(depends_on) > 1 LIMIT 50`,
		"items/%d depends on item 0"},
	{"event changes", `SELECT seq FROM events WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(changes) c
		WHERE jsonb_typeof(c) <> 'object' OR jsonb_typeof(c->'field') IS DISTINCT FROM 'string'
		OR jsonb_typeof(c->'before') IS DISTINCT FROM 'string' OR jsonb_typeof(c->'after') IS DISTINCT FROM 'string') LIMIT 50`,
		"events/%d has malformed changes"},
	{"item sequence", `SELECT s.last_value, m.max FROM item_ids s, (SELECT max(id) AS max FROM items) m
		WHERE m.max > s.last_value OR (NOT s.is_called AND m.max >= s.last_value)`,
		"item sequence %d is below the highest item ID %d"},
	{"handoff sequence", `SELECT s.last_value, m.max FROM handoff_ids s, (SELECT max(id) AS max FROM handoffs) m
		WHERE m.max > s.last_value OR (NOT s.is_called AND m.max >= s.last_value)`,
		"handoff sequence %d is below the highest handoff ID %d"},
	{"event sequence", `SELECT s.last_value, m.max FROM event_seq s, (SELECT max(seq) AS max FROM events) m
		WHERE m.max > s.last_value OR (NOT s.is_called AND m.max >= s.last_value)`,
		"event sequence %d is below the highest event Seq %d"},
	{"outbox sequence", `SELECT s.last_value, m.max FROM outbox_ids s, (SELECT max(id) AS max FROM outbox) m
		WHERE m.max > s.last_value OR (NOT s.is_called AND m.max >= s.last_value)`,
		"outbox sequence %d is below the highest entry %d"},
	{"outbox results", `SELECT id FROM outbox WHERE state = 0 AND (result_channel <> '' OR result_ts <> '' OR result_error <> '' OR result_at IS NOT NULL) LIMIT 50`,
		"outbox/%d is unfinished but has a result"},
	{"outbox claims", `SELECT id, claimed_by FROM outbox WHERE claimed_by IS NOT NULL AND claimed_until > clock_timestamp() + interval '1 day' LIMIT 50`,
		"outbox/%d is claimed by %q for more than a day"},
}

// ExportItems visits every item, open and closed, in ID order, on one snapshot.
func (s *Store) ExportItems(fn func(domain.Item) error) error {
	return s.exportRead(func(t *txn) error {
		var ferr error
		err := t.pagedItems("true", nil, false, func(it domain.Item) bool {
			ferr = fn(it)
			return ferr == nil
		})
		if ferr != nil {
			return ferr
		}
		return err
	})
}

// ExportEvents visits every audit event in time order (At, then Seq), as the bbolt store keeps its
// log, on one snapshot: both stores export the same sequence, which migrate's checksums compare.
func (s *Store) ExportEvents(fn func(domain.Event) error) error {
	return s.exportRead(func(t *txn) error {
		var ferr error
		err := t.EventsBetween(time.Time{}, time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), func(e domain.Event) bool {
			ferr = fn(e)
			return ferr == nil
		})
		if ferr != nil {
			return ferr
		}
		return err
	})
}

// exportRead is a read transaction that does not collect prefetch hints (an export reads events, not
// their items).
func (s *Store) exportRead(fn func(*txn) error) error {
	return s.read(context.Background(), func(t *txn) error {
		t.hinted = true
		return fn(t)
	})
}

// Counts reports how many rows each table holds, for progress and verification.
func (s *Store) Counts(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, table := range Tables {
		var n int64
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			return nil, s.ioErr("count "+table, err)
		}
		out[table] = n
	}
	return out, nil
}

// Tables are the tables that hold workbot's data (not bookkeeping), in the order an import fills them.
var Tables = []string{"items", "handoffs", "people", "events", "bot_state", "outbox"}

// IsCheckError reports whether err lists problems found (rather than a failure to check).
func IsCheckError(err error) bool { return storage.IsCheckError(err) }

// checkRecords compares every item's rec with its columns (to the microsecond, the columns'
// precision): reads use rec, SQL and indexes use the columns, and they must tell the same story.
func checkRecords(ctx context.Context, tx pgx.Tx, add func(string, ...any)) error {
	rows, err := tx.Query(ctx, "SELECT "+itemColumns+", rec, source_key FROM items ORDER BY id")
	if err != nil {
		return err
	}
	defer rows.Close()
	bad := 0
	for rows.Next() {
		var rec []byte
		var source *string
		cols, err := scanItemColumns(rows, &rec, &source)
		if err != nil {
			return err
		}
		it, err := storage.DecodeItem(rec)
		if err == nil {
			// Followers live only in rec; the source has a column of its own, its key.
			cols.Followers = it.Followers
			if key := sourceArg(it); (key == nil) != (source == nil) || (source != nil && key.(string) != *source) {
				add("items/%d: source_key differs from the record's source", cols.ID)
				bad++
			}
			cols.Source = it.Source
		}
		switch {
		case err != nil:
			add("items/%d: rec does not decode: %v", cols.ID, err)
			bad++
		case !reflect.DeepEqual(microseconds(it), microseconds(cols)):
			add("items/%d: rec differs from the columns", cols.ID)
			bad++
		}
		if bad >= maxProblems {
			break
		}
	}
	return rows.Err()
}

// microseconds is an item with its times cut to PostgreSQL's precision, in UTC.
func microseconds(it domain.Item) domain.Item {
	for _, p := range []*time.Time{&it.BlockedAt, &it.DependsSince, &it.NudgedAt, &it.SnoozedUntil, &it.CreatedAt,
		&it.StageEnteredAt, &it.LastActivityAt, &it.DoneAt, &it.UpdatedAt} {
		if !p.IsZero() {
			*p = p.UTC().Truncate(time.Microsecond)
		}
	}
	if len(it.DependsOn) == 0 {
		it.DependsOn = nil
	}
	return it
}
