package slackfake

import (
	"encoding/json"
	"strings"
	"time"
)

// Message is one message in a channel or DM, as the workspace shows it now.
type Message struct {
	Channel  string
	TS       string
	ThreadTS string // empty for a top-level message
	User     string // author; the bot user for the app's messages
	BotID    string // set for the app's messages
	Text     string
	Blocks   json.RawMessage // as sent, or nil
	Files    []File
	Edited   bool
	Edits    int // how many chat.update calls changed it
	// Metadata is what chat.postMessage or chat.update attached, or nil.
	Metadata *Metadata
	// Reactions are the emoji people added (AddReaction), in the order
	// first used.
	Reactions []Reaction
}

// Reaction is one emoji on a message and who added it, in order.
type Reaction struct {
	Name  string // without colons, e.g. "ticket"
	Users []string
}

// Metadata is a message's metadata: an event type and a JSON object the
// app chose (https://docs.slack.dev/messaging/message-metadata).
type Metadata struct {
	EventType    string
	EventPayload json.RawMessage
}

// Ephemeral is a message only one person saw, from chat.postEphemeral, a
// slash-command ack or a response_url.
type Ephemeral struct {
	Channel string
	User    string // who saw it
	TS      string // the message_ts Slack returned
	Text    string
	Blocks  json.RawMessage
	Source  string // "chat.postEphemeral", "ack" or "response_url"
	Deleted bool   // removed through delete_original
}

// File is a file shared into a channel through files.completeUploadExternal.
type File struct {
	ID      string
	Name    string
	Title   string
	AltText string
	Size    int
	Content []byte
}

// Call is one recorded Web API call.
type Call struct {
	Method string
	Token  string            // the token it carried, empty if none
	Params map[string]string // form fields, or top-level JSON fields (objects as JSON text)
	At     time.Time         // on the fake's clock
	Status int               // HTTP status answered
	Error  string            // Slack error code, empty when ok
	Fault  bool              // answered by an injected fault
	// Dropped: the connection was closed instead of answering (a
	// DropResponse fault); Status and Error say what the answer would have
	// been.
	Dropped bool
}

// Ack is a Socket Mode acknowledgement received from the app.
type Ack struct {
	EnvelopeID   string
	Type         string // the envelope type acked: slash_commands, interactive, events_api
	PayloadType  string // block_actions, view_submission…, or the event type
	RetryAttempt int
	Latency      time.Duration // wall time from send to ack
	Late         bool          // arrived after AckTimeout, so Slack ignored its payload
	// Problem is what Slack would have made of a bad ack payload (invalid
	// blocks in a slash reply, errors keyed to a non-input block…), or "".
	Problem string
	Payload json.RawMessage
	// Connection is the socket it came on, numbered from 1 in the order
	// sockets connected (as ConnectionsOpened counts).
	Connection int
}

// Envelope describes a Socket Mode envelope the fake has sent.
type Envelope struct {
	EnvelopeID   string
	Type         string
	PayloadType  string
	RetryAttempt int
	RetryReason  string
	SentAt       time.Time // wall clock
	Acked        bool
	Payload      json.RawMessage
	// Connection is the socket it went out on (see Ack.Connection); 0 if
	// none was open.
	Connection int
}

// Messages returns the history of a channel or DM, oldest first, thread
// replies included.
func (f *Fake) Messages(channelID string) []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.channels[channelID]
	if !ok {
		return nil
	}
	out := make([]Message, 0, len(c.messages))
	for _, m := range c.messages {
		out = append(out, m.clone())
	}
	return out
}

// Message returns one message by channel and ts.
func (f *Fake) Message(channelID, ts string) (Message, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.messageLocked(channelID, ts)
	if m == nil {
		return Message{}, false
	}
	return m.clone(), true
}

func (f *Fake) messageLocked(channelID, ts string) *Message {
	c, ok := f.channels[channelID]
	if !ok {
		return nil
	}
	for _, m := range c.messages {
		if m.TS == ts {
			return m
		}
	}
	return nil
}

// DMs returns the messages of the app's DM with user.
func (f *Fake) DMs(user string) []Message {
	f.mu.Lock()
	id, ok := f.dms[user]
	f.mu.Unlock()
	if !ok {
		return nil
	}
	return f.Messages(id)
}

// Ephemerals returns the ephemeral messages user saw, oldest first.
func (f *Fake) Ephemerals(user string) []Ephemeral {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Ephemeral
	for _, e := range f.ephemerals {
		if e.User == user {
			out = append(out, e)
		}
	}
	return out
}

// Calls returns the recorded Web API calls of method ("" for all), oldest first.
func (f *Fake) Calls(method string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// UnknownMethods returns the methods called that the fake does not implement
// (answered unknown_method), in call order.
func (f *Fake) UnknownMethods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.unknownMethods...)
}

// Acks returns every ack received, in arrival order.
func (f *Fake) Acks() []Ack {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Ack(nil), f.acks...)
}

// Unacked returns the envelopes sent and not acked yet (each delivery of a
// redelivered event counts once, under its own envelope id).
func (f *Fake) Unacked() []Envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Envelope
	for _, id := range f.envOrder {
		e := f.envelopes[id]
		if !e.acked && !e.undelivered {
			out = append(out, e.describe())
		}
	}
	return out
}

// Envelopes returns every envelope sent, in order.
func (f *Fake) Envelopes() []Envelope {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Envelope
	for _, id := range f.envOrder {
		e := f.envelopes[id]
		if !e.undelivered {
			out = append(out, e.describe())
		}
	}
	return out
}

// StrayAcks returns acks whose envelope_id the fake never sent, and frames
// from the app that were not valid acks.
func (f *Fake) StrayAcks() []json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]json.RawMessage(nil), f.strayAcks...)
}

func (m *Message) clone() Message {
	cp := *m
	cp.Blocks = append(json.RawMessage(nil), m.Blocks...)
	cp.Files = append([]File(nil), m.Files...)
	cp.Reactions = nil
	for _, r := range m.Reactions {
		cp.Reactions = append(cp.Reactions, Reaction{Name: r.Name, Users: append([]string(nil), r.Users...)})
	}
	if m.Metadata != nil {
		md := *m.Metadata
		md.EventPayload = append(json.RawMessage(nil), m.Metadata.EventPayload...)
		cp.Metadata = &md
	}
	return cp
}

// AllText returns the message text and every text inside its blocks, one
// per line, for assertions that should not depend on layout.
func (m Message) AllText() string { return allText(m.Text, m.Blocks) }

// AllText is Message.AllText for an ephemeral message.
func (e Ephemeral) AllText() string { return allText(e.Text, e.Blocks) }

func allText(text string, blocks json.RawMessage) string {
	var parts []string
	if text != "" {
		parts = append(parts, text)
	}
	var v any
	if len(blocks) > 0 && json.Unmarshal(blocks, &v) == nil {
		collectText(v, &parts)
	}
	return strings.Join(parts, "\n")
}

// collectText gathers the "text" strings of text objects, depth first.
func collectText(v any, parts *[]string) {
	switch x := v.(type) {
	case map[string]any:
		if t, ok := x["text"].(string); ok {
			*parts = append(*parts, t)
		}
		for _, k := range sortedKeys(x) {
			if k == "text" {
				if _, isString := x[k].(string); isString {
					continue
				}
			}
			collectText(x[k], parts)
		}
	case []any:
		for _, e := range x {
			collectText(e, parts)
		}
	}
}

// Channel describes a channel or DM of the workspace.
type Channel struct {
	ID    string
	Name  string // empty for a DM
	IsIM  bool
	User  string // the other member of a DM
	Count int    // messages in its history
	// IsPrivate, IsMember (the app's bot user is in it) and IsArchived, as
	// conversations.info tells them.
	IsPrivate, IsMember, IsArchived bool
}

// Channels lists the workspace's channels and DMs, sorted by id.
func (f *Fake) Channels() []Channel {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Channel
	for _, id := range sortedKeys(f.channels) {
		c := f.channels[id]
		ch := Channel{ID: c.id, IsIM: c.isIM, User: c.imUser, Count: len(c.messages),
			IsPrivate: c.isPrivate || c.isIM, IsMember: c.member, IsArchived: c.archived}
		if !c.isIM {
			ch.Name = c.name
		}
		out = append(out, ch)
	}
	return out
}
