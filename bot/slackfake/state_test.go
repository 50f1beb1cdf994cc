package slackfake

import (
	"encoding/json"
	"testing"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// TestStateValuesParseInSlackGo submits a modal holding every common input
// type and checks that slack-go reads each value where Slack puts it.
func TestStateValuesParseInSlackGo(t *testing.T) {
	f := startFake(t, fastOptions(t))
	f.AddChannel("C2", "random")
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	opt := func(v, text string) *slack.OptionBlockObject { return slack.NewOptionBlockObject(v, plain(text), nil) }
	in := func(id string, el slack.BlockElement) *slack.InputBlock {
		b := slack.NewInputBlock(id, plain(id), nil, el)
		b.Optional = true
		return b
	}
	datepicker := slack.NewDatePickerBlockElement("a")
	datepicker.InitialDate = "2026-12-01"
	view := slack.ModalViewRequest{
		Type: slack.VTModal, Title: plain("All inputs"), Submit: plain("Save"), CallbackID: "all",
		Blocks: slack.Blocks{BlockSet: []slack.Block{
			in("text", slack.NewPlainTextInputBlockElement(nil, "a")),
			in("static", slack.NewOptionsSelectBlockElement(slack.OptTypeStatic, plain("p"), "a", opt("1", "One"), opt("2", "Two"))),
			in("multi", slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeStatic, plain("p"), "a", opt("x", "X"), opt("y", "Y"))),
			in("user", slack.NewOptionsSelectBlockElement(slack.OptTypeUser, plain("p"), "a")),
			in("users", slack.NewOptionsMultiSelectBlockElement(slack.MultiOptTypeUser, plain("p"), "a")),
			in("channel", slack.NewOptionsSelectBlockElement(slack.OptTypeChannels, plain("p"), "a")),
			in("date", datepicker),
			in("radio", slack.NewRadioButtonsBlockElement("a", opt("r1", "R1"), opt("r2", "R2"))),
			in("checks", slack.NewCheckboxGroupsBlockElement("a", opt("c1", "C1"), opt("c2", "C2"))),
			in("empty", slack.NewPlainTextInputBlockElement(nil, "a")),
		}},
	}
	id := modalApp(t, f, a, view)
	if _, err := f.SubmitView("U1", id, map[string]map[string]Value{"user": {"a": UserValue("U404")}}); err == nil {
		t.Fatal("an unknown user was accepted")
	}
	if _, err := f.SubmitView("U1", id, map[string]map[string]Value{"date": {"a": DateValue("1/12/2026")}}); err == nil {
		t.Fatal("a malformed date was accepted")
	}
	d, err := f.SubmitView("U1", id, map[string]map[string]Value{
		"text":    {"a": TextValue("hello")},
		"static":  {"a": OptionValue("2")},
		"multi":   {"a": {Options: []string{"x", "y"}}},
		"user":    {"a": UserValue("U2")},
		"users":   {"a": {Users: []string{"U1", "U2"}}},
		"channel": {"a": {Channel: "C2"}},
		"radio":   {"a": {Option: "r2"}},
		"checks":  {"a": {Options: []string{"c1"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeInteractive)
	v := evt.Data.(slack.InteractionCallback).View.State.Values
	get := func(block string) slack.BlockAction { return v[block]["a"] }
	switch {
	case get("text").Value != "hello",
		get("static").SelectedOption.Value != "2" || get("static").SelectedOption.Text.Text != "Two",
		len(get("multi").SelectedOptions) != 2 || get("multi").SelectedOptions[1].Value != "y",
		get("user").SelectedUser != "U2",
		len(get("users").SelectedUsers) != 2,
		get("channel").SelectedChannel != "C2",
		get("date").SelectedDate != "2026-12-01", // the initial date, untouched
		get("radio").SelectedOption.Value != "r2",
		len(get("checks").SelectedOptions) != 1 || get("checks").SelectedOptions[0].Value != "c1",
		get("empty").Value != "":
		raw, _ := json.MarshalIndent(v, "", " ")
		t.Fatalf("state values:\n%s", raw)
	}
	if _, ok := v["empty"]["a"]; !ok {
		t.Fatal("an untouched input is missing from state.values")
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
}

// TestEphemeralClicksAndChannelReplies covers buttons in ephemeral messages,
// delete_original through their response_url, and in_channel slash replies.
func TestEphemeralClicksAndChannelReplies(t *testing.T) {
	f := startFake(t, fastOptions(t))
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	d, err := f.SlashCommand("U1", "C1", "/work", "help")
	if err != nil {
		t.Fatal(err)
	}
	evt := a.next(t, socketmode.EventTypeSlashCommand)
	a.ack(t, evt.Request, map[string]any{
		"response_type": "in_channel",
		"text":          "Everyone: help is here",
	})
	await(t, d)
	if m, ok := f.LastMessage("C1"); !ok || m.Text != "Everyone: help is here" || m.User != f.BotUserID() {
		t.Fatalf("in_channel reply = %+v", m)
	}
	if _, err := a.api.PostEphemeralContext(ctxT(t), "C1", "U1", slack.MsgOptionText("choose", false),
		slack.MsgOptionBlocks(slack.NewActionBlock("b", slack.NewButtonBlockElement("dismiss", "", plain("Dismiss"))))); err != nil {
		t.Fatal(err)
	}
	eph := f.Ephemerals("U1")[0]
	if _, err := f.ClickButton("U2", eph.Ref(), "Dismiss"); err == nil {
		t.Fatal("someone else clicked U1's ephemeral message")
	}
	d, err = f.ClickButton("U1", eph.Ref(), "dismiss")
	if err != nil {
		t.Fatal(err)
	}
	evt = a.next(t, socketmode.EventTypeInteractive)
	cb := evt.Data.(slack.InteractionCallback)
	if !cb.Container.IsEphemeral || cb.Container.MessageTs != eph.TS {
		t.Fatalf("container = %+v", cb.Container)
	}
	a.ack(t, evt.Request, nil)
	await(t, d)
	if _, _, err := a.api.PostMessageContext(ctxT(t), "", slack.MsgOptionDeleteOriginal(cb.ResponseURL)); err != nil {
		t.Fatal(err)
	}
	if e := f.Ephemerals("U1")[0]; !e.Deleted {
		t.Fatalf("ephemeral = %+v", e)
	}
	if _, err := f.ClickButton("U1", eph.Ref(), "dismiss"); err == nil {
		t.Fatal("clicked a deleted ephemeral message")
	}
}

func TestPeopleAndChannels(t *testing.T) {
	f := startFake(t, fastOptions(t))
	m, err := f.PostAsUser("U1", "C1", "hi all", "")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := f.PostAsUser("U2", "C1", "hi", m.TS)
	if err != nil || reply.ThreadTS != m.TS || reply.User != "U2" {
		t.Fatalf("reply = %+v, %v", reply, err)
	}
	if _, err := f.PostAsUser("U404", "C1", "x", ""); err == nil {
		t.Fatal("unknown user posted")
	}
	if _, err := f.PostAsUser("U1", "C1", "x", "9.9"); err == nil {
		t.Fatal("replied to an unknown thread")
	}
	dm := f.DMChannel("U2")
	chans := f.Channels()
	if len(chans) != 2 || chans[0].ID != "C1" || chans[0].Count != 2 || chans[1].ID != dm || !chans[1].IsIM || chans[1].User != "U2" {
		t.Fatalf("channels = %+v", chans)
	}
	users := f.Users()
	if len(users) != 3 || users[1].ID != "U1" || users[2].TZ != "America/New_York" {
		t.Fatalf("users = %+v", users)
	}
}
