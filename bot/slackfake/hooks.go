package slackfake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// responseURL is a response_url handed out with a slash command or a click.
type responseURL struct {
	user, channel string
	issued        time.Time
	uses          int
	message       *MessageRef // the message clicked in, for replace/delete_original
	ephemeralTS   string      // the ephemeral message clicked in
}

func (f *Fake) newResponseURLLocked(kind, user, channelID string, msg *MessageRef, ephTS string) string {
	f.seq++
	path := fmt.Sprintf("/hooks/%s/%s/%d/%016x", kind, f.opts.TeamID, 1000000+f.seq, uint64(f.seq)*0x9e3779b97f4a7c15)
	f.responseURLs[path] = &responseURL{user: user, channel: channelID, issued: f.opts.Now(), message: msg, ephemeralTS: ephTS}
	return f.baseURL + path
}

func (f *Fake) serveResponseURL(w http.ResponseWriter, r *http.Request) {
	call := Call{Method: "response_url", At: f.opts.Now(), Status: http.StatusOK}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return
	}
	call.Params = map[string]string{"body": string(body)}
	if fault, ok := f.takeFault("response_url"); ok && fault.Status != 0 {
		call.Status, call.Fault = fault.Status, true
		f.record(call)
		if fault.Status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", strconv.Itoa(int(fault.RetryAfter.Seconds()+0.999)))
		}
		w.WriteHeader(fault.Status)
		return
	}
	aerr := f.applyResponseURL(r.URL.Path, body)
	if aerr != nil && aerr.code == "invalid_blocks" {
		// A response_url is an incoming webhook, and webhooks answer an error
		// with its HTTP status and the bare code as plain text
		// (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks):
		// no "errors" and no json-pointer reach the app. The log keeps them
		// for whoever debugs the test.
		call.Error, call.Status = aerr.code, http.StatusBadRequest
		f.record(call)
		f.logf("response_url refused with invalid_blocks: %s", strings.Join(aerr.errors, "; "))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, aerr.code)
		return
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
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (f *Fake) applyResponseURL(path string, body []byte) *apiError {
	var msg struct {
		Text            string          `json:"text"`
		Blocks          json.RawMessage `json:"blocks"`
		ResponseType    string          `json:"response_type"`
		ReplaceOriginal bool            `json:"replace_original"`
		DeleteOriginal  bool            `json:"delete_original"`
		ThreadTS        string          `json:"thread_ts"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return &apiError{code: "invalid_payload", status: http.StatusBadRequest}
	}
	// Slack truncates message text beyond 40,000 characters on every way of
	// posting, response URLs included, and still posts it
	// (https://api.slack.com/changelog/2018-04-truncating-really-long-messages).
	msg.Text = truncateRunes(msg.Text, maxMessageText)
	if string(msg.Blocks) == "null" || isEmptyArray(msg.Blocks) {
		msg.Blocks = nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	ru, ok := f.responseURLs[path]
	switch {
	case !ok:
		return &apiError{code: "no_service", status: http.StatusNotFound}
	case f.opts.Now().Sub(ru.issued) > f.opts.ResponseURLTTL:
		return &apiError{code: "expired_url", status: http.StatusNotFound}
	case ru.uses >= f.opts.ResponseURLUses:
		return &apiError{code: "used_url", status: http.StatusNotFound}
	}
	if msg.Blocks != nil {
		if errs := validateBlocks(msg.Blocks, surfaceMessage, "/blocks"); len(errs) > 0 {
			return invalidBlocks(errs)
		}
	}
	if !msg.DeleteOriginal && msg.Text == "" && msg.Blocks == nil {
		return fail("no_text")
	}
	ru.uses++
	c := f.channels[ru.channel]
	switch {
	case msg.DeleteOriginal || msg.ReplaceOriginal:
		if ru.message != nil {
			m := f.messageLocked(ru.message.Channel, ru.message.TS)
			if m == nil {
				return fail("message_not_found")
			}
			if msg.DeleteOriginal {
				for i, x := range c.messages {
					if x == m {
						c.messages = append(c.messages[:i], c.messages[i+1:]...)
						break
					}
				}
			} else {
				m.Text, m.Blocks, m.Edited = msg.Text, msg.Blocks, true
				m.Edits++
			}
		} else if ru.ephemeralTS != "" {
			for i := range f.ephemerals {
				e := &f.ephemerals[i]
				if e.TS == ru.ephemeralTS && e.User == ru.user {
					if msg.DeleteOriginal {
						e.Deleted = true
					} else {
						e.Text, e.Blocks = msg.Text, msg.Blocks
					}
				}
			}
		} else {
			// A slash command has no original message to replace; Slack
			// posts a new one instead.
			f.ephemeralLocked(c.id, ru.user, msg.Text, msg.Blocks, "response_url")
		}
		f.notifyLocked()
	case msg.ResponseType == "in_channel":
		f.postLocked(c, msg.Text, msg.Blocks, msg.ThreadTS)
	default:
		f.ephemeralLocked(c.id, ru.user, msg.Text, msg.Blocks, "response_url")
	}
	return nil
}

// truncateRunes keeps the first n characters of s.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// maxAltText is the longest alt_txt files.getUploadURLExternal takes.
const maxAltText = 1000

// upload is a file between files.getUploadURLExternal and its completion.
type upload struct {
	id, name, altText string
	length            int
	data              []byte
	uploaded          bool
	completed         bool
}

func (f *Fake) filesGetUploadURLExternal(r *request) (map[string]any, *apiError) {
	// Slack reads this method's arguments from a form only: a JSON body is
	// answered as if filename and length were missing.
	if r.p.js != nil {
		return nil, invalidArguments([]string{"missing required field: filename", "missing required field: length"})
	}
	name := r.p.get("filename")
	length, err := strconv.Atoi(r.p.get("length"))
	if name == "" || err != nil || length <= 0 {
		return nil, invalidArguments([]string{"missing required field: filename or length"})
	}
	if utf8.RuneCountInString(r.p.get("alt_txt")) > maxAltText {
		return nil, fail("alt_txt_too_large")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextIDLocked("F")
	f.uploads[id] = &upload{id: id, name: name, length: length, altText: r.p.get("alt_txt")}
	return map[string]any{"upload_url": f.baseURL + "/upload/v1/" + id, "file_id": id}, nil
}

// serveUpload takes the file bytes, as a multipart "file" part (slack-go)
// or as the raw body.
func (f *Fake) serveUpload(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/upload/v1/")
	var data []byte
	mt, mparams, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(r.Body, mparams["boundary"])
		for {
			part, err := mr.NextPart()
			if err != nil {
				break
			}
			if part.FormName() == "file" {
				data, _ = io.ReadAll(io.LimitReader(part, maxBody))
			}
			part.Close()
		}
	} else {
		data, _ = io.ReadAll(io.LimitReader(r.Body, maxBody))
	}
	f.mu.Lock()
	u, ok := f.uploads[id]
	if ok {
		u.data, u.uploaded = data, true
	}
	f.calls = append(f.calls, Call{Method: "files.upload_url", At: f.opts.Now(), Status: http.StatusOK, Params: map[string]string{"file_id": id}})
	f.notifyLocked()
	f.mu.Unlock()
	if !ok {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = fmt.Fprintf(w, "OK - %d", len(data))
}

func (f *Fake) filesCompleteUploadExternal(r *request) (map[string]any, *apiError) {
	var files []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if raw := r.p.raw("files"); raw == nil || json.Unmarshal(raw, &files) != nil || len(files) == 0 {
		return nil, invalidArguments([]string{"missing required field: files [json-pointer:/files]"})
	}
	text := r.p.get("initial_comment")
	var blocks json.RawMessage
	if text == "" {
		// Slack ignores blocks when there is an initial_comment.
		blocks = r.p.raw("blocks")
	}
	if blocks != nil {
		if errs := validateBlocks(blocks, surfaceMessage, "/blocks"); len(errs) > 0 {
			return nil, invalidBlocks(errs)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var shared []File
	var out []any
	for _, fl := range files {
		u, ok := f.uploads[fl.ID]
		if !ok || !u.uploaded || u.completed {
			return nil, fail("file_not_found")
		}
		title := fl.Title
		if title == "" {
			title = u.name
		}
		shared = append(shared, File{ID: u.id, Name: u.name, Title: title, AltText: u.altText, Size: len(u.data), Content: u.data})
		out = append(out, map[string]any{"id": u.id, "title": title})
	}
	var targets []*channel
	refs := []string{}
	if ch := r.p.get("channel_id"); ch != "" {
		refs = append(refs, ch)
	}
	if chs := r.p.get("channels"); chs != "" {
		refs = append(refs, strings.Split(chs, ",")...)
	}
	for _, ref := range refs {
		c, aerr := f.resolveChannelLocked(ref)
		if aerr == nil {
			aerr = f.postableLocked(c)
		}
		if aerr != nil {
			return nil, aerr
		}
		targets = append(targets, c)
	}
	for _, fl := range files {
		f.uploads[fl.ID].completed = true
	}
	threadTS := r.p.get("thread_ts")
	for _, c := range targets {
		m := f.postLocked(c, text, blocks, threadTS)
		m.Files = append([]File(nil), shared...)
	}
	return map[string]any{"files": out}, nil
}
