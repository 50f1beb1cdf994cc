package sandbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	pngenc "image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
	"go.uber.org/goleak"

	"workbot/bot"
	"workbot/bot/sandbox"
	"workbot/bot/slackfake"
	"workbot/domain"
	"workbot/storage"
)

// TestMain fails the package if a test leaves a goroutine behind: the server follows the fake's changes
// and holds long polls, and all of that must end with Close. (IgnoreCurrent must not be taken after
// m.Run: it would ignore exactly the goroutines the tests left.)
func TestMain(m *testing.M) {
	before := goleak.IgnoreCurrent()
	code := m.Run()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(before); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const wait = 10 * time.Second

// env is the whole sandbox in-process: the fake Slack, the real bot on a real bbolt file, and the web
// server on a loopback port.
type env struct {
	t    *testing.T
	fake *slackfake.Fake
	srv  *sandbox.Server
	http *httptest.Server
	url  string // the web client's base URL
}

func start(t *testing.T) *env {
	t.Helper()
	fake := slackfake.New(slackfake.Options{PingInterval: time.Second, DisconnectGrace: 100 * time.Millisecond})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	sandbox.Seed(fake)
	db, err := storage.Open(filepath.Join(t.TempDir(), "sandbox.db"), storage.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p := domain.DefaultPolicy()
	sandbox.ApplyWorkspace(p)
	b, err := bot.New(bot.Config{
		BotToken: fake.BotToken(), AppToken: fake.AppToken(), APIURL: fake.URL(),
		IntakeChannel: sandbox.IntakeChannel, LeadershipChannels: []string{sandbox.LeadershipChannel},
		Policy: p, Log: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		ShutdownGrace: 5 * time.Second,
	}, db)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	srv := sandbox.New(fake, sandbox.Options{PollTimeout: 2 * time.Second, Logf: t.Logf})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("bot.Run: %v", err)
		}
		srv.Close()
		hs.Close()
		_ = fake.Close()
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := fake.WaitForTimeout(wait, func() bool { return fake.Connections() > 0 }); err != nil {
		t.Fatalf("the bot did not connect: %v", err)
	}
	return &env{t: t, fake: fake, srv: srv, http: hs, url: hs.URL}
}

func (e *env) get(path string, out any) *http.Response {
	e.t.Helper()
	resp, err := http.Get(e.url + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			e.t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}
	return resp
}

// post calls the API and returns the error it answered, "" on success.
func (e *env) post(path string, body any) string {
	e.t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(e.url+path, "application/json", bytes.NewReader(data))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	if resp.StatusCode == http.StatusOK != ans.OK {
		e.t.Fatalf("POST %s: status %d with %+v", path, resp.StatusCode, ans)
	}
	return ans.Error
}

func (e *env) mustPost(path string, body any) {
	e.t.Helper()
	if msg := e.post(path, body); msg != "" {
		e.t.Fatalf("POST %s %v: %s", path, body, msg)
	}
}

func (e *env) state(user, conv string) sandbox.State {
	e.t.Helper()
	var st sandbox.State
	e.get("/api/state?user="+user+"&conv="+conv, &st)
	return st
}

// waitState re-reads the state as the page does, through the long poll, until cond holds.
func (e *env) waitState(what, user, conv string, cond func(sandbox.State) bool) sandbox.State {
	e.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st := e.state(user, conv)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("waiting for %s; last state: %+v", what, st)
		}
		var v struct{ Version uint64 }
		e.get(fmt.Sprintf("/api/wait?since=%d", st.Version), &v)
	}
}

type block struct {
	Type      string          `json:"type"`
	BlockID   string          `json:"block_id"`
	Elements  []elem          `json:"elements"`
	Accessory *elem           `json:"accessory"`
	Element   json.RawMessage `json:"element"`
}

type elem struct {
	Type     string `json:"type"`
	ActionID string `json:"action_id"`
}

// find returns where the page would send a click on the element with actionID.
func find(t *testing.T, raw json.RawMessage, actionID string) (int, int) {
	t.Helper()
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		if b.Accessory != nil && b.Accessory.ActionID == actionID {
			return i, 0
		}
		for j, el := range b.Elements {
			if el.ActionID == actionID {
				return i, j
			}
		}
	}
	t.Fatalf("no %s in %s", actionID, raw)
	return 0, 0
}

func itemMessage(st sandbox.State, title string) (sandbox.Msg, bool) {
	for _, m := range st.Messages {
		if m.ThreadTS == "" && !m.Private && strings.Contains(string(m.Blocks), title) {
			return m, true
		}
	}
	return sandbox.Msg{}, false
}

// TestRequestTriageAndHome walks the sandbox as people would in the browser: the requester files an
// item through the modal (first with a bad due date), the lead sees it in #work-intake and opens the
// assign modal from its button, the requester is refused the same button, and the lead's App Home shows
// the triage queue.
func TestRequestTriageAndHome(t *testing.T) {
	e := start(t)
	// The command's text reaches the bot escaped, as from Slack; the title typed into the form does not,
	// since view inputs come back as typed.
	const prefill = "Fix printer on floor 3"
	const title = "Fix printer <script>alert(1)</script>"

	st := e.state(sandbox.Requester, "")
	if st.Me != sandbox.Requester || len(st.Users) != len(sandbox.Users)+1 || !st.Connected {
		t.Fatalf("state for the requester: me %q, %d users, connected %v", st.Me, len(st.Users), st.Connected)
	}
	var labels []string
	for _, c := range st.Conversations {
		labels = append(labels, c.Label)
	}
	if got := strings.Join(labels, ","); got != "#work-intake,#leadership,#general,"+sandbox.AppDMLabel {
		t.Errorf("conversations = %s", got)
	}

	e.mustPost("/api/send", map[string]string{"user": sandbox.Requester, "conv": sandbox.GeneralChannel, "text": "/work request " + prefill})
	st = e.waitState("the intake modal", sandbox.Requester, sandbox.GeneralChannel, func(s sandbox.State) bool { return s.Modal != nil })
	if !strings.Contains(string(st.Modal.Blocks), `"initial_value":"`+prefill+`"`) {
		t.Errorf("title not prefilled: %s", st.Modal.Blocks)
	}
	viewID := st.Modal.ID

	e.mustPost("/api/submit", map[string]any{"user": sandbox.Requester, "view_id": viewID, "values": map[string]any{
		bot.BlockDue: map[string]any{"v": map[string]string{"date": "2020-01-01"}},
	}})
	st = e.state(sandbox.Requester, sandbox.GeneralChannel)
	if st.Modal == nil || st.Modal.ID != viewID || !strings.Contains(st.Modal.Errors[bot.BlockDue], "past") {
		t.Fatalf("want the due-date error on the open modal, got %+v", st.Modal)
	}

	e.mustPost("/api/submit", map[string]any{"user": sandbox.Requester, "view_id": viewID, "values": map[string]any{
		bot.BlockDue:     map[string]any{"v": map[string]string{"date": time.Now().AddDate(0, 1, 0).Format("2006-01-02")}},
		bot.BlockTitle:   map[string]any{"v": map[string]string{"text": title}},
		bot.BlockDetails: map[string]any{"v": map[string]string{"text": "Tray 2 jams.\nEvery time."}},
		bot.BlockSize:    map[string]any{"v": map[string]string{"option": "5"}},
	}})
	if st := e.state(sandbox.Requester, ""); st.Modal != nil {
		t.Fatalf("the modal is still open: %+v", st.Modal)
	}

	var item sandbox.Msg
	e.waitState("the item in #work-intake", sandbox.Lead, sandbox.IntakeChannel, func(s sandbox.State) bool {
		var ok bool
		item, ok = itemMessage(s, "Fix printer")
		return ok
	})
	if item.Surface.Kind != "message" || !item.Bot {
		t.Errorf("item message: %+v", item)
	}

	// The requester may not assign: the refusal is an ephemeral only they see.
	b, el := find(t, item.Blocks, bot.ActionAssign)
	e.mustPost("/api/act", map[string]any{"user": sandbox.Requester, "surface": item.Surface, "block": b, "element": el})
	st = e.waitState("the refusal", sandbox.Requester, sandbox.IntakeChannel, func(s sandbox.State) bool {
		for _, m := range s.Messages {
			if m.Private {
				return true
			}
		}
		return false
	})
	for _, m := range e.state(sandbox.Lead, sandbox.IntakeChannel).Messages {
		if m.Private {
			t.Errorf("the lead sees the requester's ephemeral: %+v", m)
		}
	}

	// The lead may: the assign modal opens, with the people to pick from.
	e.mustPost("/api/act", map[string]any{"user": sandbox.Lead, "surface": item.Surface, "block": b, "element": el})
	st = e.waitState("the assign modal", sandbox.Lead, sandbox.IntakeChannel, func(s sandbox.State) bool { return s.Modal != nil })
	if !strings.Contains(string(st.Modal.Blocks), "users_select") {
		t.Errorf("assign modal without a person picker: %s", st.Modal.Blocks)
	}
	e.mustPost("/api/submit", map[string]any{"user": sandbox.Lead, "view_id": st.Modal.ID, "values": map[string]any{
		bot.BlockAssignee: map[string]any{"v": map[string]string{"user": sandbox.Developer}},
	}})
	e.waitState("the item assigned", sandbox.Lead, sandbox.IntakeChannel, func(s sandbox.State) bool {
		m, ok := itemMessage(s, "Fix printer")
		return ok && strings.Contains(string(m.Blocks), "@"+sandbox.Developer) && s.Modal == nil
	})

	// A select in the message: move the item to in progress as the lead.
	e.mustPost("/api/send", map[string]string{"user": sandbox.Lead, "conv": sandbox.IntakeChannel, "text": "Looking at it now", "thread_ts": item.TS})
	st = e.state(sandbox.Lead, sandbox.IntakeChannel)
	found := false
	for _, m := range st.Messages {
		found = found || (m.ThreadTS == item.TS && m.Text == "Looking at it now" && m.User == sandbox.Lead)
	}
	if !found {
		t.Errorf("the thread reply is missing: %+v", st.Messages)
	}

	// Assigned, the item left the triage queue: it is on its assignee's Home.
	e.mustPost("/api/home", map[string]string{"user": sandbox.Developer})
	st = e.waitState("the developer's Home", sandbox.Developer, "", func(s sandbox.State) bool {
		return s.Home != nil && strings.Contains(string(s.Home.Blocks), "Fix printer")
	})
	if !strings.Contains(string(st.Home.Blocks), "Fix printer") {
		t.Errorf("Home lacks the item: %s", st.Home.Blocks)
	}

	// A mention typed by name reaches the bot as Slack sends it, <@U…|name>.
	e.mustPost("/api/send", map[string]string{"user": sandbox.Lead, "conv": sandbox.IntakeChannel, "text": "/work assign W-1 @Devon Doyle"})
	e.waitState("the item reassigned", sandbox.Lead, sandbox.IntakeChannel, func(s sandbox.State) bool {
		m, ok := itemMessage(s, "Fix printer")
		return ok && strings.Contains(string(m.Blocks), "@"+sandbox.Developer2)
	})
}

// TestCommandsAndErrors covers what the composer does besides /work request.
func TestCommandsAndErrors(t *testing.T) {
	e := start(t)
	if msg := e.post("/api/send", map[string]string{"user": sandbox.QA, "conv": sandbox.GeneralChannel, "text": "/giphy cats"}); !strings.Contains(msg, "not a valid command") {
		t.Errorf("unknown command: %q", msg)
	}
	if msg := e.post("/api/send", map[string]string{"user": "UNOBODY", "conv": sandbox.GeneralChannel, "text": "hi"}); msg == "" {
		t.Error("an unknown person could post")
	}
	e.mustPost("/api/send", map[string]string{"user": sandbox.QA, "conv": sandbox.GeneralChannel, "text": "/work help"})
	st := e.waitState("the help answer", sandbox.QA, sandbox.GeneralChannel, func(s sandbox.State) bool {
		return len(s.Messages) == 1 && s.Messages[0].Private
	})
	if !strings.Contains(st.Messages[0].Text+string(st.Messages[0].Blocks), "/work request") {
		t.Errorf("help: %+v", st.Messages[0])
	}
	if msg := e.post("/api/act", map[string]any{"user": sandbox.QA, "surface": st.Messages[0].Surface, "block": 99, "element": 0}); msg == "" {
		t.Error("a click on nothing succeeded")
	}
}

// TestWaitReturnsOnChangeOrTimeout: the long poll answers at once when the client is behind, after a
// change when it is not, and after PollTimeout when nothing happens.
func TestWaitReturnsOnChangeOrTimeout(t *testing.T) {
	fake := slackfake.New(slackfake.Options{})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	sandbox.Seed(fake)
	serve := func(timeout time.Duration) *env {
		srv := sandbox.New(fake, sandbox.Options{PollTimeout: timeout})
		hs := httptest.NewServer(srv)
		t.Cleanup(func() { srv.Close(); hs.Close() })
		return &env{t: t, fake: fake, srv: srv, http: hs, url: hs.URL}
	}
	quick, slow := serve(50*time.Millisecond), serve(wait)

	var v struct{ Version uint64 }
	quick.get("/api/wait?since=999999", &v) // not the current version: answers at once
	now := v.Version
	quick.get(fmt.Sprintf("/api/wait?since=%d", now), &v)
	if v.Version != now {
		t.Errorf("nothing happened but the version moved from %d to %d", now, v.Version)
	}

	slow.get("/api/wait?since=999999", &v)
	now = v.Version
	got := make(chan uint64, 1)
	go func() {
		var w struct{ Version uint64 }
		resp, err := http.Get(fmt.Sprintf("%s/api/wait?since=%d", slow.url, now))
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&w)
			resp.Body.Close()
		}
		got <- w.Version
	}()
	if _, err := fake.PostAsUser(sandbox.Lead, sandbox.GeneralChannel, "ping", ""); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n <= now {
		t.Errorf("the wait answered version %d after a change from %d", n, now)
	}
}

// TestPageAndSafety: the page and its script load, nothing the server sends is HTML built from
// workspace text, and requests that could come from another site or host are refused.
func TestPageAndSafety(t *testing.T) {
	fake := slackfake.New(slackfake.Options{})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	sandbox.Seed(fake)
	const evil = "<script>alert('x')</script>"
	if _, err := fake.PostAsUser(sandbox.Requester, sandbox.GeneralChannel, evil, ""); err != nil {
		t.Fatal(err)
	}
	srv := sandbox.New(fake, sandbox.Options{})
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	e := &env{t: t, fake: fake, srv: srv, http: hs, url: hs.URL}

	for path, want := range map[string]string{
		"/":        `<script src="app.js"></script>`,
		"/app.js":  "textContent",
		"/app.css": "#modal",
	} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, want %q in the body", path, resp.StatusCode, want)
		}
		if strings.Contains(string(body), "alert('x')") {
			t.Errorf("GET %s serves workspace text", path)
		}
		if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
		if path == "/app.js" && strings.Contains(string(body), "innerHTML =") {
			t.Error("app.js assigns innerHTML")
		}
	}

	resp := e.get("/api/state?user="+sandbox.Requester+"&conv="+sandbox.GeneralChannel, nil)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("state Content-Type %q", ct)
	}
	raw, _ := http.Get(hs.URL + "/api/state?user=" + sandbox.Requester + "&conv=" + sandbox.GeneralChannel)
	body, _ := io.ReadAll(raw.Body)
	raw.Body.Close()
	if strings.Contains(string(body), "<script>") || !strings.Contains(string(body), `\u003cscript\u003e`) {
		t.Errorf("state JSON carries raw markup: %s", body)
	}
	st := e.state(sandbox.Requester, sandbox.GeneralChannel)
	if len(st.Messages) != 1 || st.Messages[0].Text != evil {
		t.Errorf("the text is not kept verbatim as data: %+v", st.Messages)
	}

	// A cross-site form post cannot set a JSON content type without a preflight.
	r, err := http.Post(hs.URL+"/api/send", "text/plain", strings.NewReader(`{"user":"U0LEAD","conv":"C0GENERAL","text":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain post: %d", r.StatusCode)
	}
	// DNS rebinding: a page of evil.example resolving to 127.0.0.1.
	req, _ := http.NewRequest("GET", hs.URL+"/api/state", nil)
	req.Host = "evil.example:8089"
	r, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("foreign Host: %d", r.StatusCode)
	}
}

// TestAmbiguousElements: slackfake finds a button by action_id or text, so the page may only click an
// element the driver would find first; anything else is refused rather than clicking the wrong one.
func TestAmbiguousElements(t *testing.T) {
	fake := slackfake.New(slackfake.Options{})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	sandbox.Seed(fake)
	srv := sandbox.New(fake, sandbox.Options{})
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	e := &env{t: t, fake: fake, srv: srv, http: hs, url: hs.URL}

	btn := func(id, text, value string) *slack.ButtonBlockElement {
		return slack.NewButtonBlockElement(id, value, slack.NewTextBlockObject(slack.PlainTextType, text, false, false))
	}
	api := slack.New(fake.BotToken(), slack.OptionAPIURL(fake.URL()))
	_, ts, err := api.PostMessage(sandbox.GeneralChannel, slack.MsgOptionBlocks(
		slack.NewActionBlock("a", btn("accept", "Accept", "1"), btn("toggle", "Nudges: on", "n")),
		slack.NewActionBlock("b", btn("accept", "Accept", "2"), btn("toggle", "Digest: on", "d")),
		// Slack refuses one action_id twice in a block, so true twins live in two blocks.
		slack.NewActionBlock("c", btn("same", "Same", "x")),
		slack.NewActionBlock("d", btn("same", "Same", "x")),
	))
	if err != nil {
		t.Fatal(err)
	}
	surface := sandbox.Surface{Kind: "message", Channel: sandbox.GeneralChannel, TS: ts}
	for _, c := range []struct {
		name           string
		block, element int
		want           string
	}{
		{"FirstOfTwins", 0, 0, "not connected"},       // found by action_id: clicked, but no bot is listening
		{"SecondTwin", 1, 0, "not connected"},         // found by its value
		{"TrueTwin", 3, 0, "cannot use this element"}, // same action_id, text and value: no way to tell
		{"SameIDOtherText", 1, 1, "not connected"},    // found by its text
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := e.post("/api/act", map[string]any{"user": sandbox.Lead, "surface": surface, "block": c.block, "element": c.element})
			if !strings.Contains(msg, c.want) {
				t.Errorf("got %q, want %q", msg, c.want)
			}
		})
	}
}

// TestRequiredFieldsSendNothing: a modal submitted with required inputs left empty is answered with a
// note for each of them, as Slack's client shows, and nothing reaches the bot.
func TestRequiredFieldsSendNothing(t *testing.T) {
	e := start(t)
	e.mustPost("/api/send", map[string]string{"user": sandbox.Requester, "conv": sandbox.GeneralChannel, "text": "/work request"})
	st := e.waitState("the intake modal", sandbox.Requester, sandbox.GeneralChannel, func(s sandbox.State) bool { return s.Modal != nil })
	submissions := func() int {
		n := 0
		for _, env := range e.fake.Envelopes() {
			if env.PayloadType == "view_submission" {
				n++
			}
		}
		return n
	}
	data, _ := json.Marshal(map[string]any{"user": sandbox.Requester, "view_id": st.Modal.ID, "values": map[string]any{
		bot.BlockTitle:   map[string]any{"v": map[string]string{"text": "   "}},
		bot.BlockKind:    map[string]any{"v": map[string]string{"option": ""}},
		bot.BlockDetails: map[string]any{"v": map[string]string{"text": ""}}, // optional
	}})
	resp, err := http.Post(e.url+"/api/submit", "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans struct {
		Error  string
		Fields map[string]string
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{bot.BlockTitle: sandbox.RequiredNote, bot.BlockKind: sandbox.RequiredNote}
	if resp.StatusCode != http.StatusBadRequest || fmt.Sprint(ans.Fields) != fmt.Sprint(want) {
		t.Errorf("status %d, %+v; want the notes %v", resp.StatusCode, ans, want)
	}
	if n := submissions(); n != 0 {
		t.Errorf("%d view_submission(s) reached the bot", n)
	}
	if st := e.state(sandbox.Requester, ""); st.Modal == nil {
		t.Error("the modal closed")
	}
}

// TestSharedImages: an image shared in a thread (the digest's chart) is served for the page to show;
// any other file stays a note and is never served.
func TestSharedImages(t *testing.T) {
	fake := slackfake.New(slackfake.Options{})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	sandbox.Seed(fake)
	srv := sandbox.New(fake, sandbox.Options{})
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()
	e := &env{t: t, fake: fake, srv: srv, http: hs, url: hs.URL}

	var png bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 4, 3))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	if err := pngenc.Encode(&png, img); err != nil {
		t.Fatal(err)
	}
	api := slack.New(fake.BotToken(), slack.OptionAPIURL(fake.URL()))
	_, ts, err := api.PostMessage(sandbox.LeadershipChannel, slack.MsgOptionText("Work digest", false))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"chart.png", png.Bytes()}, {"notes.html", []byte("<script>alert(1)</script>")}} {
		if _, err := api.UploadFileContext(context.Background(), slack.UploadFileParameters{
			Reader: bytes.NewReader(f.data), FileSize: len(f.data), Filename: f.name, Title: f.name,
			AltTxt: "a chart", Channel: sandbox.LeadershipChannel, ThreadTimestamp: ts,
		}); err != nil {
			t.Fatal(err)
		}
	}
	st := e.state(sandbox.Lead, sandbox.LeadershipChannel)
	urls, tss := map[string]string{}, map[string]string{}
	for _, m := range st.Messages {
		for _, f := range m.Files {
			urls[f.Name], tss[f.Name] = f.URL, m.TS
		}
	}
	if urls["chart.png"] == "" || urls["notes.html"] != "" || len(urls) != 2 {
		t.Fatalf("file URLs: %v", urls)
	}
	resp, err := http.Get(hs.URL + urls["chart.png"])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(body, png.Bytes()) {
		t.Errorf("the chart: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	html := "/api/file?channel=" + sandbox.LeadershipChannel + "&ts=" + tss["notes.html"] + "&i=0"
	if resp, err := http.Get(hs.URL + html); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("a shared HTML file was served: %v %v", err, resp.Status)
	} else {
		resp.Body.Close()
	}
}
