package bot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// repoRoot walks up from the test's directory to the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// manifestSchema loads Slack's manifest schema from the shared folder beside the repository. A clone
// without that folder skips the schema checks; WORKBOT_REQUIRE_SHARED=1 (set by .ci/run) makes its
// absence a failure, so CI always validates.
func manifestSchema(t *testing.T, root string) *jsonschema.Schema {
	t.Helper()
	path := filepath.Join(root, "..", "shared", "schemas", "slack-app-manifest", "manifest.schema.1.0.0.json")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if os.Getenv("WORKBOT_REQUIRE_SHARED") != "" {
			t.Fatalf("Slack's manifest schema is missing at %s, and WORKBOT_REQUIRE_SHARED is set", path)
		}
		t.Skipf("skipping: Slack's manifest schema is not at %s (set WORKBOT_REQUIRE_SHARED=1 to require it)", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("schema %s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	c.UseRegexpEngine(lookaheadRegexp)
	if err := c.AddResource("manifest.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("manifest.schema.json")
	if err != nil {
		t.Fatalf("compile schema: %v", err)
	}
	return s
}

// lookaheadRegexp compiles the patterns of Slack's schema with Go's regexp. Slack's domain patterns
// open with a negative lookahead ("^(?![\\.\\-])..."), which RE2 lacks; that one form is run as "does
// not start with the lookahead, and matches the rest". Any other unsupported pattern is an error, so
// nothing is silently skipped.
func lookaheadRegexp(pattern string) (jsonschema.Regexp, error) {
	if re, err := regexp.Compile(pattern); err == nil {
		return re, nil
	}
	const open = "^(?!"
	if !strings.HasPrefix(pattern, open) {
		return nil, fmt.Errorf("pattern %q: unsupported by Go's regexp", pattern)
	}
	depth, end := 1, -1
	for i := len(open); i < len(pattern) && end < 0; i++ {
		switch pattern[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				end = i
			}
		}
	}
	if end < 0 {
		return nil, fmt.Errorf("pattern %q: unbalanced lookahead", pattern)
	}
	ahead, err := regexp.Compile("^(?:" + pattern[len(open):end] + ")")
	if err != nil {
		return nil, err
	}
	rest, err := regexp.Compile("^" + pattern[end+1:])
	if err != nil {
		return nil, err
	}
	return negativeLookahead{pattern: pattern, ahead: ahead, rest: rest}, nil
}

type negativeLookahead struct {
	pattern     string
	ahead, rest *regexp.Regexp
}

func (n negativeLookahead) MatchString(s string) bool {
	return !n.ahead.MatchString(s) && n.rest.MatchString(s)
}

func (n negativeLookahead) String() string { return n.pattern }

// yamlToJSONValue converts YAML to the generic values the validator expects, via JSON so numbers and
// maps have JSON's shapes.
func yamlToJSONValue(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatalf("manifest.yaml is not YAML: %v", err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("manifest.yaml does not convert to JSON: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(strings.NewReader(string(js)))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type manifest struct {
	Features struct {
		AppHome struct {
			HomeTab     bool `json:"home_tab_enabled"`
			MessagesTab bool `json:"messages_tab_enabled"`
		} `json:"app_home"`
		Shortcuts []struct {
			CallbackID string `json:"callback_id"`
			Type       string `json:"type"`
		} `json:"shortcuts"`
		SlashCommands []struct {
			Command      string `json:"command"`
			ShouldEscape bool   `json:"should_escape"`
			Description  string `json:"description"`
			UsageHint    string `json:"usage_hint"`
		} `json:"slash_commands"`
	} `json:"features"`
	OAuth struct {
		Scopes struct {
			Bot  []string `json:"bot"`
			User []string `json:"user"`
		} `json:"scopes"`
	} `json:"oauth_config"`
	Settings struct {
		Events struct {
			BotEvents []string `json:"bot_events"`
		} `json:"event_subscriptions"`
		Interactivity struct {
			Enabled bool `json:"is_enabled"`
		} `json:"interactivity"`
		SocketMode    bool `json:"socket_mode_enabled"`
		OrgDeploy     bool `json:"org_deploy_enabled"`
		TokenRotation bool `json:"token_rotation_enabled"`
	} `json:"settings"`
}

// TestManifestIsValid checks manifest.yaml against Slack's own schema.
func TestManifestIsValid(t *testing.T) {
	root := repoRoot(t)
	schema := manifestSchema(t, root)
	if err := schema.Validate(yamlToJSONValue(t, readManifest(t, root))); err != nil {
		t.Fatalf("manifest.yaml does not match Slack's schema:\n%v", err)
	}
}

func readManifest(t *testing.T, root string) []byte {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(root, "manifest.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestManifestMatchesTheCode needs no schema: the command, the scopes and the events must be those the
// code handles and uses.
func TestManifestMatchesTheCode(t *testing.T) {
	root := repoRoot(t)
	js, _ := json.Marshal(yamlToJSONValue(t, readManifest(t, root)))
	var m manifest
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Features.SlashCommands) != 1 {
		t.Fatalf("want exactly one slash command, got %d", len(m.Features.SlashCommands))
	}
	cmd := m.Features.SlashCommands[0]
	if cmd.Command != SlashCommand {
		t.Errorf("manifest command %q, code handles %q", cmd.Command, SlashCommand)
	}
	if !cmd.ShouldEscape {
		t.Error("should_escape must be true: mentions must arrive as <@U123|name>")
	}
	if cmd.Description == "" || cmd.UsageHint == "" {
		t.Error("the command needs a description and a usage hint")
	}
	var want []string
	for _, s := range Scopes {
		want = append(want, s.Name)
	}
	got := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot))
	if want = slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
		t.Errorf("bot scopes %v, want exactly %v (bot.Scopes)", got, want)
	}
	if len(m.OAuth.Scopes.User) != 0 {
		t.Errorf("no user scopes are needed, got %v", m.OAuth.Scopes.User)
	}
	if !m.Features.AppHome.HomeTab || !m.Features.AppHome.MessagesTab {
		t.Error("App Home and Messages tabs must be enabled")
	}
	if got, want := slices.Sorted(slices.Values(m.Settings.Events.BotEvents)), slices.Sorted(slices.Values(Events)); !slices.Equal(got, want) {
		t.Errorf("bot events %v, want %v", got, want)
	}
	shortcuts := map[string]string{}
	for _, sc := range m.Features.Shortcuts {
		shortcuts[sc.CallbackID] = sc.Type
	}
	if len(shortcuts) != 2 || shortcuts[ShortcutFileMessage] != "message" || shortcuts[ShortcutNewRequest] != "global" {
		t.Errorf("shortcuts %v, want %s (message) and %s (global)", shortcuts, ShortcutFileMessage, ShortcutNewRequest)
	}
	if !m.Settings.Interactivity.Enabled || !m.Settings.SocketMode || m.Settings.OrgDeploy || m.Settings.TokenRotation {
		t.Errorf("settings: %+v", m.Settings)
	}
}

// TestManifestScopesSayWhy: every scope in manifest.yaml carries a comment with its reason.
func TestManifestScopesSayWhy(t *testing.T) {
	src := string(readManifest(t, repoRoot(t)))
	for _, s := range Scopes {
		re := regexp.MustCompile(`(?m)^\s*- ` + regexp.QuoteMeta(s.Name) + `\s+#\s*\S`)
		if !re.MatchString(src) {
			t.Errorf("scope %s has no comment saying why it is needed", s.Name)
		}
	}
}

// TestManifestSchemaRefusesBrokenManifests proves the validation above can fail.
func TestManifestSchemaRefusesBrokenManifests(t *testing.T) {
	root := repoRoot(t)
	schema := manifestSchema(t, root)
	src := readManifest(t, root)
	breakages := map[string]func(m map[string]any){
		"no display name": func(m map[string]any) {
			delete(m["display_information"].(map[string]any), "name")
		},
		"command without slash": func(m map[string]any) {
			cmds := m["features"].(map[string]any)["slash_commands"].([]any)
			cmds[0].(map[string]any)["command"] = "work"
		},
		"unknown setting": func(m map[string]any) {
			m["settings"].(map[string]any)["socket_mode"] = true
		},
		"unfurl domain starting with a dash": func(m map[string]any) {
			m["features"].(map[string]any)["unfurl_domains"] = []any{"-bad.example.com"}
		},
		"escape as string": func(m map[string]any) {
			cmds := m["features"].(map[string]any)["slash_commands"].([]any)
			cmds[0].(map[string]any)["should_escape"] = "yes"
		},
	}
	for name, breakIt := range breakages {
		t.Run(name, func(t *testing.T) {
			value := yamlToJSONValue(t, src).(map[string]any)
			breakIt(value)
			if err := schema.Validate(value); err == nil {
				t.Error("the schema accepted a broken manifest")
			}
		})
	}
}

// TestLookaheadPatternAcceptsGoodDomains guards the regexp shim from refusing everything.
func TestLookaheadPatternAcceptsGoodDomains(t *testing.T) {
	re, err := lookaheadRegexp(`^(?![\.\-])([-a-z0-9\.])+([a-z0-9])$`)
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"example.com": true, "a-b.io": true, "-x.com": false, ".x.com": false, "x.com.": false} {
		if got := re.MatchString(s); got != want {
			t.Errorf("MatchString(%q) = %v, want %v", s, got, want)
		}
	}
	if _, err := lookaheadRegexp(`(?<=a)b`); err == nil {
		t.Error("an unsupported pattern was accepted")
	}
}
