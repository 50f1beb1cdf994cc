package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

// Migrations are versioned SQL files in migrations/, embedded in the binary and applied by goose, one
// transaction each. A file is never edited once released: a change is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// versionTable is goose's bookkeeping table, in the store's schema.
const versionTable = "workbot_schema_version"

// SchemaVersion is the newest migration in this binary.
var SchemaVersion = func() int64 {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	var versions []int64
	for _, e := range entries {
		n, _, ok := strings.Cut(e.Name(), "_")
		if !ok {
			continue
		}
		v, err := strconv.ParseInt(n, 10, 64)
		if err == nil {
			versions = append(versions, v)
		}
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	return versions[len(versions)-1]
}()

// ErrNewerSchema is matched (errors.Is) by Open's error for a database migrated by a newer workbot.
var ErrNewerSchema = errors.New("the database schema is newer than this workbot")

type newerSchemaError struct{ db, binary int64 }

func (e *newerSchemaError) Error() string {
	return fmt.Sprintf("schema version %d is newer than this workbot understands (%d); run a newer workbot", e.db, e.binary)
}

func (e *newerSchemaError) Is(target error) bool { return target == ErrNewerSchema }

// dbVersion reads the applied schema version without creating anything: 0 for an empty database.
func (s *Store) dbVersion(ctx context.Context) (int64, error) {
	var exists bool
	if err := s.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", versionTable).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v int64
	err := s.pool.QueryRow(ctx, "SELECT coalesce(max(version_id), 0) FROM "+pgx.Identifier{versionTable}.Sanitize()+
		" WHERE is_applied").Scan(&v)
	return v, err
}

// migrate applies every pending migration. Replicas starting together take turns: a session
// advisory lock is held around the whole run, so only the first one migrates and the others find
// nothing to do.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	key := s.lockKey("migrations")
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return fmt.Errorf("waiting for the migration lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) }()

	current, err := s.dbVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	if current > SchemaVersion {
		return &newerSchemaError{db: current, binary: SchemaVersion}
	}
	if current == SchemaVersion {
		return nil
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return err
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub, goose.WithTableName(versionTable),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrating the schema from version %d: %w", current, err)
	}
	return nil
}

// requireCurrentSchema is the read-only open's check: it cannot migrate, so it refuses anything else.
func (s *Store) requireCurrentSchema(ctx context.Context) error {
	v, err := s.dbVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the schema version: %w", err)
	}
	switch {
	case v > SchemaVersion:
		return &newerSchemaError{db: v, binary: SchemaVersion}
	case v == 0:
		return errors.New("the database has no workbot schema (run workbot run or workbot migrate against it first)")
	case v < SchemaVersion:
		return fmt.Errorf("schema version %d, this workbot needs %d; start workbot run once to migrate", v, SchemaVersion)
	}
	return nil
}

// Version reports the schema version applied to the database.
func (s *Store) Version(ctx context.Context) (int64, error) { return s.dbVersion(ctx) }
