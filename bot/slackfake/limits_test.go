package slackfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// callJSON posts a JSON body with a Bearer token and decodes the answer.
func callJSON(t testing.TB, f *Fake, method, token string, body any) (int, map[string]any) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, f.URL()+method, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

// callForm posts form fields, the token among them, as slack-go does.
func callForm(t testing.TB, f *Fake, method string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), http.MethodPost, f.URL()+method, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, map[string]any) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s answered non-JSON %q", req.URL.Path, raw)
	}
	return resp.StatusCode, out
}

func ptext(s string) map[string]any { return map[string]any{"type": "plain_text", "text": s} }
func mtext(s string) map[string]any { return map[string]any{"type": "mrkdwn", "text": s} }

func section(text string) map[string]any {
	return map[string]any{"type": "section", "text": mtext(text)}
}

func repeat(n int, fn func(i int) any) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = fn(i)
	}
	return out
}

func options(n int, text, value string) []any {
	return repeat(n, func(i int) any {
		return map[string]any{"text": ptext(text), "value": fmt.Sprintf("%s%d", value, i)}
	})
}

func selectIn(opts []any) map[string]any {
	return map[string]any{"type": "actions", "elements": []any{
		map[string]any{"type": "static_select", "action_id": "pick", "placeholder": ptext("Pick"), "options": opts},
	}}
}

func modal(blocks []any, mut func(v map[string]any)) map[string]any {
	v := map[string]any{"type": "modal", "title": ptext("Title"), "close": ptext("Close"), "blocks": blocks}
	if mut != nil {
		mut(v)
	}
	return v
}

func input(blockID string) map[string]any {
	return map[string]any{"type": "input", "block_id": blockID, "label": ptext("Label"),
		"element": map[string]any{"type": "plain_text_input", "action_id": "in"}}
}

// TestLimitsRefused shows every Block Kit limit refused with Slack's error,
// and the same content at the limit accepted.
func TestLimitsRefused(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) } // counted in characters, not bytes
	cases := []struct {
		name    string
		surface string // "message", "modal" or "home"
		over    any    // blocks for a message, a view otherwise
		at      any    // the same at the limit, which must pass
		code    string
		pointer string
	}{
		{"blocks per message", "message",
			repeat(51, func(int) any { return section("x") }), repeat(50, func(int) any { return section("x") }),
			"invalid_blocks", "/blocks"},
		{"header text", "message",
			[]any{map[string]any{"type": "header", "text": ptext(long(151))}},
			[]any{map[string]any{"type": "header", "text": ptext(long(150))}},
			"invalid_blocks", "/blocks/0/text/text"},
		{"section text", "message",
			[]any{section(long(3001))}, []any{section(long(3000))},
			"invalid_blocks", "/blocks/0/text/text"},
		{"section field", "message",
			[]any{map[string]any{"type": "section", "fields": []any{mtext(long(2001))}}},
			[]any{map[string]any{"type": "section", "fields": []any{mtext(long(2000))}}},
			"invalid_blocks", "/blocks/0/fields/0/text"},
		{"option text", "message",
			[]any{selectIn(options(1, long(76), "v"))}, []any{selectIn(options(1, long(75), "v"))},
			"invalid_blocks", "/blocks/0/elements/0/options/0/text/text"},
		{"option value", "message",
			[]any{selectIn(options(1, "t", long(150)))}, []any{selectIn(options(1, "t", long(148)))},
			"invalid_blocks", "/blocks/0/elements/0/options/0/value"},
		{"options per select", "message",
			[]any{selectIn(options(101, "t", "v"))}, []any{selectIn(options(100, "t", "v"))},
			"invalid_blocks", "/blocks/0/elements/0/options"},
		{"block_id", "message",
			[]any{map[string]any{"type": "divider", "block_id": long(256)}},
			[]any{map[string]any{"type": "divider", "block_id": long(255)}},
			"invalid_blocks", "/blocks/0/block_id"},
		{"action_id", "message",
			[]any{map[string]any{"type": "actions", "elements": []any{map[string]any{"type": "button", "text": ptext("Go"), "action_id": long(256)}}}},
			[]any{map[string]any{"type": "actions", "elements": []any{map[string]any{"type": "button", "text": ptext("Go"), "action_id": long(255)}}}},
			"invalid_blocks", "/blocks/0/elements/0/action_id"},
		{"unknown block type", "message",
			[]any{map[string]any{"type": "carousel_of_doom"}}, []any{map[string]any{"type": "divider"}},
			"invalid_blocks", "/blocks/0"},
		{"unknown element type", "message",
			[]any{map[string]any{"type": "actions", "elements": []any{map[string]any{"type": "laser", "action_id": "a"}}}},
			[]any{map[string]any{"type": "actions", "elements": []any{map[string]any{"type": "button", "text": ptext("Go"), "action_id": "a"}}}},
			"invalid_blocks", "/blocks/0/elements/0"},
		{"blocks per modal", "modal",
			modal(repeat(101, func(int) any { return section("x") }), nil), modal(repeat(100, func(int) any { return section("x") }), nil),
			"invalid_arguments", "/view/blocks"},
		{"blocks per home tab", "home",
			map[string]any{"type": "home", "blocks": repeat(101, func(int) any { return section("x") })},
			map[string]any{"type": "home", "blocks": repeat(100, func(int) any { return section("x") })},
			"invalid_arguments", "/view/blocks"},
		{"modal title", "modal",
			modal([]any{section("x")}, func(v map[string]any) { v["title"] = ptext(long(25)) }),
			modal([]any{section("x")}, func(v map[string]any) { v["title"] = ptext(long(24)) }),
			"invalid_arguments", "/view/title/text"},
		{"modal submit", "modal",
			modal([]any{input("b")}, func(v map[string]any) { v["submit"] = ptext(long(25)) }),
			modal([]any{input("b")}, func(v map[string]any) { v["submit"] = ptext(long(24)) }),
			"invalid_arguments", "/view/submit/text"},
		{"modal close", "modal",
			modal([]any{section("x")}, func(v map[string]any) { v["close"] = ptext(long(25)) }),
			modal([]any{section("x")}, func(v map[string]any) { v["close"] = ptext(long(24)) }),
			"invalid_arguments", "/view/close/text"},
		{"private_metadata", "modal",
			modal([]any{section("x")}, func(v map[string]any) { v["private_metadata"] = long(3001) }),
			modal([]any{section("x")}, func(v map[string]any) { v["private_metadata"] = long(3000) }),
			"invalid_arguments", "/view/private_metadata"},
		{"callback_id", "modal",
			modal([]any{section("x")}, func(v map[string]any) { v["callback_id"] = long(256) }),
			modal([]any{section("x")}, func(v map[string]any) { v["callback_id"] = long(255) }),
			"invalid_arguments", "/view/callback_id"},
		{"input block needs a submit button", "modal",
			modal([]any{input("b")}, nil),
			modal([]any{input("b")}, func(v map[string]any) { v["submit"] = ptext("Save") }),
			"invalid_arguments", "/view"},
		{"view size", "modal",
			modal(repeat(100, func(int) any { return section(long(2900)) }), nil),
			modal(repeat(100, func(int) any { return section(strings.Repeat("x", 2400)) }), nil),
			"view_too_large", ""},
		{"message text", "text", strings.Repeat("x", 40001), strings.Repeat("x", 40000), "msg_too_long", ""},
	}
	f := startFake(t, fastOptions(t))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			send := func(content any) map[string]any {
				var resp map[string]any
				switch tc.surface {
				case "message":
					_, resp = callJSON(t, f, "chat.postMessage", f.BotToken(), map[string]any{"channel": "C1", "text": "t", "blocks": content})
				case "text":
					_, resp = callJSON(t, f, "chat.postMessage", f.BotToken(), map[string]any{"channel": "C1", "text": content})
				case "modal":
					f.mu.Lock()
					trig := f.newTriggerLocked("U1", "")
					f.mu.Unlock()
					_, resp = callJSON(t, f, "views.open", f.BotToken(), map[string]any{"trigger_id": trig, "view": content})
				case "home":
					_, resp = callJSON(t, f, "views.publish", f.BotToken(), map[string]any{"user_id": "U1", "view": content})
				}
				return resp
			}
			resp := send(tc.over)
			if resp["ok"] != false || resp["error"] != tc.code {
				t.Fatalf("over the limit: got %v", resp)
			}
			if tc.pointer != "" {
				msgs := fmt.Sprint(resp["response_metadata"])
				want := "[json-pointer:" + tc.pointer + "]"
				if !strings.Contains(msgs, "[ERROR] ") || !strings.Contains(msgs, want) {
					t.Fatalf("messages %s lack %q", msgs, want)
				}
				if tc.code == "invalid_blocks" && !strings.Contains(fmt.Sprint(resp["errors"]), want) {
					t.Fatalf("errors %v lack %q", resp["errors"], want)
				}
			}
			if resp := send(tc.at); resp["ok"] != true {
				t.Fatalf("at the limit: got %v", resp)
			}
		})
	}
}
