package slackfake

import (
	"encoding/json"
	"fmt"
	"slices"
)

// The verification token Slack puts in payloads; apps using Socket Mode
// ignore it, but real payloads carry one.
const verificationToken = "fakeVerificationToken0001"

// Surface is something a person can click in: a message, an ephemeral
// message or a view. Use MessageRef, EphemeralRef or ViewRef.
type Surface interface{ isSurface() }

// MessageRef points at a message in a channel or DM.
type MessageRef struct{ Channel, TS string }

// EphemeralRef points at an ephemeral message by its message_ts.
type EphemeralRef struct{ Channel, TS string }

// ViewRef points at a modal or Home tab by view id.
type ViewRef struct{ ID string }

func (MessageRef) isSurface()   {}
func (EphemeralRef) isSurface() {}
func (ViewRef) isSurface()      {}

// Ref returns a reference to click in this message.
func (m Message) Ref() MessageRef { return MessageRef{Channel: m.Channel, TS: m.TS} }

// Ref returns a reference to click in this ephemeral message.
func (e Ephemeral) Ref() EphemeralRef { return EphemeralRef{Channel: e.Channel, TS: e.TS} }

// Ref returns a reference to click in this view.
func (v View) Ref() ViewRef { return ViewRef{ID: v.ID} }

func (f *Fake) personLocked(user string) (map[string]any, error) {
	u, ok := f.users[user]
	if !ok || u.Deleted {
		return nil, fmt.Errorf("slackfake: no such user %q", user)
	}
	return map[string]any{"id": u.ID, "username": u.Name, "name": u.Name, "team_id": f.opts.TeamID}, nil
}

func (f *Fake) teamJSON() map[string]any {
	return map[string]any{"id": f.opts.TeamID, "domain": f.opts.TeamDomain}
}

func (f *Fake) channelNameLocked(c *channel) string {
	if c.isIM {
		return "directmessage"
	}
	return c.name
}

// SlashCommand runs command (e.g. "/work") with text as user in channelID,
// as if typed in Slack's composer. The Delivery resolves with the app's ack;
// an ack payload with text or blocks is shown to the person (ephemeral, or
// in the channel with response_type in_channel).
func (f *Fake) SlashCommand(user, channelID, command, text string) (*Delivery, error) {
	f.mu.Lock()
	person, err := f.personLocked(user)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	c, ok := f.channels[channelID]
	if !ok {
		f.mu.Unlock()
		return nil, fmt.Errorf("slackfake: no such channel %q", channelID)
	}
	trig := f.newTriggerLocked(user, "")
	rurl := f.newResponseURLLocked("commands", user, c.id, nil, "")
	payload := map[string]any{
		"token":                 verificationToken,
		"team_id":               f.opts.TeamID,
		"team_domain":           f.opts.TeamDomain,
		"channel_id":            c.id,
		"channel_name":          f.channelNameLocked(c),
		"user_id":               user,
		"user_name":             person["name"],
		"command":               command,
		"text":                  text,
		"api_app_id":            f.opts.AppID,
		"is_enterprise_install": "false", // Slack sends this one as a string
		"response_url":          rurl,
		"trigger_id":            trig,
	}
	env, err := f.newEnvelopeLocked("slash_commands", command, payload)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	env.acceptsResponse = true
	env.delivery = &Delivery{EnvelopeID: env.id, TriggerID: trig, ResponseURL: rurl, done: make(chan struct{})}
	env.onAck = func(p json.RawMessage) string { return f.applyMessageReplyLocked(p, user, c) }
	f.mu.Unlock()
	f.dispatch(env)
	return env.delivery, nil
}

// applyMessageReplyLocked shows a slash-command ack payload to the person.
func (f *Fake) applyMessageReplyLocked(p json.RawMessage, user string, c *channel) string {
	if p == nil {
		return ""
	}
	var reply struct {
		Text         string          `json:"text"`
		Blocks       json.RawMessage `json:"blocks"`
		ResponseType string          `json:"response_type"`
	}
	if err := json.Unmarshal(p, &reply); err != nil {
		return "ack payload is not a JSON object: " + err.Error()
	}
	if string(reply.Blocks) == "null" {
		reply.Blocks = nil
	}
	if reply.Text == "" && reply.Blocks == nil {
		return ""
	}
	if reply.Blocks != nil {
		if errs := validateBlocks(reply.Blocks, surfaceMessage, "/blocks"); len(errs) > 0 {
			return "invalid_blocks: " + fmt.Sprint(errs)
		}
	}
	if reply.ResponseType == "in_channel" {
		f.postLocked(c, reply.Text, reply.Blocks, "")
	} else {
		f.ephemeralLocked(c.id, user, reply.Text, reply.Blocks, "ack")
	}
	return ""
}

// surfaceBlocksLocked finds what a person is looking at.
type clickTarget struct {
	blocks  any
	msg     *Message
	eph     *Ephemeral
	view    *viewState
	channel *channel
}

func (f *Fake) targetLocked(user string, s Surface) (clickTarget, error) {
	decode := func(raw json.RawMessage) any {
		var v any
		_ = json.Unmarshal(raw, &v)
		return v
	}
	switch ref := s.(type) {
	case MessageRef:
		m := f.messageLocked(ref.Channel, ref.TS)
		if m == nil {
			return clickTarget{}, fmt.Errorf("slackfake: no message %s in %s", ref.TS, ref.Channel)
		}
		return clickTarget{blocks: decode(m.Blocks), msg: m, channel: f.channels[ref.Channel]}, nil
	case EphemeralRef:
		for i := range f.ephemerals {
			e := &f.ephemerals[i]
			if e.Channel == ref.Channel && e.TS == ref.TS && e.User == user && !e.Deleted {
				return clickTarget{blocks: decode(e.Blocks), eph: e, channel: f.channels[ref.Channel]}, nil
			}
		}
		return clickTarget{}, fmt.Errorf("slackfake: %s saw no ephemeral message %s in %s", user, ref.TS, ref.Channel)
	case ViewRef:
		vs, ok := f.viewByID[ref.ID]
		if !ok || !vs.open || vs.user != user {
			return clickTarget{}, fmt.Errorf("slackfake: %s has no open view %s", user, ref.ID)
		}
		if vs.typ == "modal" {
			stack := f.modals[user]
			if stack[len(stack)-1] != vs {
				return clickTarget{}, fmt.Errorf("slackfake: view %s is under another modal", ref.ID)
			}
		}
		return clickTarget{blocks: vs.req["blocks"], view: vs}, nil
	}
	return clickTarget{}, fmt.Errorf("slackfake: unknown surface %T", s)
}

// ClickButton clicks a button, found by action_id or else by its text, in a
// message, ephemeral message or view, and sends the block_actions payload.
func (f *Fake) ClickButton(user string, on Surface, actionIDOrText string) (*Delivery, error) {
	return f.act(user, on, func(e element) bool {
		return e.typ() == "button" && (e.actionID == actionIDOrText || textOf(e.elem["text"]) == actionIDOrText)
	}, nil, "button "+actionIDOrText)
}

// ClickButtonValue clicks the button with this action_id and value: the way a person tells apart two
// buttons that look the same, such as the Accept buttons of two handoffs on one App Home.
func (f *Fake) ClickButtonValue(user string, on Surface, actionID, value string) (*Delivery, error) {
	return f.act(user, on, func(e element) bool {
		v, _ := e.elem["value"].(string)
		return e.typ() == "button" && e.actionID == actionID && v == value
	}, nil, "button "+actionID+" with value "+value)
}

// Choose picks a value in a select menu, date picker or other stateful
// element (by action_id) that dispatches block_actions: one in an actions
// block or a section accessory, or an input with dispatch_action.
func (f *Fake) Choose(user string, on Surface, actionID string, v Value) (*Delivery, error) {
	return f.act(user, on, func(e element) bool {
		return e.actionID == actionID && statefulElements[e.typ()]
	}, &v, "element "+actionID)
}

func (f *Fake) act(user string, on Surface, match func(element) bool, v *Value, what string) (*Delivery, error) {
	f.mu.Lock()
	person, err := f.personLocked(user)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	t, err := f.targetLocked(user, on)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	all := elementsIn(t.blocks)
	i := slices.IndexFunc(all, match)
	if i < 0 {
		f.mu.Unlock()
		return nil, fmt.Errorf("slackfake: no %s on %v", what, on)
	}
	el := all[i]
	if el.blockType == "input" && !el.dispatch {
		f.mu.Unlock()
		return nil, fmt.Errorf("slackfake: %s is in an input block without dispatch_action, so Slack sends nothing until submit; use Fill", what)
	}
	ts := f.nextTSLocked()
	action := map[string]any{}
	if v != nil {
		if err := f.checkValueLocked(el, *v); err != nil {
			f.mu.Unlock()
			return nil, err
		}
		action = stateJSON(el.elem, *v)
		if t.view != nil {
			if t.view.draft[el.blockID] == nil {
				t.view.draft[el.blockID] = map[string]Value{}
			}
			t.view.draft[el.blockID][el.actionID] = *v
		}
	} else {
		action["type"] = "button"
		action["text"] = el.elem["text"]
		if val, ok := el.elem["value"]; ok {
			action["value"] = val
		}
		if st, ok := el.elem["style"]; ok {
			action["style"] = st
		}
	}
	action["action_id"] = el.actionID
	action["block_id"] = el.blockID
	action["action_ts"] = ts

	viewID := ""
	if t.view != nil {
		viewID = t.view.id
	}
	trig := f.newTriggerLocked(user, viewID)
	payload := map[string]any{
		"type":                  "block_actions",
		"user":                  person,
		"api_app_id":            f.opts.AppID,
		"token":                 verificationToken,
		"trigger_id":            trig,
		"team":                  f.teamJSON(),
		"enterprise":            nil,
		"is_enterprise_install": false,
		"actions":               []any{action},
	}
	d := &Delivery{TriggerID: trig, ViewID: viewID, done: make(chan struct{})}
	switch {
	case t.view != nil:
		payload["container"] = map[string]any{"type": "view", "view_id": t.view.id}
		payload["view"] = f.viewPayloadLocked(t.view)
		payload["state"] = map[string]any{"values": f.stateValuesLocked(t.view, nil)}
	default:
		state := map[string]any{}
		for _, in := range all {
			if !statefulElements[in.typ()] {
				continue
			}
			val := initialValue(in.elem)
			if in.blockID == el.blockID && in.actionID == el.actionID && v != nil {
				val = *v
			}
			block, _ := state[in.blockID].(map[string]any)
			if block == nil {
				block = map[string]any{}
				state[in.blockID] = block
			}
			block[in.actionID] = stateJSON(in.elem, val)
		}
		payload["state"] = map[string]any{"values": state}
		payload["channel"] = map[string]any{"id": t.channel.id, "name": f.channelNameLocked(t.channel)}
		container := map[string]any{"type": "message", "channel_id": t.channel.id, "is_ephemeral": t.eph != nil}
		if t.msg != nil {
			container["message_ts"] = t.msg.TS
			payload["message"] = f.messageJSON(t.msg)
			d.ResponseURL = f.newResponseURLLocked("actions", user, t.channel.id, &MessageRef{Channel: t.channel.id, TS: t.msg.TS}, "")
		} else {
			container["message_ts"] = t.eph.TS
			d.ResponseURL = f.newResponseURLLocked("actions", user, t.channel.id, nil, t.eph.TS)
		}
		payload["container"] = container
		payload["response_url"] = d.ResponseURL
	}
	env, err := f.newEnvelopeLocked("interactive", "block_actions", payload)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	d.EnvelopeID = env.id
	env.delivery = d
	f.mu.Unlock()
	f.dispatch(env)
	return d, nil
}

// SubmitView fills the top modal of user with values (block_id → action_id →
// Value; other inputs keep what was typed before or their initial value) and
// presses its submit button. Like Slack's client, it refuses a submission
// with a required input left empty or a value the view does not offer. The
// ack's response_action (errors, update, push, clear, or none, which closes
// the modal) is applied when it arrives.
func (f *Fake) SubmitView(user, viewID string, values map[string]map[string]Value) (*Delivery, error) {
	f.mu.Lock()
	person, err := f.personLocked(user)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	vs, err := f.topModalLocked(user, viewID)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	if vs.req["submit"] == nil {
		f.mu.Unlock()
		return nil, fmt.Errorf("slackfake: view %s has no submit button", viewID)
	}
	if err := f.checkValuesLocked(vs, values); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	// The errors shown after the last submission go away as the person
	// submits again.
	vs.errors = nil
	f.mergeDraftLocked(vs, values)
	for _, in := range viewInputs(vs.req) {
		if in.blockType != "input" || in.optional {
			continue
		}
		v, ok := vs.draft[in.blockID][in.actionID]
		if !ok {
			v = initialValue(in.elem)
		}
		if v.empty() {
			f.mu.Unlock()
			return nil, fmt.Errorf("slackfake: required input %q (%s/%s) is empty", in.label, in.blockID, in.actionID)
		}
	}
	payload := map[string]any{
		"type":                  "view_submission",
		"team":                  f.teamJSON(),
		"user":                  person,
		"api_app_id":            f.opts.AppID,
		"token":                 verificationToken,
		"trigger_id":            f.newTriggerLocked(user, vs.id),
		"view":                  f.viewPayloadLocked(vs),
		"response_urls":         []any{},
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	env, err := f.newEnvelopeLocked("interactive", "view_submission", payload)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	env.acceptsResponse = true
	env.delivery = &Delivery{EnvelopeID: env.id, TriggerID: payload["trigger_id"].(string), ViewID: vs.id, done: make(chan struct{})}
	env.onAck = func(p json.RawMessage) string { return f.applyResponseActionLocked(vs, p) }
	f.mu.Unlock()
	f.dispatch(env)
	return env.delivery, nil
}

// Fill types or picks values in the inputs of an open view of user, as a
// person does before pressing submit. Slack sends nothing for this; the
// values appear in the view's state in later payloads.
func (f *Fake) Fill(user, viewID string, values map[string]map[string]Value) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs, ok := f.viewByID[viewID]
	if !ok || !vs.open || vs.user != user {
		return fmt.Errorf("slackfake: %s has no open view %s", user, viewID)
	}
	if err := f.checkValuesLocked(vs, values); err != nil {
		return err
	}
	f.mergeDraftLocked(vs, values)
	f.notifyLocked()
	return nil
}

func (f *Fake) checkValuesLocked(vs *viewState, values map[string]map[string]Value) error {
	inputs := viewInputs(vs.req)
	for bid, acts := range values {
		for aid, v := range acts {
			i := slices.IndexFunc(inputs, func(e element) bool { return e.blockID == bid && e.actionID == aid })
			if i < 0 {
				return fmt.Errorf("slackfake: view %s has no input %s/%s", vs.id, bid, aid)
			}
			if err := f.checkValueLocked(inputs[i], v); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *Fake) mergeDraftLocked(vs *viewState, values map[string]map[string]Value) {
	for bid, acts := range values {
		for aid, v := range acts {
			if vs.draft[bid] == nil {
				vs.draft[bid] = map[string]Value{}
			}
			vs.draft[bid][aid] = v
		}
	}
}

func (f *Fake) topModalLocked(user, viewID string) (*viewState, error) {
	stack := f.modals[user]
	if len(stack) == 0 {
		return nil, fmt.Errorf("slackfake: %s has no modal open", user)
	}
	top := stack[len(stack)-1]
	if top.id != viewID {
		return nil, fmt.Errorf("slackfake: view %s is not the modal %s is looking at (%s is)", viewID, user, top.id)
	}
	return top, nil
}

// applyResponseActionLocked does what Slack does with a view_submission ack.
func (f *Fake) applyResponseActionLocked(vs *viewState, p json.RawMessage) string {
	stack := f.modals[vs.user]
	if !vs.open || len(stack) == 0 || stack[len(stack)-1] != vs {
		return "the submitted view is no longer on top"
	}
	var resp struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
		View           json.RawMessage   `json:"view"`
	}
	if p != nil {
		if err := json.Unmarshal(p, &resp); err != nil {
			return "ack payload is not a JSON object: " + err.Error()
		}
	}
	switch resp.ResponseAction {
	case "":
		f.popModalLocked(vs)
	case "clear":
		for _, v := range stack {
			v.open = false
		}
		delete(f.modals, vs.user)
		f.recordViewLocked("clear", vs)
	case "errors":
		inputIDs := map[string]bool{}
		for _, in := range elementsIn(vs.req["blocks"]) {
			if in.blockType == "input" {
				inputIDs[in.blockID] = true
			}
		}
		for k := range resp.Errors {
			if !inputIDs[k] {
				// Slack shows "We had some trouble connecting" instead.
				return fmt.Sprintf("errors key %q is not an input block_id", k)
			}
		}
		vs.errors = resp.Errors
		f.recordViewLocked("errors", vs)
	case "update", "push":
		if aerr := validateView(resp.View, surfaceModal); aerr != nil {
			return aerr.code + ": " + fmt.Sprint(aerr.messages)
		}
		var req map[string]any
		_ = json.Unmarshal(resp.View, &req)
		if resp.ResponseAction == "update" {
			f.replaceViewLocked(vs, req, resp.View)
			f.recordViewLocked("ack_update", vs)
			break
		}
		if len(stack) >= maxPushDepth {
			return "push_limit_reached"
		}
		f.recordViewLocked("ack_push", f.pushLocked(vs.user, req, resp.View))
	default:
		return fmt.Sprintf("unknown response_action %q", resp.ResponseAction)
	}
	return ""
}

// popModalLocked closes the top modal; the one beneath, if any, shows again.
func (f *Fake) popModalLocked(vs *viewState) {
	stack := f.modals[vs.user]
	vs.open = false
	stack = stack[:len(stack)-1]
	if len(stack) == 0 {
		delete(f.modals, vs.user)
	} else {
		f.modals[vs.user] = stack
	}
	f.recordViewLocked("close", vs)
}

// CloseView presses the close button of the top modal. With clear_on_close
// the whole stack closes. A view_closed payload is sent only if the view set
// notify_on_close; otherwise the Delivery is nil.
func (f *Fake) CloseView(user, viewID string) (*Delivery, error) {
	f.mu.Lock()
	person, err := f.personLocked(user)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	vs, err := f.topModalLocked(user, viewID)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	cleared := vs.flag("clear_on_close")
	payloadView := f.viewPayloadLocked(vs)
	if cleared {
		for _, v := range f.modals[user] {
			v.open = false
		}
		delete(f.modals, user)
		f.recordViewLocked("clear", vs)
	} else {
		f.popModalLocked(vs)
	}
	if !vs.flag("notify_on_close") {
		f.mu.Unlock()
		return nil, nil
	}
	payload := map[string]any{
		"type":                  "view_closed",
		"team":                  f.teamJSON(),
		"user":                  person,
		"api_app_id":            f.opts.AppID,
		"token":                 verificationToken,
		"view":                  payloadView,
		"is_cleared":            cleared,
		"is_enterprise_install": false,
		"enterprise":            nil,
	}
	env, err := f.newEnvelopeLocked("interactive", "view_closed", payload)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	env.delivery = &Delivery{EnvelopeID: env.id, ViewID: vs.id, done: make(chan struct{})}
	f.mu.Unlock()
	f.dispatch(env)
	return env.delivery, nil
}

// OpenAppHome opens the app's Home tab as user, which sends app_home_opened.
func (f *Fake) OpenAppHome(user string) (*Delivery, error) {
	f.mu.Lock()
	if _, err := f.personLocked(user); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	event := map[string]any{
		"type":     "app_home_opened",
		"user":     user,
		"channel":  f.dmLocked(user),
		"tab":      "home",
		"event_ts": f.nextTSLocked(),
	}
	if vs, ok := f.homes[user]; ok {
		event["view"] = f.viewPayloadLocked(vs)
	}
	f.mu.Unlock()
	return f.SendEvent(event)
}

// SendEvent delivers an arbitrary Events API event (the inner "event"
// object; it needs a "type") wrapped in an event_callback, with redelivery
// while unacked.
func (f *Fake) SendEvent(event any) (*Delivery, error) {
	raw, err := json.Marshal(event)
	if err != nil {
		return nil, fmt.Errorf("slackfake: encoding event: %w", err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil || ev == nil {
		return nil, fmt.Errorf("slackfake: an event must be a JSON object")
	}
	typ, _ := ev["type"].(string)
	if typ == "" {
		return nil, fmt.Errorf("slackfake: an event needs a type")
	}
	f.mu.Lock()
	if _, ok := ev["event_ts"]; !ok {
		ev["event_ts"] = f.nextTSLocked()
	}
	f.seq++
	eventID := fmt.Sprintf("Ev0FAKE%06X", f.seq)
	now := f.opts.Now()
	payload := map[string]any{
		"token":      verificationToken,
		"team_id":    f.opts.TeamID,
		"api_app_id": f.opts.AppID,
		"event":      ev,
		"type":       "event_callback",
		"event_id":   eventID,
		"event_time": now.Unix(),
		"authorizations": []any{map[string]any{
			"enterprise_id": nil, "team_id": f.opts.TeamID, "user_id": f.opts.BotUserID,
			"is_bot": true, "is_enterprise_install": false,
		}},
		"is_ext_shared_channel": false,
		"event_context":         "4-fake-" + eventID,
	}
	env, err := f.newEnvelopeLocked("events_api", typ, payload)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	env.delivery = &Delivery{EnvelopeID: env.id, done: make(chan struct{})}
	f.mu.Unlock()
	f.dispatch(env)
	return env.delivery, nil
}

// LastMessage returns the newest message of a channel.
func (f *Fake) LastMessage(channelID string) (Message, bool) {
	msgs := f.Messages(channelID)
	if len(msgs) == 0 {
		return Message{}, false
	}
	return msgs[len(msgs)-1], true
}
