package slackfake

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"
	"github.com/slack-go/slack/socketmode"
)

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func titleModal(title string) slack.ModalViewRequest {
	return slack.ModalViewRequest{
		Type:       slack.VTModal,
		Title:      plain(title),
		Submit:     plain("Save"),
		Close:      plain("Cancel"),
		CallbackID: "new_item",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			slack.NewInputBlock("title", plain("Title"), nil, slack.NewPlainTextInputBlockElement(nil, "input")),
		}},
	}
}

// TestSocketModeClientJourney drives the real slack-go socketmode client
// through the acceptance steps of issue 3: connect, get a slash command and
// ack it, open a modal, be rate-limited and retried, be disconnected and
// reconnect.
func TestSocketModeClientJourney(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f, slack.OptionRetryConfig(slack.RetryConfig{MaxRetries: 2}))

	// 1. Connect: hello arrives and the fake counts one socket.
	hello := a.next(t, socketmode.EventTypeHello)
	if hello.Request.ConnectionInfo.AppID != f.AppID() || hello.Request.NumConnections != 1 {
		t.Fatalf("hello = %+v", hello.Request)
	}
	waitFor(t, f, "one connection", func() bool { return f.Connections() == 1 })

	// 2. A slash command arrives as slack.SlashCommand and is acked with a reply.
	d, err := f.SlashCommand("U1", "C1", "/work", "new printer")
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeSlashCommand)
	cmd, ok := evt.Data.(slack.SlashCommand)
	if !ok {
		t.Fatalf("slash command data is %T", evt.Data)
	}
	if cmd.UserID != "U1" || cmd.UserName != "alice" || cmd.ChannelID != "C1" || cmd.ChannelName != "general" ||
		cmd.Command != "/work" || cmd.Text != "new printer" || cmd.TeamID != f.TeamID() || cmd.APIAppID != f.AppID() {
		t.Fatalf("slash command = %+v", cmd)
	}
	if cmd.TriggerID != d.TriggerID || cmd.ResponseURL != d.ResponseURL || cmd.TriggerID == "" {
		t.Fatalf("trigger/response_url mismatch: %+v vs %+v", cmd, d)
	}
	if !evt.Request.AcceptsResponsePayload {
		t.Error("slash_commands envelope should accept a response payload")
	}
	a.ack(t, evt.Request, map[string]any{"text": "On it"})
	ack := await(t, d)
	if ack.Type != "slash_commands" || ack.Latency <= 0 || ack.Late {
		t.Fatalf("ack = %+v", ack)
	}
	if eph := f.Ephemerals("U1"); len(eph) != 1 || eph[0].Text != "On it" || eph[0].Source != "ack" {
		t.Fatalf("ephemerals = %+v", eph)
	}
	if len(f.Unacked()) != 0 {
		t.Fatalf("unacked = %+v", f.Unacked())
	}

	// 3. The trigger opens a modal; it cannot be exchanged twice.
	resp, err := a.api.OpenViewContext(ctxT(t), cmd.TriggerID, titleModal("New item"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.View.ID == "" || resp.View.Hash == "" || resp.View.Title.Text != "New item" || resp.View.State == nil {
		t.Fatalf("views.open answer = %+v", resp.View)
	}
	if top, ok := f.TopModal("U1"); !ok || top.ID != resp.View.ID || top.CallbackID != "new_item" {
		t.Fatalf("top modal = %+v", top)
	}
	_, err = a.api.OpenViewContext(ctxT(t), cmd.TriggerID, titleModal("Again"))
	if err == nil || err.Error() != "exchanged_trigger_id" {
		t.Fatalf("second views.open: %v", err)
	}

	// Submitting reaches the app as a view_submission with the typed value.
	sd, err := f.SubmitView("U1", resp.View.ID, map[string]map[string]Value{"title": {"input": TextValue("Printer on fire")}})
	if err != nil {
		t.Fatal(err)
	}
	evt = a.next(t, socketmode.EventTypeInteractive)
	cb := evt.Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeViewSubmission || cb.View.ID != resp.View.ID ||
		cb.View.State.Values["title"]["input"].Value != "Printer on fire" || cb.User.ID != "U1" {
		t.Fatalf("view_submission = %+v", cb)
	}
	a.ack(t, evt.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"title": "Too hot"}))
	if got := await(t, sd); got.Problem != "" {
		t.Fatalf("ack problem: %s", got.Problem)
	}
	if top, _ := f.TopModal("U1"); top.Errors["title"] != "Too hot" {
		t.Fatalf("modal errors = %+v", top.Errors)
	}

	// 4. Rate limited: a 429 with Retry-After is retried by slack-go's retry
	// config and then succeeds; the fake saw both calls.
	f.FailNext("chat.postMessage", 1, Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	ch, ts, err := a.api.PostMessageContext(ctxT(t), "C1", slack.MsgOptionText("hello", false))
	if err != nil {
		t.Fatal(err)
	}
	calls := f.Calls("chat.postMessage")
	if len(calls) != 2 || calls[0].Status != http.StatusTooManyRequests || !calls[0].Fault || calls[1].Error != "" {
		t.Fatalf("calls = %+v", calls)
	}
	if m, ok := f.Message(ch, ts); !ok || m.Text != "hello" || m.User != f.BotUserID() {
		t.Fatalf("message = %+v", m)
	}

	// 5. Disconnected (refresh_requested), with apps.connections.open itself
	// rate-limited once: the retrying client waits and reconnects.
	f.FailNext("apps.connections.open", 1, Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	if n := f.Disconnect("refresh_requested"); n != 1 {
		t.Fatalf("disconnect told %d sockets", n)
	}
	a.next(t, socketmode.EventTypeHello)
	waitFor(t, f, "reconnected", func() bool { return f.ConnectionsOpened() == 2 && f.Connections() == 1 })
	opens := f.Calls("apps.connections.open")
	if len(opens) != 3 || opens[1].Status != http.StatusTooManyRequests || opens[2].Error != "" {
		t.Fatalf("apps.connections.open calls = %+v", opens)
	}

	// A dropped socket (no close frame) is noticed and replaced too.
	f.DropSockets()
	a.next(t, socketmode.EventTypeHello)
	waitFor(t, f, "reconnected after drop", func() bool { return f.ConnectionsOpened() == 3 && f.Connections() == 1 })

	// And the new socket carries envelopes.
	d, err = f.SlashCommand("U2", "C1", "/work", "")
	if err != nil {
		t.Fatal(err)
	}
	evt = a.next(t, socketmode.EventTypeSlashCommand)
	a.ack(t, evt.Request, nil)
	await(t, d)
}

// TestConnectRateLimited: without HTTP retries, socketmode's own connect
// loop reports the 429 and waits Retry-After before trying again.
func TestConnectRateLimited(t *testing.T) {
	f := startFake(t, fastOptions(t))
	f.FailNext("apps.connections.open", 1, Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	a := startApp(t, f)
	ce := a.next(t, socketmode.EventTypeConnectionError)
	var rl *slack.RateLimitedError
	cerr, ok := ce.Data.(*slack.ConnectionErrorEvent)
	if !ok || !errors.As(cerr.ErrorObj, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("connection error = %+v", ce.Data)
	}
	a.next(t, socketmode.EventTypeHello)
}

// TestEventRedelivery checks that an unacked events_api envelope comes back
// with retry_attempt and retry_reason, and that acking stops the retries.
func TestEventRedelivery(t *testing.T) {
	opts := fastOptions(t)
	// One retry only, and time enough to ack it, so that the outcome does not
	// depend on how fast this machine is.
	opts.RedeliveryAfter = 500 * time.Millisecond
	opts.MaxRedeliveries = 1
	f := startFake(t, opts)
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)

	d, err := f.OpenAppHome("U1")
	if err != nil {
		t.Fatal(err)
	}
	first := a.next(t, socketmode.EventTypeEventsAPI)
	if first.Request.RetryAttempt != 0 || first.Request.RetryReason != "" {
		t.Fatalf("first delivery = %+v", first.Request)
	}
	outer := first.Data.(slackevents.EventsAPIEvent)
	home, ok := outer.InnerEvent.Data.(*slackevents.AppHomeOpenedEvent)
	if !ok || home.User != "U1" || home.Channel != f.DMChannel("U1") || home.Tab != "home" {
		t.Fatalf("inner event = %#v", outer.InnerEvent.Data)
	}
	// Not acked: it comes back.
	second := a.next(t, socketmode.EventTypeEventsAPI)
	if second.Request.RetryAttempt != 1 || second.Request.RetryReason != "timeout" ||
		second.Request.EnvelopeID == first.Request.EnvelopeID {
		t.Fatalf("redelivery = %+v", second.Request)
	}
	var p1, p2 struct {
		EventID string `json:"event_id"`
	}
	_ = json.Unmarshal(first.Request.Payload, &p1)
	_ = json.Unmarshal(second.Request.Payload, &p2)
	if p1.EventID == "" || p1.EventID != p2.EventID {
		t.Fatalf("event ids %q and %q should match", p1.EventID, p2.EventID)
	}
	a.ack(t, second.Request, nil)
	ack := await(t, d)
	if ack.RetryAttempt != 1 || ack.PayloadType != "app_home_opened" {
		t.Fatalf("ack = %+v", ack)
	}
	// The first envelope stays unacked, but the event is done: no third try.
	unacked := f.Unacked()
	if len(unacked) != 1 || unacked[0].EnvelopeID != first.Request.EnvelopeID {
		t.Fatalf("unacked = %+v", unacked)
	}
	f.mu.Lock()
	envs := len(f.envOrder)
	f.mu.Unlock()
	if envs != 2 {
		t.Fatalf("%d envelopes sent, want 2", envs)
	}
}

// TestEventGivenUp: an event never acked is tried MaxRedeliveries+1 times.
func TestEventGivenUp(t *testing.T) {
	opts := fastOptions(t)
	opts.RedeliveryAfter = 20 * time.Millisecond
	opts.MaxRedeliveries = 2
	f := startFake(t, opts)
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	d, err := f.SendEvent(map[string]any{"type": "member_joined_channel", "user": "U2", "channel": "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitTimeout(waitLimit); !errors.Is(err, ErrNotAcked) {
		t.Fatalf("err = %v", err)
	}
	envs := f.Envelopes()
	if len(envs) != 3 || envs[2].RetryAttempt != 2 {
		t.Fatalf("envelopes = %+v", envs)
	}
}

func TestTooManyWebsockets(t *testing.T) {
	opts := fastOptions(t)
	opts.MaxConnections = 1
	f := startFake(t, opts)
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	b := startApp(t, f)
	// The second socket is told too_many_websockets and closed; the client
	// keeps trying, and the first socket keeps receiving envelopes.
	b.next(t, socketmode.EventTypeHello)
	waitFor(t, f, "second socket refused", func() bool { return f.ConnectionsOpened() >= 2 })
	if f.Connections() != 1 {
		t.Fatalf("live connections = %d", f.Connections())
	}
	d, err := f.SlashCommand("U1", "C1", "/work", "x")
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeSlashCommand)
	a.ack(t, evt.Request, nil)
	await(t, d)
}

func TestBadEnvelopeReachesClient(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	if err := f.SendRaw([]byte(`{"envelope_id":"e-1","type":"slash_commands","payload":"not an object"}`)); err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeErrorBadMessage)
	if !strings.Contains(string(evt.Data.(*socketmode.ErrorBadMessage).Message), "e-1") {
		t.Fatalf("bad message = %+v", evt.Data)
	}
	// Acking an envelope the fake never sent is recorded as stray.
	a.ack(t, &socketmode.Request{EnvelopeID: "e-1"}, nil)
	waitFor(t, f, "stray ack", func() bool { return len(f.StrayAcks()) == 1 })
}

// TestHelloAndPings dials the socket with a bare websocket client: the first
// frame is hello, and the server keeps sending PING frames.
func TestHelloAndPings(t *testing.T) {
	f := startFake(t, fastOptions(t))
	_, resp := callJSON(t, f, "apps.connections.open", f.AppToken(), nil)
	wsURL, _ := resp["url"].(string)
	if !strings.HasPrefix(wsURL, "ws://127.0.0.1:") {
		t.Fatalf("url = %v", resp)
	}
	conn, _, err := websocket.DefaultDialer.DialContext(ctxT(t), wsURL, http.Header{"Origin": {"https://api.slack.com"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pings := make(chan struct{}, 16)
	conn.SetPingHandler(func(string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return nil
	})
	var hello socketmode.Request
	if err := conn.ReadJSON(&hello); err != nil {
		t.Fatal(err)
	}
	if hello.Type != "hello" || hello.NumConnections != 1 || hello.ConnectionInfo.AppID != f.AppID() {
		t.Fatalf("hello = %+v", hello)
	}
	// Control frames are handled while reading; keep reading in the background.
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for i := range 2 {
		select {
		case <-pings:
		case <-time.After(waitLimit):
			t.Fatalf("ping %d never came", i+1)
		}
	}
	// A ticket opens one socket only.
	if _, _, err := websocket.DefaultDialer.DialContext(ctxT(t), wsURL, nil); err == nil {
		t.Fatal("ticket reused")
	}
	conn.Close()
	<-readDone
}
