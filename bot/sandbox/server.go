// Package sandbox is a local web client for the fake Slack: a browser page where a person picks who they
// are in the demo workspace and uses workbot as in Slack (channels, DMs, slash commands, buttons, modals
// and App Home). The page talks to a small JSON API that acts through slackfake's driver, so what the bot
// sees is exactly what it would see from Slack.
//
// The API, all JSON, every POST with Content-Type application/json:
//
//	GET  /api/state?user=U&conv=C     people, conversations, messages, ephemerals, the top modal, Home
//	                                  (conv=dm: the person's DM with the app)
//	GET  /api/wait?since=N            returns when the fake changed after version N, or after a timeout
//	GET  /api/file?channel=C&ts=T&i=N  an image shared in a message (the digest's chart); nothing else
//	POST /api/send   {user, conv, text, thread_ts}   "/work …" runs the command; other text is posted;
//	                                                  either way escaped as Slack's client does (escape.go)
//	POST /api/act    {user, surface, block, element, value}   clicks a button or picks a value
//	POST /api/submit {user, view_id, values}           submits the top modal
//	POST /api/close  {user, view_id}                   closes the top modal
//	POST /api/home   {user}                            opens App Home (app_home_opened)
//	POST /api/shortcut {user, callback_id, channel, ts} runs an app shortcut: on the message channel/ts
//	                                                  (a message shortcut), or from anywhere (a global one)
//	POST /api/react  {user, channel, ts, emoji, remove} adds (or takes back) a reaction on a message
//
// In the person's DM with the app, text that is not a command is sent as a DM to the app, which gets
// the message event Slack sends for it (message.im). /api/act on a view may carry the values typed in
// its inputs so far, which Slack sends along with an action in a view (the view's state).
//
// Anyone who can reach the server can act as anyone in the workspace, so it serves loopback clients only.
package sandbox

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"workbot/bot/slackfake"
)

//go:embed static
var static embed.FS

// Options tunes the server. The zero value suits a person at a browser.
type Options struct {
	// PollTimeout bounds a long poll, so that proxies and browsers never see a hung request
	// (default 25 s).
	PollTimeout time.Duration
	// AckTimeout bounds how long an action waits for the bot's ack (default 5 s, above Slack's 3 s so
	// that a late ack is reported as the fake saw it).
	AckTimeout time.Duration
	// Settle is how long the workspace must stay quiet after an ack before an action answers, so that
	// the page's next refresh already shows what the bot did after acking (capped at 1.5 s;
	// default 150 ms).
	Settle time.Duration
	// Logf, when set, receives a line per failed action.
	Logf func(format string, args ...any)
	// IntakeReaction and ReactionChannels repeat the bot's intake_reaction settings, so that the page
	// can hint at them (and offer the emoji in its reaction picker). They change nothing else.
	IntakeReaction   string
	ReactionChannels []string
}

// Server serves the web client and its API. Close it to end pending long polls.
type Server struct {
	fake *slackfake.Fake
	opts Options
	mux  *http.ServeMux

	mu      sync.Mutex
	version uint64
	bump    chan struct{} // closed and replaced at every version

	quit      chan struct{}
	closeOnce sync.Once
	watchDone chan struct{}
}

// New returns a server over fake and starts following its changes.
func New(fake *slackfake.Fake, opts Options) *Server {
	if opts.PollTimeout <= 0 {
		opts.PollTimeout = 25 * time.Second
	}
	if opts.AckTimeout <= 0 {
		opts.AckTimeout = 5 * time.Second
	}
	if opts.Settle <= 0 {
		opts.Settle = 150 * time.Millisecond
	}
	s := &Server{
		fake: fake, opts: opts, mux: http.NewServeMux(),
		bump: make(chan struct{}), quit: make(chan struct{}), watchDone: make(chan struct{}),
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	s.mux.Handle("GET /", http.FileServerFS(sub))
	s.mux.HandleFunc("GET /api/state", s.state)
	s.mux.HandleFunc("GET /api/wait", s.wait)
	s.mux.HandleFunc("GET /api/file", s.file)
	s.mux.HandleFunc("POST /api/send", s.send)
	s.mux.HandleFunc("POST /api/act", s.act)
	s.mux.HandleFunc("POST /api/submit", s.submit)
	s.mux.HandleFunc("POST /api/close", s.closeView)
	s.mux.HandleFunc("POST /api/home", s.home)
	s.mux.HandleFunc("POST /api/shortcut", s.shortcut)
	s.mux.HandleFunc("POST /api/react", s.react)
	go s.watch()
	return s
}

// Close ends pending long polls and stops following the fake. It is safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.quit) })
	<-s.watchDone
}

// ServeHTTP refuses requests that did not come from this machine to this machine. The Host check
// defeats DNS rebinding; requiring a JSON body on POST makes a cross-site form post need a CORS
// preflight, which this server never grants.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !loopbackHost(r.Host) {
		http.Error(w, "the sandbox answers only on localhost", http.StatusForbidden)
		return
	}
	if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		http.Error(w, "want Content-Type: application/json", http.StatusUnsupportedMediaType)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	s.mux.ServeHTTP(w, r)
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// watch turns the fake's one-shot change notifications into a version number, so that a client that
// was busy between two polls still learns that something changed meanwhile.
func (s *Server) watch() {
	defer close(s.watchDone)
	for {
		ch := s.fake.Changed()
		select {
		case <-ch:
		case <-s.quit:
			return
		}
		s.mu.Lock()
		s.version++
		close(s.bump)
		s.bump = make(chan struct{})
		s.mu.Unlock()
	}
}

func (s *Server) current() (uint64, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.version, s.bump
}

func (s *Server) wait(w http.ResponseWriter, r *http.Request) {
	since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
	v, bump := s.current()
	if v == since {
		t := time.NewTimer(s.opts.PollTimeout)
		defer t.Stop()
		select {
		case <-bump:
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.quit:
		}
		v, _ = s.current()
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"version": v})
}

// Person is a member of the workspace as the page shows them.
type Person struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	RealName string `json:"real_name"`
	Title    string `json:"title,omitempty"`
	IsBot    bool   `json:"is_bot"`
}

// Conversation is a channel, or the app's DM with the current person.
type Conversation struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	IsIM  bool   `json:"is_im"`
}

// Msg is a message in the selected conversation. Thread replies have ThreadTS set to their parent's TS.
type Msg struct {
	TS       string          `json:"ts"`
	ThreadTS string          `json:"thread_ts,omitempty"`
	User     string          `json:"user"`
	Bot      bool            `json:"bot"`
	Text     string          `json:"text"`
	Blocks   json.RawMessage `json:"blocks,omitempty"`
	Files    []FileNote      `json:"files,omitempty"`
	Edited   bool            `json:"edited,omitempty"`
	Private  bool            `json:"ephemeral,omitempty"` // only the current person sees it
	Surface  Surface         `json:"surface"`
	// Reactions are the emoji on the message, in the order first used.
	Reactions []ReactionJSON `json:"reactions,omitempty"`
}

// ReactionJSON is one emoji on a message: who added it, and whether the current person did.
type ReactionJSON struct {
	Name  string   `json:"name"`
	Users []string `json:"users"`
	Mine  bool     `json:"mine"`
}

// FileNote describes a shared file without its content. URL is set for an image the page can show.
type FileNote struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Alt   string `json:"alt,omitempty"`
	Size  int    `json:"size"`
	URL   string `json:"url,omitempty"`
}

// imageType is the content type of an image the page may show, or "" for anything else.
func imageType(content []byte) string {
	switch ct := http.DetectContentType(content); ct {
	case "image/png", "image/jpeg", "image/gif":
		return ct
	}
	return ""
}

// file serves an image shared in a message, so the digest's chart shows in its thread. Anything that
// is not an image stays a note: the page never loads other content from the workspace.
func (s *Server) file(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	i, err := strconv.Atoi(q.Get("i"))
	m, ok := s.fake.Message(q.Get("channel"), q.Get("ts"))
	if err != nil || !ok || i < 0 || i >= len(m.Files) {
		http.NotFound(w, r)
		return
	}
	ct := imageType(m.Files[i].Content)
	if ct == "" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	_, _ = w.Write(m.Files[i].Content)
}

// ViewJSON is a modal or the Home tab.
type ViewJSON struct {
	ID     string            `json:"id"`
	Hash   string            `json:"hash"`
	Title  string            `json:"title"`
	Submit string            `json:"submit"`
	Close  string            `json:"close"`
	Blocks json.RawMessage   `json:"blocks"`
	Errors map[string]string `json:"errors,omitempty"`
	Depth  int               `json:"depth"`
}

// State is everything the page shows for one person and conversation.
type State struct {
	Version       uint64         `json:"version"`
	Me            string         `json:"me"`
	Conv          string         `json:"conv"`
	BotUser       string         `json:"bot_user"`
	Connected     bool           `json:"connected"`
	Users         []Person       `json:"users"`
	Conversations []Conversation `json:"conversations"`
	Messages      []Msg          `json:"messages"`
	Modal         *ViewJSON      `json:"modal"`
	Home          *ViewJSON      `json:"home"`
	// Shortcuts are the app's shortcuts, as Slack's client offers them.
	Shortcuts []Shortcut `json:"shortcuts"`
	// IntakeReaction is the emoji that files a message with workbot ("" when off); ReactionHere says
	// whether it works in the selected conversation.
	IntakeReaction string `json:"intake_reaction,omitempty"`
	ReactionHere   bool   `json:"reaction_here,omitempty"`
	// AppDMLatest is the ts of the app's newest message in the person's DM with it, so that the page
	// can mark the app as unread.
	AppDMLatest string `json:"app_dm_latest,omitempty"`
}

func (s *Server) state(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	me := q.Get("user")
	// The version is read first: a change racing with this snapshot then shows up at the next poll.
	v, _ := s.current()
	st := State{Version: v, BotUser: s.fake.BotUserID(), Connected: s.fake.Connections() > 0, Messages: []Msg{},
		Shortcuts: Shortcuts, IntakeReaction: s.opts.IntakeReaction}
	for _, u := range s.fake.Users() {
		if u.Deleted {
			continue
		}
		st.Users = append(st.Users, Person{ID: u.ID, Name: u.Name, RealName: u.RealName, Title: Titles[u.ID], IsBot: u.IsBot})
	}
	if !s.isPerson(me) {
		me = ""
		for _, u := range st.Users {
			if !u.IsBot {
				me = u.ID
				break
			}
		}
	}
	st.Me = me
	if me == "" {
		writeJSON(w, http.StatusOK, st)
		return
	}
	dm := s.fake.DMChannel(me)
	for _, c := range s.fake.Channels() {
		switch {
		case !c.IsIM:
			st.Conversations = append(st.Conversations, Conversation{ID: c.ID, Label: "#" + c.Name})
		case c.ID == dm:
			st.Conversations = append(st.Conversations, Conversation{ID: c.ID, Label: AppDMLabel, IsIM: true})
		}
	}
	sort.SliceStable(st.Conversations, func(i, j int) bool { return convRank(st.Conversations[i]) < convRank(st.Conversations[j]) })
	st.Conv = q.Get("conv")
	if st.Conv == "dm" {
		st.Conv = dm // the person's DM with the app, whoever they are
	}
	known := false
	for _, c := range st.Conversations {
		known = known || c.ID == st.Conv
	}
	if !known && len(st.Conversations) > 0 {
		st.Conv = st.Conversations[0].ID
	}
	st.Messages = s.timeline(me, st.Conv)
	st.ReactionHere = s.reactionFiles(st.Conv)
	for _, m := range s.fake.Messages(dm) {
		if m.User != me && (st.AppDMLatest == "" || tsLess(st.AppDMLatest, m.TS)) {
			st.AppDMLatest = m.TS
		}
	}
	if stack := s.fake.ModalStack(me); len(stack) > 0 {
		st.Modal = viewJSON(stack[len(stack)-1])
		st.Modal.Depth = len(stack)
	}
	if h, ok := s.fake.Home(me); ok {
		st.Home = viewJSON(h)
	}
	writeJSON(w, http.StatusOK, st)
}

// convRank lists the demo channels in the order people meet them, then any others, then the DM.
func convRank(c Conversation) int {
	if c.IsIM {
		return len(Channels) + 1
	}
	for i, d := range Channels {
		if d.ID == c.ID {
			return i
		}
	}
	return len(Channels)
}

func viewJSON(v slackfake.View) *ViewJSON {
	return &ViewJSON{ID: v.ID, Hash: v.Hash, Title: v.Title, Submit: v.Submit, Close: v.Close, Blocks: v.Blocks, Errors: v.Errors}
}

// timeline merges the conversation's history with the ephemeral messages me saw there, in time order.
func (s *Server) timeline(me, conv string) []Msg {
	out := []Msg{}
	bot := s.fake.BotUserID()
	for _, m := range s.fake.Messages(conv) {
		msg := Msg{
			TS: m.TS, User: m.User, Bot: m.BotID != "" || m.User == bot, Text: m.Text, Blocks: m.Blocks,
			Edited: m.Edited, Surface: Surface{Kind: "message", Channel: m.Channel, TS: m.TS},
		}
		if m.ThreadTS != "" && m.ThreadTS != m.TS {
			msg.ThreadTS = m.ThreadTS
		}
		for _, r := range m.Reactions {
			msg.Reactions = append(msg.Reactions, ReactionJSON{Name: r.Name, Users: r.Users, Mine: slices.Contains(r.Users, me)})
		}
		for i, f := range m.Files {
			note := FileNote{Name: f.Name, Title: f.Title, Alt: f.AltText, Size: f.Size}
			if imageType(f.Content) != "" {
				note.URL = "/api/file?" + url.Values{"channel": {m.Channel}, "ts": {m.TS}, "i": {strconv.Itoa(i)}}.Encode()
			}
			msg.Files = append(msg.Files, note)
		}
		out = append(out, msg)
	}
	for _, e := range s.fake.Ephemerals(me) {
		if e.Channel != conv || e.Deleted {
			continue
		}
		out = append(out, Msg{
			TS: e.TS, User: bot, Bot: true, Text: e.Text, Blocks: e.Blocks, Private: true,
			Surface: Surface{Kind: "ephemeral", Channel: e.Channel, TS: e.TS},
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return tsLess(out[i].TS, out[j].TS) })
	return out
}

// tsLess orders Slack timestamps ("1700000000.000100") numerically.
func tsLess(a, b string) bool {
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA != nil || errB != nil {
		return a < b
	}
	return fa < fb
}

func (s *Server) isPerson(id string) bool {
	if id == "" {
		return false
	}
	for _, u := range s.fake.Users() {
		if u.ID == id && !u.IsBot && !u.Deleted {
			return true
		}
	}
	return false
}

// apiError is an answer the page shows to the person as is; fields, when set, are notes to show under
// the inputs with those block_ids.
type apiError struct {
	status int
	msg    string
	fields map[string]string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// handle decodes a JSON body into req, checks the acting person, runs fn and answers {"ok":true} or
// {"error": "..."}.
func handle[T any](s *Server, w http.ResponseWriter, r *http.Request, user func(*T) string, fn func(*T) error) {
	var req T
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad request body: " + err.Error()})
		return
	}
	if !s.isPerson(user(&req)) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "pick who you are first"})
		return
	}
	if err := fn(&req); err != nil {
		status := http.StatusBadGateway
		var ae *apiError
		if errors.As(err, &ae) {
			status = ae.status
		}
		if s.opts.Logf != nil {
			s.opts.Logf("sandbox: %s: %v", r.URL.Path, err)
		}
		ans := map[string]any{"error": err.Error()}
		if ae != nil && ae.fields != nil {
			ans["fields"] = ae.fields
		}
		writeJSON(w, status, ans)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// settle waits for the delivery's ack, then until the workspace has been quiet for Settle, so that the
// page's refresh after an action already shows the bot's answer.
func (s *Server) settle(d *slackfake.Delivery) error {
	if d == nil {
		return nil
	}
	ack, err := d.WaitTimeout(s.opts.AckTimeout)
	switch {
	case errors.Is(err, slackfake.ErrNotConnected):
		return &apiError{status: http.StatusServiceUnavailable, msg: "workbot is not connected (dispatch_failed); is the bot running?"}
	case errors.Is(err, slackfake.ErrAckTimeout):
		return &apiError{status: http.StatusGatewayTimeout, msg: "workbot did not answer in time (operation_timeout)"}
	case err != nil:
		return err
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(deadline) {
		ch := s.fake.Changed()
		t := time.NewTimer(s.opts.Settle)
		select {
		case <-ch:
			t.Stop()
			continue
		case <-t.C:
		case <-s.quit:
			t.Stop()
		}
		break
	}
	if ack.Problem != "" {
		return &apiError{status: http.StatusBadGateway, msg: "Slack refused workbot's answer: " + ack.Problem}
	}
	return nil
}

type sendReq struct {
	User     string `json:"user"`
	Conv     string `json:"conv"`
	Text     string `json:"text"`
	ThreadTS string `json:"thread_ts"`
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	handle(s, w, r, func(q *sendReq) string { return q.User }, func(q *sendReq) error {
		text := strings.TrimSpace(q.Text)
		if text == "" {
			return badRequest("nothing to send")
		}
		if strings.HasPrefix(text, "/") {
			cmd, rest, _ := strings.Cut(text, " ")
			if cmd != "/work" {
				return badRequest("%s is not a valid command. In this workspace, only /work is installed.", cmd)
			}
			d, err := s.fake.SlashCommand(q.User, q.Conv, cmd, s.escape(strings.TrimSpace(rest)))
			if err != nil {
				return badRequest("%v", err)
			}
			return s.settle(d)
		}
		if q.Conv != "" && q.Conv == s.fake.DMChannel(q.User) {
			// A DM to the app: Slack sends the app the message event (message.im).
			_, d, err := s.fake.ReplyInDM(q.User, q.ThreadTS, s.escape(q.Text))
			if err != nil {
				return badRequest("%v", err)
			}
			return s.settle(d)
		}
		if _, err := s.fake.PostAsUser(q.User, q.Conv, s.escape(q.Text), q.ThreadTS); err != nil {
			return badRequest("%v", err)
		}
		return nil
	})
}

// escape turns typed text into what Slack's client sends, with this workspace's people and channels.
func (s *Server) escape(text string) string {
	return escapeTyped(text, s.fake.Users(), s.fake.Channels())
}

// Surface names what a person clicks in: a message, an ephemeral message, or a view (modal or Home).
type Surface struct {
	Kind    string `json:"kind"` // message, ephemeral or view
	Channel string `json:"channel,omitempty"`
	TS      string `json:"ts,omitempty"`
	ViewID  string `json:"view_id,omitempty"`
}

func (sf Surface) ref() (slackfake.Surface, error) {
	switch sf.Kind {
	case "message":
		return slackfake.MessageRef{Channel: sf.Channel, TS: sf.TS}, nil
	case "ephemeral":
		return slackfake.EphemeralRef{Channel: sf.Channel, TS: sf.TS}, nil
	case "view":
		return slackfake.ViewRef{ID: sf.ViewID}, nil
	}
	return nil, badRequest("unknown surface %q", sf.Kind)
}

// Input is what a person typed or picked in one element.
type Input struct {
	Text   *string `json:"text,omitempty"`
	Option string  `json:"option,omitempty"`
	User   string  `json:"user,omitempty"`
	Date   string  `json:"date,omitempty"`
}

func (in Input) value() slackfake.Value {
	v := slackfake.Value{Option: in.Option, User: in.User, Date: in.Date}
	if in.Text != nil {
		v.Text = *in.Text
	}
	return v
}

type actReq struct {
	User    string  `json:"user"`
	Surface Surface `json:"surface"`
	Block   int     `json:"block"`
	Element int     `json:"element"`
	Value   *Input  `json:"value"`
	// Values are what the person typed in the view's inputs so far (a view surface only).
	Values map[string]map[string]Input `json:"values"`
}

func (s *Server) act(w http.ResponseWriter, r *http.Request) {
	handle(s, w, r, func(q *actReq) string { return q.User }, func(q *actReq) error {
		ref, err := q.Surface.ref()
		if err != nil {
			return err
		}
		blocks, err := s.blocksOf(q.User, q.Surface)
		if err != nil {
			return err
		}
		target, all, err := locate(blocks, q.Block, q.Element)
		if err != nil {
			return err
		}
		if q.Surface.Kind == "view" && len(q.Values) > 0 {
			if err := s.fake.Fill(q.User, q.Surface.ViewID, inputValues(q.Values)); err != nil {
				return badRequest("%s", strings.TrimPrefix(err.Error(), "slackfake: "))
			}
		}
		var d *slackfake.Delivery
		if target.typ == "button" {
			if key, err := buttonKey(target, all); err == nil {
				d, err = s.fake.ClickButton(q.User, ref, key)
				if err != nil {
					return badRequest("%v", err)
				}
			} else if uniqueValue(target, all) {
				// Look-alike buttons (two items' "Accept" on App Home) differ by value.
				d, err = s.fake.ClickButtonValue(q.User, ref, target.actionID, target.value)
				if err != nil {
					return badRequest("%v", err)
				}
			} else {
				return err
			}
		} else {
			if q.Value == nil {
				return badRequest("no value chosen")
			}
			for _, e := range all {
				if e.actionID == target.actionID && e.typ != "button" {
					if e != target {
						return errAmbiguous
					}
					break
				}
			}
			d, err = s.fake.Choose(q.User, ref, target.actionID, q.Value.value())
			if err != nil {
				return badRequest("%v", err)
			}
		}
		return s.settle(d)
	})
}

// errAmbiguous: slackfake's driver finds an element by action_id (or a button by its text), so of two
// elements sharing both in one surface only the first can be used from here.
var errAmbiguous = badRequest("the sandbox cannot use this element: another one above it in the same place has the same action_id and text " +
	"(slackfake finds elements by those). Use the item's message in the channel instead.")

// blocksOf returns the blocks of a surface as me sees it.
func (s *Server) blocksOf(me string, sf Surface) (json.RawMessage, error) {
	switch sf.Kind {
	case "message":
		m, ok := s.fake.Message(sf.Channel, sf.TS)
		if !ok {
			return nil, badRequest("that message is gone")
		}
		return m.Blocks, nil
	case "ephemeral":
		for _, e := range s.fake.Ephemerals(me) {
			if e.Channel == sf.Channel && e.TS == sf.TS && !e.Deleted {
				return e.Blocks, nil
			}
		}
		return nil, badRequest("that message is gone")
	case "view":
		v, ok := s.fake.ViewByID(sf.ViewID)
		if !ok || v.User != me {
			return nil, badRequest("that view is gone")
		}
		return v.Blocks, nil
	}
	return nil, badRequest("unknown surface %q", sf.Kind)
}

// element is an interactive element found in blocks, with the ids Slack (and slackfake) give it.
type element struct {
	block, index     int
	actionID         string
	typ, text, value string
}

// locate lists the interactive elements of blocks in the order slackfake searches them, and returns
// the one at blocks[block] (element index within an actions block; 0 for an accessory or an input).
func locate(raw json.RawMessage, block, index int) (*element, []*element, error) {
	var blocks []map[string]any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, nil, badRequest("no blocks there")
	}
	var all []*element
	var target *element
	for i, b := range blocks {
		add := func(j int, e any) {
			em, ok := e.(map[string]any)
			if !ok {
				return
			}
			el := &element{block: i, index: j}
			el.typ, _ = em["type"].(string)
			el.actionID, _ = em["action_id"].(string)
			if el.actionID == "" {
				el.actionID = fmt.Sprintf("fakeact%d_%d", i, j) // as slackfake names it
			}
			if t, ok := em["text"].(map[string]any); ok {
				el.text, _ = t["text"].(string)
			}
			el.value, _ = em["value"].(string)
			all = append(all, el)
			if i == block && j == index {
				target = el
			}
		}
		switch b["type"] {
		case "input":
			add(0, b["element"])
		case "section":
			if acc, ok := b["accessory"]; ok {
				add(0, acc)
			}
		case "actions":
			els, _ := b["elements"].([]any)
			for j, e := range els {
				add(j, e)
			}
		}
	}
	if target == nil {
		return nil, nil, badRequest("nothing to click there")
	}
	return target, all, nil
}

// uniqueValue reports whether no other button shares the target's action_id and value.
func uniqueValue(target *element, all []*element) bool {
	for _, e := range all {
		if e != target && e.typ == "button" && e.actionID == target.actionID && e.value == target.value {
			return false
		}
	}
	return true
}

// buttonKey returns the action_id or text by which ClickButton finds exactly this button.
func buttonKey(target *element, all []*element) (string, error) {
	for _, key := range []string{target.actionID, target.text} {
		if key == "" {
			continue
		}
		for _, e := range all {
			if e.typ == "button" && (e.actionID == key || e.text == key) {
				if e == target {
					return key, nil
				}
				break
			}
		}
	}
	return "", errAmbiguous
}

type submitReq struct {
	User   string                      `json:"user"`
	ViewID string                      `json:"view_id"`
	Values map[string]map[string]Input `json:"values"`
}

func (s *Server) submit(w http.ResponseWriter, r *http.Request) {
	handle(s, w, r, func(q *submitReq) string { return q.User }, func(q *submitReq) error {
		if v, ok := s.fake.ViewByID(q.ViewID); ok && v.User == q.User {
			if empty := emptyRequired(v.Blocks, q.Values); len(empty) > 0 {
				return &apiError{status: http.StatusBadRequest, msg: "Please complete the required fields.", fields: empty}
			}
		}
		d, err := s.fake.SubmitView(q.User, q.ViewID, inputValues(q.Values))
		if err != nil {
			return badRequest("%s", strings.TrimPrefix(err.Error(), "slackfake: "))
		}
		return s.settle(d)
	})
}

func inputValues(in map[string]map[string]Input) map[string]map[string]slackfake.Value {
	values := map[string]map[string]slackfake.Value{}
	for b, m := range in {
		values[b] = map[string]slackfake.Value{}
		for a, v := range m {
			values[b][a] = v.value()
		}
	}
	return values
}

// RequiredNote is what Slack's client shows under a required input left empty; it sends nothing then.
const RequiredNote = "Please complete this required field."

// emptyRequired returns a RequiredNote for each required input (an input block without optional: true)
// that the person submitted empty. An input they did not send keeps its earlier value, which slackfake
// checks.
func emptyRequired(raw json.RawMessage, values map[string]map[string]Input) map[string]string {
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Optional bool   `json:"optional"`
		Element  struct {
			ActionID string `json:"action_id"`
		} `json:"element"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return nil
	}
	out := map[string]string{}
	for _, b := range blocks {
		if b.Type != "input" || b.Optional || b.BlockID == "" {
			continue
		}
		in, ok := values[b.BlockID][b.Element.ActionID]
		if ok && in.empty() {
			out[b.BlockID] = RequiredNote
		}
	}
	return out
}

func (in Input) empty() bool {
	return (in.Text == nil || strings.TrimSpace(*in.Text) == "") && in.Option == "" && in.User == "" && in.Date == ""
}

type viewReq struct {
	User   string `json:"user"`
	ViewID string `json:"view_id"`
}

func (s *Server) closeView(w http.ResponseWriter, r *http.Request) {
	handle(s, w, r, func(q *viewReq) string { return q.User }, func(q *viewReq) error {
		d, err := s.fake.CloseView(q.User, q.ViewID)
		if err != nil {
			return badRequest("%v", err)
		}
		return s.settle(d)
	})
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	handle(s, w, r, func(q *viewReq) string { return q.User }, func(q *viewReq) error {
		d, err := s.fake.OpenAppHome(q.User)
		if err != nil {
			return badRequest("%v", err)
		}
		return s.settle(d)
	})
}

type shortcutReq struct {
	User       string `json:"user"`
	CallbackID string `json:"callback_id"`
	Channel    string `json:"channel"`
	TS         string `json:"ts"`
}

// shortcut runs one of the app's shortcuts: a message shortcut on a message (from its ⋯ menu), or a
// global one (from the shortcuts menu), as Slack's client does.
func (s *Server) shortcut(w http.ResponseWriter, r *http.Request) {
	handle(s, w, r, func(q *shortcutReq) string { return q.User }, func(q *shortcutReq) error {
		i := slices.IndexFunc(Shortcuts, func(sc Shortcut) bool { return sc.CallbackID == q.CallbackID })
		if i < 0 {
			return badRequest("the app has no shortcut %q", q.CallbackID)
		}
		var d *slackfake.Delivery
		var err error
		switch sc := Shortcuts[i]; {
		case sc.Type == "message" && q.Channel != "" && q.TS != "":
			d, err = s.fake.MessageShortcut(q.User, q.Channel, q.TS, sc.CallbackID)
		case sc.Type == "message":
			return badRequest("%q is used on a message, from its ⋯ menu", sc.Name)
		default:
			d, err = s.fake.GlobalShortcut(q.User, sc.CallbackID)
		}
		if err != nil {
			return badRequest("%s", strings.TrimPrefix(err.Error(), "slackfake: "))
		}
		return s.settle(d)
	})
}

type reactReq struct {
	User    string `json:"user"`
	Channel string `json:"channel"`
	TS      string `json:"ts"`
	Emoji   string `json:"emoji"`
	Remove  bool   `json:"remove"`
}

// react adds the person's reaction to a message, or takes it back. Slack tells the app
// (reaction_added) only where it is a member; otherwise there is nothing to wait for.
func (s *Server) react(w http.ResponseWriter, r *http.Request) {
	handle(s, w, r, func(q *reactReq) string { return q.User }, func(q *reactReq) error {
		name := strings.Trim(strings.TrimSpace(q.Emoji), ":")
		if !emojiName.MatchString(name) {
			return badRequest("%q is not an emoji name", q.Emoji)
		}
		var d *slackfake.Delivery
		var err error
		if q.Remove {
			d, err = s.fake.RemoveReaction(q.User, q.Channel, q.TS, name)
		} else {
			d, err = s.fake.AddReaction(q.User, q.Channel, q.TS, name)
		}
		if err != nil {
			return badRequest("%s", strings.TrimPrefix(err.Error(), "slackfake: "))
		}
		return s.settle(d)
	})
}

// emojiName is what Slack accepts as an emoji name (skin tones as name::skin-tone-2).
var emojiName = regexp.MustCompile(`^[a-z0-9_+'-]+(::skin-tone-[2-6])?$`)

// reactionFiles says whether the intake reaction files messages in conv: a conversation the app is in
// (Slack sends it reaction_added only there) and, when the settings name channels, one of those.
func (s *Server) reactionFiles(conv string) bool {
	if s.opts.IntakeReaction == "" || conv == "" {
		return false
	}
	if len(s.opts.ReactionChannels) > 0 && !slices.Contains(s.opts.ReactionChannels, conv) {
		return false
	}
	for _, c := range s.fake.Channels() {
		if c.ID == conv {
			return c.IsMember
		}
	}
	return false
}
