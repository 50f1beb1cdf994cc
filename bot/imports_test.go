package bot

import (
	"os/exec"
	"strings"
	"testing"
)

// The bot reaches persistence only through the Store port, so the same bot runs on bbolt and on
// PostgreSQL. Tests may open a real store; the package itself may not import one.
func TestBotImportsNoStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "workbot/bot").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "workbot/storage") || pkg == "go.etcd.io/bbolt" || strings.HasPrefix(pkg, "github.com/jackc/pgx") {
			t.Errorf("bot depends on %s", pkg)
		}
	}
}
