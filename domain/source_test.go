package domain

import (
	"slices"
	"testing"
)

// One message never becomes two items: a second filing of the same message returns the first item.
func TestCreateFromASourceMessageOnce(t *testing.T) {
	env := newOpsEnv(t)
	src := Source{Conversation: "C1", Message: "1700000000.000100", Thread: "1700000000.000001"}
	res := env.must(env.svc.Create(bg, opDev1, NewItem{Title: "VPN drops", Requester: opReq, Source: src}))
	it := res.Item
	if it.Requester != opReq || it.Source != src {
		t.Fatalf("created %+v", it)
	}
	ev := res.Events[0]
	if ev.Actor != opDev1 || ev.Subject != opReq {
		t.Errorf("created event: actor %q subject %q; want the filer as actor and the requester as subject", ev.Actor, ev.Subject)
	}
	if _, after, _ := changeOfPair(ev, "source"); after != src.Key() {
		t.Errorf("the event does not name the source: %+v", ev.Changes)
	}
	again, err := env.svc.Create(bg, opLead, NewItem{Title: "VPN drops (again)", Source: Source{Conversation: "C1", Message: src.Message}})
	if ErrorCode(err) != ECONFLICT || again.Item.ID != it.ID {
		t.Fatalf("second filing = %+v, %v; want ECONFLICT with %s", again.Item.Key, err, it.Key)
	}
	if n := len(env.store.snapshot().items); n != 1 {
		t.Errorf("%d items, want 1", n)
	}
	for _, bad := range []NewItem{
		{Title: "x", Source: Source{Conversation: "C1"}},
		{Title: "x", Source: Source{Message: "1.2"}},
		{Title: "x", Requester: SystemActor},
	} {
		if _, err := env.svc.Create(bg, opDev1, bad); ErrorCode(err) != EINVALID {
			t.Errorf("Create(%+v) = %v, want EINVALID", bad, err)
		}
	}
}

func changeOfPair(e Event, field string) (string, string, bool) {
	for _, c := range e.Changes {
		if c.Field == field {
			return c.Before, c.After, true
		}
	}
	return "", "", false
}

func TestFollowAndUnfollow(t *testing.T) {
	env := newOpsEnv(t)
	it := env.create("printer")
	res := env.must(env.svc.Follow(bg, opDev2, it.ID))
	if !slices.Equal(res.Item.Followers, []UserID{opDev2}) || res.Item.LastActivityAt != it.LastActivityAt {
		t.Errorf("after follow: followers %v, activity %v (was %v)", res.Item.Followers, res.Item.LastActivityAt, it.LastActivityAt)
	}
	env.refuses(ECONFLICT, func() error { return errOf(env.svc.Follow(bg, opDev2, it.ID)) })
	env.refuses(ECONFLICT, func() error { return errOf(env.svc.Follow(bg, opReq, it.ID)) }) // the requester hears anyway
	res = env.must(env.svc.Unfollow(bg, opDev2, it.ID))
	if len(res.Item.Followers) != 0 {
		t.Errorf("after unfollow: %v", res.Item.Followers)
	}
	env.refuses(ECONFLICT, func() error { return errOf(env.svc.Unfollow(bg, opDev2, it.ID)) })
	closed := env.createIn("closed", "done", opDev1)
	env.refuses(ECONFLICT, func() error { return errOf(env.svc.Follow(bg, opDev2, closed.ID)) })
}
