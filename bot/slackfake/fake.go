package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Options configures a Fake. The zero value gives Slack's real numbers; tests
// shorten the durations so that expiry and redelivery happen in milliseconds.
type Options struct {
	TeamID     string // default "T0FAKE0001"
	TeamDomain string // default "fake"
	AppID      string // default "A0FAKE0001"
	BotUserID  string // the app's bot user; default "U0FAKEBOT1"
	BotID      string // default "B0FAKEBOT1"
	BotName    string // default "workbot"

	// Now is the clock for trigger_id and response_url expiry and for message
	// timestamps. Default time.Now.
	Now func() time.Time

	// TriggerTTL is how long a trigger_id can be exchanged. Default 3 s.
	TriggerTTL time.Duration
	// AckTimeout is how long Slack waits for an interactive or slash-command
	// ack before the person sees "operation timed out". Later acks are
	// recorded as Late and their payload is ignored. Default 3 s.
	AckTimeout time.Duration
	// RedeliveryAfter is how long an events_api envelope may stay unacked
	// before it is delivered again with retry_attempt+1. Default 3 s.
	RedeliveryAfter time.Duration
	// MaxRedeliveries caps the retries of one event. Default 3.
	MaxRedeliveries int
	// PingInterval is the period of server PING frames. slack-go drops a
	// connection that gets no PING for 30 s. Default 10 s.
	PingInterval time.Duration
	// DisconnectGrace is how long a socket stays open after a disconnect
	// message before the server closes it. Default 2 s.
	DisconnectGrace time.Duration
	// MaxConnections is the number of sockets one app may hold. Default 10.
	MaxConnections int
	// ResponseURLUses and ResponseURLTTL bound response_url. Default 5 and 30 min.
	ResponseURLUses int
	ResponseURLTTL  time.Duration

	// RateLimits makes the Web API answer 429 with Retry-After once a method
	// is called faster than its Slack tier allows (chat.postMessage: about
	// one a second per channel). Off by default so that tests are fast;
	// FailNext injects single 429s either way. Uses Now.
	RateLimits bool

	// Scopes are the bot scopes the app was granted. Empty grants every
	// scope except chat:write.public, so that posting in a channel the bot
	// is not in answers not_in_channel. With a list, methods answer
	// missing_scope (with needed and provided) for what it lacks: chat:write,
	// im:write, users:read, usergroups:read, files:write, the
	// channels:/groups:/im: read and history scopes for conversations.info,
	// .history and .replies; reaction events need reactions:read and DM
	// message events im:history.
	Scopes []string

	// Logf, when set, receives one line per notable thing the fake does
	// (t.Logf fits).
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.TeamID, "T0FAKE0001")
	def(&o.TeamDomain, "fake")
	def(&o.AppID, "A0FAKE0001")
	def(&o.BotUserID, "U0FAKEBOT1")
	def(&o.BotID, "B0FAKEBOT1")
	def(&o.BotName, "workbot")
	if o.Now == nil {
		o.Now = time.Now
	}
	dur := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	dur(&o.TriggerTTL, 3*time.Second)
	dur(&o.AckTimeout, 3*time.Second)
	dur(&o.RedeliveryAfter, 3*time.Second)
	dur(&o.PingInterval, 10*time.Second)
	dur(&o.DisconnectGrace, 2*time.Second)
	dur(&o.ResponseURLTTL, 30*time.Minute)
	if o.MaxRedeliveries <= 0 {
		o.MaxRedeliveries = 3
	}
	if o.MaxConnections <= 0 {
		o.MaxConnections = 10
	}
	if o.ResponseURLUses <= 0 {
		o.ResponseURLUses = 5
	}
	return o
}

// Fake is a local Slack workspace with one installed app. All methods are safe
// for concurrent use. Everything returned is a copy owned by the caller.
type Fake struct {
	opts     Options
	botToken string
	appToken string

	listener net.Listener
	server   *http.Server
	upgrader websocket.Upgrader
	baseURL  string // "http://127.0.0.1:port"

	wg     sync.WaitGroup // every goroutine the fake starts
	closed chan struct{}
	once   sync.Once

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every state change
	seq     int
	lastTS  int64 // microseconds of the last message ts handed out

	users      map[string]*User
	userOrder  []string
	channels   map[string]*channel
	dms        map[string]string // user -> D channel
	usergroups map[string]*usergroup
	ephemerals []Ephemeral

	modals   map[string][]*viewState // user -> modal stack, root first
	homes    map[string]*viewState   // user -> published home view
	viewByID map[string]*viewState
	history  map[string][]ViewEvent

	triggers     map[string]*trigger
	responseURLs map[string]*responseURL
	uploads      map[string]*upload

	calls          []Call
	unknownMethods []string
	faults         map[string][]Fault
	buckets        map[string]*bucket

	tickets   map[string]bool
	conns     map[*socketConn]struct{}
	connCount int // sockets ever accepted, for round-robin and debug info
	rr        int
	envelopes map[string]*envelope
	envOrder  []string
	acks      []Ack
	strayAcks []json.RawMessage
	timers    map[*time.Timer]struct{}
}

// New returns a Fake that is not yet listening; call Start.
func New(opts Options) *Fake {
	o := opts.withDefaults()
	f := &Fake{
		opts:         o,
		botToken:     "xoxb-1000000001-2000000002-fakebottokenfakebottoken",
		appToken:     "xapp-1-" + o.AppID + "-3000000003-fakeapptokenfakeapptoken",
		closed:       make(chan struct{}),
		changed:      make(chan struct{}),
		users:        map[string]*User{},
		channels:     map[string]*channel{},
		dms:          map[string]string{},
		usergroups:   map[string]*usergroup{},
		modals:       map[string][]*viewState{},
		homes:        map[string]*viewState{},
		viewByID:     map[string]*viewState{},
		history:      map[string][]ViewEvent{},
		triggers:     map[string]*trigger{},
		responseURLs: map[string]*responseURL{},
		uploads:      map[string]*upload{},
		faults:       map[string][]Fault{},
		buckets:      map[string]*bucket{},
		tickets:      map[string]bool{},
		conns:        map[*socketConn]struct{}{},
		envelopes:    map[string]*envelope{},
		timers:       map[*time.Timer]struct{}{},
	}
	// slack-go dials with Origin: https://api.slack.com.
	f.upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	f.users[o.BotUserID] = &User{ID: o.BotUserID, Name: o.BotName, RealName: o.BotName, TZ: "UTC", IsBot: true}
	f.userOrder = append(f.userOrder, o.BotUserID)
	return f
}

// Start listens on a loopback port and serves the Web API, the socket
// endpoint, upload URLs and response_urls.
func (f *Fake) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("slackfake: listen: %w", err)
	}
	f.listener = ln
	f.baseURL = "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", f.serveAPI)
	mux.HandleFunc("/link/", f.serveSocket)
	mux.HandleFunc("/upload/", f.serveUpload)
	mux.HandleFunc("/hooks/", f.serveResponseURL)
	f.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		_ = f.server.Serve(ln)
	}()
	return nil
}

// URL is the Web API base with its trailing slash, for slack.OptionAPIURL.
func (f *Fake) URL() string { return f.baseURL + "/api/" }

// BotToken is the bot token (xoxb-…) the Web API accepts.
func (f *Fake) BotToken() string { return f.botToken }

// AppToken is the app-level token (xapp-…) apps.connections.open accepts.
func (f *Fake) AppToken() string { return f.appToken }

// TeamID, AppID and BotUserID identify the workspace and the app.
func (f *Fake) TeamID() string    { return f.opts.TeamID }
func (f *Fake) AppID() string     { return f.opts.AppID }
func (f *Fake) BotUserID() string { return f.opts.BotUserID }

// Close stops the server, closes every socket, stops every timer and waits
// for all the fake's goroutines. It is safe to call more than once.
func (f *Fake) Close() error {
	f.once.Do(func() {
		close(f.closed)
		if f.server != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = f.server.Shutdown(ctx)
			cancel()
			_ = f.server.Close()
		}
		f.mu.Lock()
		for t := range f.timers {
			if t.Stop() {
				f.wg.Done()
			}
		}
		f.timers = map[*time.Timer]struct{}{}
		conns := make([]*socketConn, 0, len(f.conns))
		for c := range f.conns {
			conns = append(conns, c)
		}
		f.mu.Unlock()
		for _, c := range conns {
			c.ws.Close()
		}
		f.wg.Wait()
	})
	return nil
}

// afterFunc runs fn after d unless the fake closes first; the goroutine is
// counted so Close can wait for it. Call with f.mu held.
func (f *Fake) afterFuncLocked(d time.Duration, fn func()) {
	select {
	case <-f.closed:
		return
	default:
	}
	f.wg.Add(1)
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		defer f.wg.Done()
		f.mu.Lock()
		delete(f.timers, t)
		f.mu.Unlock()
		select {
		case <-f.closed:
			return
		default:
		}
		fn()
	})
	f.timers[t] = struct{}{}
}

// notifyLocked wakes every WaitFor. Call with f.mu held.
func (f *Fake) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// Changed returns a channel that is closed at the next state change (a call,
// a message, an ack, a view, a connection). Take it before checking a
// condition, so that no change can slip between the check and the wait.
func (f *Fake) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

// WaitFor blocks until cond returns true or ctx ends. cond is re-checked after
// every state change of the fake, and must not block.
func (f *Fake) WaitFor(ctx context.Context, cond func() bool) error {
	for {
		ch := f.Changed()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("slackfake: condition not met: %w", ctx.Err())
		case <-f.closed:
			return errors.New("slackfake: closed while waiting")
		}
	}
}

// WaitForTimeout is WaitFor with a deadline d from now.
func (f *Fake) WaitForTimeout(d time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return f.WaitFor(ctx, cond)
}

func (f *Fake) logf(format string, args ...any) {
	if f.opts.Logf != nil {
		f.opts.Logf("slackfake: "+format, args...)
	}
}

// nextIDLocked returns prefix followed by a unique upper-case suffix, shaped
// like Slack's ids (C…, D…, V…, F…).
func (f *Fake) nextIDLocked(prefix string) string {
	f.seq++
	return fmt.Sprintf("%s0%08X", prefix, f.seq)
}

// nextTSLocked returns a message ts ("1700000000.000100") that is unique and
// increasing even when the injected clock stands still.
func (f *Fake) nextTSLocked() string {
	us := f.opts.Now().UnixMicro()
	if us <= f.lastTS {
		us = f.lastTS + 1
	}
	f.lastTS = us
	return fmt.Sprintf("%d.%06d", us/1e6, us%1e6)
}

// User is a workspace member.
type User struct {
	ID       string
	Name     string // handle, e.g. "alice"
	RealName string
	TZ       string // IANA zone, e.g. "Europe/Paris"; default "UTC"
	IsBot    bool
	Deleted  bool
}

// AddUser adds or replaces a workspace member.
func (f *Fake) AddUser(u User) {
	if u.TZ == "" {
		u.TZ = "UTC"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.users[u.ID]; !ok {
		f.userOrder = append(f.userOrder, u.ID)
	}
	cp := u
	f.users[u.ID] = &cp
	f.notifyLocked()
}

// Users returns the workspace members in the order they were added, the
// app's bot user first.
func (f *Fake) Users() []User {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]User, 0, len(f.userOrder))
	for _, id := range f.userOrder {
		out = append(out, *f.users[id])
	}
	return out
}

type channel struct {
	id, name  string
	isIM      bool
	imUser    string
	isPrivate bool
	member    bool // the app's bot user is in it
	archived  bool
	created   int64
	messages  []*Message
}

// AddChannel adds a channel the app's bot user is a member of: public for
// an id like "C…", private for "G…" (name without '#'). For a channel that
// exists it only renames.
func (f *Fake) AddChannel(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c, ok := f.channels[id]; ok {
		c.name = name
		return
	}
	f.addChannelLocked(id, name).member = true
	f.notifyLocked()
}

func (f *Fake) addChannelLocked(id, name string) *channel {
	if c, ok := f.channels[id]; ok {
		c.name = name
		return c
	}
	c := &channel{id: id, name: name, isPrivate: strings.HasPrefix(id, "G"), created: f.opts.Now().Unix()}
	f.channels[id] = c
	return c
}

// DMChannel returns the app's direct-message channel with user, creating it
// as conversations.open would. The id is stable for the fake's lifetime.
func (f *Fake) DMChannel(user string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dmLocked(user)
}

func (f *Fake) dmLocked(user string) string {
	if id, ok := f.dms[user]; ok {
		return id
	}
	id := f.nextIDLocked("D")
	f.dms[user] = id
	f.channels[id] = &channel{id: id, name: user, isIM: true, imUser: user, member: true, created: f.opts.Now().Unix()}
	f.notifyLocked()
	return id
}

type usergroup struct {
	id, handle string
	users      []string
}

// AddUsergroup adds a user group (id like "S…") with its members.
func (f *Fake) AddUsergroup(id, handle string, users ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.usergroups[id] = &usergroup{id: id, handle: handle, users: append([]string(nil), users...)}
	f.notifyLocked()
}

// sortedKeys is a helper for deterministic iteration.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
