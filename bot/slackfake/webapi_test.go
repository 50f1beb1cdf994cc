package slackfake

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *testClock {
	return &testClock{now: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestTokens(t *testing.T) {
	f := startFake(t, fastOptions(t))
	cases := []struct {
		name, method, token, want string
	}{
		{"bot token on a bot method", "auth.test", f.BotToken(), ""},
		{"app token opens a socket", "apps.connections.open", f.AppToken(), ""},
		{"bot token cannot open a socket", "apps.connections.open", f.BotToken(), "not_allowed_token_type"},
		{"app token cannot post", "chat.postMessage", f.AppToken(), "not_allowed_token_type"},
		{"unknown token", "auth.test", "xoxb-nope", "invalid_auth"},
		{"unknown token on connections.open", "apps.connections.open", "xapp-nope", "invalid_auth"},
		{"no token", "auth.test", "", "not_authed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, resp := callJSON(t, f, tc.method, tc.token, map[string]any{})
			if tc.want == "" {
				if resp["ok"] != true {
					t.Fatalf("got %v", resp)
				}
				return
			}
			if resp["ok"] != false || resp["error"] != tc.want {
				t.Fatalf("got %v, want %s", resp, tc.want)
			}
		})
	}
	t.Run("token in a form field", func(t *testing.T) {
		_, resp := callForm(t, f, "auth.test", url.Values{"token": {f.BotToken()}})
		if resp["ok"] != true || resp["user_id"] != f.BotUserID() || resp["team_id"] != f.TeamID() {
			t.Fatalf("got %v", resp)
		}
	})
	t.Run("unknown method", func(t *testing.T) {
		status, resp := callJSON(t, f, "chat.teleport", f.BotToken(), map[string]any{})
		if status != http.StatusNotFound || resp["error"] != "unknown_method" {
			t.Fatalf("got %d %v", status, resp)
		}
		if got := f.UnknownMethods(); len(got) != 1 || got[0] != "chat.teleport" {
			t.Fatalf("unknown methods = %v", got)
		}
	})
}

func TestMessagesThroughSlackGo(t *testing.T) {
	clock := newClock()
	opts := fastOptions(t)
	opts.Now = clock.Now
	f := startFake(t, opts)
	api := newAPI(t, f)
	ctx := ctxT(t)

	blocks := slack.MsgOptionBlocks(slack.NewSectionBlock(plain("Hello *world*"), nil, nil))
	ch, ts, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("hello", false), blocks)
	if err != nil {
		t.Fatal(err)
	}
	if ch != "C1" || !strings.HasPrefix(ts, "1795597200.") {
		t.Fatalf("channel %s ts %s", ch, ts)
	}
	// Same clock instant, still a distinct and later ts.
	_, ts2, err := api.PostMessageContext(ctx, "#general", slack.MsgOptionText("reply", false), slack.MsgOptionTS(ts))
	if err != nil {
		t.Fatal(err)
	}
	if ts2 <= ts {
		t.Fatalf("ts %s not after %s", ts2, ts)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", ts, slack.MsgOptionText("hello again", false)); err != nil {
		t.Fatal(err)
	}
	msgs := f.Messages("C1")
	if len(msgs) != 2 || msgs[0].Text != "hello again" || !msgs[0].Edited || msgs[0].Edits != 1 ||
		msgs[1].ThreadTS != ts || !strings.Contains(msgs[0].AllText(), "Hello *world*") {
		t.Fatalf("messages = %+v", msgs)
	}
	link, err := api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: "C1", Ts: ts})
	if err != nil || !strings.HasSuffix(link, "/archives/C1/p"+strings.ReplaceAll(ts, ".", "")) {
		t.Fatalf("permalink %s, %v", link, err)
	}
	if _, _, err := api.DeleteMessageContext(ctx, "C1", ts2); err != nil {
		t.Fatal(err)
	}
	if len(f.Messages("C1")) != 1 {
		t.Fatalf("after delete: %+v", f.Messages("C1"))
	}

	// Errors Slack gives.
	if _, _, err := api.PostMessageContext(ctx, "C404", slack.MsgOptionText("x", false)); err == nil || err.Error() != "channel_not_found" {
		t.Fatalf("unknown channel: %v", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1"); err == nil || err.Error() != "no_text" {
		t.Fatalf("empty message: %v", err)
	}
	if _, _, _, err := api.UpdateMessageContext(ctx, "C1", "1.000000", slack.MsgOptionText("x", false)); err == nil || err.Error() != "message_not_found" {
		t.Fatalf("update unknown: %v", err)
	}
	if _, _, err := api.PostMessageContext(ctx, "C1", slack.MsgOptionText("x", false), slack.MsgOptionTS("1.000000")); err == nil || err.Error() != "thread_not_found" {
		t.Fatalf("reply to unknown thread: %v", err)
	}

	// Ephemeral messages and DMs.
	if _, err := api.PostEphemeralContext(ctx, "C1", "U2", slack.MsgOptionText("psst", false)); err != nil {
		t.Fatal(err)
	}
	if e := f.Ephemerals("U2"); len(e) != 1 || e[0].Text != "psst" || e[0].Source != "chat.postEphemeral" {
		t.Fatalf("ephemerals = %+v", e)
	}
	if _, err := api.PostEphemeralContext(ctx, "C1", "U404", slack.MsgOptionText("psst", false)); err == nil || err.Error() != "user_not_in_channel" {
		t.Fatalf("ephemeral to nobody: %v", err)
	}
	dm, _, _, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U1"}})
	if err != nil {
		t.Fatal(err)
	}
	again, _, already, err := api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{"U1"}})
	if err != nil || again.ID != dm.ID || !already || dm.ID != f.DMChannel("U1") || !strings.HasPrefix(dm.ID, "D") {
		t.Fatalf("DM %s then %s (already %v): %v", dm.ID, again.ID, already, err)
	}
	if _, _, err := api.PostMessageContext(ctx, dm.ID, slack.MsgOptionText("for you", false)); err != nil {
		t.Fatal(err)
	}
	if d := f.DMs("U1"); len(d) != 1 || d[0].Text != "for you" {
		t.Fatalf("DMs = %+v", d)
	}
	info, err := api.GetConversationInfoContext(ctx, &slack.GetConversationInfoInput{ChannelID: dm.ID})
	if err != nil || !info.IsIM || info.User != "U1" {
		t.Fatalf("conversations.info = %+v, %v", info, err)
	}
}

func TestUsers(t *testing.T) {
	f := startFake(t, fastOptions(t))
	api := newAPI(t, f)
	ctx := ctxT(t)
	u, err := api.GetUserInfoContext(ctx, "U1")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "alice" || u.RealName != "Alice Liddell" || u.TZ != "Europe/Paris" || (u.TZOffset != 3600 && u.TZOffset != 7200) {
		t.Fatalf("user = %+v", u)
	}
	if _, err := api.GetUserInfoContext(ctx, "U404"); err == nil || err.Error() != "user_not_found" {
		t.Fatalf("unknown user: %v", err)
	}
	for i := range 5 {
		f.AddUser(User{ID: "UX" + string(rune('A'+i)), Name: "x"})
	}
	users, err := api.GetUsersContext(ctx, slack.GetUsersOptionLimit(2))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 8 || users[0].ID != f.BotUserID() || !users[0].IsBot {
		t.Fatalf("users.list gave %d users: %+v", len(users), users)
	}
	f.AddUsergroup("S1", "oncall", "U1", "U2")
	members, err := api.GetUserGroupMembersContext(ctx, "S1")
	if err != nil || len(members) != 2 || members[0] != "U1" {
		t.Fatalf("usergroup members = %v, %v", members, err)
	}
	if _, err := api.GetUserGroupMembersContext(ctx, "S404"); err == nil || err.Error() != "no_such_subteam" {
		t.Fatalf("unknown group: %v", err)
	}
}

func TestViews(t *testing.T) {
	clock := newClock()
	opts := fastOptions(t)
	opts.Now = clock.Now
	f := startFake(t, opts)
	api := newAPI(t, f)
	ctx := ctxT(t)
	trigger := func() string {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.newTriggerLocked("U1", "")
	}

	t.Run("expired trigger", func(t *testing.T) {
		tr := trigger()
		clock.Advance(3*time.Second + time.Millisecond)
		if _, err := api.OpenViewContext(ctx, tr, titleModal("Late")); err == nil || err.Error() != "expired_trigger_id" {
			t.Fatalf("got %v", err)
		}
		if _, err := api.OpenViewContext(ctx, "1.2.nope", titleModal("Late")); err == nil || err.Error() != "invalid_trigger_id" {
			t.Fatalf("got %v", err)
		}
	})

	root, err := api.OpenViewContext(ctx, trigger(), titleModal("Root"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("push depth 3", func(t *testing.T) {
		second, err := api.PushViewContext(ctx, trigger(), titleModal("Second"))
		if err != nil {
			t.Fatal(err)
		}
		if second.View.RootViewID != root.View.ID || second.View.PreviousViewID != root.View.ID {
			t.Fatalf("pushed view = %+v", second.View)
		}
		if _, err := api.PushViewContext(ctx, trigger(), titleModal("Third")); err != nil {
			t.Fatal(err)
		}
		if _, err := api.PushViewContext(ctx, trigger(), titleModal("Fourth")); err == nil || err.Error() != "push_limit_reached" {
			t.Fatalf("fourth push: %v", err)
		}
		if len(f.ModalStack("U1")) != 3 {
			t.Fatalf("stack = %+v", f.ModalStack("U1"))
		}
	})
	t.Run("hash conflict", func(t *testing.T) {
		up, err := api.UpdateViewContext(ctx, titleModal("Root v2"), "", root.View.Hash, root.View.ID)
		if err != nil {
			t.Fatal(err)
		}
		if up.View.Hash == root.View.Hash {
			t.Fatal("hash did not change on update")
		}
		if _, err := api.UpdateViewContext(ctx, titleModal("Root v3"), "", root.View.Hash, root.View.ID); err == nil || err.Error() != "hash_conflict" {
			t.Fatalf("stale hash: %v", err)
		}
		if _, err := api.UpdateViewContext(ctx, titleModal("x"), "", "", "V404"); err == nil || err.Error() != "not_found" {
			t.Fatalf("unknown view: %v", err)
		}
		if v, _ := f.ViewByID(root.View.ID); v.Title != "Root v2" {
			t.Fatalf("view = %+v", v)
		}
	})
	t.Run("home tab", func(t *testing.T) {
		home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewSectionBlock(plain("Your work"), nil, nil),
		}}}
		first, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U2", View: home})
		if err != nil {
			t.Fatal(err)
		}
		stale := first.View.Hash
		if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U2", View: home, Hash: &stale}); err != nil {
			t.Fatal(err)
		}
		if _, err := api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: "U2", View: home, Hash: &stale}); err == nil || err.Error() != "hash_conflict" {
			t.Fatalf("stale publish: %v", err)
		}
		h, ok := f.Home("U2")
		if !ok || h.ID != first.View.ID || !strings.Contains(h.AllText(), "Your work") {
			t.Fatalf("home = %+v", h)
		}
		if got := f.Views("U2"); len(got) != 2 || got[0].Action != "publish" {
			t.Fatalf("history = %+v", got)
		}
	})
	t.Run("form-encoded view", func(t *testing.T) {
		_, resp := callForm(t, f, "views.open", url.Values{
			"token": {f.BotToken()}, "trigger_id": {trigger()},
			"view": {`{"type":"modal","title":{"type":"plain_text","text":"Form"},"blocks":[]}`},
		})
		if resp["ok"] != true {
			t.Fatalf("got %v", resp)
		}
	})
}

func TestFileUploadV2(t *testing.T) {
	f := startFake(t, fastOptions(t))
	api := newAPI(t, f)
	content := []byte("\x89PNG fake chart bytes")
	sum, err := api.UploadFileContext(ctxT(t), slack.UploadFileParameters{
		Reader: bytes.NewReader(content), FileSize: len(content), Filename: "chart.png",
		Title: "Weekly chart", Channel: "C1", InitialComment: "This week",
	})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := f.LastMessage("C1")
	if !ok || m.Text != "This week" || len(m.Files) != 1 {
		t.Fatalf("message = %+v", m)
	}
	fl := m.Files[0]
	if fl.ID != sum.ID || fl.Title != "Weekly chart" || fl.Name != "chart.png" || !bytes.Equal(fl.Content, content) {
		t.Fatalf("file = %+v, summary %+v", fl, sum)
	}
	// Slack takes this method's arguments from a form only.
	if _, resp := callJSON(t, f, "files.getUploadURLExternal", f.BotToken(), map[string]any{"filename": "a.png", "length": 3}); resp["error"] != "invalid_arguments" {
		t.Fatalf("JSON body: %v", resp)
	}
	// A file id can be completed once.
	_, err = api.CompleteUploadExternalContext(ctxT(t), slack.CompleteUploadExternalParameters{
		Files: []slack.FileSummary{{ID: sum.ID}}, Channel: "C1",
	})
	if err == nil || err.Error() != "file_not_found" {
		t.Fatalf("second completion: %v", err)
	}
}

func TestFaults(t *testing.T) {
	f := startFake(t, fastOptions(t))
	api := newAPI(t, f)
	ctx := ctxT(t)

	f.FailNext("users.info", 1, Fault{Status: http.StatusServiceUnavailable})
	_, err := api.GetUserInfoContext(ctx, "U1")
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusServiceUnavailable {
		t.Fatalf("5xx: %v", err)
	}
	f.FailNext("users.info", 1, Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second})
	_, err = api.GetUserInfoContext(ctx, "U1")
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 2*time.Second {
		t.Fatalf("429: %v", err)
	}
	f.FailNext("users.info", 1, Fault{Error: "fatal_error"})
	if _, err = api.GetUserInfoContext(ctx, "U1"); err == nil || err.Error() != "fatal_error" {
		t.Fatalf("error fault: %v", err)
	}
	f.FailNext("users.info", 1, Fault{Delay: 50 * time.Millisecond})
	start := time.Now()
	if _, err = api.GetUserInfoContext(ctx, "U1"); err != nil || time.Since(start) < 50*time.Millisecond {
		t.Fatalf("slow call: %v after %v", err, time.Since(start))
	}
	// Faults are used up: the next call is normal.
	if _, err = api.GetUserInfoContext(ctx, "U1"); err != nil {
		t.Fatal(err)
	}
	calls := f.Calls("users.info")
	if len(calls) != 5 || !calls[0].Fault || calls[4].Fault || calls[4].Params["user"] != "U1" {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestRateLimits(t *testing.T) {
	clock := newClock()
	opts := fastOptions(t)
	opts.Now = clock.Now
	opts.RateLimits = true
	f := startFake(t, opts)
	f.AddChannel("C2", "random")
	api := newAPI(t, f)
	ctx := ctxT(t)
	post := func(ch string) error {
		_, _, err := api.PostMessageContext(ctx, ch, slack.MsgOptionText("x", false))
		return err
	}
	for i := range 5 {
		if err := post("C1"); err != nil {
			t.Fatalf("burst message %d: %v", i+1, err)
		}
	}
	var rl *slack.RateLimitedError
	if err := post("C1"); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("sixth message in a second: %v", err)
	}
	// Another channel has its own allowance, and time refills it.
	if err := post("C2"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if err := post("C1"); err != nil {
		t.Fatalf("after a second: %v", err)
	}
	// apps.connections.open is Tier 1: one a minute.
	if _, _, err := api.StartSocketModeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.StartSocketModeContext(ctx); !errors.As(err, &rl) || rl.RetryAfter != time.Minute {
		t.Fatalf("second connections.open: %v", err)
	}
}
