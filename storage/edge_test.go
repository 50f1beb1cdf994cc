package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckOnFilesThatAreNotDatabases(t *testing.T) {
	dir := t.TempDir()
	if err := Check(filepath.Join(dir, "missing.db")); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("Check(missing) = %v, want a not-exist error", err)
	}
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("not a database\n", 2000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Check(text); err == nil || !strings.Contains(err.Error(), "not a workbot database") {
		t.Errorf("Check(text file) = %v, want 'not a workbot database'", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}
