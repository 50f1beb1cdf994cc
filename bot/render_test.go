package bot

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares v's JSON with testdata/golden/<name>.json.
func golden(t *testing.T, name string, v any) {
	t.Helper()
	// Round-trip through a generic value: slack-go's own MarshalJSON escapes HTML characters.
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "<@U1>" and "&lt;" readable in the golden files
	enc.SetIndent("", "  ")
	if err := enc.Encode(generic); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test ./bot -run %s -update` to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file %s; if the change is intended, rerun with -update.\ngot:\n%s", name, path, got)
	}
}

var renderNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func renderPolicy() *domain.Policy {
	p := domain.DefaultPolicy()
	p.Leads = []domain.UserID{"ULEAD"}
	p.Teams = []domain.Team{{ID: "platform", Name: "Platform", Leads: []domain.UserID{"ULEAD"}, Members: []domain.UserID{"UDEV", "UQA"}}}
	return p
}

func sampleItem() domain.Item {
	created := renderNow.Add(-50 * time.Hour)
	return domain.Item{
		ID: 42, Key: "W-42", Title: "Fix <!channel> & login", Details: "Users see a 500 on <https://example.com|login>.",
		Kind: "bug", Requester: "UREQ", Team: "platform", Value: 4, Urgency: 5, Size: 3,
		Due: domain.Date{Year: 2026, Month: 11, Day: 27}, Stage: domain.StageInProgress, Assignee: "UDEV",
		CreatedAt: created, StageEnteredAt: created, LastActivityAt: created, UpdatedAt: created, Version: 3,
	}
}

func TestRenderItemMessageGolden(t *testing.T) {
	p := renderPolicy()
	it := sampleItem()
	v := itemView{Item: it, Score: p.Score(it, renderNow), Policy: p, Now: renderNow}
	golden(t, "item_in_progress", itemMessage(v))

	intake := it
	intake.Stage, intake.Assignee = domain.StageIntake, ""
	golden(t, "item_intake", itemMessage(itemView{Item: intake, Score: p.Score(intake, renderNow), Policy: p, Now: renderNow}))
	other := it
	other.ID, other.Key, other.Title = 7, "W-7", "Fix <!here> login & SSO"
	golden(t, "item_intake_similar", itemMessage(itemView{Item: intake, Score: p.Score(intake, renderNow), Policy: p, Now: renderNow,
		Similar: []similarItem{{Item: other}}}))

	blocked := it
	blocked.BlockedReason = "waiting on <@U999> & vendor"
	blocked.PendingHandoff = 7
	h := domain.Handoff{ID: 7, ItemID: 42, From: "UDEV", To: "UQA", Status: domain.HandoffPending, RequestedBy: "UDEV", RequestedAt: renderNow.Add(-2 * time.Hour)}
	golden(t, "item_blocked_handoff", itemMessage(itemView{Item: blocked, Score: p.Score(blocked, renderNow), Handoff: &h, Policy: p, Now: renderNow}))

	done := it
	done.Stage, done.Resolution, done.DoneAt = domain.StageDone, domain.ResolutionDone, renderNow
	golden(t, "item_done", itemMessage(itemView{Item: done, Score: p.Score(done, renderNow), Policy: p, Now: renderNow}))
}

func TestRenderModalsGolden(t *testing.T) {
	p := renderPolicy()
	it := sampleItem()
	golden(t, "modal_intake", intakeModal(intakeForm{Title: "Prefilled <b> title"}, p))
	similar := it
	similar.Title = "Login <!channel> broken"
	golden(t, "modal_intake_similar", intakeModal(intakeForm{Title: "Login fails", Details: "from home", Requester: "UREQ",
		Source: domain.Source{Conversation: "C1", Message: "17.2"}, Similar: []similarItem{{Item: similar}}}, p))
	golden(t, "modal_prioritise", prioritiseModal(it))
	golden(t, "modal_handoff", handoffModal(it, p))
	loads := []domain.PersonLoad{
		{Person: domain.Person{ID: "UQA"}, Load: 2, Capacity: 10, Utilisation: 0.2},
		{Person: domain.Person{ID: "UDEV"}, Load: 12, Capacity: 10, Utilisation: 1.2, Overloaded: true},
	}
	golden(t, "modal_assign", assignModal(it, loads))
	pv := domain.AssignPreview{
		Item: it, Assignee: loads[1], After: domain.PersonLoad{Person: loads[1].Person, Load: 15, Capacity: 10, Utilisation: 1.5, Overloaded: true},
		Warnings: []domain.Warning{{Code: domain.WarnOverload, Message: "UDEV would be at 150% of capacity."}}, Suggestion: &loads[0],
	}
	golden(t, "modal_assign_confirm", assignConfirmModal(pv))
}

func TestRenderHandoffDMGolden(t *testing.T) {
	p := renderPolicy()
	it := sampleItem()
	h := domain.Handoff{ID: 7, ItemID: 42, From: "UDEV", To: "UQA", Status: domain.HandoffPending, RequestedBy: "UDEV",
		RequestedAt: renderNow, NextStage: domain.StageTesting, Note: domain.HandoffNote{Done: "Fix merged", Next: "Test <login> flow", Links: "https://example.com/pr/1"}}
	golden(t, "handoff_dm_pending", handoffDM(h, it, p, false))
	h.Status, h.DecidedBy, h.Reason = domain.HandoffDeclined, "UQA", "No capacity & on call"
	golden(t, "handoff_dm_declined", handoffDM(h, it, p, false))
}

func TestRenderHomeGolden(t *testing.T) {
	p := renderPolicy()
	it := sampleItem()
	d := homeData{
		User: "ULEAD", Policy: p, IsLead: true,
		Mine:       p.Rank([]domain.Item{it}, renderNow),
		Incoming:   []handoffWithItem{{Handoff: domain.Handoff{ID: 7, ItemID: 42, RequestedBy: "UDEV", To: "ULEAD", Status: domain.HandoffPending, Note: domain.HandoffNote{Next: "Review it"}}, Item: it}},
		Requests:   []domain.Item{it},
		Load:       domain.PersonLoad{Person: domain.Person{ID: "ULEAD"}, Load: 3, Capacity: 10, Utilisation: 0.3},
		TeamLoad:   []domain.PersonLoad{{Person: domain.Person{ID: "UDEV"}, Load: 12, Capacity: 10, Utilisation: 1.2, Overloaded: true}},
		TriageSize: 1, TriageQueue: p.Rank([]domain.Item{it}, renderNow),
	}
	golden(t, "home_lead", homeView(d))
}

// TestEscapingEverywhere renders hostile text through every renderer and checks that no control
// sequence survives.
func TestEscapingEverywhere(t *testing.T) {
	p := renderPolicy()
	hostile := "<!channel> <!here> <@U123> & <!subteam^S1> <#C1>"
	it := sampleItem()
	it.Title, it.Details, it.BlockedReason, it.Kind, it.Team = hostile, hostile, hostile, hostile, domain.TeamID(hostile)
	h := domain.Handoff{ID: 1, ItemID: it.ID, RequestedBy: "UDEV", To: "UQA", Status: domain.HandoffDeclined, DecidedBy: "UQA", Reason: hostile,
		Note: domain.HandoffNote{Done: hostile, Next: hostile, Links: hostile}}
	v := itemView{Item: it, Score: p.Score(it, renderNow), Policy: p, Now: renderNow, Handoff: &h}
	outputs := map[string]any{
		"item":    itemMessage(v),
		"text":    itemText(v),
		"show":    showBlocks(v, []domain.Event{{Type: domain.EventBlocked, Actor: "UDEV", Note: hostile}}),
		"dm":      handoffDM(h, it, p, false),
		"list":    listBlocks("x", p.Rank([]domain.Item{it}, renderNow), p, true),
		"modal":   handoffModal(it, p),
		"home":    homeView(homeData{Policy: p, Mine: p.Rank([]domain.Item{it}, renderNow), Requests: []domain.Item{it}}),
		"event":   eventLine(domain.Event{Type: domain.EventRejected, Actor: "ULEAD", Note: hostile}, p),
		"outcome": handoffOutcome(h),
	}
	for name, out := range outputs {
		raw, err := json.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		s := string(raw)
		// JSON escapes < and > as \u003c/\u003e; undo that to look at the text Slack would read.
		s = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(s)
		for _, bad := range []string{"<!channel>", "<!here>", "<@U123>", "<!subteam", "<#C1>"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s: %q survived unescaped", name, bad)
			}
		}
		if !strings.Contains(s, "&lt;!channel&gt;") && name != "modal" && name != "intake" {
			t.Errorf("%s: the hostile text is missing or not escaped: %.300s", name, s)
		}
	}
}

// The request form prefills a plain_text_input, which Slack never parses for mentions: the title must
// arrive verbatim for the requester to edit.
func TestIntakePrefillIsVerbatim(t *testing.T) {
	v := intakeModal(intakeForm{Title: "<!channel> & co"}, renderPolicy())
	in := v.Blocks.BlockSet[0].(*slack.InputBlock)
	if got := in.Element.(*slack.PlainTextInputBlockElement).InitialValue; got != "<!channel> & co" {
		t.Errorf("prefill = %q", got)
	}
}

func TestCutAndEscape(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a long title here", 8, "a long…"},
		{"ééééé", 3, "éé…"},
	}
	for _, tc := range tests {
		if got := cut(tc.in, tc.max); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
	if got := esc("<a & b>"); got != "&lt;a &amp; b&gt;" {
		t.Errorf("esc = %q", got)
	}
	// escCut never splits an entity and stays within the limit.
	s := strings.Repeat("&", 100)
	got := escCut(s, 12)
	if n := len([]rune(got)); n > 12 || !strings.HasSuffix(got, "…") {
		t.Errorf("escCut = %q (%d runes)", got, n)
	}
	for _, e := range strings.Split(strings.TrimSuffix(got, "…"), ";") {
		if e != "" && e != "&amp" {
			t.Errorf("escCut split an entity: %q", got)
		}
	}
}

func TestParseUser(t *testing.T) {
	tests := []struct {
		in   string
		want domain.UserID
		ok   bool
	}{
		{"<@U123ABC|alice>", "U123ABC", true},
		{"<@U123ABC>", "U123ABC", true},
		{"U123ABC", "U123ABC", true},
		{"@U123ABC", "U123ABC", true},
		{"<@U123ABC|al>ice>", "", false},
		{"alice", "", false},
		{"<!channel>", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, ok := parseUser(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseUser(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// bigOrg builds n open items across people, to check that renderers stay within Slack's limits.
func bigOrg(n int) []domain.Item {
	var items []domain.Item
	for i := 1; i <= n; i++ {
		items = append(items, domain.Item{
			ID: domain.ItemID(i), Key: fmt.Sprintf("W-%d", i), Title: strings.Repeat("Very long title ", 20),
			Stage: domain.StageInProgress, Assignee: domain.UserID(fmt.Sprintf("U%04d", i%300)), Value: 1 + i%5, Urgency: 1 + i%4,
			Size: domain.Sizes[i%len(domain.Sizes)], CreatedAt: renderNow.Add(-time.Duration(i) * time.Hour),
			BlockedReason: strings.Repeat("x", i%3*400), Due: domain.Date{Year: 2026, Month: 11, Day: 1 + i%28},
		})
	}
	return items
}

func TestRenderersStayWithinLimitsForLargeInput(t *testing.T) {
	p := renderPolicy()
	items := bigOrg(2000)
	ranked := p.Rank(items, renderNow)
	var incoming []handoffWithItem
	for i := range 300 {
		incoming = append(incoming, handoffWithItem{Handoff: domain.Handoff{ID: domain.HandoffID(i + 1), RequestedBy: "UDEV", To: "ULEAD", Status: domain.HandoffPending}, Item: items[i]})
	}
	var loads []domain.PersonLoad
	for i := range 500 {
		loads = append(loads, domain.PersonLoad{Person: domain.Person{ID: domain.UserID(fmt.Sprintf("U%04d", i))}, Load: i, Capacity: 10, Utilisation: float64(i) / 10, Overloaded: i > 10})
	}
	home := homeView(homeData{Policy: p, IsLead: true, Mine: ranked, Incoming: incoming, Outgoing: incoming, Requests: items, TeamLoad: loads, TriageSize: 2000, TriageQueue: ranked})
	checkBlocks(t, "home", home.Blocks.BlockSet, maxViewBlocks)
	checkBlocks(t, "list", listBlocks("All", ranked, p, true), maxMessageBlocks)
	checkBlocks(t, "list plain", listBlocks("All", ranked, p, false), maxMessageBlocks)
	am := assignModal(items[0], loads)
	checkBlocks(t, "assign modal", am.Blocks.BlockSet, maxViewBlocks)
	long := items[0]
	long.Title = strings.Repeat("&", 5000)
	long.Details = strings.Repeat("<", 5000)
	long.BlockedReason = strings.Repeat(">", 5000)
	v := itemView{Item: long, Score: p.Score(long, renderNow), Policy: p, Now: renderNow}
	checkBlocks(t, "item", itemMessage(v), maxMessageBlocks)
	if n := len([]rune(itemText(v))); n > maxMessageText {
		t.Errorf("item text is %d runes", n)
	}
}

// checkBlocks asserts the block count and every text object's length limit.
func checkBlocks(t *testing.T, name string, blocks []slack.Block, max int) {
	t.Helper()
	if len(blocks) > max {
		t.Errorf("%s: %d blocks, limit %d", name, len(blocks), max)
	}
	for i, blk := range blocks {
		switch b := blk.(type) {
		case *slack.SectionBlock:
			if b.Text != nil && len([]rune(b.Text.Text)) > maxSectionText {
				t.Errorf("%s: block %d section text %d runes", name, i, len([]rune(b.Text.Text)))
			}
			for _, f := range b.Fields {
				if len([]rune(f.Text)) > maxFieldText {
					t.Errorf("%s: block %d field %d runes", name, i, len([]rune(f.Text)))
				}
			}
		case *slack.HeaderBlock:
			if len([]rune(b.Text.Text)) > maxHeaderText {
				t.Errorf("%s: block %d header %d runes", name, i, len([]rune(b.Text.Text)))
			}
		}
	}
}
