package slackfake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// maxMetadataBytes bounds the JSON of one message's metadata. Slack's
// chat.postMessage documents the error metadata_too_large but not the
// number; 8 KB is far above anything an app should hide in a message.
const maxMetadataBytes = 8 << 10

// metadataEventType is the event_type pattern of Slack's metadata guide
// (https://docs.slack.dev/messaging/message-metadata/designing-metadata-event-schema):
// a lower-case letter first, then letters, digits and underscores.
var metadataEventType = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// parseMetadata reads the metadata argument of chat.postMessage or
// chat.update. slack-go's MsgOptionMetadata sends it as a JSON string in a
// form field; a JSON body may carry the object itself. It returns present
// false when the argument is absent, and a nil Metadata with present true
// for an empty object, which chat.update documents as "remove the metadata".
func parseMetadata(p params) (md *Metadata, present bool, aerr *apiError) {
	raw := p.raw("metadata")
	if raw == nil {
		return nil, false, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, true, fail("invalid_metadata_format")
	}
	if len(obj) == 0 {
		return nil, true, nil
	}
	if len(raw) > maxMetadataBytes {
		return nil, true, fail("metadata_too_large")
	}
	var eventType string
	if err := json.Unmarshal(obj["event_type"], &eventType); err != nil || eventType == "" {
		return nil, true, fail("invalid_metadata_schema")
	}
	payload := bytes.TrimSpace(obj["event_payload"])
	if len(payload) == 0 || payload[0] != '{' {
		return nil, true, fail("invalid_metadata_schema")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, payload); err != nil {
		return nil, true, fail("invalid_metadata_format")
	}
	return &Metadata{EventType: eventType, EventPayload: compact.Bytes()}, true, nil
}

// acceptMetadata applies the one rule Slack enforces quietly: an
// event_type outside the documented pattern does not fail the call, the
// message is posted and its metadata dropped (seen with a '.' in
// slackapi/bolt-python#863). The fake logs what it dropped, since the app
// gets no word of it.
func (f *Fake) acceptMetadata(md *Metadata) *Metadata {
	if md == nil || metadataEventType.MatchString(md.EventType) {
		return md
	}
	f.logf("metadata dropped: event_type %q is not lower-case letters, digits and underscores", md.EventType)
	return nil
}

func metadataJSON(md *Metadata) map[string]any {
	return map[string]any{"event_type": md.EventType, "event_payload": md.EventPayload}
}

// tsMicros turns a message ts ("1700000000.000100", or "1700000000") into
// microseconds so that timestamps compare as numbers.
func tsMicros(ts string) (int64, bool) {
	secs, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil || s < 0 || len(frac) > 6 {
		return 0, false
	}
	var us int64
	if frac != "" {
		us, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || us < 0 {
			return 0, false
		}
	}
	return s*1e6 + us, true
}

// Slack's history cursors are base64 of "next_ts:<ts digits>" (the
// next_cursor "bmV4dF90czoxNTEyMDg1ODYxMDAwNTQz" of the conversations.history
// reference decodes to "next_ts:1512085861000543"); the fake makes the same.
func historyCursor(ts string) string {
	us, _ := tsMicros(ts)
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "next_ts:%d", us))
}

func parseHistoryCursor(c string) (int64, bool) {
	raw, err := base64.StdEncoding.DecodeString(c)
	if err != nil {
		return 0, false
	}
	digits, ok := strings.CutPrefix(string(raw), "next_ts:")
	if !ok {
		return 0, false
	}
	us, err := strconv.ParseInt(digits, 10, 64)
	return us, err == nil && us >= 0
}

// timeWindow is the oldest/latest/inclusive filter of the history methods.
type timeWindow struct {
	oldest, latest       int64
	hasOldest, hasLatest bool
	inclusive            bool
}

func parseWindow(p params) (timeWindow, *apiError) {
	var w timeWindow
	w.inclusive = p.bool("inclusive")
	if s := p.get("oldest"); s != "" {
		us, ok := tsMicros(s)
		if !ok {
			return w, fail("invalid_ts_oldest")
		}
		w.oldest, w.hasOldest = us, true
	}
	if s := p.get("latest"); s != "" {
		us, ok := tsMicros(s)
		if !ok {
			return w, fail("invalid_ts_latest")
		}
		w.latest, w.hasLatest = us, true
	}
	return w, nil
}

// contains applies Slack's rule: bounds are exclusive unless inclusive is
// set. With no latest, the fake sets no upper bound at all, since messages
// posted while an injected clock stands still get timestamps after "now".
func (w timeWindow) contains(us int64) bool {
	if w.hasOldest && (us < w.oldest || (us == w.oldest && !w.inclusive)) {
		return false
	}
	if w.hasLatest && (us > w.latest || (us == w.latest && !w.inclusive)) {
		return false
	}
	return true
}

// parseLimit reads limit with Slack's default and maximum for the method.
func parseLimit(p params, def, max int) int {
	n, err := strconv.Atoi(p.get("limit"))
	if err != nil || n <= 0 {
		return def
	}
	return min(n, max)
}

// isTopLevel: conversations.history lists messages outside threads and
// thread parents, not replies.
func (m *Message) isTopLevel() bool { return m.ThreadTS == "" || m.ThreadTS == m.TS }

// historyMessageLocked renders a message as the history methods return it:
// metadata only with include_all_metadata, and the thread summary Slack
// puts on a parent (reply_count, reply_users, latest_reply) or the
// parent_user_id it puts on a reply.
func (f *Fake) historyMessageLocked(c *channel, m *Message, withMetadata bool) map[string]any {
	out := f.messageJSON(m)
	if !withMetadata {
		delete(out, "metadata")
	}
	if m.ThreadTS != "" && m.ThreadTS != m.TS {
		if parent := f.messageLocked(c.id, m.ThreadTS); parent != nil {
			out["parent_user_id"] = parent.User
		}
		return out
	}
	var replies []*Message
	for _, r := range c.messages {
		if r.ThreadTS == m.TS && r.TS != m.TS {
			replies = append(replies, r)
		}
	}
	if len(replies) == 0 {
		return out
	}
	users := []string{}
	for _, r := range replies {
		if !slices.Contains(users, r.User) {
			users = append(users, r.User)
		}
	}
	out["thread_ts"] = m.TS
	out["reply_count"] = len(replies)
	out["reply_users_count"] = len(users)
	out["reply_users"] = users
	out["latest_reply"] = replies[len(replies)-1].TS
	out["is_locked"] = false
	out["subscribed"] = false
	return out
}

// historyChannelLocked finds the conversation a history method reads.
func (f *Fake) historyChannelLocked(r *request) (*channel, *apiError) {
	c, ok := f.channels[r.p.get("channel")]
	if !ok {
		return nil, fail("channel_not_found")
	}
	if aerr := f.readableLocked(c); aerr != nil {
		return nil, aerr
	}
	return c, nil
}

// parseCursorParam reads a history method's cursor: the position it names, or -1 without one.
func parseCursorParam(p params) (int64, *apiError) {
	cur := p.get("cursor")
	if cur == "" {
		return -1, nil
	}
	us, ok := parseHistoryCursor(cur)
	if !ok {
		return 0, fail("invalid_cursor")
	}
	return us, nil
}

// historyPageLocked answers a history method with the first limit of picked, and a cursor to the
// rest when there is more.
func (f *Fake) historyPageLocked(c *channel, picked []*Message, limit int, withMeta bool) map[string]any {
	msgs := []any{}
	for _, m := range picked[:min(limit, len(picked))] {
		msgs = append(msgs, f.historyMessageLocked(c, m, withMeta))
	}
	resp := map[string]any{"messages": msgs, "has_more": len(picked) > limit}
	if len(picked) > limit {
		resp["response_metadata"] = map[string]any{"next_cursor": historyCursor(picked[limit].TS)}
	}
	return resp
}

// conversationsHistory lists top-level messages newest first
// (https://docs.slack.dev/reference/methods/conversations.history): limit
// defaults to 100 and stops at 999; has_more and
// response_metadata.next_cursor page through the rest.
func (f *Fake) conversationsHistory(r *request) (map[string]any, *apiError) {
	w, aerr := parseWindow(r.p)
	if aerr != nil {
		return nil, aerr
	}
	limit := parseLimit(r.p, 100, 999)
	from, aerr := parseCursorParam(r.p)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, aerr := f.historyChannelLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	withMeta := r.p.bool("include_all_metadata")
	var picked []*Message
	for i := len(c.messages) - 1; i >= 0; i-- {
		m := c.messages[i]
		us, _ := tsMicros(m.TS)
		if !m.isTopLevel() || !w.contains(us) || (from >= 0 && us > from) {
			continue
		}
		picked = append(picked, m)
	}
	resp := f.historyPageLocked(c, picked, limit, withMeta)
	resp["pin_count"] = 0
	if l := r.p.get("latest"); l != "" {
		resp["latest"] = l
	}
	return resp, nil
}

// conversationsReplies returns a thread oldest first, its parent leading
// the first page (https://docs.slack.dev/reference/methods/conversations.replies).
// ts may name the parent or any reply. A message without replies is a
// thread of one. limit defaults to 1000.
func (f *Fake) conversationsReplies(r *request) (map[string]any, *apiError) {
	w, aerr := parseWindow(r.p)
	if aerr != nil {
		return nil, aerr
	}
	limit := parseLimit(r.p, 1000, 1000)
	from, aerr := parseCursorParam(r.p)
	if aerr != nil {
		return nil, aerr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, aerr := f.historyChannelLocked(r)
	if aerr != nil {
		return nil, aerr
	}
	ts := r.p.get("ts")
	if ts == "" {
		return nil, invalidArguments([]string{"missing required field: ts"})
	}
	m := f.messageLocked(c.id, ts)
	if m == nil {
		return nil, fail("thread_not_found")
	}
	parent := m
	if !m.isTopLevel() {
		if parent = f.messageLocked(c.id, m.ThreadTS); parent == nil {
			return nil, fail("thread_not_found")
		}
	}
	withMeta := r.p.bool("include_all_metadata")
	var picked []*Message
	if from < 0 {
		picked = append(picked, parent)
	}
	for _, x := range c.messages {
		if x.ThreadTS != parent.TS || x.TS == parent.TS {
			continue
		}
		us, _ := tsMicros(x.TS)
		if !w.contains(us) || (from >= 0 && us < from) {
			continue
		}
		picked = append(picked, x)
	}
	return f.historyPageLocked(c, picked, limit, withMeta), nil
}
