package slackfake

import (
	"encoding/json"
	"net/url"
	"testing"
)

// FuzzValidateBlocks: any JSON is answered with errors or accepted, never a panic.
func FuzzValidateBlocks(f *testing.F) {
	for _, seed := range []string{
		`[]`, `5`, `[null]`, `[{"type":"section"}]`, `[{"type":"section","text":"x"}]`,
		`[{"type":"actions","elements":[{"type":"static_select","options":[5,{"text":1}]}]}]`,
		`[{"type":"input","element":[],"label":{"type":"plain_text"}}]`,
		`[{"type":"context","elements":[{"type":"image"},{"type":"mrkdwn","text":""}]}]`,
		`[{"type":"section","fields":[null],"accessory":{"type":"overflow","options":null}}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range []surface{surfaceMessage, surfaceModal, surfaceHome} {
			_ = validateBlocks(data, s, "/blocks")
		}
		_ = validateView(data, surfaceModal)
		_ = validateView(data, surfaceHome)
		var req map[string]any
		if json.Unmarshal(data, &req) == nil {
			for _, in := range viewInputs(req) {
				_ = stateJSON(in.elem, initialValue(in.elem))
			}
		}
	})
}

// TestGarbageArguments sends malformed arguments to every method: each
// answers with a Slack error, and the fake keeps working.
func TestGarbageArguments(t *testing.T) {
	f := startFake(t, fastOptions(t))
	garbage := []map[string]any{
		{},
		{"channel": 5, "text": []any{1}, "blocks": "{not json", "ts": nil, "user": true},
		{"channel": "C1", "blocks": map[string]any{"a": 1}, "view": "[1,2]", "trigger_id": 7, "user_id": "U1"},
		{"channel": "C1", "text": "x", "blocks": []any{"str", nil, 3}, "view": map[string]any{"type": 5}, "files": "nope", "length": "-1", "filename": "a"},
		{"users": "U404,U1", "usergroup": nil, "view_id": "V0", "hash": 1, "cursor": "zzz", "limit": "x"},
	}
	for method := range methods {
		for i, args := range garbage {
			token := f.BotToken()
			if methods[method].appOnly {
				token = f.AppToken()
			}
			status, resp := callJSON(t, f, method, token, args)
			if status >= 500 {
				t.Errorf("%s with garbage %d: HTTP %d", method, i, status)
			}
			if _, ok := resp["ok"].(bool); !ok {
				t.Errorf("%s with garbage %d: no ok field in %v", method, i, resp)
			}
		}
		_, resp := callForm(t, f, method, url.Values{"token": {f.BotToken()}, "blocks": {"]["}, "view": {"{"}})
		if _, ok := resp["ok"].(bool); !ok {
			t.Errorf("%s with a garbage form: %v", method, resp)
		}
	}
	if _, resp := callJSON(t, f, "auth.test", f.BotToken(), nil); resp["ok"] != true {
		t.Fatalf("fake broken after garbage: %v", resp)
	}
}
