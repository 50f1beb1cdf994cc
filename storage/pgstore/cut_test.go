package pgstore

import (
	"context"
	"testing"
	"time"

	"workbot/domain"
	"workbot/storage/pgstore/pgtest"
)

// A replica cut off from the database in the middle of a transaction leaves its server session idle
// in that transaction, holding its locks: nothing tells the server the client is gone (a partition
// sends no FIN or RST, and TCP keepalive takes hours by default). The locks it may hold are an item's
// row, a person's or a state key's advisory lock, or the one lock every replica's ClaimEffects takes.
// The server must end such a session soon, so that the other replicas carry on.
func TestCutOffReplicaReleasesItsLocks(t *testing.T) {
	url := pgtest.URL(t)
	other := openURL(t, url)
	ctx := context.Background()
	if err := other.Update(ctx, func(tx domain.Tx) error { return tx.PutItem(domain.Item{ID: 1, Version: 1}) }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		hold func(s *Store, tx *txn) error             // takes a lock inside the cut-off replica's transaction
		wait func(ctx context.Context, s *Store) error // needs the same lock, on the other replica
	}{
		{"item row", func(_ *Store, tx *txn) error { _, err := tx.Item(1); return err }, func(ctx context.Context, s *Store) error {
			return s.Update(ctx, func(tx domain.Tx) error {
				it, err := tx.Item(1)
				if err != nil {
					return err
				}
				it.Version++
				return tx.PutItem(it)
			})
		}},
		{"outbox claims", func(s *Store, tx *txn) error {
			_, err := tx.exec("hold claims", "SELECT pg_advisory_xact_lock($1)", s.lockKey("outbox-claims"))
			return err
		}, func(ctx context.Context, s *Store) error {
			_, err := s.ClaimEffects(ctx, "other", 10, time.Minute)
			return err
		}},
	} {
		proxy, viaProxy := pgtest.NewProxy(t, url)
		cutOff := openURL(t, viaProxy)
		// Before cutOff's Close, which would wait for its connection stuck in the cut.
		t.Cleanup(proxy.Close)
		locked := make(chan struct{})
		release := make(chan struct{})
		go func() {
			// Its commit goes nowhere; the proxy's Close at the end of the test ends the wait.
			_ = cutOff.write(ctx, func(tx *txn) error {
				if err := c.hold(cutOff, tx); err != nil {
					return err
				}
				close(locked)
				<-release
				return nil
			})
		}()
		select {
		case <-locked:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the cut-off replica never took its lock", c.name)
		}
		proxy.Cut()
		close(release)
		cut := time.Now()
		wctx, cancel := context.WithTimeout(ctx, idleInTransactionTimeout+10*time.Second)
		err := c.wait(wctx, other)
		cancel()
		if err != nil {
			t.Fatalf("%s: the other replica still waited %v after the cut: %v", c.name, time.Since(cut).Round(time.Second), err)
		}
		t.Logf("%s: the other replica got the lock %v after the cut", c.name, time.Since(cut).Round(100*time.Millisecond))
	}
}
