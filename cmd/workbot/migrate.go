package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"os/signal"
	"syscall"
	"time"

	"workbot/domain"
	"workbot/storage"
	"workbot/storage/pgstore"
)

// migrate copies a bbolt file into PostgreSQL and proves the copy: the same number of rows in every
// table, and the same checksum of every table's records, computed from what was read from the file
// and from what the database returns afterwards.
func (c *cli) migrate(args []string) int {
	fs := c.flags("migrate")
	from := fs.String("from", "", "bbolt file to copy (required; it must not be held by a running workbot)")
	to := fs.String("to", "", "PostgreSQL URL to copy into (required; postgres://…)")
	force := fs.Bool("force", false, "replace whatever the target database holds")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	switch {
	case *from == "":
		return c.fail(exitUsage, errors.New("--from FILE is required"))
	case pgstore.IsURL(*from):
		return c.fail(exitUsage, errors.New("--from names the bbolt file to copy, not a URL"))
	case !pgstore.IsURL(*to):
		return c.fail(exitUsage, errors.New("--to postgres://… is required"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if _, err := os.Stat(*from); err != nil {
		return c.fail(exitFailure, err)
	}
	src, err := storage.Open(*from, storage.Options{ReadOnly: true})
	if err != nil {
		return c.fail(exitFailure, err)
	}
	defer src.Close()
	dst, err := pgstore.Open(ctx, *to, pgstore.Options{})
	if err != nil {
		return c.fail(exitFailure, err)
	}
	defer dst.Close()
	counts, err := src.Counts()
	if err != nil {
		return c.fail(exitFailure, err)
	}

	start := time.Now()
	sums := newTableSums()
	p := c.progress("copy", "rows", 0)
	current := ""
	err = dst.Import(ctx, hashingSource{src: src, sums: sums}, pgstore.ImportOptions{
		Force: *force,
		Progress: func(table string, n int64) {
			if table != current {
				current = table
				p.Phase("copy "+table, counts[table])
			}
			p.Set(n)
		},
	})
	p.Finish()
	if errors.Is(err, pgstore.ErrNotEmpty) {
		return c.fail(exitFailure, fmt.Errorf("%s already holds workbot data; --force replaces it", pgstore.Redact(*to)))
	}
	if err != nil {
		return c.fail(exitFailure, fmt.Errorf("migrate: %w (the target is unchanged)", err))
	}

	// Verify from the database itself.
	got := newTableSums()
	v := c.progress("verify", "rows", 0)
	if err := readAll(dst, got, func(table string, n int64) {
		if n == 1 {
			v.Phase("verify "+table, counts[table])
		}
		v.Add(1)
	}); err != nil {
		v.Finish()
		return c.fail(exitFailure, fmt.Errorf("migrate: reading the copy back: %w", err))
	}
	v.Finish()
	dstCounts, err := dst.Counts(ctx)
	if err != nil {
		return c.fail(exitFailure, err)
	}
	failed := false
	for _, table := range pgstore.Tables {
		want, have := sums.sum(table), got.sum(table)
		status := "ok"
		if counts[table] != dstCounts[table] || sums.n[table] != counts[table] || want != have {
			status = "MISMATCH"
			failed = true
		}
		fmt.Fprintf(c.stdout, "%-10s %12s rows  source %s  copy %s  %s\n", table, thousands(dstCounts[table]),
			want[:16], have[:16], status)
	}
	if failed {
		fmt.Fprintf(c.stderr, "workbot: migrate: the copy in %s differs from %s; do not start workbot on it\n", pgstore.Redact(*to), *from)
		return exitFailure
	}
	fmt.Fprintf(c.stdout, "migrated %s to %s in %v; times are kept to the microsecond\n", *from, pgstore.Redact(*to),
		time.Since(start).Round(time.Millisecond))
	return exitOK
}

// tableSums hash each table's records in order, in a form both stores produce for the same data.
type tableSums struct {
	h map[string]hash.Hash
	n map[string]int64
}

func newTableSums() *tableSums {
	t := &tableSums{h: map[string]hash.Hash{}, n: map[string]int64{}}
	for _, table := range pgstore.Tables {
		t.h[table] = sha256.New()
	}
	return t
}

func (t *tableSums) add(table string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := t.h[table]
	h.Write(b)
	h.Write([]byte{'\n'})
	t.n[table]++
	return nil
}

func (t *tableSums) sum(table string) string { return hex.EncodeToString(t.h[table].Sum(nil)) }

// norm is a time as PostgreSQL keeps it: UTC, to the microsecond.
func norm(ts time.Time) time.Time {
	if ts.IsZero() {
		return time.Time{}
	}
	return ts.UTC().Truncate(time.Microsecond)
}

func normItem(it domain.Item) domain.Item {
	for _, p := range []*time.Time{&it.BlockedAt, &it.DependsSince, &it.NudgedAt, &it.SnoozedUntil, &it.CreatedAt,
		&it.StageEnteredAt, &it.LastActivityAt, &it.DoneAt, &it.UpdatedAt} {
		*p = norm(*p)
	}
	if len(it.DependsOn) == 0 {
		it.DependsOn = nil
	}
	return it
}

func normHandoff(h domain.Handoff) domain.Handoff {
	h.RequestedAt, h.ApprovedAt, h.DecidedAt, h.EscalatedAt = norm(h.RequestedAt), norm(h.ApprovedAt), norm(h.DecidedAt), norm(h.EscalatedAt)
	return h
}

func normEvent(e domain.Event) domain.Event {
	e.At = norm(e.At)
	if len(e.Changes) == 0 {
		e.Changes = nil
	}
	return e
}

func normOutbox(e domain.OutboxEntry) domain.OutboxEntry {
	e.At, e.AttemptedAt, e.Result.At = norm(e.At), norm(e.AttemptedAt), norm(e.Result.At)
	if len(e.Payload) == 0 {
		e.Payload = nil
	}
	return e
}

type stateRecord struct {
	Bucket, Key string
	Value       []byte
}

// hashingSource hashes every record as the import reads it from the file.
type hashingSource struct {
	src  pgstore.Source
	sums *tableSums
}

func (h hashingSource) ExportItems(fn func(domain.Item) error) error {
	return h.src.ExportItems(func(it domain.Item) error {
		if err := h.sums.add("items", normItem(it)); err != nil {
			return err
		}
		return fn(it)
	})
}

func (h hashingSource) ExportHandoffs(fn func(domain.Handoff) error) error {
	return h.src.ExportHandoffs(func(x domain.Handoff) error {
		if err := h.sums.add("handoffs", normHandoff(x)); err != nil {
			return err
		}
		return fn(x)
	})
}

func (h hashingSource) ExportPeople(fn func(domain.Person) error) error {
	return h.src.ExportPeople(func(p domain.Person) error {
		q := p
		q.UpdatedAt = norm(q.UpdatedAt)
		if err := h.sums.add("people", q); err != nil {
			return err
		}
		return fn(p)
	})
}

func (h hashingSource) ExportEvents(fn func(domain.Event) error) error {
	return h.src.ExportEvents(func(e domain.Event) error {
		if err := h.sums.add("events", normEvent(e)); err != nil {
			return err
		}
		return fn(e)
	})
}

func (h hashingSource) ExportState(fn func(bucket, key string, val []byte) error) error {
	return h.src.ExportState(func(b, k string, v []byte) error {
		if err := h.sums.add("bot_state", stateRecord{b, k, v}); err != nil {
			return err
		}
		return fn(b, k, v)
	})
}

func (h hashingSource) ExportOutbox(fn func(domain.OutboxEntry) error) error {
	return h.src.ExportOutbox(func(e domain.OutboxEntry) error {
		if err := h.sums.add("outbox", normOutbox(e)); err != nil {
			return err
		}
		return fn(e)
	})
}

func (h hashingSource) Sequences() (storage.Sequences, error) { return h.src.Sequences() }

// readAll hashes everything src holds, calling tick with each table's running count.
func readAll(src pgstore.Source, sums *tableSums, tick func(table string, n int64)) error {
	h := hashingSource{src: src, sums: sums}
	count := func(table string) { tick(table, sums.n[table]) }
	steps := []func() error{
		func() error { return h.ExportItems(func(domain.Item) error { count("items"); return nil }) },
		func() error { return h.ExportHandoffs(func(domain.Handoff) error { count("handoffs"); return nil }) },
		func() error { return h.ExportPeople(func(domain.Person) error { count("people"); return nil }) },
		func() error { return h.ExportEvents(func(domain.Event) error { count("events"); return nil }) },
		func() error {
			return h.ExportState(func(string, string, []byte) error { count("bot_state"); return nil })
		},
		func() error { return h.ExportOutbox(func(domain.OutboxEntry) error { count("outbox"); return nil }) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}
