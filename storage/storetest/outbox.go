package storetest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"workbot/bot"
	"workbot/domain"
)

func enqueue(t *testing.T, s bot.Store, effects ...domain.Effect) {
	t.Helper()
	mustUpdate(t, s, func(tx domain.Tx) error { return tx.Enqueue(effects...) })
}

func claimIDs(t *testing.T, s bot.Store, owner string, max int) []uint64 {
	t.Helper()
	es, err := s.ClaimEffects(context.Background(), owner, max, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func finish(t *testing.T, s bot.Store, id uint64) {
	t.Helper()
	mustState(t, s, func(tx domain.StateTx) error {
		return tx.FinishEffect(id, domain.OutboxDelivered, domain.OutboxResult{Channel: "C1", TS: "1.2"})
	})
}

func testState(t *testing.T, f Factory) {
	s := open(t, f)
	ctx := context.Background()
	mustState(t, s, func(tx domain.StateTx) error {
		for _, kv := range [][2]string{{"a/1", "x"}, {"a/2", "y"}, {"a/10", "z"}, {"b/1", "w"}, {"a", "top"}} {
			if err := tx.Put("refs", kv[0], []byte(kv[1])); err != nil {
				return err
			}
		}
		if err := tx.Put("other", "a/1", []byte("elsewhere")); err != nil {
			return err
		}
		if err := tx.Put("dedupe", "Ev1", nil); err != nil {
			return err
		}
		// Writes are visible in their own transaction.
		if v, err := tx.Get("refs", "a/2"); err != nil || string(v) != "y" {
			t.Errorf("Get in the writing transaction = %q, %v", v, err)
		}
		return nil
	})
	err := s.ViewState(ctx, func(tx domain.StateReader) error {
		var keys, vals []string
		if err := tx.Scan("refs", "a/", func(k string, v []byte) bool {
			keys, vals = append(keys, k), append(vals, string(v))
			return true
		}); err != nil {
			return err
		}
		if !slices.Equal(keys, []string{"a/1", "a/10", "a/2"}) || !slices.Equal(vals, []string{"x", "z", "y"}) {
			t.Errorf("Scan(refs, a/) = %v %v, want byte order [a/1 a/10 a/2]", keys, vals)
		}
		keys = nil
		if err := tx.Scan("refs", "", func(k string, _ []byte) bool { keys = append(keys, k); return true }); err != nil {
			return err
		}
		if !slices.Equal(keys, []string{"a", "a/1", "a/10", "a/2", "b/1"}) {
			t.Errorf("Scan(refs, \"\") = %v", keys)
		}
		keys = nil
		if err := tx.Scan("nothing", "", func(k string, _ []byte) bool { keys = append(keys, k); return true }); err != nil || keys != nil {
			t.Errorf("Scan of a missing bucket = %v, %v", keys, err)
		}
		if v, err := tx.Get("dedupe", "Ev1"); err != nil || v == nil || len(v) != 0 {
			t.Errorf("an empty value reads back as %#v, %v; want a non-nil empty slice", v, err)
		}
		if v, err := tx.Get("no_such_bucket", "k"); v != nil || err != nil {
			t.Errorf("Get on a missing bucket = %q, %v", v, err)
		}
		if v, err := tx.Get("refs", "a/3"); v != nil || err != nil {
			t.Errorf("Get of a missing key = %q, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustState(t, s, func(tx domain.StateTx) error {
		if err := tx.Delete("refs", "a/1"); err != nil {
			return err
		}
		if err := tx.Delete("refs", "missing"); err != nil {
			t.Errorf("deleting a missing key: %v", err)
		}
		if err := tx.Delete("missing", "missing"); err != nil {
			t.Errorf("deleting from a missing bucket: %v", err)
		}
		return tx.Put("refs", "a/2", []byte("replaced"))
	})
	_ = s.ViewState(ctx, func(tx domain.StateReader) error {
		if v, _ := tx.Get("refs", "a/1"); v != nil {
			t.Errorf("after Delete, Get = %q", v)
		}
		if v, _ := tx.Get("refs", "a/2"); string(v) != "replaced" {
			t.Errorf("after a second Put, Get = %q", v)
		}
		return nil
	})
	for name, fn := range map[string]func(domain.StateTx) error{
		"empty bucket": func(tx domain.StateTx) error { return tx.Put("", "k", []byte("v")) },
		"empty key":    func(tx domain.StateTx) error { return tx.Put("b", "", []byte("v")) },
		"long key":     func(tx domain.StateTx) error { return tx.Put("b", string(make([]byte, MaxIndexedLen+1)), nil) },
	} {
		if err := s.UpdateState(ctx, fn); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("Put with %s = %v, want EINVALID", name, err)
		}
	}
	// A failed state transaction leaves nothing behind.
	boom := domain.Errorf(domain.ECONFLICT, "no")
	if err := s.UpdateState(ctx, func(tx domain.StateTx) error {
		if err := tx.Put("refs", "rolled", []byte("back")); err != nil {
			return err
		}
		return boom
	}); err != boom {
		t.Errorf("UpdateState = %v, want fn's error unchanged", err)
	}
	_ = s.ViewState(ctx, func(tx domain.StateReader) error {
		if v, _ := tx.Get("refs", "rolled"); v != nil {
			t.Errorf("a failed UpdateState's Put is visible: %q", v)
		}
		return nil
	})
}

// testHotState: concurrent read-modify-writes of one state key, starting from no key at all.
func testHotState(t *testing.T, f Factory) {
	s := open(t, f)
	const workers = 20
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UpdateState(context.Background(), func(tx domain.StateTx) error {
				v, err := tx.Get("counters", "n")
				if err != nil {
					return err
				}
				n, _ := strconv.Atoi(string(v))
				return tx.Put("counters", "n", []byte(strconv.Itoa(n+1)))
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	_ = s.ViewState(context.Background(), func(tx domain.StateReader) error {
		if v, _ := tx.Get("counters", "n"); string(v) != strconv.Itoa(workers) {
			t.Errorf("counter = %q after %d increments", v, workers)
		}
		return nil
	})
}

func testOutboxLanes(t *testing.T, f Factory) {
	s := open(t, f)
	at := BaseTime
	enqueue(t, s,
		domain.Effect{Kind: "post", Key: "item:1", Channel: "CINTAKE", At: at, Payload: []byte("a")}, // 1
		domain.Effect{Kind: "thread", Key: "item:1", At: at},                                         // 2: after 1 (key)
		domain.Effect{Kind: "post", Key: "item:2", Channel: "CINTAKE", At: at},                       // 3: after 1 (channel)
		domain.Effect{Kind: "dm", Key: "item:3", Channel: "dm:U1", At: at},                           // 4: free
		domain.Effect{Kind: "home", Key: "home:U1", At: at},                                          // 5: free
		domain.Effect{Kind: "home", At: at},                                                          // 6: no lanes
	)
	if got := claimIDs(t, s, "a", 10); !slices.Equal(got, []uint64{1, 4, 5, 6}) {
		t.Fatalf("first claim = %v, want [1 4 5 6]", got)
	}
	// Claimed entries are not handed out twice, and their lanes stay blocked.
	if got := claimIDs(t, s, "b", 10); len(got) != 0 {
		t.Fatalf("second claim = %v, want nothing", got)
	}
	finish(t, s, 1)
	if got := claimIDs(t, s, "b", 10); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("after finishing 1: %v, want [2 3]", got)
	}
	if got := claimIDs(t, s, "b", 1); len(got) != 0 {
		t.Fatalf("nothing else is ready: %v", got)
	}
	// A released claim is ready again at once; a release by someone else changes nothing.
	if err := s.ReleaseEffect(context.Background(), "nobody", 4); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, s, "c", 10); len(got) != 0 {
		t.Fatalf("a stranger's release freed %v", got)
	}
	if err := s.ReleaseEffect(context.Background(), "a", 4); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, s, "c", 10); !slices.Equal(got, []uint64{4}) {
		t.Fatalf("after release: %v, want [4]", got)
	}
	n, oldest, err := s.OutboxStats(context.Background())
	if err != nil || n != 5 || !oldest.Equal(at) {
		t.Errorf("stats = %d, %v, %v; want 5 pending since %v", n, oldest, err, at)
	}
	// max bounds a claim, oldest first.
	enqueue(t, s, domain.Effect{Kind: "a"}, domain.Effect{Kind: "b"}, domain.Effect{Kind: "c"})
	if got := claimIDs(t, s, "d", 2); !slices.Equal(got, []uint64{7, 8}) {
		t.Errorf("claim of 2 = %v, want [7 8]", got)
	}
	if got := claimIDs(t, s, "d", 0); len(got) != 0 {
		t.Errorf("claim of 0 = %v", got)
	}
}

func testOutboxLease(t *testing.T, f Factory) {
	s := open(t, f)
	enqueue(t, s, domain.Effect{Kind: "dm", Key: "k"}, domain.Effect{Kind: "dm", Key: "k"})
	es, err := s.ClaimEffects(context.Background(), "dead", 1, 50*time.Millisecond)
	if err != nil || len(es) != 1 {
		t.Fatalf("claim: %v %v", es, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := claimIDs(t, s, "alive", 5); slices.Equal(got, []uint64{1}) {
			break
		} else if len(got) > 0 {
			t.Fatalf("claimed %v while 1 was unfinished", got)
		}
		if time.Now().After(deadline) {
			t.Fatal("an expired claim was never handed out again")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The dead owner, back after its lease ran out, may not start another attempt.
	if err := s.MarkAttempt(context.Background(), "dead", 1, BaseTime); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Errorf("MarkAttempt by the owner whose lease ran out = %v, want ECONFLICT", err)
	}
	if err := s.MarkAttempt(context.Background(), "alive", 1, BaseTime); err != nil {
		t.Errorf("MarkAttempt by the new owner: %v", err)
	}
	// The dead owner's late finish still records the outcome (the deliverer checks AttemptedAt).
	finish(t, s, 1)
	if got := claimIDs(t, s, "alive", 5); !slices.Equal(got, []uint64{2}) {
		t.Errorf("after finishing 1: %v, want [2]", got)
	}
}

func testOutboxLifecycle(t *testing.T, f Factory) {
	s := open(t, f)
	at := BaseTime
	enqueue(t, s, domain.Effect{Kind: "post", Key: "item:7", Channel: "C1", At: at, Payload: []byte(`{"x":1}`)})
	ctx := context.Background()
	tried := at.Add(time.Second)
	// Only the live claimant may start an attempt: one whose lease ran out must not post beside the
	// deliverer that took the entry over.
	if err := s.MarkAttempt(ctx, "me", 1, tried); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("MarkAttempt on an unclaimed entry = %v, want ECONFLICT", err)
	}
	if got := claimIDs(t, s, "me", 5); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("claimed %v, want [1]", got)
	}
	if err := s.MarkAttempt(ctx, "someone else", 1, tried); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("MarkAttempt by another owner = %v, want ECONFLICT", err)
	}
	if err := s.MarkAttempt(ctx, "me", 1, tried); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkAttempt(ctx, "me", 1, tried.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	var e domain.OutboxEntry
	if err := s.ViewState(ctx, func(tx domain.StateReader) error {
		var ok bool
		var err error
		e, ok, err = tx.Effect(1)
		if !ok {
			t.Error("entry 1 not found")
		}
		if _, ok, err := tx.Effect(99); ok || err != nil {
			t.Errorf("Effect(99) = %v, %v", ok, err)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if e.ID != 1 || e.Kind != "post" || e.Key != "item:7" || e.Channel != "C1" || !e.At.Equal(at) || string(e.Payload) != `{"x":1}` ||
		e.State != domain.OutboxPending || !e.AttemptedAt.Equal(tried) || e.Attempts != 2 { // the first attempt's time is kept
		t.Errorf("entry = %+v", e)
	}
	// Finishing and a state write commit together.
	err := s.UpdateState(ctx, func(tx domain.StateTx) error {
		if err := tx.Put("item_messages", "7", []byte("ref")); err != nil {
			return err
		}
		return tx.FinishEffect(1, domain.OutboxDelivered, domain.OutboxResult{Channel: "C1", TS: "100.1", At: tried})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ViewState(ctx, func(tx domain.StateReader) error {
		e, _, _ = tx.Effect(1)
		v, _ := tx.Get("item_messages", "7")
		if string(v) != "ref" {
			t.Errorf("state write lost: %q", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if e.State != domain.OutboxDelivered || e.Result.TS != "100.1" || e.Result.Channel != "C1" || !e.Result.At.Equal(tried) {
		t.Errorf("finished entry = %+v", e)
	}
	if n, _, _ := s.OutboxStats(ctx); n != 0 {
		t.Errorf("pending after finish = %d", n)
	}
	// A failed delivery keeps its reason.
	enqueue(t, s, domain.Effect{Kind: "post", At: at})
	mustState(t, s, func(tx domain.StateTx) error {
		return tx.FinishEffect(2, domain.OutboxFailed, domain.OutboxResult{Error: "channel_not_found"})
	})
	_ = s.ViewState(ctx, func(tx domain.StateReader) error {
		e, _, _ = tx.Effect(2)
		return nil
	})
	if e.State != domain.OutboxFailed || e.Result.Error != "channel_not_found" {
		t.Errorf("failed entry = %+v", e)
	}
	// Pending entries are never pruned; finished ones older than the cut are.
	enqueue(t, s, domain.Effect{Kind: "post", At: at})
	n, err := s.PruneOutbox(ctx, at.Add(time.Hour), 100)
	if err != nil || n != 2 {
		t.Fatalf("prune = %d, %v; want 2", n, err)
	}
	if got := claimIDs(t, s, "a", 10); !slices.Equal(got, []uint64{3}) {
		t.Errorf("after prune the pending entry is %v, want [3]", got)
	}
	err = s.UpdateState(ctx, func(tx domain.StateTx) error {
		return tx.FinishEffect(1, domain.OutboxDelivered, domain.OutboxResult{})
	})
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("finishing a pruned entry = %v, want ENOTFOUND", err)
	}
}

func testOutboxRollback(t *testing.T, f Factory) {
	s := open(t, f)
	boom := domain.Errorf(domain.ECONFLICT, "no")
	err := s.Update(context.Background(), func(tx domain.Tx) error {
		if err := tx.Enqueue(domain.Effect{Kind: "post"}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update = %v", err)
	}
	err = s.UpdateState(context.Background(), func(tx domain.StateTx) error {
		if err := tx.Enqueue(domain.Effect{Kind: "post"}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("UpdateState = %v", err)
	}
	if n, _, _ := s.OutboxStats(context.Background()); n != 0 {
		t.Errorf("an effect of a failed transaction was kept: %d pending", n)
	}
	// Effects enqueued through UpdateState are delivered like the domain's.
	mustState(t, s, func(tx domain.StateTx) error { return tx.Enqueue(domain.Effect{Kind: "dm", Key: "k"}) })
	if got := claimIDs(t, s, "a", 10); len(got) != 1 {
		t.Errorf("claimable after UpdateState's Enqueue: %v", got)
	}
}

func testOutboxRefusals(t *testing.T, f Factory) {
	s := open(t, f)
	ctx := context.Background()
	long := string(make([]byte, domain.MaxEffectLane+1))
	for name, e := range map[string]domain.Effect{
		"no kind":      {},
		"long kind":    {Kind: string(make([]byte, domain.MaxEffectKind+1))},
		"long key":     {Kind: "k", Key: long},
		"long channel": {Kind: "k", Channel: long},
	} {
		err := s.Update(ctx, func(tx domain.Tx) error { return tx.Enqueue(e) })
		if domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("an effect with %s = %v, want EINVALID", name, err)
		}
	}
	// The longest lanes are accepted.
	edge := fmt.Sprintf("%0*d", domain.MaxEffectLane, 7)
	enqueue(t, s, domain.Effect{Kind: "k", Key: edge, Channel: edge})
	if err := s.MarkAttempt(ctx, "me", 99, BaseTime); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("MarkAttempt(99) = %v, want ENOTFOUND", err)
	}
	err := s.UpdateState(ctx, func(tx domain.StateTx) error {
		return tx.FinishEffect(99, domain.OutboxDelivered, domain.OutboxResult{})
	})
	if domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("FinishEffect(99) = %v, want ENOTFOUND", err)
	}
	err = s.UpdateState(ctx, func(tx domain.StateTx) error { return tx.FinishEffect(1, domain.OutboxPending, domain.OutboxResult{}) })
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("FinishEffect(pending) = %v, want EINVALID", err)
	}
	if err := s.ReleaseEffect(ctx, "nobody", 99); err != nil {
		t.Errorf("releasing an unknown entry = %v", err)
	}
}

func testOutboxStatsAndPrune(t *testing.T, f Factory) {
	s := open(t, f)
	ctx := context.Background()
	if n, oldest, err := s.OutboxStats(ctx); n != 0 || !oldest.IsZero() || err != nil {
		t.Errorf("empty outbox stats = %d, %v, %v", n, oldest, err)
	}
	for i := 0; i < 10; i++ {
		enqueue(t, s, domain.Effect{Kind: "post", At: BaseTime.Add(time.Duration(i) * time.Hour)})
	}
	for id := uint64(1); id <= 6; id++ {
		finish(t, s, id)
	}
	n, oldest, err := s.OutboxStats(ctx)
	if err != nil || n != 4 || !oldest.Equal(BaseTime.Add(6*time.Hour)) {
		t.Errorf("stats = %d, %v, %v; want 4 since +6h", n, oldest, err)
	}
	// Oldest first, at most limit, only before the cut.
	if n, err := s.PruneOutbox(ctx, BaseTime.Add(10*time.Hour), 2); err != nil || n != 2 {
		t.Errorf("prune(limit 2) = %d, %v", n, err)
	}
	if n, err := s.PruneOutbox(ctx, BaseTime.Add(3*time.Hour), 100); err != nil || n != 1 {
		t.Errorf("prune(before +3h) = %d, %v; want only entry 3", n, err)
	}
	_ = s.ViewState(ctx, func(tx domain.StateReader) error {
		for id, want := range map[uint64]bool{1: false, 2: false, 3: false, 4: true, 7: true} {
			if _, ok, _ := tx.Effect(id); ok != want {
				t.Errorf("entry %d present = %v, want %v", id, ok, want)
			}
		}
		return nil
	})
	if n, err := s.PruneOutbox(ctx, BaseTime.Add(100*time.Hour), 100); err != nil || n != 3 {
		t.Errorf("prune(all) = %d, %v; want the 3 finished ones left", n, err)
	}
}

// testOutboxConcurrentClaimers: several deliverers claim, deliver and finish at once; no two entries
// of one lane are ever in flight together, every entry is delivered once, and each lane is delivered
// in ID order.
func testOutboxConcurrentClaimers(t *testing.T, f Factory) {
	s := open(t, f)
	const lanes, perLane = 6, 12
	var effects []domain.Effect
	for i := 0; i < perLane; i++ {
		for l := 0; l < lanes; l++ {
			e := domain.Effect{Kind: "post", Payload: []byte(fmt.Sprintf("%d/%d", l, i))}
			if l%2 == 0 {
				e.Channel = fmt.Sprintf("C%d", l)
			} else {
				e.Key = fmt.Sprintf("item:%d", l)
			}
			effects = append(effects, e)
		}
	}
	enqueue(t, s, effects...)
	var mu sync.Mutex
	inFlight := map[string]bool{}
	delivered := map[string][]int{}
	var wg sync.WaitGroup
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("worker-%d", w)
			for time.Now().Before(deadline) {
				es, err := s.ClaimEffects(ctx, owner, 3, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if len(es) == 0 {
					if n, _, _ := s.OutboxStats(ctx); n == 0 {
						return
					}
					time.Sleep(time.Millisecond)
					continue
				}
				for _, e := range es {
					lane := e.Key + e.Channel
					var l, i int
					fmt.Sscanf(string(e.Payload), "%d/%d", &l, &i)
					mu.Lock()
					if inFlight[lane] {
						t.Errorf("two entries of lane %s in flight", lane)
					}
					inFlight[lane] = true
					delivered[lane] = append(delivered[lane], i)
					mu.Unlock()
					time.Sleep(100 * time.Microsecond)
					mu.Lock()
					inFlight[lane] = false
					mu.Unlock()
					if err := s.UpdateState(ctx, func(tx domain.StateTx) error {
						return tx.FinishEffect(e.ID, domain.OutboxDelivered, domain.OutboxResult{})
					}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if len(delivered) != lanes {
		t.Fatalf("delivered lanes = %d, want %d", len(delivered), lanes)
	}
	for lane, got := range delivered {
		want := make([]int, perLane)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(got, want) {
			t.Errorf("lane %s delivered %v, want %v", lane, got, want)
		}
	}
}

func testExport(t *testing.T, f Factory) {
	s := open(t, f)
	mustUpdate(t, s, func(tx domain.Tx) error {
		for i := 0; i < 5; i++ {
			it := FullItem(0)
			if i%2 == 0 {
				it.Resolution = domain.ResolutionDone
			}
			if _, err := CreateItem(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	items := exportItems(t, s)
	if ids := itemIDs(items); !slices.Equal(ids, []domain.ItemID{1, 2, 3, 4, 5}) {
		t.Errorf("ExportItems = %v, want every item, open and closed, in ID order", ids)
	}
	evs := exportEvents(t, s)
	if len(evs) != 5 || !slices.IsSortedFunc(evs, func(a, b domain.Event) int { return int(a.Seq) - int(b.Seq) }) {
		t.Errorf("ExportEvents = %d events, want 5 in Seq order", len(evs))
	}
}
