package slackfake

import (
	"encoding/json"
	"fmt"
	"time"
)

// maxPushDepth is the most modals a stack may hold (views.push refuses more).
const maxPushDepth = 3

// View is a modal or Home tab as a person sees it.
type View struct {
	ID              string
	User            string
	Type            string // "modal" or "home"
	CallbackID      string
	ExternalID      string
	PrivateMetadata string
	Title           string
	Submit          string
	Close           string
	Hash            string
	RootViewID      string
	PreviousViewID  string
	NotifyOnClose   bool
	ClearOnClose    bool
	Blocks          json.RawMessage
	// Errors are the field errors of the last response_action "errors",
	// keyed by input block_id; cleared when the view changes.
	Errors map[string]string
}

// AllText returns the title and every text in the blocks, one per line.
func (v View) AllText() string { return allText(v.Title, v.Blocks) }

// ViewEvent is one change to what a person saw.
type ViewEvent struct {
	// Action is "open", "push", "update", "publish", "ack_update", "ack_push",
	// "errors", "close" or "clear".
	Action string
	View   View
}

type viewState struct {
	id, user, hash string
	typ            string
	rootID, prevID string
	req            map[string]any // the view as the app sent it
	raw            json.RawMessage
	errors         map[string]string
	draft          map[string]map[string]Value // what the person typed or picked so far
	open           bool
}

func (vs *viewState) str(key string) string {
	s, _ := vs.req[key].(string)
	return s
}

func (vs *viewState) flag(key string) bool {
	b, _ := vs.req[key].(bool)
	return b
}

func textOf(v any) string {
	m, _ := v.(map[string]any)
	s, _ := m["text"].(string)
	return s
}

func (vs *viewState) public() View {
	var blocks json.RawMessage
	if b, ok := vs.req["blocks"]; ok {
		blocks, _ = json.Marshal(b)
	}
	v := View{
		ID: vs.id, User: vs.user, Type: vs.typ,
		CallbackID: vs.str("callback_id"), ExternalID: vs.str("external_id"),
		PrivateMetadata: vs.str("private_metadata"),
		Title:           textOf(vs.req["title"]), Submit: textOf(vs.req["submit"]), Close: textOf(vs.req["close"]),
		Hash: vs.hash, RootViewID: vs.rootID, PreviousViewID: vs.prevID,
		NotifyOnClose: vs.flag("notify_on_close"), ClearOnClose: vs.flag("clear_on_close"),
		Blocks: blocks,
	}
	if len(vs.errors) > 0 {
		v.Errors = map[string]string{}
		for k, e := range vs.errors {
			v.Errors[k] = e
		}
	}
	return v
}

// payloadJSON renders the view as Slack includes it in payloads and answers,
// with the person's current input as state.values.
func (f *Fake) viewPayloadLocked(vs *viewState) map[string]any {
	out := map[string]any{}
	for k, v := range vs.req {
		out[k] = v
	}
	out["id"] = vs.id
	out["team_id"] = f.opts.TeamID
	out["type"] = vs.typ
	out["hash"] = vs.hash
	out["app_id"] = f.opts.AppID
	out["bot_id"] = f.opts.BotID
	out["app_installed_team_id"] = f.opts.TeamID
	out["root_view_id"] = vs.rootID
	out["previous_view_id"] = nil
	if vs.prevID != "" {
		out["previous_view_id"] = vs.prevID
	}
	for _, k := range []string{"private_metadata", "callback_id", "external_id"} {
		if _, ok := out[k]; !ok {
			out[k] = ""
		}
	}
	for _, k := range []string{"clear_on_close", "notify_on_close"} {
		if _, ok := out[k]; !ok {
			out[k] = false
		}
	}
	if _, ok := out["blocks"]; !ok {
		out["blocks"] = []any{}
	}
	out["state"] = map[string]any{"values": f.stateValuesLocked(vs, nil)}
	return out
}

func (f *Fake) newHashLocked() string {
	f.seq++
	return fmt.Sprintf("%d.%08x", f.opts.Now().Unix(), uint32(f.seq)*2654435761)
}

// trigger is a trigger_id handed out with an interaction.
type trigger struct {
	user    string
	issued  time.Time
	used    bool
	surface string // view id when the interaction came from a modal
}

func (f *Fake) newTriggerLocked(user, fromView string) string {
	f.seq++
	now := f.opts.Now()
	id := fmt.Sprintf("%d.%d.%032x", now.Unix(), 1000000+f.seq, uint64(f.seq)*0x9e3779b97f4a7c15)
	f.triggers[id] = &trigger{user: user, issued: now, surface: fromView}
	return id
}

// exchangeTriggerLocked spends a trigger_id, as views.open and views.push do.
func (f *Fake) exchangeTriggerLocked(id string) (*trigger, *apiError) {
	if id == "" {
		return nil, invalidArguments([]string{"missing required field: trigger_id [json-pointer:/trigger_id]"})
	}
	t, ok := f.triggers[id]
	switch {
	case !ok:
		return nil, fail("invalid_trigger_id")
	case t.used:
		return nil, fail("exchanged_trigger_id")
	case f.opts.Now().Sub(t.issued) > f.opts.TriggerTTL:
		return nil, fail("expired_trigger_id")
	}
	t.used = true
	return t, nil
}

// decodeView validates and parses the view argument of a views.* call.
func (f *Fake) decodeView(r *request, want surface) (map[string]any, json.RawMessage, *apiError) {
	raw := r.p.raw("view")
	if raw == nil {
		return nil, nil, invalidArguments([]string{"missing required field: view [json-pointer:/view]"})
	}
	if aerr := validateView(raw, want); aerr != nil {
		return nil, nil, aerr
	}
	var req map[string]any
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, nil, invalidArguments([]string{"must be an object [json-pointer:/view]"})
	}
	return req, raw, nil
}

func (f *Fake) recordViewLocked(action string, vs *viewState) {
	f.history[vs.user] = append(f.history[vs.user], ViewEvent{Action: action, View: vs.public()})
	f.notifyLocked()
}

func (f *Fake) newViewLocked(user, typ string, req map[string]any, raw json.RawMessage) *viewState {
	vs := &viewState{
		id: f.nextIDLocked("V"), user: user, typ: typ, req: req, raw: raw,
		hash: f.newHashLocked(), open: true, draft: map[string]map[string]Value{},
	}
	vs.rootID = vs.id
	f.viewByID[vs.id] = vs
	return vs
}

func (f *Fake) viewsOpen(r *request) (map[string]any, *apiError) {
	req, raw, aerr := f.decodeView(r, surfaceModal)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if aerr := f.checkExternalIDLocked(req); aerr != nil {
		return nil, aerr
	}
	t, aerr := f.exchangeTriggerLocked(r.p.get("trigger_id"))
	if aerr != nil {
		return nil, aerr
	}
	// A new root replaces whatever stack the person had open.
	f.closeStackLocked(t.user)
	vs := f.newViewLocked(t.user, "modal", req, raw)
	f.modals[t.user] = []*viewState{vs}
	f.recordViewLocked("open", vs)
	return map[string]any{"view": f.viewPayloadLocked(vs)}, nil
}

func (f *Fake) viewsPush(r *request) (map[string]any, *apiError) {
	req, raw, aerr := f.decodeView(r, surfaceModal)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if aerr := f.checkExternalIDLocked(req); aerr != nil {
		return nil, aerr
	}
	t, aerr := f.exchangeTriggerLocked(r.p.get("trigger_id"))
	if aerr != nil {
		return nil, aerr
	}
	stack := f.modals[t.user]
	if len(stack) == 0 {
		// views.push needs an open modal to push onto.
		return nil, fail("not_found")
	}
	if len(stack) >= maxPushDepth {
		return nil, fail("push_limit_reached")
	}
	vs := f.pushLocked(t.user, req, raw)
	f.recordViewLocked("push", vs)
	return map[string]any{"view": f.viewPayloadLocked(vs)}, nil
}

func (f *Fake) pushLocked(user string, req map[string]any, raw json.RawMessage) *viewState {
	stack := f.modals[user]
	top := stack[len(stack)-1]
	vs := f.newViewLocked(user, "modal", req, raw)
	vs.rootID = stack[0].id
	vs.prevID = top.id
	f.modals[user] = append(stack, vs)
	return vs
}

func (f *Fake) checkExternalIDLocked(req map[string]any) *apiError {
	ext, _ := req["external_id"].(string)
	if ext == "" {
		return nil
	}
	for _, vs := range f.viewByID {
		if vs.open && vs.str("external_id") == ext {
			return fail("duplicate_external_id")
		}
	}
	return nil
}

func (f *Fake) viewsUpdate(r *request) (map[string]any, *apiError) {
	f.mu.Lock()
	var vs *viewState
	if id := r.p.get("view_id"); id != "" {
		vs = f.viewByID[id]
	} else if ext := r.p.get("external_id"); ext != "" {
		for _, v := range f.viewByID {
			if v.open && v.str("external_id") == ext {
				vs = v
			}
		}
	} else {
		f.mu.Unlock()
		return nil, invalidArguments([]string{"must provide view_id or external_id [json-pointer:/view_id]"})
	}
	if vs == nil || !vs.open {
		f.mu.Unlock()
		return nil, fail("not_found")
	}
	want := surfaceModal
	if vs.typ == "home" {
		want = surfaceHome
	}
	f.mu.Unlock()
	req, raw, aerr := f.decodeView(r, want)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !vs.open {
		return nil, fail("not_found")
	}
	if h := r.p.get("hash"); h != "" && h != vs.hash {
		return nil, fail("hash_conflict")
	}
	f.replaceViewLocked(vs, req, raw)
	f.recordViewLocked("update", vs)
	return map[string]any{"view": f.viewPayloadLocked(vs)}, nil
}

func (f *Fake) replaceViewLocked(vs *viewState, req map[string]any, raw json.RawMessage) {
	vs.req, vs.raw = req, raw
	vs.hash = f.newHashLocked()
	vs.errors = nil
	// Slack keeps what was typed into inputs whose block_id and action_id
	// survive the update; anything else starts from its initial value.
	kept := map[string]map[string]Value{}
	for _, in := range viewInputs(req) {
		if v, ok := vs.draft[in.blockID][in.actionID]; ok {
			if kept[in.blockID] == nil {
				kept[in.blockID] = map[string]Value{}
			}
			kept[in.blockID][in.actionID] = v
		}
	}
	vs.draft = kept
}

func (f *Fake) viewsPublish(r *request) (map[string]any, *apiError) {
	req, raw, aerr := f.decodeView(r, surfaceHome)
	if aerr != nil {
		return nil, aerr
	}
	user := r.p.get("user_id")
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[user]
	if !ok || u.Deleted {
		return nil, fail("user_not_found")
	}
	vs, ok := f.homes[user]
	if ok {
		if h := r.p.get("hash"); h != "" && h != vs.hash {
			return nil, fail("hash_conflict")
		}
		f.replaceViewLocked(vs, req, raw)
	} else {
		vs = f.newViewLocked(user, "home", req, raw)
		f.homes[user] = vs
	}
	f.recordViewLocked("publish", vs)
	return map[string]any{"view": f.viewPayloadLocked(vs)}, nil
}

// closeStackLocked closes every modal a person has open.
func (f *Fake) closeStackLocked(user string) {
	for _, vs := range f.modals[user] {
		vs.open = false
	}
	delete(f.modals, user)
}

// Views returns every change to the modals and Home tab user saw, in order.
func (f *Fake) Views(user string) []ViewEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ViewEvent(nil), f.history[user]...)
}

// ModalStack returns the modals user has open, root first.
func (f *Fake) ModalStack(user string) []View {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []View
	for _, vs := range f.modals[user] {
		out = append(out, vs.public())
	}
	return out
}

// TopModal returns the modal user is looking at, if any.
func (f *Fake) TopModal(user string) (View, bool) {
	stack := f.ModalStack(user)
	if len(stack) == 0 {
		return View{}, false
	}
	return stack[len(stack)-1], true
}

// Home returns the Home tab published for user, if any.
func (f *Fake) Home(user string) (View, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs, ok := f.homes[user]
	if !ok {
		return View{}, false
	}
	return vs.public(), true
}

// ViewByID returns a view, open or closed, by id.
func (f *Fake) ViewByID(id string) (View, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs, ok := f.viewByID[id]
	if !ok {
		return View{}, false
	}
	return vs.public(), true
}
