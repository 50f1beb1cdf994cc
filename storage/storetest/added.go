package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"workbot/domain"
)

// Behaviours added after the first contract: sources, followers, the text index, and the adapters'
// state inside a domain transaction.

func init() {
	addedTests = append(addedTests,
		namedTest{"SourcesAndFollowersRoundTrip", testSourcesAndFollowers},
		namedTest{"OneSourceMessageOneItemUnderConcurrency", testSourceUnderConcurrency},
		namedTest{"SimilarOpenItemsFindsOpenDuplicatesOnly", testSimilarOpenItems},
		namedTest{"StateInsideADomainTransaction", testStateInDomainTx},
	)
}

type namedTest struct {
	name string
	fn   func(t *testing.T, f Factory)
}

var addedTests []namedTest

func testSourcesAndFollowers(t *testing.T, f Factory) {
	s := f.New(t)
	src := domain.Source{Conversation: "C1", Message: "17.1", Thread: "17.0"}
	it := FullItem(1)
	it.Source, it.Followers = src, []domain.UserID{"U2", "U3"}
	mustUpdate(t, s, func(tx domain.Tx) error { return tx.PutItem(it) })
	s = f.Reopen(t, s)
	t.Cleanup(func() { check(t, s) })
	mustView(t, s, func(tx domain.ReadTx) error {
		id, ok, err := tx.ItemBySource(src.Key())
		if err != nil || !ok || id != 1 {
			t.Errorf("ItemBySource = %d, %v, %v", id, ok, err)
		}
		if _, ok, err := tx.ItemBySource("C1/18.0"); ok || err != nil {
			t.Errorf("ItemBySource(unknown) = %v, %v", ok, err)
		}
		got, err := tx.Item(1)
		if err != nil || got.Source != src || !slices.Equal(got.Followers, it.Followers) {
			t.Errorf("Item = %+v, %v", got, err)
		}
		return nil
	})
}

// Two transactions filing one message at once: one item, and the other learns of it.
func testSourceUnderConcurrency(t *testing.T, f Factory) {
	s := open(t, f)
	src := domain.Source{Conversation: "C1", Message: "42.0"}
	var wg sync.WaitGroup
	ids := make([]domain.ItemID, 8)
	errs := make([]error, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.Update(context.Background(), func(tx domain.Tx) error {
				if id, ok, err := tx.ItemBySource(src.Key()); err != nil || ok {
					ids[i] = id
					return err
				}
				it := FullItem(0)
				it.Source, it.Resolution, it.Stage = src, "", "intake"
				id, err := CreateItem(tx, it)
				ids[i] = id
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		if ids[i] != ids[0] {
			t.Errorf("writer %d filed item %d, writer 0 item %d", i, ids[i], ids[0])
		}
	}
	n := 0
	mustView(t, s, func(tx domain.ReadTx) error {
		return tx.OpenItems(func(domain.Item) bool { n++; return true })
	})
	if n != 1 {
		t.Errorf("%d items for one message", n)
	}
}

func testSimilarOpenItems(t *testing.T, f Factory) {
	s := open(t, f)
	texts := []struct{ title, details string }{
		{"VPN disconnects every hour when working from home", "Since Monday the client drops the tunnel."},
		{"Printer on the third floor jams", "Every second page."},
		{"Order a new laptop for the new hire", "Starting on the 1st."},
		{"VPN drops the connection at home every hour", ""},
	}
	for i, x := range texts {
		it := FullItem(domain.ItemID(i + 1))
		it.Title, it.Details, it.Resolution, it.Stage = x.title, x.details, "", "intake"
		mustUpdate(t, s, func(tx domain.Tx) error { return tx.PutItem(it) })
	}
	similar := func(text string, except domain.ItemID) []domain.ItemID {
		var out []domain.ItemID
		mustView(t, s, func(tx domain.ReadTx) error {
			ms, err := tx.SimilarOpenItems(text, except, 3)
			for _, m := range ms {
				out = append(out, m.Item)
			}
			return err
		})
		return out
	}
	if got := similar("VPN keeps disconnecting from home", 0); len(got) == 0 || (got[0] != 1 && got[0] != 4) || slices.Contains(got, 2) {
		t.Errorf("similar to a VPN complaint: %v", got)
	}
	if got := similar("VPN drops the connection at home every hour", 4); slices.Contains(got, 4) || !slices.Contains(got, 1) {
		t.Errorf("except 4: %v", got)
	}
	// Closing an item takes it out of the index; editing its text re-indexes it.
	closed := FullItem(1)
	closed.Title, closed.Resolution, closed.Stage = texts[0].title, domain.ResolutionDone, "done"
	mustUpdate(t, s, func(tx domain.Tx) error { return tx.PutItem(closed) })
	if got := similar("VPN keeps disconnecting from home", 0); slices.Contains(got, 1) {
		t.Errorf("a closed item is still suggested: %v", got)
	}
	edited := FullItem(2)
	edited.Title, edited.Details, edited.Resolution, edited.Stage = "Kubernetes cluster out of disk", "", "", "intake"
	mustUpdate(t, s, func(tx domain.Tx) error { return tx.PutItem(edited) })
	if got := similar("printer jams on the third floor", 0); slices.Contains(got, 2) {
		t.Errorf("old text still matches: %v", got)
	}
	if got := similar("the k8s cluster ran out of disk", 0); len(got) == 0 || got[0] != 2 {
		t.Errorf("new text does not match: %v", got)
	}
	if got := similar("", 0); len(got) != 0 {
		t.Errorf("empty text: %v", got)
	}
}

func testStateInDomainTx(t *testing.T, f Factory) {
	s := open(t, f)
	err := s.Update(context.Background(), func(tx domain.Tx) error {
		st := tx.State()
		if err := st.Put("markers", "a", []byte("1")); err != nil {
			return err
		}
		v, err := st.Get("markers", "a")
		if err != nil || string(v) != "1" {
			return fmt.Errorf("read own write: %q, %v", v, err)
		}
		return tx.Enqueue(domain.Effect{Kind: "post", Key: "k"})
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := fmt.Errorf("boom")
	if err := s.Update(context.Background(), func(tx domain.Tx) error {
		if err := tx.State().Put("markers", "b", []byte("2")); err != nil {
			return err
		}
		return boom
	}); err != boom {
		t.Fatalf("Update = %v", err)
	}
	if err := s.ViewState(context.Background(), func(tx domain.StateReader) error {
		a, _ := tx.Get("markers", "a")
		b, _ := tx.Get("markers", "b")
		if string(a) != "1" || b != nil {
			t.Errorf("markers a=%q b=%q: want a kept with its change, b rolled back", a, b)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
