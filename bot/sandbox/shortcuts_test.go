package sandbox_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"workbot/bot"
	"workbot/bot/sandbox"
)

// TestShortcutsMatchManifest: the page offers the shortcuts the app declares, as Slack's client does,
// with the callback_ids the bot handles.
func TestShortcutsMatchManifest(t *testing.T) {
	raw, err := os.ReadFile("../../manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Features struct {
			Shortcuts []sandbox.Shortcut `yaml:"shortcuts"`
		} `yaml:"features"`
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Features.Shortcuts, sandbox.Shortcuts) {
		t.Errorf("manifest.yaml declares %+v, the sandbox offers %+v", m.Features.Shortcuts, sandbox.Shortcuts)
	}
	ids := map[string]string{"message": bot.ShortcutFileMessage, "global": bot.ShortcutNewRequest}
	for _, sc := range sandbox.Shortcuts {
		if ids[sc.Type] != sc.CallbackID {
			t.Errorf("%s shortcut %q: callback_id %q, the bot handles %q", sc.Type, sc.Name, sc.CallbackID, ids[sc.Type])
		}
	}
}

// TestShortcutsReactionsAndDMs covers the API behind the ⋯ menu, the shortcuts menu, the reaction
// picker and the app's DM, and what it refuses.
func TestShortcutsReactionsAndDMs(t *testing.T) {
	e := start(t)
	if _, err := e.fake.PostAsUser(sandbox.Requester, sandbox.GeneralChannel, "The coffee machine leaks", ""); err != nil {
		t.Fatal(err)
	}
	msg, _ := e.fake.LastMessage(sandbox.GeneralChannel)

	for _, c := range []struct {
		path string
		body map[string]any
		want string
	}{
		{"/api/shortcut", map[string]any{"user": sandbox.Lead, "callback_id": "make_coffee"}, "no shortcut"},
		{"/api/shortcut", map[string]any{"user": sandbox.Lead, "callback_id": bot.ShortcutFileMessage}, "on a message"},
		{"/api/shortcut", map[string]any{"user": sandbox.Lead, "callback_id": bot.ShortcutFileMessage, "channel": sandbox.GeneralChannel, "ts": "1.000001"}, "no message"},
		{"/api/shortcut", map[string]any{"user": "U0NOBODY", "callback_id": bot.ShortcutNewRequest}, "pick who you are"},
		{"/api/react", map[string]any{"user": sandbox.Lead, "channel": sandbox.GeneralChannel, "ts": msg.TS, "emoji": "<b>"}, "not an emoji"},
		{"/api/react", map[string]any{"user": sandbox.Lead, "channel": sandbox.GeneralChannel, "ts": msg.TS, "emoji": "eyes", "remove": true}, "has no"},
	} {
		if got := e.post(c.path, c.body); !strings.Contains(got, c.want) {
			t.Errorf("POST %s %v: %q, want %q", c.path, c.body, got, c.want)
		}
	}

	// A message shortcut opens the form for that message; the global one opens it empty.
	e.mustPost("/api/shortcut", map[string]any{"user": sandbox.Lead, "callback_id": bot.ShortcutFileMessage, "channel": sandbox.GeneralChannel, "ts": msg.TS})
	st := e.state(sandbox.Lead, sandbox.GeneralChannel)
	if st.Modal == nil || !strings.Contains(string(st.Modal.Blocks), "The coffee machine leaks") {
		t.Fatalf("the form for the message: %+v", st.Modal)
	}
	e.mustPost("/api/close", map[string]any{"user": sandbox.Lead, "view_id": st.Modal.ID})
	e.mustPost("/api/shortcut", map[string]any{"user": sandbox.QA, "callback_id": bot.ShortcutNewRequest})
	if st := e.state(sandbox.QA, ""); st.Modal == nil || st.Modal.Title != "New request" {
		t.Fatalf("the empty form: %+v", st.Modal)
	}

	// Reactions show on the message, with whether the person asking reacted.
	e.mustPost("/api/react", map[string]any{"user": sandbox.Lead, "channel": sandbox.GeneralChannel, "ts": msg.TS, "emoji": ":eyes:"})
	e.mustPost("/api/react", map[string]any{"user": sandbox.QA, "channel": sandbox.GeneralChannel, "ts": msg.TS, "emoji": "eyes"})
	for who, mine := range map[string]bool{sandbox.Lead: true, sandbox.Developer: false} {
		st := e.state(who, sandbox.GeneralChannel)
		m := st.Messages[len(st.Messages)-1]
		if len(m.Reactions) != 1 || m.Reactions[0].Name != "eyes" || len(m.Reactions[0].Users) != 2 || m.Reactions[0].Mine != mine {
			t.Errorf("%s sees reactions %+v", who, m.Reactions)
		}
	}

	// Text in the app's DM reaches workbot (message.im), which offers to file it; the page's "dm"
	// names the person's DM, whoever they are.
	st = e.state(sandbox.Developer, "dm")
	if st.Conv != e.fake.DMChannel(sandbox.Developer) {
		t.Fatalf("conv=dm gave %s", st.Conv)
	}
	e.mustPost("/api/send", map[string]string{"user": sandbox.Developer, "conv": st.Conv, "text": "The build <server> is down"})
	st = e.waitState("workbot's offer", sandbox.Developer, "dm", func(s sandbox.State) bool {
		for _, m := range s.Messages {
			if strings.Contains(string(m.Blocks), bot.ActionFileDM) {
				return true
			}
		}
		return false
	})
	if st.AppDMLatest == "" {
		t.Error("no app_dm_latest for the DM workbot answered in")
	}
	if m := st.Messages[0]; m.User != sandbox.Developer || m.Text != "The build &lt;server&gt; is down" {
		t.Errorf("the DM as Slack keeps it: %+v", m)
	}
}
