package storage_test

import (
	"path/filepath"
	"sync"
	"testing"

	"workbot/bot"
	"workbot/storage"
	"workbot/storage/storetest"
)

// boltFactory opens each test's store in a fresh file.
type boltFactory struct {
	mu     sync.Mutex
	closed map[*storage.DB]bool
}

func (f *boltFactory) open(t *testing.T, path string) *storage.DB {
	t.Helper()
	db, err := storage.Open(path, storage.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { f.close(t, db) })
	return db
}

func (f *boltFactory) close(t *testing.T, db *storage.DB) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed[db] {
		return
	}
	f.closed[db] = true
	if err := db.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func (f *boltFactory) New(t *testing.T) bot.Store {
	return f.open(t, filepath.Join(t.TempDir(), "workbot.db"))
}

func (f *boltFactory) Reopen(t *testing.T, s bot.Store) bot.Store {
	db := s.(*storage.DB)
	f.close(t, db)
	return f.open(t, db.Path())
}

func TestContract(t *testing.T) {
	storetest.Run(t, &boltFactory{closed: map[*storage.DB]bool{}})
}
