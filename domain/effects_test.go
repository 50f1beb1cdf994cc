package domain

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// The Effects hook sees every committed change inside its transaction, so what a change owes the
// outside world commits with it, and a failing hook undoes the change.
func TestEffectsCommitWithTheChange(t *testing.T) {
	env := newOpsEnv(t)
	env.svc.Policy.HandoffEscalateAfter = time.Hour
	env.svc.Effects = func(tx Tx, res Result) error {
		kind := "person"
		if res.Item.ID != 0 {
			kind = string(res.Events[0].Type)
		}
		return tx.Enqueue(Effect{Kind: kind, Key: res.Item.Key, At: env.now})
	}
	it := env.create("printer on fire")
	env.must(env.svc.Assign(bg, opLead, it.ID, opDev1))
	env.must(env.svc.RequestHandoff(bg, opLead, it.ID, HandoffRequest{To: opDev2, Note: HandoffNote{Next: "finish"}}))
	if _, err := env.svc.SetCapacity(bg, opLead, opDev1, 5); err != nil {
		t.Fatal(err)
	}
	env.advance(48 * time.Hour)
	if hs, err := env.svc.EscalateHandoffs(bg); err != nil || len(hs) != 1 {
		t.Fatalf("escalate: %v %v", hs, err)
	}
	var kinds []string
	for _, e := range env.store.snapshot().effects {
		kinds = append(kinds, e.Kind)
	}
	want := []string{"created", "assigned", "handoff_requested", "person", "handoff_escalated"}
	if !slices.Equal(kinds, want) {
		t.Errorf("effects = %v, want %v", kinds, want)
	}

	before := env.store.snapshot()
	boom := errors.New("disk full")
	env.svc.Effects = func(Tx, Result) error { return boom }
	if _, err := env.svc.TriageItem(bg, opLead, it.ID, Triage{}); !errors.Is(err, boom) {
		t.Fatalf("triage with a failing hook = %v", err)
	}
	after := env.store.snapshot()
	if len(after.events) != len(before.events) || after.items[it.ID].Stage != before.items[it.ID].Stage {
		t.Error("a change whose effects could not be queued was kept")
	}
}
