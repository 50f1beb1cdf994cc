package slackfake

import (
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Value is what a person typed or picked in one element. Set the field that
// matches the element's type; the fake renders it into state.values exactly
// as Slack does for that type.
type Value struct {
	Text          string   // plain_text_input, email_text_input, url_text_input, number_input
	Option        string   // static_select, external_select, radio_buttons: the option's value
	Options       []string // multi_static_select, multi_external_select, checkboxes
	User          string   // users_select
	Users         []string // multi_users_select
	Conversation  string   // conversations_select
	Conversations []string // multi_conversations_select
	Channel       string   // channels_select
	Channels      []string // multi_channels_select
	Date          string   // datepicker, "2006-01-02"
	Time          string   // timepicker, "15:04"
}

// TextValue, OptionValue, UserValue and DateValue build the common Values.
func TextValue(s string) Value   { return Value{Text: s} }
func OptionValue(v string) Value { return Value{Option: v} }
func UserValue(u string) Value   { return Value{User: u} }
func DateValue(d string) Value   { return Value{Date: d} }

func (v Value) empty() bool {
	return v.Text == "" && v.Option == "" && len(v.Options) == 0 && v.User == "" && len(v.Users) == 0 &&
		v.Conversation == "" && len(v.Conversations) == 0 && v.Channel == "" && len(v.Channels) == 0 &&
		v.Date == "" && v.Time == ""
}

// statefulElements are the element types whose value appears in state.values.
var statefulElements = map[string]bool{
	"plain_text_input": true, "email_text_input": true, "url_text_input": true, "number_input": true,
	"static_select": true, "external_select": true, "radio_buttons": true, "multi_static_select": true,
	"multi_external_select": true, "checkboxes": true, "users_select": true, "multi_users_select": true,
	"conversations_select": true, "multi_conversations_select": true, "channels_select": true,
	"multi_channels_select": true, "datepicker": true, "timepicker": true,
}

// element is an interactive element located in a blocks array, with the ids
// Slack would report for it.
type element struct {
	blockID, actionID string
	blockType         string
	optional          bool // input blocks only
	dispatch          bool // input blocks only: dispatch_action sends block_actions
	label             string
	elem              map[string]any
}

func (e element) typ() string { s, _ := e.elem["type"].(string); return s }

// Slack fills in a random block_id and action_id when the app omits them;
// the fake derives stable ones from the position instead.
func defaultBlockID(i int) string     { return "fakeblk" + strconv.Itoa(i) }
func defaultActionID(i, j int) string { return fmt.Sprintf("fakeact%d_%d", i, j) }

// elementsIn lists every interactive element of a blocks array in order.
func elementsIn(blocks any) []element {
	list, _ := blocks.([]any)
	var out []element
	for i, b := range list {
		bm, ok := b.(map[string]any)
		if !ok {
			continue
		}
		bid, _ := bm["block_id"].(string)
		if bid == "" {
			bid = defaultBlockID(i)
		}
		btype, _ := bm["type"].(string)
		add := func(j int, e any) {
			em, ok := e.(map[string]any)
			if !ok {
				return
			}
			aid, _ := em["action_id"].(string)
			if aid == "" {
				aid = defaultActionID(i, j)
			}
			el := element{blockID: bid, actionID: aid, blockType: btype, elem: em}
			if btype == "input" {
				el.optional, _ = bm["optional"].(bool)
				el.dispatch, _ = bm["dispatch_action"].(bool)
				el.label = textOf(bm["label"])
			}
			out = append(out, el)
		}
		switch btype {
		case "input":
			add(0, bm["element"])
		case "section":
			if acc, ok := bm["accessory"]; ok {
				add(0, acc)
			}
		case "actions":
			els, _ := bm["elements"].([]any)
			for j, e := range els {
				add(j, e)
			}
		}
	}
	return out
}

// viewInputs lists the stateful elements of a view.
func viewInputs(req map[string]any) []element {
	var out []element
	for _, e := range elementsIn(req["blocks"]) {
		if statefulElements[e.typ()] {
			out = append(out, e)
		}
	}
	return out
}

// initialValue is what an element holds before the person touches it.
func initialValue(e map[string]any) Value {
	str := func(k string) string { s, _ := e[k].(string); return s }
	strs := func(k string) []string {
		list, _ := e[k].([]any)
		var out []string
		for _, x := range list {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	v := Value{
		Text: str("initial_value"), User: str("initial_user"), Users: strs("initial_users"),
		Conversation: str("initial_conversation"), Conversations: strs("initial_conversations"),
		Channel: str("initial_channel"), Channels: strs("initial_channels"),
		Date: str("initial_date"), Time: str("initial_time"),
	}
	if o, ok := e["initial_option"].(map[string]any); ok {
		v.Option, _ = o["value"].(string)
	}
	if list, ok := e["initial_options"].([]any); ok {
		for _, o := range list {
			if om, ok := o.(map[string]any); ok {
				if s, ok := om["value"].(string); ok {
					v.Options = append(v.Options, s)
				}
			}
		}
	}
	return v
}

// findOption returns the option object with the given value, searching
// options and option_groups.
func findOption(e map[string]any, value string) (map[string]any, bool) {
	var all []any
	if opts, ok := e["options"].([]any); ok {
		all = append(all, opts...)
	}
	if groups, ok := e["option_groups"].([]any); ok {
		for _, g := range groups {
			if gm, ok := g.(map[string]any); ok {
				if opts, ok := gm["options"].([]any); ok {
					all = append(all, opts...)
				}
			}
		}
	}
	for _, o := range all {
		if om, ok := o.(map[string]any); ok && om["value"] == value {
			return om, true
		}
	}
	return nil, false
}

// optionJSON is an option as Slack echoes it in selected_option. External
// selects have no options in the view, so the value stands for the text.
func optionJSON(e map[string]any, value string) map[string]any {
	if o, ok := findOption(e, value); ok {
		return o
	}
	return map[string]any{"text": map[string]any{"type": "plain_text", "text": value, "emoji": true}, "value": value}
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func orEmpty(list []string) []string {
	if list == nil {
		return []string{}
	}
	return list
}

// stateJSON renders one element's value as state.values does.
func stateJSON(e map[string]any, v Value) map[string]any {
	typ, _ := e["type"].(string)
	out := map[string]any{"type": typ}
	switch typ {
	case "plain_text_input", "email_text_input", "url_text_input", "number_input":
		out["value"] = orNil(v.Text)
	case "static_select", "external_select", "radio_buttons":
		if v.Option == "" {
			out["selected_option"] = nil
		} else {
			out["selected_option"] = optionJSON(e, v.Option)
		}
	case "multi_static_select", "multi_external_select", "checkboxes":
		opts := []any{}
		for _, o := range v.Options {
			opts = append(opts, optionJSON(e, o))
		}
		out["selected_options"] = opts
	case "users_select":
		out["selected_user"] = orNil(v.User)
	case "multi_users_select":
		out["selected_users"] = orEmpty(v.Users)
	case "conversations_select":
		out["selected_conversation"] = orNil(v.Conversation)
	case "multi_conversations_select":
		out["selected_conversations"] = orEmpty(v.Conversations)
	case "channels_select":
		out["selected_channel"] = orNil(v.Channel)
	case "multi_channels_select":
		out["selected_channels"] = orEmpty(v.Channels)
	case "datepicker":
		out["selected_date"] = orNil(v.Date)
	case "timepicker":
		out["selected_time"] = orNil(v.Time)
	}
	return out
}

// stateValuesLocked renders a view's state.values: each stateful element's
// draft, or its initial value, with overrides applied on top.
func (f *Fake) stateValuesLocked(vs *viewState, overrides map[string]map[string]Value) map[string]any {
	out := map[string]any{}
	for _, in := range viewInputs(vs.req) {
		v, ok := overrides[in.blockID][in.actionID]
		if !ok {
			v, ok = vs.draft[in.blockID][in.actionID]
		}
		if !ok {
			v = initialValue(in.elem)
		}
		block, _ := out[in.blockID].(map[string]any)
		if block == nil {
			block = map[string]any{}
			out[in.blockID] = block
		}
		block[in.actionID] = stateJSON(in.elem, v)
	}
	return out
}

// checkValueLocked refuses what a person could not enter in Slack's client:
// an option that is not offered, an unknown user, an over-long text, a bad date.
func (f *Fake) checkValueLocked(in element, v Value) error {
	typ := in.typ()
	where := in.blockID + "/" + in.actionID
	switch typ {
	case "static_select", "radio_buttons":
		if v.Option != "" {
			if _, ok := findOption(in.elem, v.Option); !ok {
				return fmt.Errorf("slackfake: %s offers no option %q", where, v.Option)
			}
		}
	case "multi_static_select", "checkboxes":
		for _, o := range v.Options {
			if _, ok := findOption(in.elem, o); !ok {
				return fmt.Errorf("slackfake: %s offers no option %q", where, o)
			}
		}
	case "users_select", "multi_users_select":
		users := append([]string{v.User}, v.Users...)
		for _, u := range users {
			if u == "" {
				continue
			}
			if _, ok := f.users[u]; !ok {
				return fmt.Errorf("slackfake: %s: no such user %q", where, u)
			}
		}
	case "plain_text_input":
		n := utf8.RuneCountInString(v.Text)
		if maxLen, ok := in.elem["max_length"].(float64); ok && n > int(maxLen) {
			return fmt.Errorf("slackfake: %s: %d characters, max_length is %d", where, n, int(maxLen))
		}
		if minLen, ok := in.elem["min_length"].(float64); ok && n > 0 && n < int(minLen) {
			return fmt.Errorf("slackfake: %s: %d characters, min_length is %d", where, n, int(minLen))
		}
	case "datepicker":
		if v.Date != "" && !isoDate.MatchString(v.Date) {
			return fmt.Errorf("slackfake: %s: date %q is not YYYY-MM-DD", where, v.Date)
		}
	}
	return nil
}
