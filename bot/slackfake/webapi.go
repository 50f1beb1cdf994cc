package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds what the fake reads from one request; Slack refuses far
// smaller bodies, so anything beyond this is a bug in the caller.
const maxBody = 8 << 20

// Fault is an injected failure for the next calls of a method.
type Fault struct {
	// Status is the HTTP status to answer: 429 (with Retry-After) or a 5xx.
	// Zero answers 200 after Delay, running the method normally.
	Status int
	// RetryAfter is sent as the Retry-After header of a 429, in whole
	// seconds rounded up, as Slack sends integers.
	RetryAfter time.Duration
	// Delay holds the response back this long (a slow Slack).
	Delay time.Duration
	// Error, with Status zero, answers {"ok":false,"error":Error}.
	Error string
	// DropResponse runs the method, so that its effect happens (the message
	// is posted), then closes the connection before a byte of the answer is
	// written: the client sees EOF and cannot tell whether the call worked,
	// as when a network drops a response. Status and Error are ignored with
	// it; Delay still holds the call back first.
	DropResponse bool
}

// droppingWriter turns the first write of an answer into closing the
// connection, so every answer path of serveAPI can be dropped alike.
type droppingWriter struct {
	http.ResponseWriter
	header http.Header
	done   bool
}

func (d *droppingWriter) Header() http.Header { return d.header }

func (d *droppingWriter) WriteHeader(int) {
	if d.done {
		return
	}
	d.done = true
	if hj, ok := d.ResponseWriter.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
		}
	}
}

func (d *droppingWriter) Write(p []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(p), nil
}

// FailNext makes the next n calls of method fail with fault. Methods include
// "apps.connections.open", and "response_url" for response_url posts.
func (f *Fake) FailNext(method string, n int, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for range n {
		f.faults[method] = append(f.faults[method], fault)
	}
}

func (f *Fake) takeFault(method string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.faults[method]
	if len(q) == 0 {
		return Fault{}, false
	}
	f.faults[method] = q[1:]
	return q[0], true
}

// params is a request's arguments, whether form-encoded or JSON.
type params struct {
	form url.Values
	js   map[string]json.RawMessage
}

// get returns a string argument. A JSON non-string is returned as its JSON text.
func (p params) get(key string) string {
	if p.js != nil {
		raw, ok := p.js[key]
		if !ok {
			return ""
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		if string(raw) == "null" {
			return ""
		}
		return string(raw)
	}
	return p.form.Get(key)
}

// raw returns a JSON-valued argument: an object in a JSON body, or JSON text
// in a form field (how Slack takes blocks and views in form posts).
func (p params) raw(key string) json.RawMessage {
	if p.js != nil {
		raw, ok := p.js[key]
		if !ok || string(raw) == "null" {
			return nil
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if s == "" {
				return nil
			}
			return json.RawMessage(s)
		}
		return raw
	}
	v := p.form.Get(key)
	if v == "" || v == "null" {
		return nil
	}
	return json.RawMessage(v)
}

func (p params) flat() map[string]string {
	out := map[string]string{}
	if p.js != nil {
		for k := range p.js {
			out[k] = p.get(k)
		}
		return out
	}
	for k := range p.form {
		out[k] = p.form.Get(k)
	}
	return out
}

func (p params) bool(key string) bool {
	v := p.get(key)
	return v == "true" || v == "1"
}

// apiError is a Slack {"ok":false} answer.
type apiError struct {
	code     string
	errors   []string // "errors" array (invalid_blocks)
	messages []string // response_metadata.messages
	status   int      // HTTP status; 0 means 200
	// needed and provided go with missing_scope: the scope lacking and the
	// granted ones, comma-separated.
	needed, provided string
}

func (e *apiError) Error() string { return e.code }

func fail(code string) *apiError { return &apiError{code: code} }

type tokenKind int

const (
	tokenNone tokenKind = iota
	tokenBot
	tokenApp
	tokenUnknown
)

// request is a decoded Web API call.
type request struct {
	method string
	token  string
	kind   tokenKind
	p      params
}

type handlerFunc func(f *Fake, r *request) (map[string]any, *apiError)

// methods maps each implemented Web API method to its handler and the token
// kind it accepts.
var methods = map[string]struct {
	h       handlerFunc
	appOnly bool
}{
	"auth.test":                    {h: (*Fake).authTest},
	"apps.connections.open":        {h: (*Fake).appsConnectionsOpen, appOnly: true},
	"chat.postMessage":             {h: (*Fake).chatPostMessage},
	"chat.update":                  {h: (*Fake).chatUpdate},
	"chat.delete":                  {h: (*Fake).chatDelete},
	"chat.postEphemeral":           {h: (*Fake).chatPostEphemeral},
	"chat.getPermalink":            {h: (*Fake).chatGetPermalink},
	"conversations.open":           {h: (*Fake).conversationsOpen},
	"conversations.info":           {h: (*Fake).conversationsInfo},
	"conversations.history":        {h: (*Fake).conversationsHistory},
	"conversations.replies":        {h: (*Fake).conversationsReplies},
	"users.info":                   {h: (*Fake).usersInfo},
	"users.list":                   {h: (*Fake).usersList},
	"usergroups.users.list":        {h: (*Fake).usergroupsUsersList},
	"views.open":                   {h: (*Fake).viewsOpen},
	"views.push":                   {h: (*Fake).viewsPush},
	"views.update":                 {h: (*Fake).viewsUpdate},
	"views.publish":                {h: (*Fake).viewsPublish},
	"files.getUploadURLExternal":   {h: (*Fake).filesGetUploadURLExternal},
	"files.completeUploadExternal": {h: (*Fake).filesCompleteUploadExternal},
}

func (f *Fake) serveAPI(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	req, perr := f.decodeRequest(r, method)
	call := Call{Method: method, At: f.opts.Now(), Status: http.StatusOK}
	if req != nil {
		call.Token = req.token
		call.Params = req.p.flat()
	}

	if fault, ok := f.takeFault(method); ok {
		call.Fault = true
		if fault.Delay > 0 {
			t := time.NewTimer(fault.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
			case <-f.closed:
			}
			t.Stop()
		}
		switch {
		case fault.DropResponse:
			call.Dropped = true
			w = &droppingWriter{ResponseWriter: w, header: http.Header{}}
		case fault.Status == http.StatusTooManyRequests:
			secs := int(math.Ceil(fault.RetryAfter.Seconds()))
			w.Header().Set("Retry-After", fmt.Sprint(secs))
			call.Status, call.Error = fault.Status, "ratelimited"
			f.record(call)
			writeJSON(w, fault.Status, map[string]any{"ok": false, "error": "ratelimited"})
			return
		case fault.Status >= 500:
			call.Status = fault.Status
			f.record(call)
			// Slack answers 5xx with an HTML page, not JSON.
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(fault.Status)
			_, _ = io.WriteString(w, "<html><body>Slack is having trouble</body></html>")
			return
		case fault.Status != 0:
			call.Status = fault.Status
			f.record(call)
			writeJSON(w, fault.Status, map[string]any{"ok": false, "error": http.StatusText(fault.Status)})
			return
		case fault.Error != "":
			call.Error = fault.Error
			f.record(call)
			writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": fault.Error})
			return
		}
	}

	if perr != nil {
		call.Error = perr.code
		f.record(call)
		f.writeError(w, perr)
		return
	}
	m, ok := methods[method]
	if !ok {
		call.Error = "unknown_method"
		f.mu.Lock()
		f.unknownMethods = append(f.unknownMethods, method)
		f.mu.Unlock()
		f.record(call)
		f.logf("unknown method %s", method)
		writeJSON(w, http.StatusNotFound, map[string]any{"ok": false, "error": "unknown_method", "req_method": method})
		return
	}
	var aerr *apiError
	switch {
	case req.kind == tokenNone:
		aerr = fail("not_authed")
	case req.kind == tokenUnknown:
		aerr = fail("invalid_auth")
	case m.appOnly && req.kind != tokenApp, !m.appOnly && req.kind != tokenBot:
		aerr = fail("not_allowed_token_type")
	}
	if aerr == nil {
		aerr = f.needScope(methodScopes[method])
	}
	if aerr == nil {
		f.mu.Lock()
		wait, limited := f.rateLimitedLocked(method, req.p.get("channel"))
		f.mu.Unlock()
		if limited {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", fmt.Sprint(secs))
			call.Status, call.Error = http.StatusTooManyRequests, "ratelimited"
			f.record(call)
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
			return
		}
	}
	var resp map[string]any
	if aerr == nil {
		resp, aerr = m.h(f, req)
	}
	if aerr != nil {
		call.Error = aerr.code
		if aerr.status != 0 {
			call.Status = aerr.status
		}
		f.record(call)
		f.writeError(w, aerr)
		return
	}
	f.record(call)
	if resp == nil {
		resp = map[string]any{}
	}
	resp["ok"] = true
	writeJSON(w, http.StatusOK, resp)
}

func (f *Fake) record(c Call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
	f.notifyLocked()
}

func (f *Fake) writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"ok": false, "error": e.code}
	if len(e.errors) > 0 {
		body["errors"] = e.errors
	}
	if len(e.messages) > 0 {
		body["response_metadata"] = map[string]any{"messages": e.messages}
	}
	if e.needed != "" {
		body["needed"], body["provided"] = e.needed, e.provided
	}
	status := e.status
	if status == 0 {
		status = http.StatusOK
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// decodeRequest reads form-encoded or JSON arguments and the token, which is
// the Bearer header or, for form posts, the token field.
func (f *Fake) decodeRequest(r *http.Request, method string) (*request, *apiError) {
	req := &request{method: method, p: params{form: url.Values{}}}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return req, fail("request_timeout")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/json":
		var js map[string]json.RawMessage
		if len(bytes.TrimSpace(body)) > 0 {
			if err := json.Unmarshal(body, &js); err != nil {
				return req, fail("invalid_json")
			}
		}
		if js == nil {
			js = map[string]json.RawMessage{}
		}
		req.p = params{js: js}
	default:
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return req, fail("invalid_form_data")
		}
		for k, v := range r.URL.Query() {
			if _, ok := vals[k]; !ok {
				vals[k] = v
			}
		}
		req.p = params{form: vals}
	}
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		req.token = strings.TrimPrefix(auth, "Bearer ")
	} else if req.p.js == nil {
		req.token = req.p.form.Get("token")
	}
	switch {
	case req.token == "":
		req.kind = tokenNone
	case req.token == f.botToken:
		req.kind = tokenBot
	case req.token == f.appToken:
		req.kind = tokenApp
	default:
		req.kind = tokenUnknown
	}
	return req, nil
}

func (f *Fake) authTest(r *request) (map[string]any, *apiError) {
	return map[string]any{
		"url":                   "https://" + f.opts.TeamDomain + ".slack.com/",
		"team":                  "Fake Workspace",
		"user":                  f.opts.BotName,
		"team_id":               f.opts.TeamID,
		"user_id":               f.opts.BotUserID,
		"bot_id":                f.opts.BotID,
		"is_enterprise_install": false,
	}, nil
}

// userJSON renders a member as users.info does.
func (f *Fake) userJSON(u *User) map[string]any {
	offset := 0
	label := u.TZ
	if loc, err := time.LoadLocation(u.TZ); err == nil {
		name, off := f.opts.Now().In(loc).Zone()
		offset, label = off, name
	}
	return map[string]any{
		"id":          u.ID,
		"team_id":     f.opts.TeamID,
		"name":        u.Name,
		"deleted":     u.Deleted,
		"real_name":   u.RealName,
		"tz":          u.TZ,
		"tz_label":    label,
		"tz_offset":   offset,
		"is_bot":      u.IsBot,
		"is_admin":    false,
		"is_app_user": false,
		"profile": map[string]any{
			"real_name":    u.RealName,
			"display_name": u.Name,
			"team":         f.opts.TeamID,
		},
		"updated": f.opts.Now().Unix(),
	}
}

func (f *Fake) usersInfo(r *request) (map[string]any, *apiError) {
	id := r.p.get("user")
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[id]
	if !ok {
		return nil, fail("user_not_found")
	}
	return map[string]any{"user": f.userJSON(u)}, nil
}

func (f *Fake) usersList(r *request) (map[string]any, *apiError) {
	limit := 0
	if _, err := fmt.Sscan(r.p.get("limit"), &limit); err != nil || limit <= 0 {
		limit = 1000
	}
	start := 0
	if c := r.p.get("cursor"); c != "" {
		if _, err := fmt.Sscanf(c, "dXNlcjo%d", &start); err != nil {
			return nil, fail("invalid_cursor")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	members := []any{}
	end := min(start+limit, len(f.userOrder))
	for _, id := range f.userOrder[min(start, end):end] {
		members = append(members, f.userJSON(f.users[id]))
	}
	next := ""
	if end < len(f.userOrder) {
		next = fmt.Sprintf("dXNlcjo%d", end)
	}
	return map[string]any{
		"members":           members,
		"cache_ts":          f.opts.Now().Unix(),
		"response_metadata": map[string]any{"next_cursor": next},
	}, nil
}

func (f *Fake) usergroupsUsersList(r *request) (map[string]any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.usergroups[r.p.get("usergroup")]
	if !ok {
		return nil, fail("no_such_subteam")
	}
	return map[string]any{"users": append([]string{}, g.users...)}, nil
}

func (f *Fake) channelJSONLocked(c *channel) map[string]any {
	m := map[string]any{
		"id":          c.id,
		"created":     c.created,
		"is_im":       c.isIM,
		"is_channel":  !c.isIM && !c.isPrivate,
		"is_group":    c.isPrivate,
		"is_private":  c.isPrivate || c.isIM,
		"is_archived": c.archived,
		"is_member":   c.member,
	}
	if c.isIM {
		m["user"] = c.imUser
		m["is_open"] = true
	} else {
		m["name"] = c.name
		m["name_normalized"] = c.name
	}
	return m
}

func (f *Fake) conversationsOpen(r *request) (map[string]any, *apiError) {
	users := r.p.get("users")
	if users == "" {
		return nil, fail("users_list_not_supplied")
	}
	list := strings.Split(users, ",")
	if len(list) > 1 {
		// Group DMs are not something this app uses; refuse loudly rather
		// than pretend.
		return nil, fail("not_implemented_in_slackfake")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[list[0]]
	if !ok || u.Deleted {
		return nil, fail("user_not_found")
	}
	_, already := f.dms[u.ID]
	id := f.dmLocked(u.ID)
	resp := map[string]any{"channel": map[string]any{"id": id}}
	if already {
		resp["already_open"] = true
		resp["no_op"] = true
	}
	if r.p.bool("return_im") {
		resp["channel"] = f.channelJSONLocked(f.channels[id])
	}
	return resp, nil
}

func (f *Fake) conversationsInfo(r *request) (map[string]any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.channels[r.p.get("channel")]
	if !ok || !c.visibleToBot() {
		return nil, fail("channel_not_found")
	}
	if aerr := f.needScope(conversationScope(c, "read")); aerr != nil {
		return nil, aerr
	}
	return map[string]any{"channel": f.channelJSONLocked(c)}, nil
}

// resolveChannelLocked accepts a channel id, "#name", or a user id (which
// Slack turns into the app's DM with that user).
func (f *Fake) resolveChannelLocked(ref string) (*channel, *apiError) {
	if ref == "" {
		return nil, fail("channel_not_found")
	}
	if c, ok := f.channels[ref]; ok {
		return c, nil
	}
	if name, ok := strings.CutPrefix(ref, "#"); ok {
		for _, id := range sortedKeys(f.channels) {
			if c := f.channels[id]; !c.isIM && c.name == name {
				return c, nil
			}
		}
	}
	if u, ok := f.users[ref]; ok && !u.Deleted {
		return f.channels[f.dmLocked(u.ID)], nil
	}
	return nil, fail("channel_not_found")
}
