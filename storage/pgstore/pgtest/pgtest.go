// Package pgtest gives tests a fresh PostgreSQL schema each.
//
// The server comes from WORKBOT_TEST_POSTGRES (a postgres:// URL). When that is unset, the default
// DefaultURL is tried once per test binary; if it cannot be reached the tests skip with a one-line
// note, so `make test` passes on a machine without PostgreSQL. When WORKBOT_TEST_POSTGRES is set and
// the server cannot be reached, the tests fail: CI set it on purpose.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable that points tests at a server.
const Env = "WORKBOT_TEST_POSTGRES"

// DefaultURL is tried when Env is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var (
	once      sync.Once
	serverURL string
	reachErr  error
	explicit  bool
)

func server() (string, error, bool) {
	once.Do(func() {
		serverURL = os.Getenv(Env)
		explicit = serverURL != ""
		if !explicit {
			serverURL = DefaultURL
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, serverURL)
		if err != nil {
			reachErr = err
			return
		}
		reachErr = conn.Ping(ctx)
		_ = conn.Close(ctx)
	})
	return serverURL, reachErr, explicit
}

// ServerURL returns the server's URL, skipping or failing t as the package comment says.
func ServerURL(t testing.TB) string {
	t.Helper()
	u, err, explicit := server()
	if err != nil {
		if explicit {
			t.Fatalf("%s is set but PostgreSQL cannot be reached: %v", Env, err)
		}
		t.Skipf("PostgreSQL not reachable at %s (set %s to run these tests)", DefaultURL, Env)
	}
	return u
}

// URL creates a fresh schema, drops it when t ends, and returns a URL whose connections use it.
func URL(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "wbtest_" + hex.EncodeToString(b[:])
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
