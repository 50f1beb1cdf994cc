package bot

import (
	"context"
	"strings"
	"testing"
	"time"
)

// electedStore is the bbolt store with a leadership the test hands out and takes back, standing in
// for PostgreSQL's advisory lock.
type electedStore struct {
	testStore
	grant chan context.Context
}

func (s electedStore) Lead(ctx context.Context) (context.Context, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case lead := <-s.grant:
		return lead, nil
	}
}

// With replicas, only the leader runs the schedules: a standby posts no digest, the leader does, and a
// leader that loses leadership stops at once and stands by, still ready.
func TestSchedulesRunOnlyWhileLeading(t *testing.T) {
	grant := make(chan context.Context)
	h := newHarness(t, func(h *harness) {
		everySecond(&h.cfg)
		h.wrap = func(db testStore) Store { return electedStore{testStore: db, grant: grant} }
	})
	h.fake.AddChannel(cLeads2, "leadership-2")
	h.request(uReq, "Something to report", "2")
	h.waitFor("the bot to stand by", func() bool { _, r := h.bot.Ready(); return r == "ok (standby)" })
	h.waitTicks(2)
	if n := len(digests(h, cLeads)); n != 0 {
		t.Fatalf("a standby posted %d digests", n)
	}
	lead, lose := context.WithCancel(context.Background())
	grant <- lead
	h.waitFor("the leader's digest", func() bool { return len(digests(h, cLeads)) == 1 })
	if _, r := h.bot.Ready(); r != "ok (leader)" {
		t.Errorf("ready says %q while leading", r)
	}
	lose()
	h.waitFor("the bot to stand by again", func() bool { _, r := h.bot.Ready(); return r == "ok (standby)" })
	before := len(digests(h, cLeads))
	h.advance(time.Minute) // a new slot, which only a leader would post
	h.waitTicks(2)
	if n := len(digests(h, cLeads)); n != before {
		t.Errorf("%d digests after losing leadership, want %d", n, before)
	}
	// Taking over later catches up the slot missed meanwhile, once.
	lead2, lose2 := context.WithCancel(context.Background())
	defer lose2()
	grant <- lead2
	h.waitFor("the new leader's catch-up", func() bool { return len(digests(h, cLeads)) == before+1 })
	h.waitTicks(2)
	if n := len(digests(h, cLeads)); n != before+1 {
		t.Errorf("%d digests after taking over, want %d", n, before+1)
	}
	for _, m := range digests(h, cLeads) {
		if !strings.HasPrefix(m.Text, "Work digest") {
			t.Errorf("unexpected message %q", m.Text)
		}
	}
}
