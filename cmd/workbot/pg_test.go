package main

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"workbot/domain"
	"workbot/storage"
	"workbot/storage/pgstore"
	"workbot/storage/pgstore/pgtest"
)

// seedOutboxAndState adds what seedDB lacks: bot state and outbox entries, pending and finished,
// with times finer than a microsecond.
func seedOutboxAndState(t *testing.T, path string) {
	t.Helper()
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	at := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.UTC)
	if err := db.UpdateState(ctx, func(tx domain.StateTx) error {
		if err := tx.Put("item_messages", "1", []byte("C1/1700.0001")); err != nil {
			return err
		}
		if err := tx.Put("digest", "slot", nil); err != nil {
			return err
		}
		return tx.Enqueue(
			domain.Effect{Kind: "post", Key: "item:1", Channel: "CINTAKE", At: at, Payload: []byte(`{"a":1}`)},
			domain.Effect{Kind: "dm", Key: "item:2", Channel: "dm:U0DEV", At: at},
		)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimEffects(ctx, "seed", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := db.MarkAttempt(ctx, "seed", 1, at); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateState(ctx, func(tx domain.StateTx) error {
		return tx.FinishEffect(1, domain.OutboxDelivered, domain.OutboxResult{Channel: "CINTAKE", TS: "1.1", At: at})
	}); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateToPostgresAndOperateOnIt(t *testing.T) {
	url := pgtest.URL(t)
	path := seedDB(t)
	seedOutboxAndState(t, path)

	r := runCLI(t, env{}, nil, "migrate", "--from", path, "--to", url)
	if r.code != exitOK {
		t.Fatalf("migrate: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, table := range pgstore.Tables {
		if !strings.Contains(r.stdout, table) {
			t.Errorf("migrate's report lacks %s:\n%s", table, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "MISMATCH") || r.stderr != "" {
		t.Errorf("migrate: %s\n%s", r.stdout, r.stderr)
	}

	// Both stores export the same items and events.
	for _, args := range [][]string{{}, {"--format", "csv"}, {"--events"}} {
		fromFile := runCLI(t, env{}, nil, append([]string{"export", "--db", path}, args...)...)
		fromPG := runCLI(t, env{}, nil, append([]string{"export", "--db", url}, args...)...)
		if fromPG.code != exitOK || fromPG.stdout != fromFile.stdout {
			t.Errorf("export %v differs:\nfile:\n%s\npostgres (exit %d, %s):\n%s", args, fromFile.stdout, fromPG.code, fromPG.stderr, fromPG.stdout)
		}
	}
	if r := runCLI(t, env{}, nil, "check", "--db", url); r.code != exitOK || strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("check: exit %d %s %s", r.code, r.stdout, r.stderr)
	}

	// A second copy into a database that holds data needs --force.
	r = runCLI(t, env{}, nil, "migrate", "--from", path, "--to", url)
	if r.code != exitFailure || !strings.Contains(r.stderr, "--force") {
		t.Errorf("migrate into a non-empty target: exit %d %s", r.code, r.stderr)
	}
	if r := runCLI(t, env{}, nil, "migrate", "--from", path, "--to", url, "--force"); r.code != exitOK {
		t.Fatalf("migrate --force: exit %d %s %s", r.code, r.stdout, r.stderr)
	}

	// The copy continues where the file stopped, and keeps what the outbox knew.
	s, err := pgstore.Open(context.Background(), url, pgstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Update(ctx, func(tx domain.Tx) error {
		id, err := tx.NextItemID()
		if id != 4 {
			t.Errorf("next item ID after migration = %d, want 4", id)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.ViewState(ctx, func(tx domain.StateReader) error {
		e, ok, err := tx.Effect(1)
		if !ok || err != nil || e.State != domain.OutboxDelivered || e.Attempts != 1 || e.Result.TS != "1.1" ||
			!e.At.Equal(time.Date(2026, 3, 2, 10, 0, 0, 123456000, time.UTC)) {
			t.Errorf("outbox entry 1 after migration = %+v, %v, %v", e, ok, err)
		}
		if v, _ := tx.Get("item_messages", "1"); string(v) != "C1/1700.0001" {
			t.Errorf("state after migration = %q", v)
		}
		if v, _ := tx.Get("digest", "slot"); v == nil || len(v) != 0 {
			t.Errorf("empty state value after migration = %#v", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	es, err := s.ClaimEffects(ctx, "test", 10, time.Minute)
	if err != nil || len(es) != 1 || es[0].ID != 2 {
		t.Errorf("claimable after migration = %+v, %v; want entry 2", es, err)
	}

	// backup points to pg_dump instead.
	r = runCLI(t, env{}, nil, "backup", "--db", url, "--out", "/tmp/x.dump")
	if r.code != exitUsage || !strings.Contains(r.stderr, "pg_dump --format=custom --file=/tmp/x.dump") {
		t.Errorf("backup on PostgreSQL: exit %d %s", r.code, r.stderr)
	}
}

func TestMigrateRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"migrate"},
		{"migrate", "--from", "a.db"},
		{"migrate", "--from", "a.db", "--to", "b.db"},
		{"migrate", "--from", "postgres://x/y", "--to", "postgres://x/z"},
	} {
		if r := runCLI(t, env{}, nil, args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, r.code, exitUsage, r.stderr)
		}
	}
}

func TestPostgresURLsNeverShowTheirPassword(t *testing.T) {
	const secret = "hunter2-secret"
	url := "postgres://workbot:" + secret + "@127.0.0.1:1/workbot?sslmode=disable&connect_timeout=2"
	e := runEnv(t, "intake_channel: C0INTAKE\n")
	e["WORKBOT_DB"] = url
	for _, args := range [][]string{
		{"run"}, {"check", "--db", url}, {"export", "--db", url}, {"backup", "--db", url, "--out", "x"},
		{"migrate", "--from", seedDB(t), "--to", url},
	} {
		r := runCLI(t, e, nil, args...)
		if r.code == exitOK {
			t.Errorf("%v succeeded against an unreachable server", args)
		}
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("%v shows the password:\n%s%s", args, r.stdout, r.stderr)
		}
	}
}

func TestProgressLine(t *testing.T) {
	got := progressLine("copy items", "rows", 25_000, 100_000, 5*time.Second)
	if want := "copy items: 25,000/100,000 rows (25%), 5,000 rows/s, 0:15 left"; got != want {
		t.Errorf("progressLine = %q, want %q", got, want)
	}
	if got := progressLine("check", "steps", 0, 0, 0); got != "check: 0 steps" {
		t.Errorf("progressLine = %q", got)
	}
	// Not a terminal: nothing is drawn.
	var buf bytes.Buffer
	c := &cli{stderr: &buf}
	p := c.progress("x", "rows", 10)
	p.Add(5)
	p.Finish()
	if buf.Len() != 0 {
		t.Errorf("progress wrote %q to a non-terminal", buf.String())
	}
}

// TestRunOnAMigratedDatabase: the real binary runs on a database that migrate filled, answers about a
// migrated item, files the next request under the next key, and leaves the migrated items as they were.
func TestRunOnAMigratedDatabase(t *testing.T) {
	url := pgtest.URL(t)
	path := seedDB(t)
	if r := runCLI(t, env{}, nil, "migrate", "--from", path, "--to", url); r.code != exitOK {
		t.Fatalf("migrate: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	var before []map[string]any
	if err := json.Unmarshal([]byte(runCLI(t, env{}, nil, "export", "--db", path).stdout), &before); err != nil || len(before) != 3 {
		t.Fatalf("export of the file: %d items, %v", len(before), err)
	}

	c := newClusterOn(t, "intake_channel: "+cIntake+"\nleads: [U0LEAD]\ndigest: {personal_schedule: \"off\"}\nbackup: {schedule: \"off\"}\n", url)
	addPeople(c.fake)
	c.start("migrated", url)
	shown := len(c.fake.Ephemerals("U0REQ"))
	d, err := c.fake.SlashCommand("U0REQ", cGeneral, "/work", "show W-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitTimeout(3 * time.Second); err != nil {
		t.Fatalf("show W-1 not acked: %v", err)
	}
	if err := c.fake.WaitForTimeout(10*time.Second, func() bool {
		for _, e := range c.fake.Ephemerals("U0REQ")[shown:] {
			if strings.Contains(e.Text+string(e.Blocks), "Fix login") {
				return true
			}
		}
		return false
	}); err != nil {
		t.Errorf("show W-1 did not answer with the migrated item: %v", err)
	}
	if !fileRequest(c.fake, "U0REQ", "Filed after the move") {
		t.Fatal("a request on the migrated database was refused")
	}
	if err := c.fake.WaitForTimeout(10*time.Second, func() bool {
		m, ok := c.fake.LastMessage(cIntake)
		return ok && strings.Contains(m.Text+string(m.Blocks), "W-4")
	}); err != nil {
		t.Errorf("the new request was not announced as W-4: %v", err)
	}
	c.stopAll()

	var after []map[string]any
	if err := json.Unmarshal([]byte(runCLI(t, env{}, nil, "export", "--db", url).stdout), &after); err != nil || len(after) != 4 {
		t.Fatalf("export after the run: %d items, %v", len(after), err)
	}
	for i := range before {
		if !reflect.DeepEqual(before[i], after[i]) {
			t.Errorf("migrated item %v changed:\n%v\n%v", before[i]["key"], before[i], after[i])
		}
	}
	if after[3]["key"] != "W-4" || after[3]["title"] != "Filed after the move" {
		t.Errorf("the new item: %v", after[3])
	}
}
