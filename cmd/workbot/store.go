package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"workbot/bot"
	"workbot/domain"
	"workbot/storage"
	"workbot/storage/pgstore"
)

// Both stores serve the bot through the same ports, and PostgreSQL adds the replica hooks.
var (
	_ bot.Store        = (*storage.DB)(nil)
	_ bot.Store        = (*pgstore.Store)(nil)
	_ bot.EventDeduper = (*pgstore.Store)(nil)
	_ bot.Leader       = (*pgstore.Store)(nil)
)

// readStore is what the operator commands read from either store.
type readStore interface {
	bot.Store
	ExportItems(fn func(domain.Item) error) error
	ExportEvents(fn func(domain.Event) error) error
	Counts() (map[string]int64, error)
	Close() error
}

// pgRead adapts the PostgreSQL store's context-taking Counts to readStore.
type pgRead struct{ *pgstore.Store }

func (p pgRead) Counts() (map[string]int64, error) { return p.Store.Counts(context.Background()) }

// openForRead opens --db for check and export: a bbolt file read-only (it must not be held by a
// running workbot), or a PostgreSQL URL without migrating it.
func openForRead(ctx context.Context, db string) (readStore, error) {
	if pgstore.IsURL(db) {
		s, err := pgstore.Open(ctx, db, pgstore.Options{ReadOnly: true})
		if err != nil {
			return nil, err
		}
		return pgRead{s}, nil
	}
	if _, err := os.Stat(db); err != nil {
		return nil, err
	}
	return storage.Open(db, storage.Options{ReadOnly: true})
}

// dbName is how messages and logs name a database: a file path, or a URL without its password.
func dbName(db string) string {
	if pgstore.IsURL(db) {
		return pgstore.Redact(db)
	}
	return db
}

// exporter is what export reads.
type exporter interface {
	ExportItems(fn func(domain.Item) error) error
	ExportEvents(fn func(domain.Event) error) error
}

// runStore is what run needs of a store: everything the bot keeps, and closing it.
type runStore interface {
	bot.Store
	Close() error
}

// openForRun opens the bot's database read-write, migrating it: a bbolt file, or PostgreSQL for a
// postgres:// URL, where several replicas share one database.
func openForRun(db string) (runStore, error) {
	if pgstore.IsURL(db) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return pgstore.Open(ctx, db, pgstore.Options{})
	}
	return storage.Open(db, storage.Options{})
}

// progressExport counts exported records on a progress line.
type progressExport struct {
	readStore
	p *progress
}

func (e progressExport) ExportItems(fn func(domain.Item) error) error {
	return e.readStore.ExportItems(func(it domain.Item) error { e.p.Add(1); return fn(it) })
}

func (e progressExport) ExportEvents(fn func(domain.Event) error) error {
	return e.readStore.ExportEvents(func(ev domain.Event) error { e.p.Add(1); return fn(ev) })
}

func (c *cli) exportProgress(src readStore, events bool) readStore {
	table, unit := "items", "items"
	if events {
		table, unit = "events", "events"
	}
	p := c.progress("export", unit, 0)
	if p.on { // counting every table is work only a progress line needs
		if counts, err := src.Counts(); err == nil {
			p.total = counts[table]
		}
	}
	return progressExport{readStore: src, p: p}
}

func (c *cli) finishProgress(src readStore) {
	if e, ok := src.(progressExport); ok {
		e.p.Finish()
	}
}

// backupWithProgress writes a bbolt backup, counting bytes against the file's size.
func (c *cli) backupWithProgress(src *storage.DB, out string) error {
	var total int64
	if fi, err := os.Stat(src.Path()); err == nil {
		total = fi.Size()
	}
	p := c.progress("backup", "bytes", total)
	defer p.Finish()
	return src.BackupFileVia(out, func(w io.Writer) io.Writer { return countingWriter{w: w, p: p} })
}

// pgBackupHint: a PostgreSQL database is backed up with PostgreSQL's own tools, which copy a
// consistent snapshot while replicas keep writing.
func (c *cli) pgBackupHint(url, out string) int {
	fmt.Fprintf(c.stderr, `workbot: backup copies bbolt files; back a PostgreSQL database up with pg_dump, which takes a
consistent snapshot while the replicas keep running (give the password through PGPASSWORD or ~/.pgpass):

  pg_dump --format=custom --file=%s '%s'

and restore it into an empty database with:

  pg_restore --dbname='postgres://…/newdb' %s
`, out, passwordless(url), out)
	return exitUsage
}

// passwordless drops the password from a URL for a command line that is printed.
func passwordless(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return pgstore.Redact(raw)
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	if q.Has("password") {
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// checkWithProgress checks either store. PostgreSQL's check is a series of queries, counted as steps;
// a bbolt file is checked in one pass, shown against its size.
func (c *cli) checkWithProgress(db string) error {
	ctx := context.Background()
	if pgstore.IsURL(db) {
		s, err := pgstore.Open(ctx, db, pgstore.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		defer s.Close()
		p := c.progress("check", "steps", 0)
		defer p.Finish()
		return s.CheckProgress(ctx, func(done, total int) {
			if done == 0 {
				p.Phase("check "+dbName(db), int64(total))
			}
			p.Set(int64(done))
		})
	}
	fi, err := os.Stat(db)
	if err != nil {
		return err
	}
	p := c.progress("check "+db, "bytes", fi.Size())
	p.Set(0)
	err = storage.Check(db)
	p.Set(fi.Size())
	p.Finish()
	return err
}
