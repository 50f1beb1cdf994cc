package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"

	"workbot/bot/slackfake"
	"workbot/domain"
	"workbot/storage"
)

// Fuzz targets. `make fuzz` runs each for 30 s; `make test` runs their seeds (testdata/fuzz/…).

// FuzzRenderers: any item text the domain accepts, in any org size, renders within Slack's limits.
func FuzzRenderers(f *testing.F) {
	f.Add("Fix <!channel> & login", "Steps:\n1. *open* `it`", "blocked by <@U1>", "next: <http://x|y>", uint16(3), uint16(5))
	f.Add(strings.Repeat("ü", 150), strings.Repeat("x", 3000), strings.Repeat("&", 500), strings.Repeat("<", 2000), uint16(2000), uint16(3000))
	f.Add("", "", "", "", uint16(0), uint16(0))
	p := renderPolicy()
	f.Fuzz(func(t *testing.T, title, details, reason, note string, people, items uint16) {
		// The domain refuses longer text (domain/validate.go); renderers only ever see what it accepts.
		title = cut(strings.ToValidUTF8(strings.TrimSpace(title), "?"), domain.MaxTitleLen)
		if title == "" {
			title = "x"
		}
		details = cut(strings.ToValidUTF8(details, "?"), domain.MaxDetailsLen)
		reason = cut(strings.ToValidUTF8(reason, "?"), 500)
		note = cut(strings.ToValidUTF8(note, "?"), 2000)
		nPeople, nItems := int(people%3000), int(items%5000)

		it := sampleItem()
		it.Title, it.Details, it.BlockedReason = title, details, reason
		if reason != "" {
			it.BlockedAt = renderNow
		}
		h := domain.Handoff{ID: 7, ItemID: it.ID, From: "UDEV", To: "UQA", Status: domain.HandoffPending, RequestedBy: "UDEV",
			RequestedAt: renderNow, Note: domain.HandoffNote{Done: note, Next: note, Links: note}}
		v := itemView{Item: it, Score: p.Score(it, renderNow), Handoff: &h, Policy: p, Now: renderNow,
			Similar: []similarItem{{Item: it}}}
		validMessage(t, "item message", itemMessage(v))
		validMessage(t, "show", showBlocks(v, []domain.Event{{Type: domain.EventBlocked, Actor: "U1", Note: reason}, {Type: domain.EventCreated, Actor: "U2"}}))
		validMessage(t, "handoff DM", handoffDM(h, it, p, false))
		validMessage(t, "nudge", nudgeBlocks(it, p, renderNow))

		var ranked []domain.Item
		for i := range nItems {
			x := it
			x.ID, x.Key = domain.ItemID(i+1), domain.FormatKey("W", domain.ItemID(i+1))
			ranked = append(ranked, x)
		}
		var loads []domain.PersonLoad
		for i := range nPeople {
			loads = append(loads, domain.PersonLoad{Person: domain.Person{ID: domain.UserID(fmt.Sprintf("U%05d", i))}, Load: i % 17, Capacity: 10})
		}
		r := p.Rank(ranked, renderNow)
		validMessage(t, "list", listBlocks(title, r, p, true))
		var incoming []handoffWithItem
		for range min(nItems, 50) {
			incoming = append(incoming, handoffWithItem{Handoff: h, Item: it})
		}
		home := homeView(homeData{User: "UDEV", Mine: r, Incoming: incoming, Outgoing: incoming, Requests: ranked,
			Load: loads0(loads), IsLead: true, TeamLoad: loads, TriageSize: nItems, TriageQueue: r, Policy: p})
		raw, _ := json.Marshal(home)
		if errs := slackfake.ValidateHome(raw); len(errs) > 0 {
			t.Fatalf("App Home refused: %v", errs)
		}
		var similar []similarItem
		for i := range min(nItems, maxSimilar) {
			similar = append(similar, similarItem{Item: ranked[i]})
		}
		form, _ := json.Marshal(intakeModal(intakeForm{Title: title, Details: details, Requester: "U1",
			Source: domain.Source{Conversation: "C1", Message: "1.2"}, Similar: similar}, p))
		if errs := slackfake.ValidateModal(form); len(errs) > 0 {
			t.Fatalf("intake form refused: %v", errs)
		}
	})
}

func loads0(ls []domain.PersonLoad) domain.PersonLoad {
	if len(ls) == 0 {
		return domain.PersonLoad{}
	}
	return ls[0]
}

func validMessage(t *testing.T, what string, blocks []slack.Block) {
	t.Helper()
	raw, err := json.Marshal(blocks)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if errs := slackfake.ValidateMessage(raw); len(errs) > 0 {
		t.Fatalf("%s refused by Slack's rules: %v", what, errs)
	}
}

// slackSink is a Web API that accepts everything, for a fuzz target that calls handlers directly: the
// edge of the system, so the handlers themselves run for real. It checks what it receives as Slack
// would check it.
type slackSink struct {
	mu   sync.Mutex
	errs []string
}

func (s *slackSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_ = r.ParseForm()
	blocks := r.Form.Get("blocks")
	text := r.Form.Get("text")
	if strings.HasPrefix(r.URL.Path, "/respond") || strings.Contains(r.Header.Get("Content-Type"), "json") {
		var msg struct {
			Text   string          `json:"text"`
			Blocks json.RawMessage `json:"blocks"`
			View   json.RawMessage `json:"view"`
		}
		_ = json.Unmarshal(body, &msg)
		text, blocks = msg.Text, string(msg.Blocks)
		if len(msg.View) > 0 {
			if errs := slackfake.ValidateModal(msg.View); len(errs) > 0 {
				s.fail("view: %v", errs)
			}
		}
	}
	if utf8.RuneCountInString(text) > maxMessageText {
		s.fail("%s: text of %d characters", r.URL.Path, utf8.RuneCountInString(text))
	}
	if blocks != "" && blocks != "null" {
		if errs := slackfake.ValidateMessage(json.RawMessage(blocks)); len(errs) > 0 {
			s.fail("%s: %v", r.URL.Path, errs)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case strings.HasPrefix(r.URL.Path, "/respond"):
		_, _ = io.WriteString(w, "ok")
	case strings.HasSuffix(r.URL.Path, "conversations.open"):
		_, _ = io.WriteString(w, `{"ok":true,"channel":{"id":"D1"}}`)
	case strings.HasSuffix(r.URL.Path, "views.open"):
		_, _ = io.WriteString(w, `{"ok":true,"view":{"id":"V1"}}`)
	case strings.HasSuffix(r.URL.Path, "users.info"):
		_, _ = io.WriteString(w, `{"ok":true,"user":{"id":"U1","name":"one"}}`)
	default:
		_, _ = io.WriteString(w, `{"ok":true,"channel":"C1","ts":"1.1"}`)
	}
}

func (s *slackSink) fail(format string, args ...any) {
	s.mu.Lock()
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *slackSink) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.errs
	s.errs = nil
	return out
}

// FuzzCommand: whatever text follows /work, the command never panics, and every answer it sends is
// one Slack accepts.
func FuzzCommand(f *testing.F) {
	for _, seed := range []string{
		"", "help", "request Fix the printer", "show W-1", "show W-99999999999999999999", "assign W-1 <@U0DEV|dev>",
		"assign W-1 @dev", "move W-1 nowhere", "block W-1 <!channel> &amp; <b>", "handoff W-1 <@U0QA> " + strings.Repeat("x", 3000),
		"depends W-1 on W-1", "duplicate W-2 of W-1", "capacity <@U0DEV> -3", "away <@U0DEV> until 2026-13-40",
		"prefs nudges maybe", "digest", "digest post", "list <@U0DEV>", "list todo", "triage", "load", "mine",
		"follow W-1", "unfollow W-1", "alignment nosuchteam", "reject W-1 \x00\xff",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	sink := &slackSink{}
	srv := httptest.NewServer(sink)
	f.Cleanup(srv.Close)
	db, err := storage.Open(filepath.Join(f.TempDir(), "fuzz.db"), storage.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	p := domain.DefaultPolicy()
	p.Leads = []domain.UserID{uLead}
	now := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	b, err := New(Config{BotToken: "xoxb-1", AppToken: "xapp-1", APIURL: srv.URL + "/api/", IntakeChannel: cIntake,
		LeadershipChannels: []string{cLeads}, Policy: p, Now: func() time.Time { return now }, Log: zerolog.Nop()}, db)
	if err != nil {
		f.Fatal(err)
	}
	b.workCtx = context.Background()
	for _, title := range []string{"First", "Second"} {
		if _, err := b.svc.Create(context.Background(), uReq, domain.NewItem{Title: title}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, text string, asLead bool) {
		user := uDev
		if asLead {
			user = uLead
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.handleCommand(ctx, slack.SlashCommand{Command: SlashCommand, Text: text, UserID: user, ChannelID: cGeneral,
			ResponseURL: srv.URL + "/respond", TriggerID: "t1"})
		if errs := sink.take(); len(errs) > 0 {
			t.Fatalf("/work %q sent what Slack refuses: %v", text, errs)
		}
	})
}

// FuzzEnvelope: any JSON in any envelope type, through a real socket, is acked and never takes the bot
// down.
func FuzzEnvelope(f *testing.F) {
	for _, typ := range []string{"slash_commands", "interactive", "events_api", "hello", "disconnect", "mystery"} {
		for _, payload := range []string{`{}`, `null`, `[]`, `"x"`, `{"type":"block_actions","actions":[{}]}`,
			`{"type":"view_submission","view":{"callback_id":"intake","state":{"values":{"title":{"v":{"value":""}}}}}}`,
			`{"event":{"type":"reaction_added","item":{}}}`, `{"event":{"type":"message","channel_type":"im"}}`,
			`{"type":"message_action","message":{}}`, `{"command":"/work","text":"show W-1"}`} {
			f.Add(typ, []byte(payload))
		}
	}
	// The fuzz engine forbids f.Helper inside the target, which zerolog's test writer calls.
	h := newHarness(f, withConfig(func(c *Config) { c.IntakeReaction, c.Log = "ticket", zerolog.Nop() }))
	n := 0
	f.Fuzz(func(t *testing.T, typ string, payload []byte) {
		if typ == "hello" || typ == "disconnect" {
			return // not envelopes an app acks
		}
		n++
		id := fmt.Sprintf("fz-%d", n)
		var body any = string(payload)
		if json.Valid(payload) {
			body = json.RawMessage(payload)
		}
		env, err := json.Marshal(map[string]any{"envelope_id": id, "type": typ, "payload": body})
		if err != nil {
			t.Skip()
		}
		if err := h.fake.SendRaw(env); err != nil {
			t.Fatalf("the bot is gone: %v", err)
		}
		want := `"envelope_id":"` + id + `"`
		if err := h.fake.WaitForTimeout(3*time.Second, func() bool {
			for _, a := range h.fake.StrayAcks() {
				if strings.Contains(string(a), want) {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatalf("envelope %s was not acked: %s", typ, env)
		}
	})
}
