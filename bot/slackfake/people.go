package slackfake

import (
	"fmt"
	"slices"
	"strings"
)

// MessageShortcut runs the app's message shortcut callbackID on a message,
// as a person does from the message's "More actions" menu. Slack sends an
// interactive envelope whose payload has the shape of the shortcuts
// reference (https://docs.slack.dev/reference/interaction-payloads/shortcuts-interaction-payload):
// type message_action, callback_id, trigger_id (good for views.open within
// TriggerTTL), message_ts, response_url, user, channel, team and the
// message, whose user is left out when the app posted it. The Delivery
// resolves with the ack; its payload is ignored, as Slack ignores it.
func (f *Fake) MessageShortcut(user, channelID, ts, callbackID string) (*Delivery, error) {
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
	m := f.messageLocked(c.id, ts)
	if m == nil {
		f.mu.Unlock()
		return nil, fmt.Errorf("slackfake: no message %s in %s", ts, c.id)
	}
	msg := f.messageJSON(m)
	if m.BotID != "" {
		delete(msg, "user")
	}
	trig := f.newTriggerLocked(user, "")
	rurl := f.newResponseURLLocked("app-actions", user, c.id, nil, "")
	payload := map[string]any{
		"type":                  "message_action",
		"token":                 verificationToken,
		"action_ts":             f.nextTSLocked(),
		"team":                  f.teamJSON(),
		"user":                  person,
		"channel":               map[string]any{"id": c.id, "name": f.channelNameLocked(c)},
		"callback_id":           callbackID,
		"trigger_id":            trig,
		"message_ts":            m.TS,
		"message":               msg,
		"response_url":          rurl,
		"enterprise":            nil,
		"is_enterprise_install": false,
	}
	env, err := f.newEnvelopeLocked("interactive", "message_action", payload)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	env.delivery = &Delivery{EnvelopeID: env.id, TriggerID: trig, ResponseURL: rurl, done: make(chan struct{})}
	f.mu.Unlock()
	f.dispatch(env)
	return env.delivery, nil
}

// GlobalShortcut runs the app's global shortcut callbackID, as a person
// does from the shortcuts menu: a shortcut payload with a trigger_id and no
// channel, message or response_url (same reference as MessageShortcut).
func (f *Fake) GlobalShortcut(user, callbackID string) (*Delivery, error) {
	f.mu.Lock()
	person, err := f.personLocked(user)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	trig := f.newTriggerLocked(user, "")
	payload := map[string]any{
		"type":                  "shortcut",
		"token":                 verificationToken,
		"action_ts":             f.nextTSLocked(),
		"team":                  f.teamJSON(),
		"user":                  person,
		"callback_id":           callbackID,
		"trigger_id":            trig,
		"enterprise":            nil,
		"is_enterprise_install": false,
	}
	env, err := f.newEnvelopeLocked("interactive", "shortcut", payload)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	env.delivery = &Delivery{EnvelopeID: env.id, TriggerID: trig, done: make(chan struct{})}
	f.mu.Unlock()
	f.dispatch(env)
	return env.delivery, nil
}

// AddReaction adds emoji (with or without colons) to a message as user.
// The reaction shows in the message's history. Slack sends the
// reaction_added event (https://docs.slack.dev/reference/events/reaction_added)
// only to an app in the conversation with reactions:read; otherwise the
// Delivery is nil and nothing is sent.
func (f *Fake) AddReaction(user, channelID, ts, emoji string) (*Delivery, error) {
	return f.react(user, channelID, ts, emoji, true)
}

// RemoveReaction takes user's emoji off a message, which sends
// reaction_removed under the same conditions as AddReaction.
func (f *Fake) RemoveReaction(user, channelID, ts, emoji string) (*Delivery, error) {
	return f.react(user, channelID, ts, emoji, false)
}

func (f *Fake) react(user, channelID, ts, emoji string, add bool) (*Delivery, error) {
	name := strings.Trim(emoji, ":")
	if name == "" {
		return nil, fmt.Errorf("slackfake: no emoji")
	}
	f.mu.Lock()
	if _, err := f.personLocked(user); err != nil {
		f.mu.Unlock()
		return nil, err
	}
	c, ok := f.channels[channelID]
	if !ok {
		f.mu.Unlock()
		return nil, fmt.Errorf("slackfake: no such channel %q", channelID)
	}
	m := f.messageLocked(c.id, ts)
	if m == nil {
		f.mu.Unlock()
		return nil, fmt.Errorf("slackfake: no message %s in %s", ts, c.id)
	}
	i := slices.IndexFunc(m.Reactions, func(r Reaction) bool { return r.Name == name })
	has := i >= 0 && slices.Contains(m.Reactions[i].Users, user)
	switch {
	case add && has:
		f.mu.Unlock()
		return nil, fmt.Errorf("slackfake: %s already reacted with %q", user, name)
	case !add && !has:
		f.mu.Unlock()
		return nil, fmt.Errorf("slackfake: %s has no %q on that message", user, name)
	case add && i < 0:
		m.Reactions = append(m.Reactions, Reaction{Name: name, Users: []string{user}})
	case add:
		m.Reactions[i].Users = append(m.Reactions[i].Users, user)
	default:
		r := &m.Reactions[i]
		r.Users = slices.DeleteFunc(r.Users, func(u string) bool { return u == user })
		if len(r.Users) == 0 {
			m.Reactions = slices.Delete(m.Reactions, i, i+1)
		}
	}
	f.notifyLocked()
	typ := "reaction_removed"
	if add {
		typ = "reaction_added"
	}
	deliver := c.member && f.hasScope("reactions:read")
	event := map[string]any{
		"type":      typ,
		"user":      user,
		"reaction":  name,
		"item_user": m.User,
		"item":      map[string]any{"type": "message", "channel": c.id, "ts": m.TS},
		"event_ts":  f.nextTSLocked(),
	}
	f.mu.Unlock()
	if !deliver {
		f.logf("%s :%s: not sent: the app is not in %s or lacks reactions:read", typ, name, c.id)
		return nil, nil
	}
	return f.SendEvent(event)
}

// SendDM posts text as user in their DM with the app, as typed in the
// app's Messages tab, and sends the message event Slack delivers for it
// with channel_type "im" (https://docs.slack.dev/reference/events/message.im),
// when the app has im:history; otherwise the Delivery is nil.
func (f *Fake) SendDM(user, text string) (Message, *Delivery, error) {
	return f.ReplyInDM(user, "", text)
}

// ReplyInDM is SendDM for a reply in the thread of threadTS ("" for a new
// message); the event carries thread_ts and parent_user_id.
func (f *Fake) ReplyInDM(user, threadTS, text string) (Message, *Delivery, error) {
	f.mu.Lock()
	if _, err := f.personLocked(user); err != nil {
		f.mu.Unlock()
		return Message{}, nil, err
	}
	if user == f.opts.BotUserID {
		f.mu.Unlock()
		return Message{}, nil, fmt.Errorf("slackfake: the app posts through the Web API, not SendDM")
	}
	c := f.channels[f.dmLocked(user)]
	var parent *Message
	if threadTS != "" {
		if parent = f.messageLocked(c.id, threadTS); parent == nil {
			f.mu.Unlock()
			return Message{}, nil, fmt.Errorf("slackfake: no message %s in %s to reply to", threadTS, c.id)
		}
		if !parent.isTopLevel() {
			threadTS = parent.ThreadTS
			parent = f.messageLocked(c.id, threadTS)
		}
	}
	m := &Message{Channel: c.id, TS: f.nextTSLocked(), ThreadTS: threadTS, User: user, Text: text}
	c.messages = append(c.messages, m)
	f.notifyLocked()
	f.seq++
	event := map[string]any{
		"type":          "message",
		"client_msg_id": fmt.Sprintf("%08x-fake-4%03x-a%03x-%012x", uint32(f.seq)*2654435761, f.seq&0xfff, (f.seq*5)&0xfff, f.seq),
		"channel":       c.id,
		"channel_type":  "im",
		"user":          user,
		"text":          text,
		"ts":            m.TS,
		"event_ts":      m.TS,
		"team":          f.opts.TeamID,
	}
	if parent != nil {
		event["thread_ts"] = parent.TS
		event["parent_user_id"] = parent.User
	}
	deliver := f.hasScope("im:history")
	out := m.clone()
	f.mu.Unlock()
	if !deliver {
		f.logf("message.im not sent: the app lacks im:history")
		return out, nil, nil
	}
	d, err := f.SendEvent(event)
	return out, d, err
}
