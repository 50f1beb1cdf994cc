package pgstore_test

import (
	"context"
	"sync"
	"testing"

	"workbot/bot"
	"workbot/storage/pgstore"
	"workbot/storage/pgstore/pgtest"
	"workbot/storage/storetest"
)

// factory opens each test's store in a fresh schema.
type factory struct {
	mu   sync.Mutex
	urls map[*pgstore.Store]string
}

func newFactory() *factory { return &factory{urls: map[*pgstore.Store]string{}} }

func (f *factory) open(t *testing.T, url string) *pgstore.Store {
	t.Helper()
	s, err := pgstore.Open(context.Background(), url, pgstore.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	f.mu.Lock()
	f.urls[s] = url
	f.mu.Unlock()
	return s
}

func (f *factory) New(t *testing.T) bot.Store { return f.open(t, pgtest.URL(t)) }

func (f *factory) Reopen(t *testing.T, s bot.Store) bot.Store {
	ps := s.(*pgstore.Store)
	f.mu.Lock()
	url := f.urls[ps]
	f.mu.Unlock()
	if err := ps.Close(); err != nil {
		t.Fatal(err)
	}
	return f.open(t, url)
}

func TestContract(t *testing.T) {
	storetest.Run(t, newFactory())
}
