package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"workbot/domain"
	"workbot/storage"
	"workbot/storage/pgstore/pgtest"
)

func openURL(t *testing.T, url string, opts ...Options) *Store {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	s, err := Open(context.Background(), url, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func sqlExec(t *testing.T, s *Store, q string, args ...any) {
	t.Helper()
	if _, err := s.pool.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func TestMigrationsUpFromEmptyTwiceAndNewerRefused(t *testing.T) {
	url := pgtest.URL(t)
	ctx := context.Background()
	if _, err := Open(ctx, url, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "no workbot schema") {
		t.Errorf("read-only Open of an empty schema = %v, want a 'no workbot schema' error", err)
	}
	s := openURL(t, url)
	if v, err := s.Version(ctx); err != nil || v != SchemaVersion {
		t.Fatalf("version after Open = %d, %v; want %d", v, err, SchemaVersion)
	}
	var rows int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM "+versionTable).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	for _, table := range Tables {
		var ok bool
		if err := s.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing after migration: %v", table, err)
		}
	}
	// Twice is a no-op: nothing applied, the data is kept.
	if err := s.Update(ctx, func(tx domain.Tx) error { return tx.PutPerson(domain.Person{ID: "UKEEP"}) }); err != nil {
		t.Fatal(err)
	}
	again := openURL(t, url)
	var rows2 int
	if err := again.pool.QueryRow(ctx, "SELECT count(*) FROM "+versionTable).Scan(&rows2); err != nil || rows2 != rows {
		t.Errorf("version rows after a second Open = %d (%v), want %d", rows2, err, rows)
	}
	_ = again.View(ctx, func(tx domain.ReadTx) error {
		if _, ok, _ := tx.Person("UKEEP"); !ok {
			t.Error("data lost by a second Open")
		}
		return nil
	})
	if _, err := Open(ctx, url, Options{ReadOnly: true}); err != nil {
		t.Errorf("read-only Open of a current schema: %v", err)
	}
	// A schema from a newer workbot is refused, read-write and read-only, and left alone.
	sqlExec(t, s, "INSERT INTO "+versionTable+" (version_id, is_applied) VALUES ($1, true)", SchemaVersion+1)
	for _, ro := range []bool{false, true} {
		_, err := Open(ctx, url, Options{ReadOnly: ro})
		if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), "newer than this workbot understands") {
			t.Errorf("Open(read-only=%v) of a newer schema = %v", ro, err)
		}
	}
	if err := s.Check(ctx); err == nil || !strings.Contains(err.Error(), "schema version") {
		t.Errorf("Check of a newer schema = %v", err)
	}
}

// Replicas starting at once on an empty database: one migrates, the others wait and find it done.
func TestConcurrentFirstStarts(t *testing.T) {
	url := pgtest.URL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), url, Options{})
			if err == nil {
				_ = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: %v", i, err)
		}
	}
}

func TestErrorsNeverShowThePassword(t *testing.T) {
	_, err := Open(context.Background(), "postgres://workbot:s3cr3t-pw@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", Options{})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("the error shows the password: %v", err)
	}
	if got := Redact("postgres://u:pw@h/db?password=pw2"); strings.Contains(got, "pw@") || strings.Contains(got, "pw2") {
		t.Errorf("Redact = %s", got)
	}
	if !IsURL("PostgreSQL://h/db") || !IsURL("postgres://h") || IsURL("./workbot.db") {
		t.Error("IsURL")
	}
}

// The plans of open-work reads use the partial indexes: closed history is never scanned.
func TestOpenWorkUsesPartialIndexes(t *testing.T) {
	s := openURL(t, pgtest.URL(t))
	ctx := context.Background()
	sqlExec(t, s, `INSERT INTO items (id, key, title, details, kind, requester, team, value, urgency, size, stage,
		assignee, blocked_reason, depends_on, pin, triaged, resolution, duplicate_of, pending_handoff, version, rec)
		SELECT g, 'W-' || g, 'closed', '', '', 'U' || (g % 50), '', 1, 1, 1, 'done', 'U' || (g % 7), '', '{}', 0, false,
		       CASE WHEN g % 100 = 0 THEN '' ELSE 'done' END, 0, 0, 1, '\x'::bytea
		FROM generate_series(1, 20000) g`)
	sqlExec(t, s, "UPDATE items SET requester = 'URARE', rec = '\\x00' WHERE id IN (7, 7007, 17007)")
	sqlExec(t, s, "ANALYZE items")
	// Any of the partial indexes keeps closed items out; which one is the planner's choice.
	partial := []string{"items_open"} // items_open, items_open_by_assignee, items_open_by_stage
	for _, c := range []struct {
		where string
		index []string
		args  []any
	}{
		{whereOpen, partial, nil},
		{whereAssignee, partial, []any{"U3"}},
		{whereStage, partial, []any{"done"}},
		// A requester's history is read through the requester index, however long the rest is.
		{whereRequester, []string{"items_by_requester"}, []any{"URARE"}},
	} {
		desc := c.where == whereRequester
		last := int64(0)
		if desc {
			last = 1<<63 - 1
		}
		q := "EXPLAIN " + pagedItemsQuery(c.where, desc)
		rows, err := s.pool.Query(ctx, q, append([]any{last, firstPage}, c.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var line string
			_ = rows.Scan(&line)
			plan = append(plan, line)
		}
		rows.Close()
		text := strings.Join(plan, "\n") + "\n"
		uses := slices.ContainsFunc(c.index, func(ix string) bool { return strings.Contains(text, ix) })
		if !uses || strings.Contains(text, "Seq Scan") || strings.Contains(text, "items_pkey") {
			t.Errorf("plan for %q does not use one of %v:\n%s", c.where, c.index, text)
		}
	}
}

// Two transactions that lock two items in opposite orders deadlock; PostgreSQL aborts one, and
// Update runs it again, so both succeed.
func TestDeadlocksAreRetried(t *testing.T) {
	s := openURL(t, pgtest.URL(t))
	ctx := context.Background()
	if err := s.Update(ctx, func(tx domain.Tx) error {
		if err := tx.PutItem(domain.Item{ID: 1, Version: 1}); err != nil {
			return err
		}
		return tx.PutItem(domain.Item{ID: 2, Version: 1})
	}); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	var first sync.WaitGroup
	first.Add(2)
	var once [2]sync.Once
	update := func(w int, a, b domain.ItemID) error {
		return s.Update(ctx, func(tx domain.Tx) error {
			runs.Add(1)
			x, err := tx.Item(a)
			if err != nil {
				return err
			}
			// Both hold their first lock before either asks for the second, the first time round.
			once[w].Do(func() { first.Done(); first.Wait() })
			y, err := tx.Item(b)
			if err != nil {
				return err
			}
			x.Version++
			y.Version++
			if err := tx.PutItem(x); err != nil {
				return err
			}
			return tx.PutItem(y)
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = update(0, 1, 2) }()
	go func() { defer wg.Done(); errs[1] = update(1, 2, 1) }()
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	if runs.Load() < 3 {
		t.Errorf("fn ran %d times; a deadlock should have made one run again", runs.Load())
	}
	_ = s.View(ctx, func(tx domain.ReadTx) error {
		for _, id := range []domain.ItemID{1, 2} {
			if it, _ := tx.Item(id); it.Version != 3 {
				t.Errorf("item %d version %d, want 3", id, it.Version)
			}
		}
		return nil
	})
}

// Claims across two replicas: disjoint, lanes respected across processes, and the claims of a
// replica that died come back when their leases run out.
func TestClaimsAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx := context.Background()
	var effects []domain.Effect
	for i := 0; i < 6; i++ {
		effects = append(effects, domain.Effect{Kind: "post", Channel: fmt.Sprintf("C%d", i%3)})
	}
	if err := a.Update(ctx, func(tx domain.Tx) error { return tx.Enqueue(effects...) }); err != nil {
		t.Fatal(err)
	}
	ea, err := a.ClaimEffects(ctx, "replica-a", 2, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	eb, err := b.ClaimEffects(ctx, "replica-b", 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ids := func(es []domain.OutboxEntry) (out []uint64) {
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	if !slices.Equal(ids(ea), []uint64{1, 2}) || !slices.Equal(ids(eb), []uint64{3}) {
		t.Fatalf("a claimed %v, b claimed %v; want [1 2] and [3]", ids(ea), ids(eb))
	}
	// a dies without finishing; b finishes its own.
	_ = a.Close()
	if err := b.UpdateState(ctx, func(tx domain.StateTx) error {
		return tx.FinishEffect(3, domain.OutboxDelivered, domain.OutboxResult{})
	}); err != nil {
		t.Fatal(err)
	}
	got, _ := b.ClaimEffects(ctx, "replica-b", 10, time.Minute)
	if !slices.Equal(ids(got), []uint64{6}) {
		t.Fatalf("while a's leases run: b claimed %v, want [6]", ids(got))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err = b.ClaimEffects(ctx, "replica-b", 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a dead replica's claims never expired")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !slices.Equal(ids(got), []uint64{1, 2}) {
		t.Errorf("after a's leases expired b claimed %v, want [1 2]", ids(got))
	}
	var claimedBy string
	if err := b.pool.QueryRow(ctx, "SELECT claimed_by FROM outbox WHERE id = 1").Scan(&claimedBy); err != nil || claimedBy != "replica-b" {
		t.Errorf("claimed_by = %q, %v", claimedBy, err)
	}
}

// An entry with a lower ID that commits after a later one of its lane was claimed waits until that
// one is finished: one entry in flight per lane, whatever the commit order.
func TestLateCommitWaitsForTheLaneInFlight(t *testing.T) {
	s := openURL(t, pgtest.URL(t))
	ctx := context.Background()
	enqueued := make(chan struct{})
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	defer free() // a failing test must not leave the transaction holding its connection
	done := make(chan error, 1)
	go func() {
		first := true
		done <- s.Update(ctx, func(tx domain.Tx) error {
			if err := tx.Enqueue(domain.Effect{Kind: "post", Channel: "CLANE", Payload: []byte("slow")}); err != nil {
				return err
			}
			// Writes go out with the next statement: a read sends the insert, which takes its ID now.
			if _, err := tx.Item(99); domain.ErrorCode(err) != domain.ENOTFOUND {
				return fmt.Errorf("Item(99) = %v", err)
			}
			if first {
				first = false
				close(enqueued)
				<-release
			}
			return nil
		})
	}()
	<-enqueued
	if err := s.Update(ctx, func(tx domain.Tx) error {
		return tx.Enqueue(domain.Effect{Kind: "post", Channel: "CLANE", Payload: []byte("fast")})
	}); err != nil {
		t.Fatal(err)
	}
	es, err := s.ClaimEffects(ctx, "d", 10, time.Minute)
	if err != nil || len(es) != 1 || string(es[0].Payload) != "fast" || es[0].ID != 2 {
		t.Fatalf("claim = %+v, %v; want the committed entry 2", es, err)
	}
	free()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if es, _ := s.ClaimEffects(ctx, "d", 10, time.Minute); len(es) != 0 {
		t.Fatalf("entry 1 was claimed while 2 of its lane was in flight: %+v", es)
	}
	if err := s.UpdateState(ctx, func(tx domain.StateTx) error {
		return tx.FinishEffect(2, domain.OutboxDelivered, domain.OutboxResult{})
	}); err != nil {
		t.Fatal(err)
	}
	if es, _ := s.ClaimEffects(ctx, "d", 10, time.Minute); len(es) != 1 || es[0].ID != 1 {
		t.Fatalf("after 2 finished: %+v, want entry 1", es)
	}
}

func TestSeenEvent(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx := context.Background()
	now := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	const window = 10 * time.Minute
	seen, err := a.SeenEvent(ctx, "Ev1", now, window)
	if err != nil || seen {
		t.Fatalf("first sighting = %v, %v", seen, err)
	}
	if seen, _ := b.SeenEvent(ctx, "Ev1", now.Add(time.Minute), window); !seen {
		t.Error("another replica saw Ev1 again within the window and was not told")
	}
	if seen, _ := b.SeenEvent(ctx, "Ev1", now.Add(window+time.Second), window); seen {
		t.Error("Ev1 after the window still counts as seen")
	}
	// Many replicas racing for one event: exactly one handles it.
	var wg sync.WaitGroup
	var fresh atomic.Int32
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			if seen, err := s.SeenEvent(ctx, "Ev2", now, window); err == nil && !seen {
				fresh.Add(1)
			}
		}()
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Errorf("%d replicas handled Ev2, want 1", fresh.Load())
	}
	// Expired rows are pruned.
	a.lastPrune = time.Time{}
	if _, err := a.SeenEvent(ctx, "Ev3", now.Add(time.Hour), window); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := a.pool.QueryRow(ctx, "SELECT count(*) FROM seen_events").Scan(&n); err != nil || n != 1 {
		t.Errorf("seen_events after pruning = %d, %v; want only Ev3", n, err)
	}
}

func TestPing(t *testing.T) {
	url := pgtest.URL(t)
	s := openURL(t, url)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ro := openURL(t, url+"&default_transaction_read_only=on", Options{ReadOnly: true})
	if err := ro.Ping(context.Background()); err == nil {
		t.Error("Ping succeeded on a read-only session")
	}
}

// Two replicas: one leads; its connection is killed; it stops at once and the other leads within 15 s.
func TestLeadershipMovesWhenTheLeaderConnectionDies(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	actx, err := a.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Lead(ctx); !errors.Is(err, ErrAlreadyLeading) {
		t.Errorf("a second Lead = %v", err)
	}
	bLead := make(chan context.Context, 1)
	go func() {
		bctx, err := b.Lead(ctx)
		if err == nil {
			bLead <- bctx
		}
	}()
	select {
	case <-bLead:
		t.Fatal("b leads while a does")
	case <-time.After(3 * time.Second):
	}
	pid := a.leaderPID()
	if pid == 0 {
		t.Fatal("a has no leader connection")
	}
	killed := time.Now()
	var ok bool
	if err := b.pool.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend: %v %v", ok, err)
	}
	select {
	case <-actx.Done():
		t.Logf("a stopped leading %v after its connection was killed", time.Since(killed).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("a still believes it leads 5 s after its connection died")
	}
	select {
	case bctx := <-bLead:
		t.Logf("b leads %v after a's connection was killed", time.Since(killed).Round(time.Millisecond))
		if bctx.Err() != nil {
			t.Error("b's leadership context is already done")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("b did not take over within 15 s")
	}
	// a retries and waits while b leads; b's Close hands the lock back.
	aAgain := make(chan struct{})
	go func() {
		if _, err := a.Lead(ctx); err == nil {
			close(aAgain)
		}
	}()
	_ = b.Close()
	select {
	case <-aAgain:
	case <-time.After(15 * time.Second):
		t.Fatal("a did not lead again after b closed")
	}
}

func TestCheckFindsProblems(t *testing.T) {
	s := openURL(t, pgtest.URL(t))
	ctx := context.Background()
	if err := s.Update(ctx, func(tx domain.Tx) error {
		for i := 0; i < 3; i++ {
			id, err := tx.NextItemID()
			if err != nil {
				return err
			}
			if err := tx.PutItem(domain.Item{ID: id, Key: domain.FormatKey("W", id)}); err != nil {
				return err
			}
			if err := tx.AppendEvent(domain.Event{ItemID: id, Type: domain.EventCreated}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check of a healthy database: %v", err)
	}
	sqlExec(t, s, "SELECT setval('item_ids', 1)")
	sqlExec(t, s, `UPDATE events SET changes = '[{"field": 1}]' WHERE seq = 2`)
	// A hand-written UPDATE of an item's columns is refused: rec would no longer match.
	if _, err := s.pool.Exec(ctx, `UPDATE items SET key = 'W-99' WHERE id = 3`); err == nil || !strings.Contains(err.Error(), "changed through workbot") {
		t.Errorf("UPDATE of columns without rec = %v, want a refusal", err)
	}
	sqlExec(t, s, "ALTER TABLE items DISABLE TRIGGER items_keep_rec")
	sqlExec(t, s, `UPDATE items SET key = 'W-99' WHERE id = 3`)
	sqlExec(t, s, "ALTER TABLE items ENABLE TRIGGER items_keep_rec")
	err := s.Check(ctx)
	var ce *storage.CheckError
	if !errors.As(err, &ce) || len(ce.Problems) != 4 {
		t.Fatalf("Check = %v, want four problems", err)
	}
	for _, want := range []string{"item sequence 1 is below the highest item ID 3", "events/2 has malformed changes",
		`items/3 has key "W-99"`, "items/3: rec differs from the columns"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check does not report %q:\n%v", want, err)
		}
	}
}

// A value PostgreSQL refuses (text with a NUL byte) is EINVALID, as bbolt refuses what it cannot store.
func TestRefusedValuesAreInvalid(t *testing.T) {
	s := openURL(t, pgtest.URL(t))
	err := s.Update(context.Background(), func(tx domain.Tx) error {
		return tx.PutItem(domain.Item{ID: 1, Title: "nul\x00byte"})
	})
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("PutItem with a NUL byte = %v, want EINVALID", err)
	}
	if strings.Contains(fmt.Sprint(err), "postgres://") {
		t.Errorf("the error names the database: %v", err)
	}
}
