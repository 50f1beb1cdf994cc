package domain_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDomainImportsOnlyTheStandardLibrary keeps the dependency arrow pointing inward: domain must
// build without Slack, bbolt or any other module, so its rules stay readable and testable alone.
func TestDomainImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", "workbot/domain").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 5 {
		t.Fatalf("go list returned too little to trust:\n%s", out)
	}
	sawDomain := false
	for _, line := range lines {
		path, standard, _ := strings.Cut(line, " ")
		switch {
		case path == "workbot/domain":
			sawDomain = true
		case strings.HasPrefix(path, "github.com/slack-go/"), strings.HasPrefix(path, "go.etcd.io/"):
			t.Errorf("domain depends on %s", path)
		case standard != "true":
			t.Errorf("domain depends on %s, which is not in the standard library", path)
		}
	}
	if !sawDomain {
		t.Errorf("go list did not list workbot/domain itself:\n%s", out)
	}
}
