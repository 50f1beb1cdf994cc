package slackfake

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxMessageText is where Slack stops accepting message text (msg_too_long).
const maxMessageText = 40000

// messageContent validates the text and blocks of a message the app sends.
func messageContent(p params) (text string, blocks json.RawMessage, aerr *apiError) {
	text = p.get("text")
	blocks = p.raw("blocks")
	attachments := p.raw("attachments")
	if utf8.RuneCountInString(text) > maxMessageText {
		return "", nil, fail("msg_too_long")
	}
	if blocks != nil {
		if errs := validateBlocks(blocks, surfaceMessage, "/blocks"); len(errs) > 0 {
			return "", nil, invalidBlocks(errs)
		}
		if isEmptyArray(blocks) {
			blocks = nil
		}
	}
	if text == "" && blocks == nil && (attachments == nil || isEmptyArray(attachments)) {
		return "", nil, fail("no_text")
	}
	return text, blocks, nil
}

func isEmptyArray(raw json.RawMessage) bool {
	var v []json.RawMessage
	return json.Unmarshal(raw, &v) == nil && len(v) == 0
}

// invalidBlocks is Slack's answer to a message whose blocks break the rules.
func invalidBlocks(errs []string) *apiError {
	e := &apiError{code: "invalid_blocks", errors: errs}
	for _, s := range errs {
		e.messages = append(e.messages, "[ERROR] "+s)
	}
	return e
}

// messageJSON renders a message as chat.postMessage returns it.
func (f *Fake) messageJSON(m *Message) map[string]any {
	out := map[string]any{
		"type": "message",
		"text": m.Text,
		"user": m.User,
		"ts":   m.TS,
		"team": f.opts.TeamID,
	}
	if m.BotID != "" {
		// As in Slack's answers for an app with a bot user: user is the bot
		// user, and bot_id, app_id and bot_profile say which app posted.
		out["bot_id"] = m.BotID
		out["app_id"] = f.opts.AppID
		out["bot_profile"] = map[string]any{
			"id": m.BotID, "app_id": f.opts.AppID, "name": f.opts.BotName,
			"deleted": false, "team_id": f.opts.TeamID,
		}
	}
	if m.Metadata != nil {
		out["metadata"] = metadataJSON(m.Metadata)
	}
	if len(m.Reactions) > 0 {
		// As conversations.history shows them: name, users, count.
		var rs []any
		for _, r := range m.Reactions {
			rs = append(rs, map[string]any{"name": r.Name, "users": append([]string(nil), r.Users...), "count": len(r.Users)})
		}
		out["reactions"] = rs
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.Edited {
		out["edited"] = map[string]any{"user": m.User, "ts": m.TS}
	}
	if len(m.Files) > 0 {
		var files []any
		for _, fl := range m.Files {
			files = append(files, map[string]any{"id": fl.ID, "name": fl.Name, "title": fl.Title, "size": fl.Size})
		}
		out["files"] = files
		out["upload"] = true
	}
	return out
}

// postLocked appends a message from the app to a channel.
func (f *Fake) postLocked(c *channel, text string, blocks json.RawMessage, threadTS string) *Message {
	m := &Message{
		Channel:  c.id,
		TS:       f.nextTSLocked(),
		ThreadTS: threadTS,
		User:     f.opts.BotUserID,
		BotID:    f.opts.BotID,
		Text:     text,
		Blocks:   blocks,
	}
	c.messages = append(c.messages, m)
	f.notifyLocked()
	return m
}

func (f *Fake) chatPostMessage(r *request) (map[string]any, *apiError) {
	text, blocks, aerr := messageContent(r.p)
	if aerr != nil {
		return nil, aerr
	}
	md, _, aerr := parseMetadata(r.p)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, aerr := f.resolveChannelLocked(r.p.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	if aerr := f.postableLocked(c); aerr != nil {
		return nil, aerr
	}
	threadTS := r.p.get("thread_ts")
	if threadTS != "" && f.messageLocked(c.id, threadTS) == nil {
		// Slack answers thread_not_found for a reply to an unknown parent.
		return nil, fail("thread_not_found")
	}
	m := f.postLocked(c, text, blocks, threadTS)
	m.Metadata = f.acceptMetadata(md)
	return map[string]any{"channel": c.id, "ts": m.TS, "message": f.messageJSON(m)}, nil
}

func (f *Fake) chatUpdate(r *request) (map[string]any, *apiError) {
	// Slack keeps a message's blocks when chat.update leaves them out, and
	// removes them for an empty array.
	keepBlocks := r.p.raw("blocks") == nil
	text, blocks, aerr := messageContent(r.p)
	if aerr != nil && !(keepBlocks && aerr.code == "no_text") {
		return nil, aerr
	}
	// chat.update keeps the metadata when the argument is left out and
	// removes it for an empty object.
	md, mdPresent, mdErr := parseMetadata(r.p)
	if mdErr != nil {
		return nil, mdErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, aerr := f.resolveChannelLocked(r.p.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	m := f.messageLocked(c.id, r.p.get("ts"))
	if m == nil {
		return nil, fail("message_not_found")
	}
	if m.User != f.opts.BotUserID {
		return nil, fail("cant_update_message")
	}
	if keepBlocks {
		blocks = m.Blocks
	}
	if text == "" && blocks == nil {
		return nil, fail("no_text")
	}
	m.Text, m.Blocks = text, blocks
	if mdPresent {
		m.Metadata = f.acceptMetadata(md)
	}
	m.Edited = true
	m.Edits++
	f.notifyLocked()
	return map[string]any{"channel": c.id, "ts": m.TS, "text": m.Text, "message": f.messageJSON(m)}, nil
}

func (f *Fake) chatDelete(r *request) (map[string]any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, aerr := f.resolveChannelLocked(r.p.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	ts := r.p.get("ts")
	for i, m := range c.messages {
		if m.TS != ts {
			continue
		}
		if m.User != f.opts.BotUserID {
			return nil, fail("cant_delete_message")
		}
		c.messages = append(c.messages[:i], c.messages[i+1:]...)
		f.notifyLocked()
		return map[string]any{"channel": c.id, "ts": ts}, nil
	}
	return nil, fail("message_not_found")
}

func (f *Fake) chatPostEphemeral(r *request) (map[string]any, *apiError) {
	text, blocks, aerr := messageContent(r.p)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, aerr := f.resolveChannelLocked(r.p.get("channel"))
	if aerr != nil {
		return nil, aerr
	}
	if aerr := f.postableLocked(c); aerr != nil {
		return nil, aerr
	}
	u, ok := f.users[r.p.get("user")]
	if !ok || u.Deleted {
		return nil, fail("user_not_in_channel")
	}
	ts := f.ephemeralLocked(c.id, u.ID, text, blocks, "chat.postEphemeral")
	return map[string]any{"message_ts": ts}, nil
}

func (f *Fake) ephemeralLocked(channelID, user, text string, blocks json.RawMessage, source string) string {
	ts := f.nextTSLocked()
	f.ephemerals = append(f.ephemerals, Ephemeral{Channel: channelID, User: user, TS: ts, Text: text, Blocks: blocks, Source: source})
	f.notifyLocked()
	return ts
}

func (f *Fake) chatGetPermalink(r *request) (map[string]any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.channels[r.p.get("channel")]
	if !ok {
		return nil, fail("channel_not_found")
	}
	ts := r.p.get("message_ts")
	m := f.messageLocked(c.id, ts)
	if m == nil {
		return nil, fail("message_not_found")
	}
	// {"ok":true,"channel":"C…","permalink":"https://<domain>.slack.com/archives/C…/p<ts without the dot>"}
	// as on the method's page; a thread reply's link also names its thread
	// and channel, so that Slack opens the thread.
	link := "https://" + f.opts.TeamDomain + ".slack.com/archives/" + c.id + "/p" + strings.ReplaceAll(ts, ".", "")
	if !m.isTopLevel() {
		link += "?thread_ts=" + m.ThreadTS + "&cid=" + c.id
	}
	return map[string]any{"channel": c.id, "permalink": link}, nil
}

// PostAsUser adds a message written by a person to a channel's history, as
// if typed in Slack. No event is sent: pair it with SendEvent when the app
// should hear of it.
func (f *Fake) PostAsUser(user, channelID, text, threadTS string) (Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.personLocked(user); err != nil {
		return Message{}, err
	}
	c, ok := f.channels[channelID]
	if !ok {
		return Message{}, fmt.Errorf("slackfake: no such channel %q", channelID)
	}
	if threadTS != "" && f.messageLocked(c.id, threadTS) == nil {
		return Message{}, fmt.Errorf("slackfake: no message %s in %s to reply to", threadTS, c.id)
	}
	m := &Message{Channel: c.id, TS: f.nextTSLocked(), ThreadTS: threadTS, User: user, Text: text}
	c.messages = append(c.messages, m)
	f.notifyLocked()
	return m.clone(), nil
}
