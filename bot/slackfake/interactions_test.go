package slackfake

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

func itemMessageBlocks() slack.MsgOption {
	return slack.MsgOptionBlocks(
		slack.NewSectionBlock(plain("Printer on fire"), nil, nil),
		slack.NewActionBlock("item_actions",
			slack.NewButtonBlockElement("take", "item-7", plain("Take it")),
			slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Move to…"), "move",
				slack.NewOptionBlockObject("doing", plain("Doing"), nil),
				slack.NewOptionBlockObject("done", plain("Done"), nil)),
		),
	)
}

func TestClickAndChooseOnMessage(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	_, ts, err := a.api.PostMessageContext(ctxT(t), "C1", slack.MsgOptionText("item", false), itemMessageBlocks())
	if err != nil {
		t.Fatal(err)
	}
	ref := MessageRef{Channel: "C1", TS: ts}

	// By button text.
	d, err := f.ClickButton("U2", ref, "Take it")
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeInteractive)
	cb := evt.Data.(slack.InteractionCallback)
	act := cb.ActionCallback.BlockActions
	if cb.Type != slack.InteractionTypeBlockActions || len(act) != 1 || act[0].ActionID != "take" ||
		act[0].BlockID != "item_actions" || act[0].Value != "item-7" || cb.User.ID != "U2" ||
		cb.Container.ChannelID != "C1" || cb.Container.MessageTs != ts || cb.Message.Timestamp != ts ||
		cb.Channel.ID != "C1" || cb.ResponseURL != d.ResponseURL || cb.TriggerID == "" {
		t.Fatalf("block_actions = %+v", cb)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)

	// The response_url replaces the message clicked in.
	_, _, err = a.api.PostMessageContext(ctxT(t), "", slack.MsgOptionReplaceOriginal(cb.ResponseURL), slack.MsgOptionText("Taken by bob", false))
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := f.Message("C1", ts); m.Text != "Taken by bob" || !m.Edited {
		t.Fatalf("message = %+v", m)
	}

	// A select by action_id; an option that is not offered is refused.
	if _, err := f.Choose("U2", ref, "move", OptionValue("lost")); err == nil {
		t.Fatal("choosing an absent option should fail")
	}
	// The replaced message has no blocks any more.
	if _, err := f.Choose("U2", ref, "move", OptionValue("done")); err == nil {
		t.Fatal("the replaced message has no select")
	}
}

func TestChooseSendsSelectedOption(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	_, ts, err := a.api.PostMessageContext(ctxT(t), "C1", slack.MsgOptionText("item", false), itemMessageBlocks())
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.Choose("U1", MessageRef{Channel: "C1", TS: ts}, "move", OptionValue("done"))
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeInteractive)
	cb := evt.Data.(slack.InteractionCallback)
	act := cb.ActionCallback.BlockActions
	if len(act) != 1 || act[0].ActionID != "move" || act[0].SelectedOption.Value != "done" || act[0].SelectedOption.Text.Text != "Done" {
		t.Fatalf("actions = %+v", act)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
}

func TestResponseURLLimits(t *testing.T) {
	clock := newClock()
	opts := fastOptions(t)
	opts.Now = clock.Now
	f := startFake(t, opts)
	api := newAPI(t, f)
	f.mu.Lock()
	rurl := f.newResponseURLLocked("commands", "U1", "C1", nil, "")
	other := f.newResponseURLLocked("commands", "U1", "C1", nil, "")
	f.mu.Unlock()
	for i := range 5 {
		if _, _, err := api.PostMessageContext(ctxT(t), "", slack.MsgOptionResponseURL(rurl, slack.ResponseTypeEphemeral), slack.MsgOptionText("n", false)); err != nil {
			t.Fatalf("use %d: %v", i+1, err)
		}
	}
	_, _, err := api.PostMessageContext(ctxT(t), "", slack.MsgOptionResponseURL(rurl, slack.ResponseTypeEphemeral), slack.MsgOptionText("n", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != http.StatusNotFound {
		t.Fatalf("sixth use: %v", err)
	}
	if c := f.Calls("response_url"); len(c) != 6 || c[5].Error != "used_url" {
		t.Fatalf("calls = %+v", c)
	}
	if len(f.Ephemerals("U1")) != 5 {
		t.Fatalf("ephemerals = %+v", f.Ephemerals("U1"))
	}
	clock.Advance(30*time.Minute + time.Second)
	_, _, err = api.PostMessageContext(ctxT(t), "", slack.MsgOptionResponseURL(other, slack.ResponseTypeInChannel), slack.MsgOptionText("late", false))
	if !errors.As(err, &sc) || sc.Code != http.StatusNotFound {
		t.Fatalf("expired: %v", err)
	}
	if c := f.Calls("response_url"); c[6].Error != "expired_url" {
		t.Fatalf("calls = %+v", c)
	}
}

// modalApp opens a modal for U1 through a slash command and returns its id.
func modalApp(t *testing.T, f *Fake, a *app, view slack.ModalViewRequest) string {
	t.Helper()
	d, err := f.SlashCommand("U1", "C1", "/work", "")
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeSlashCommand)
	cmd := evt.Data.(slack.SlashCommand)
	resp, err := a.api.OpenViewContext(ctxT(t), cmd.TriggerID, view)
	if err != nil {
		t.Fatal(err)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
	return resp.View.ID
}

func TestViewSubmissionResponseActions(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)

	submit := func(viewID string, values map[string]map[string]Value, payload any) Ack {
		t.Helper()
		d, err := f.SubmitView("U1", viewID, values)
		if err != nil {
			t.Fatal(err)
		}
		evt := a.next(t, socketmode.EventTypeInteractive)
		a.ack(t, evt.Request, payload)
		ack := await(t, d)
		if ack.Problem != "" {
			t.Fatalf("problem: %s", ack.Problem)
		}
		return ack
	}
	root := modalApp(t, f, a, titleModal("Root"))

	// A required input left empty cannot be submitted, as in Slack's client.
	if _, err := f.SubmitView("U1", root, nil); err == nil || !strings.Contains(err.Error(), "required") {
		t.Fatalf("empty required input: %v", err)
	}
	// Typed values persist across an errors response.
	submit(root, map[string]map[string]Value{"title": {"input": TextValue("x")}}, slack.NewErrorsViewSubmissionResponse(map[string]string{"title": "Longer please"}))
	d, err := f.SubmitView("U1", root, nil)
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeInteractive)
	if v := evt.Data.(slack.InteractionCallback).View.State.Values["title"]["input"].Value; v != "x" {
		t.Fatalf("draft lost: %q", v)
	}
	// push, then update the pushed view, then close it with an empty ack.
	next := titleModal("Confirm")
	a.ack(t, evt.Request, slack.NewPushViewSubmissionResponse(&next))
	await(t, d)
	stack := f.ModalStack("U1")
	if len(stack) != 2 || stack[1].Title != "Confirm" {
		t.Fatalf("stack = %+v", stack)
	}
	upd := titleModal("Confirmed")
	submit(stack[1].ID, map[string]map[string]Value{"title": {"input": TextValue("y")}}, slack.NewUpdateViewSubmissionResponse(&upd))
	if top, _ := f.TopModal("U1"); top.Title != "Confirmed" || top.ID != stack[1].ID {
		t.Fatalf("top = %+v", top)
	}
	submit(stack[1].ID, map[string]map[string]Value{"title": {"input": TextValue("z")}}, nil)
	if top, _ := f.TopModal("U1"); top.ID != root {
		t.Fatalf("after closing the pushed view, top = %+v", top)
	}
	submit(root, nil, slack.NewClearViewSubmissionResponse())
	if len(f.ModalStack("U1")) != 0 {
		t.Fatalf("stack after clear = %+v", f.ModalStack("U1"))
	}
	var actions []string
	for _, e := range f.Views("U1") {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "open,errors,ack_push,ack_update,close,clear" {
		t.Fatalf("view history = %s", got)
	}
}

func TestBadResponseActionIsAProblem(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	root := modalApp(t, f, a, titleModal("Root"))
	d, err := f.SubmitView("U1", root, map[string]map[string]Value{"title": {"input": TextValue("x")}})
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeInteractive)
	a.ack(t, evt.Request, slack.NewErrorsViewSubmissionResponse(map[string]string{"not_an_input": "x"}))
	if ack := await(t, d); !strings.Contains(ack.Problem, "not_an_input") {
		t.Fatalf("problem = %q", ack.Problem)
	}
}

func TestCloseViewNotifies(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	view := titleModal("Closable")
	view.NotifyOnClose = true
	id := modalApp(t, f, a, view)
	d, err := f.CloseView("U1", id)
	if err != nil || d == nil {
		t.Fatalf("close: %v", err)
	}
	evt := a.next(t, socketmode.EventTypeInteractive)
	cb := evt.Data.(slack.InteractionCallback)
	if cb.Type != slack.InteractionTypeViewClosed || cb.View.ID != id || cb.IsCleared {
		t.Fatalf("view_closed = %+v", cb)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
	if len(f.ModalStack("U1")) != 0 {
		t.Fatal("modal still open")
	}
}

func TestAckDeadline(t *testing.T) {
	opts := fastOptions(t)
	opts.AckTimeout = 30 * time.Millisecond
	f := startFake(t, opts)

	// Nobody connected: Slack cannot dispatch.
	d, err := f.SlashCommand("U1", "C1", "/work", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitTimeout(waitLimit); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("err = %v", err)
	}

	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	d, err = f.SlashCommand("U1", "C1", "/work", "")
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeSlashCommand)
	if _, err := d.WaitTimeout(waitLimit); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("err = %v", err)
	}
	if len(f.Unacked()) != 1 {
		t.Fatalf("unacked = %+v", f.Unacked())
	}
	// The late ack is recorded, and its reply never shown.
	a.ack(t, evt.Request, map[string]any{"text": "too late"})
	waitFor(t, f, "late ack", func() bool { return len(f.Acks()) == 1 })
	if ack := f.Acks()[0]; !ack.Late || ack.Latency < 30*time.Millisecond {
		t.Fatalf("ack = %+v", ack)
	}
	if len(f.Ephemerals("U1")) != 0 {
		t.Fatalf("late reply shown: %+v", f.Ephemerals("U1"))
	}
}

func TestFillAndHomeActions(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)

	// A Home tab with a select in an actions block and an input without
	// dispatch_action.
	home := slack.HomeTabViewRequest{Type: slack.VTHomeTab, Blocks: slack.Blocks{BlockSet: []slack.Block{
		slack.NewActionBlock("prefs", slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("Digest"), "digest_day",
			slack.NewOptionBlockObject("mon", plain("Monday"), nil),
			slack.NewOptionBlockObject("fri", plain("Friday"), nil))),
		slack.NewInputBlock("note", plain("Note"), nil, slack.NewPlainTextInputBlockElement(nil, "input")),
	}}}
	resp, err := a.api.PublishViewContext(ctxT(t), slack.PublishViewContextRequest{UserID: "U1", View: home})
	if err != nil {
		t.Fatal(err)
	}
	ref := ViewRef{ID: resp.View.ID}
	if _, err := f.Choose("U1", ref, "input", TextValue("x")); err == nil || !strings.Contains(err.Error(), "Fill") {
		t.Fatalf("choose on a plain input: %v", err)
	}
	if err := f.Fill("U1", resp.View.ID, map[string]map[string]Value{"note": {"input": TextValue("remember")}}); err != nil {
		t.Fatal(err)
	}
	if err := f.Fill("U2", resp.View.ID, nil); err == nil {
		t.Fatal("another person's view was filled")
	}
	d, err := f.Choose("U1", ref, "digest_day", OptionValue("fri"))
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeInteractive)
	cb := evt.Data.(slack.InteractionCallback)
	if cb.Container.Type != "view" || cb.Container.ViewID != resp.View.ID || cb.View.Type != slack.VTHomeTab ||
		cb.View.State.Values["note"]["input"].Value != "remember" ||
		cb.View.State.Values["prefs"]["digest_day"].SelectedOption.Value != "fri" ||
		cb.ActionCallback.BlockActions[0].SelectedOption.Value != "fri" {
		t.Fatalf("block_actions from home = %+v", cb)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
}

// TestClickButtonValueTellsIdenticalButtonsApart: two buttons with the same action_id and text differ
// by value; ClickButtonValue presses the one asked for, and an unknown value is refused. They sit in
// two blocks, as Slack refuses a repeated action_id within one block.
func TestClickButtonValueTellsIdenticalButtonsApart(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	accept := func(v string) slack.BlockElement {
		return slack.NewButtonBlockElement("accept", v, slack.NewTextBlockObject(slack.PlainTextType, "Accept", false, false))
	}
	_, ts, err := a.api.PostMessageContext(ctxT(t), "C1", slack.MsgOptionText("two", false),
		slack.MsgOptionBlocks(slack.NewActionBlock("", accept("1")), slack.NewActionBlock("", accept("2"))))
	if err != nil {
		t.Fatal(err)
	}
	ref := MessageRef{Channel: "C1", TS: ts}
	if _, err := f.ClickButtonValue("U1", ref, "accept", "3"); err == nil {
		t.Fatal("a button that is not there was clicked")
	}
	d, err := f.ClickButtonValue("U1", ref, "accept", "2")
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeInteractive)
	act := evt.Data.(slack.InteractionCallback).ActionCallback.BlockActions
	if len(act) != 1 || act[0].Value != "2" {
		t.Fatalf("clicked %+v", act)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
}
