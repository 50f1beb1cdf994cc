package slackfake

import (
	"fmt"
	"strings"
	"testing"
)

func btn(actionID string) map[string]any {
	return map[string]any{"type": "button", "action_id": actionID, "text": ptext("Go")}
}

func actionsOf(els ...any) map[string]any {
	return map[string]any{"type": "actions", "elements": append([]any{}, els...)}
}

func accessory(el any) map[string]any {
	return map[string]any{"type": "section", "text": mtext("x"), "accessory": el}
}

func opt(text, value string) map[string]any {
	return map[string]any{"text": ptext(text), "value": value}
}

func staticSel(actionID string, opts ...any) map[string]any {
	return map[string]any{"type": "static_select", "action_id": actionID, "options": opts}
}

func inputOf(blockID string, el any) map[string]any {
	return map[string]any{"type": "input", "block_id": blockID, "label": ptext("Label"), "element": el}
}

// submitModal is a modal whose submit button lets it carry input blocks.
func submitModal(blocks ...any) map[string]any {
	return modal(blocks, func(v map[string]any) { v["submit"] = ptext("Save") })
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func confirmObj(kv ...any) map[string]any {
	return with(map[string]any{"title": ptext("Sure?"), "text": ptext("Really"), "confirm": ptext("Yes"), "deny": ptext("No")}, kv...)
}

// sendTo posts content to a surface: blocks for "message", a view for
// "modal" (views.open) and "home" (views.publish).
func sendTo(t *testing.T, f *Fake, where string, content any) map[string]any {
	t.Helper()
	var resp map[string]any
	switch where {
	case "message":
		_, resp = callJSON(t, f, "chat.postMessage", f.BotToken(), map[string]any{"channel": "C1", "text": "t", "blocks": content})
	case "modal":
		f.mu.Lock()
		trig := f.newTriggerLocked("U1", "")
		f.mu.Unlock()
		_, resp = callJSON(t, f, "views.open", f.BotToken(), map[string]any{"trigger_id": trig, "view": content})
	case "home":
		_, resp = callJSON(t, f, "views.publish", f.BotToken(), map[string]any{"user_id": "U1", "view": content})
	default:
		t.Fatalf("unknown surface %q", where)
	}
	return resp
}

// TestBlockKitRules holds, for each rule of Slack's Block Kit reference the
// fake enforces, content that keeps the rule and is accepted, and content
// that breaks it and is refused with Slack's error naming the json-pointer
// of the offending field. doc.go lists the rules by subtest name.
func TestBlockKitRules(t *testing.T) {
	long := func(n int) string { return strings.Repeat("é", n) }
	many := func(n int, fn func(i int) any) []any { return repeat(n, fn) }
	optN := func(i int) any { return opt("t", fmt.Sprintf("v%d", i)) }
	cases := []struct {
		name    string
		where   string // message, modal or home
		valid   any
		invalid any
		pointer string
		reason  string
	}{
		// Uniqueness.
		{"action_id unique within its block", "message",
			[]any{actionsOf(btn("a")), actionsOf(btn("a"))},
			[]any{actionsOf(btn("a"), btn("a"))},
			"/blocks/0/elements/1/action_id", "duplicate action_id: a"},
		{"action_id unique within a home tab block", "home",
			map[string]any{"type": "home", "blocks": []any{actionsOf(btn("a"), btn("b"))}},
			map[string]any{"type": "home", "blocks": []any{actionsOf(btn("a"), btn("a"))}},
			"/view/blocks/0/elements/1/action_id", "duplicate action_id: a"},
		{"block_id unique within a message", "message",
			[]any{with(section("x"), "block_id", "b1"), with(section("y"), "block_id", "b2")},
			[]any{with(section("x"), "block_id", "b1"), with(section("y"), "block_id", "b1")},
			"/blocks/1/block_id", "duplicate block_id: b1"},
		{"block_id unique within a view", "modal",
			submitModal(input("b1"), input("b2")), submitModal(input("b1"), input("b1")),
			"/view/blocks/1/block_id", "duplicate block_id: b1"},

		// Shapes: what Slack's schema expects before any Block Kit rule.
		{"blocks is an array", "message",
			[]any{section("x")}, map[string]any{"type": "section"},
			"/blocks", "must be an array"},
		{"block is an object", "message",
			[]any{section("x")}, []any{"section"},
			"/blocks/0", "must be an object"},
		{"unknown block type is named", "message",
			[]any{section("x")}, []any{map[string]any{"type": "carousel"}},
			"/blocks/0/type", "unsupported type: carousel"},
		{"elements is an array", "message",
			[]any{actionsOf(btn("a"))}, []any{map[string]any{"type": "actions", "elements": "a"}},
			"/blocks/0/elements", "must be an array"},
		{"element is an object", "message",
			[]any{actionsOf(btn("a"))}, []any{actionsOf("a")},
			"/blocks/0/elements/0", "must be an object"},
		{"unknown element type is named", "message",
			[]any{actionsOf(btn("a"))}, []any{actionsOf(map[string]any{"type": "laser", "action_id": "a"})},
			"/blocks/0/elements/0/type", "unsupported type: laser"},
		{"misplaced element fails the schema", "message",
			[]any{actionsOf(btn("a"))}, []any{actionsOf(map[string]any{"type": "plain_text_input", "action_id": "i"})},
			"/blocks/0/elements/0", "failed to match all allowed schemas"},
		{"option is an object", "message",
			[]any{actionsOf(staticSel("s", optN(0)))}, []any{actionsOf(staticSel("s", "v"))},
			"/blocks/0/elements/0/options/0", "must be an object"},
		{"option group is an object", "message",
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": []any{map[string]any{"label": ptext("g"), "options": []any{optN(0)}}}})},
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": []any{"g"}})},
			"/blocks/0/elements/0/option_groups/0", "must be an object"},
		{"confirm is an object", "message",
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj()))}, []any{actionsOf(with(btn("a"), "confirm", "sure?"))},
			"/blocks/0/elements/0/confirm", "must be an object"},
		{"text object is an object", "message",
			[]any{section("x")}, []any{map[string]any{"type": "section", "text": "x"}},
			"/blocks/0/text", "must be an object"},
		{"text object needs text", "message",
			[]any{section("x")}, []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn"}}},
			"/blocks/0/text", "missing required field: text"},
		{"view is an object", "modal",
			modal([]any{section("x")}, nil), []any{section("x")},
			"/view", "must be an object"},
		{"view type matches the method", "home",
			map[string]any{"type": "home", "blocks": []any{section("x")}}, modal([]any{section("x")}, nil),
			"/view/type", "must be home"},

		// Lengths.
		{"button text at most 75", "message",
			[]any{actionsOf(with(btn("a"), "text", ptext(long(75))))}, []any{actionsOf(with(btn("a"), "text", ptext(long(76))))},
			"/blocks/0/elements/0/text/text", "must be less than 76 characters"},
		{"button value at most 2000", "message",
			[]any{actionsOf(with(btn("a"), "value", long(2000)))}, []any{actionsOf(with(btn("a"), "value", long(2001)))},
			"/blocks/0/elements/0/value", "must be less than 2001 characters"},
		{"button url at most 3000", "message",
			[]any{actionsOf(with(btn("a"), "url", long(3000)))}, []any{actionsOf(with(btn("a"), "url", long(3001)))},
			"/blocks/0/elements/0/url", "must be less than 3001 characters"},
		{"button accessibility_label at most 75", "message",
			[]any{actionsOf(with(btn("a"), "accessibility_label", long(75)))}, []any{actionsOf(with(btn("a"), "accessibility_label", long(76)))},
			"/blocks/0/elements/0/accessibility_label", "must be less than 76 characters"},
		{"placeholder at most 150", "message",
			[]any{actionsOf(with(staticSel("s", optN(0)), "placeholder", ptext(long(150))))},
			[]any{actionsOf(with(staticSel("s", optN(0)), "placeholder", ptext(long(151))))},
			"/blocks/0/elements/0/placeholder/text", "must be less than 151 characters"},
		{"input label at most 2000", "modal",
			submitModal(with(input("b"), "label", ptext(long(2000)))), submitModal(with(input("b"), "label", ptext(long(2001)))),
			"/view/blocks/0/label/text", "must be less than 2001 characters"},
		{"input hint at most 2000", "modal",
			submitModal(with(input("b"), "hint", ptext(long(2000)))), submitModal(with(input("b"), "hint", ptext(long(2001)))),
			"/view/blocks/0/hint/text", "must be less than 2001 characters"},
		{"image block alt_text at most 2000", "message",
			[]any{map[string]any{"type": "image", "image_url": "https://x/y.png", "alt_text": long(2000)}},
			[]any{map[string]any{"type": "image", "image_url": "https://x/y.png", "alt_text": long(2001)}},
			"/blocks/0/alt_text", "must be less than 2001 characters"},
		{"image block image_url at most 3000", "message",
			[]any{map[string]any{"type": "image", "image_url": long(3000), "alt_text": "a"}},
			[]any{map[string]any{"type": "image", "image_url": long(3001), "alt_text": "a"}},
			"/blocks/0/image_url", "must be less than 3001 characters"},
		{"image block title at most 2000", "message",
			[]any{map[string]any{"type": "image", "image_url": "u", "alt_text": "a", "title": ptext(long(2000))}},
			[]any{map[string]any{"type": "image", "image_url": "u", "alt_text": "a", "title": ptext(long(2001))}},
			"/blocks/0/title/text", "must be less than 2001 characters"},
		{"text object at most 3000", "message",
			[]any{map[string]any{"type": "context", "elements": []any{mtext(long(3000))}}},
			[]any{map[string]any{"type": "context", "elements": []any{mtext(long(3001))}}},
			"/blocks/0/elements/0/text", "must be less than 3001 characters"},
		{"text object at least 1", "message",
			[]any{section("x")}, []any{section("")},
			"/blocks/0/text/text", "must be more than 0 characters"},
		{"option description at most 75", "message",
			[]any{actionsOf(staticSel("s", with(opt("t", "v"), "description", ptext(long(75)))))},
			[]any{actionsOf(staticSel("s", with(opt("t", "v"), "description", ptext(long(76)))))},
			"/blocks/0/elements/0/options/0/description/text", "must be less than 76 characters"},
		{"option url at most 3000", "message",
			[]any{actionsOf(map[string]any{"type": "overflow", "action_id": "o", "options": []any{with(opt("t", "v"), "url", long(3000))}})},
			[]any{actionsOf(map[string]any{"type": "overflow", "action_id": "o", "options": []any{with(opt("t", "v"), "url", long(3001))}})},
			"/blocks/0/elements/0/options/0/url", "must be less than 3001 characters"},
		{"option group label at most 75", "message",
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": []any{map[string]any{"label": ptext(long(75)), "options": []any{optN(0)}}}})},
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": []any{map[string]any{"label": ptext(long(76)), "options": []any{optN(0)}}}})},
			"/blocks/0/elements/0/option_groups/0/label/text", "must be less than 76 characters"},
		{"confirm title at most 100", "message",
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("title", ptext(long(100)))))},
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("title", ptext(long(101)))))},
			"/blocks/0/elements/0/confirm/title/text", "must be less than 101 characters"},
		{"confirm text at most 300", "message",
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("text", mtext(long(300)))))},
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("text", mtext(long(301)))))},
			"/blocks/0/elements/0/confirm/text/text", "must be less than 301 characters"},
		{"confirm button text at most 30", "message",
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("confirm", ptext(long(30)))))},
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("confirm", ptext(long(31)))))},
			"/blocks/0/elements/0/confirm/confirm/text", "must be less than 31 characters"},
		{"confirm deny text at most 30", "message",
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("deny", ptext(long(30)))))},
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("deny", ptext(long(31)))))},
			"/blocks/0/elements/0/confirm/deny/text", "must be less than 31 characters"},
		{"external_id at most 255", "modal",
			modal([]any{section("x")}, func(v map[string]any) { v["external_id"] = long(255) }),
			modal([]any{section("x")}, func(v map[string]any) { v["external_id"] = long(256) }),
			"/view/external_id", "must be less than 256 characters"},
		{"plain_text_input max_length between 1 and 3000", "modal",
			submitModal(inputOf("b", map[string]any{"type": "plain_text_input", "action_id": "i", "max_length": 3000})),
			submitModal(inputOf("b", map[string]any{"type": "plain_text_input", "action_id": "i", "max_length": 3001})),
			"/view/blocks/0/element/max_length", "must be an integer between 1 and 3000"},
		{"plain_text_input max_length not 0", "modal",
			submitModal(inputOf("b", map[string]any{"type": "plain_text_input", "action_id": "i", "max_length": 1})),
			submitModal(inputOf("b", map[string]any{"type": "plain_text_input", "action_id": "i", "max_length": 0})),
			"/view/blocks/0/element/max_length", "must be an integer between 1 and 3000"},
		{"plain_text_input min_length between 0 and 3000", "modal",
			submitModal(inputOf("b", map[string]any{"type": "plain_text_input", "action_id": "i", "min_length": 0})),
			submitModal(inputOf("b", map[string]any{"type": "plain_text_input", "action_id": "i", "min_length": 3001})),
			"/view/blocks/0/element/min_length", "must be an integer between 0 and 3000"},

		// Counts.
		{"section fields at most 10", "message",
			[]any{map[string]any{"type": "section", "fields": many(10, func(int) any { return mtext("f") })}},
			[]any{map[string]any{"type": "section", "fields": many(11, func(int) any { return mtext("f") })}},
			"/blocks/0/fields", "must be no more than 10 items"},
		{"context elements at most 10", "message",
			[]any{map[string]any{"type": "context", "elements": many(10, func(int) any { return mtext("c") })}},
			[]any{map[string]any{"type": "context", "elements": many(11, func(int) any { return mtext("c") })}},
			"/blocks/0/elements", "must be no more than 10 items"},
		{"context elements at least 1", "message",
			[]any{map[string]any{"type": "context", "elements": []any{mtext("c")}}},
			[]any{map[string]any{"type": "context", "elements": []any{}}},
			"/blocks/0/elements", "must provide at least 1 items"},
		{"actions elements at most 25", "message",
			[]any{actionsOf(many(25, func(i int) any { return btn(fmt.Sprint(i)) })...)},
			[]any{actionsOf(many(26, func(i int) any { return btn(fmt.Sprint(i)) })...)},
			"/blocks/0/elements", "must be no more than 25 items"},
		{"actions elements at least 1", "message",
			[]any{actionsOf(btn("a"))}, []any{actionsOf()},
			"/blocks/0/elements", "must provide at least 1 items"},
		{"option groups at most 100", "message",
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": many(100, func(i int) any {
				return map[string]any{"label": ptext("g"), "options": []any{optN(i)}}
			})})},
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": many(101, func(i int) any {
				return map[string]any{"label": ptext("g"), "options": []any{optN(i)}}
			})})},
			"/blocks/0/elements/0/option_groups", "must be no more than 100 items"},
		{"options per option group at most 100", "message",
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": []any{map[string]any{"label": ptext("g"), "options": many(100, optN)}}})},
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": []any{map[string]any{"label": ptext("g"), "options": many(101, optN)}}})},
			"/blocks/0/elements/0/option_groups/0/options", "must be no more than 100 items"},
		{"overflow options at most 5", "message",
			[]any{actionsOf(map[string]any{"type": "overflow", "action_id": "o", "options": many(5, optN)})},
			[]any{actionsOf(map[string]any{"type": "overflow", "action_id": "o", "options": many(6, optN)})},
			"/blocks/0/elements/0/options", "must be no more than 5 items"},
		{"checkboxes options at most 10", "message",
			[]any{actionsOf(map[string]any{"type": "checkboxes", "action_id": "c", "options": many(10, optN)})},
			[]any{actionsOf(map[string]any{"type": "checkboxes", "action_id": "c", "options": many(11, optN)})},
			"/blocks/0/elements/0/options", "must be no more than 10 items"},
		{"radio_buttons options at most 10", "message",
			[]any{actionsOf(map[string]any{"type": "radio_buttons", "action_id": "r", "options": many(10, optN)})},
			[]any{actionsOf(map[string]any{"type": "radio_buttons", "action_id": "r", "options": many(11, optN)})},
			"/blocks/0/elements/0/options", "must be no more than 10 items"},

		// Required fields.
		{"section needs text or fields", "message",
			[]any{map[string]any{"type": "section", "fields": []any{mtext("f")}}},
			[]any{map[string]any{"type": "section"}},
			"/blocks/0", "must provide either text or fields"},
		{"header needs text", "message",
			[]any{map[string]any{"type": "header", "text": ptext("H")}},
			[]any{map[string]any{"type": "header"}},
			"/blocks/0", "missing required field: text"},
		{"button needs text", "message",
			[]any{actionsOf(btn("a"))}, []any{actionsOf(with(btn("a"), "text", nil))},
			"/blocks/0/elements/0", "missing required field: text"},
		{"input needs a label", "modal",
			submitModal(input("b")), submitModal(with(input("b"), "label", nil)),
			"/view/blocks/0", "missing required field: label"},
		{"input needs an element", "modal",
			submitModal(input("b")), submitModal(with(input("b"), "element", nil)),
			"/view/blocks/0", "missing required field: element"},
		{"image block needs image_url or slack_file", "message",
			[]any{map[string]any{"type": "image", "slack_file": map[string]any{"id": "F1"}, "alt_text": "a"}},
			[]any{map[string]any{"type": "image", "alt_text": "a"}},
			"/blocks/0", "missing required field: image_url"},
		{"image block needs alt_text", "message",
			[]any{map[string]any{"type": "image", "image_url": "u", "alt_text": "a"}},
			[]any{map[string]any{"type": "image", "image_url": "u"}},
			"/blocks/0", "missing required field: alt_text"},
		{"image element needs alt_text", "message",
			[]any{map[string]any{"type": "context", "elements": []any{map[string]any{"type": "image", "image_url": "u", "alt_text": "a"}}}},
			[]any{map[string]any{"type": "context", "elements": []any{map[string]any{"type": "image", "image_url": "u"}}}},
			"/blocks/0/elements/0", "missing required field: alt_text"},
		{"image element image_url at most 3000", "message",
			[]any{accessory(map[string]any{"type": "image", "image_url": long(3000), "alt_text": "a"})},
			[]any{accessory(map[string]any{"type": "image", "image_url": long(3001), "alt_text": "a"})},
			"/blocks/0/accessory/image_url", "must be less than 3001 characters"},
		{"image element needs image_url or slack_file", "message",
			[]any{accessory(map[string]any{"type": "image", "image_url": "u", "alt_text": "a"})},
			[]any{accessory(map[string]any{"type": "image", "alt_text": "a"})},
			"/blocks/0/accessory", "missing required field: image_url"},
		{"option needs text", "message",
			[]any{actionsOf(staticSel("s", opt("t", "v")))}, []any{actionsOf(staticSel("s", map[string]any{"value": "v"}))},
			"/blocks/0/elements/0/options/0", "missing required field: text"},
		{"option needs a value", "message",
			[]any{actionsOf(staticSel("s", opt("t", "v")))}, []any{actionsOf(staticSel("s", map[string]any{"text": ptext("t")}))},
			"/blocks/0/elements/0/options/0", "missing required field: value"},
		{"static_select needs options or option_groups", "message",
			[]any{actionsOf(staticSel("s", optN(0)))}, []any{actionsOf(map[string]any{"type": "static_select", "action_id": "s"})},
			"/blocks/0/elements/0", "must provide either options or option_groups"},
		{"static_select takes options or option_groups, not both", "message",
			[]any{actionsOf(staticSel("s", optN(0)))},
			[]any{actionsOf(with(staticSel("s", optN(0)), "option_groups", []any{map[string]any{"label": ptext("g"), "options": []any{optN(1)}}}))},
			"/blocks/0/elements/0", "must provide only one of options or option_groups"},
		{"option group needs a label", "message",
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": []any{map[string]any{"label": ptext("g"), "options": []any{optN(0)}}}})},
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "option_groups": []any{map[string]any{"options": []any{optN(0)}}}})},
			"/blocks/0/elements/0/option_groups/0", "missing required field: label"},
		{"overflow needs options", "message",
			[]any{actionsOf(map[string]any{"type": "overflow", "action_id": "o", "options": many(1, optN)})},
			[]any{actionsOf(map[string]any{"type": "overflow", "action_id": "o"})},
			"/blocks/0/elements/0", "missing required field: options"},
		{"checkboxes need options", "message",
			[]any{actionsOf(map[string]any{"type": "checkboxes", "action_id": "c", "options": many(1, optN)})},
			[]any{actionsOf(map[string]any{"type": "checkboxes", "action_id": "c", "options": []any{}})},
			"/blocks/0/elements/0/options", "must provide at least 1 items"},
		{"confirm needs title, text, confirm and deny", "message",
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj()))},
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("deny", nil)))},
			"/blocks/0/elements/0/confirm", "missing required field: deny"},
		{"modal needs a title", "modal",
			modal([]any{section("x")}, nil), modal([]any{section("x")}, func(v map[string]any) { delete(v, "title") }),
			"/view", "missing required field: title"},
		{"view needs blocks", "home",
			map[string]any{"type": "home", "blocks": []any{section("x")}}, map[string]any{"type": "home"},
			"/view", "missing required field: blocks"},

		// Which element goes in which block, and which block on which surface.
		{"actions block elements", "message",
			[]any{actionsOf(btn("a"))},
			[]any{actionsOf(map[string]any{"type": "plain_text_input", "action_id": "i"})},
			"/blocks/0/elements/0/type", "plain_text_input is not allowed in actions blocks"},
		{"section accessory elements", "message",
			[]any{accessory(btn("a"))},
			[]any{accessory(map[string]any{"type": "plain_text_input", "action_id": "i"})},
			"/blocks/0/accessory/type", "plain_text_input is not allowed in section blocks"},
		{"input block elements", "modal",
			submitModal(input("b")), submitModal(inputOf("b", btn("a"))),
			"/view/blocks/0/element/type", "button is not allowed in input blocks"},
		{"context block elements", "message",
			[]any{map[string]any{"type": "context", "elements": []any{map[string]any{"type": "image", "image_url": "u", "alt_text": "a"}}}},
			[]any{map[string]any{"type": "context", "elements": []any{btn("a")}}},
			"/blocks/0/elements/0/type", "button is not allowed in context blocks"},
		{"file block in messages only", "modal",
			modal([]any{section("x")}, nil),
			modal([]any{map[string]any{"type": "file", "external_id": "e", "source": "remote"}}, nil),
			"/view/blocks/0/type", "file is not available in modals"},
		{"email_text_input in modals only", "message",
			[]any{inputOf("b", map[string]any{"type": "plain_text_input", "action_id": "i"})},
			[]any{inputOf("b", map[string]any{"type": "email_text_input", "action_id": "i"})},
			"/blocks/0/element/type", "email_text_input is not available in messages"},
		{"workflow_button in messages only", "home",
			map[string]any{"type": "home", "blocks": []any{actionsOf(btn("a"))}},
			map[string]any{"type": "home", "blocks": []any{actionsOf(map[string]any{"type": "workflow_button", "text": ptext("Run")})}},
			"/view/blocks/0/elements/0/type", "workflow_button is not available in home tabs"},

		// Values.
		{"button style primary or danger", "message",
			[]any{actionsOf(with(btn("a"), "style", "danger"))}, []any{actionsOf(with(btn("a"), "style", "secondary"))},
			"/blocks/0/elements/0/style", "must be one of primary, danger"},
		{"confirm style primary or danger", "message",
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("style", "primary")))},
			[]any{actionsOf(with(btn("a"), "confirm", confirmObj("style", "green")))},
			"/blocks/0/elements/0/confirm/style", "must be one of primary, danger"},
		{"header text plain_text only", "message",
			[]any{map[string]any{"type": "header", "text": ptext("H")}}, []any{map[string]any{"type": "header", "text": mtext("H")}},
			"/blocks/0/text/type", "must be plain_text"},
		{"button text plain_text only", "message",
			[]any{actionsOf(btn("a"))}, []any{actionsOf(with(btn("a"), "text", mtext("Go")))},
			"/blocks/0/elements/0/text/type", "must be plain_text"},
		{"input label plain_text only", "modal",
			submitModal(input("b")), submitModal(with(input("b"), "label", mtext("L"))),
			"/view/blocks/0/label/type", "must be plain_text"},
		{"placeholder plain_text only", "message",
			[]any{actionsOf(with(staticSel("s", optN(0)), "placeholder", ptext("P")))},
			[]any{actionsOf(with(staticSel("s", optN(0)), "placeholder", mtext("P")))},
			"/blocks/0/elements/0/placeholder/type", "must be plain_text"},
		{"select option text plain_text only", "message",
			[]any{actionsOf(map[string]any{"type": "checkboxes", "action_id": "c", "options": []any{map[string]any{"text": mtext("*t*"), "value": "v"}}})},
			[]any{actionsOf(staticSel("s", map[string]any{"text": mtext("*t*"), "value": "v"}))},
			"/blocks/0/elements/0/options/0/text/type", "must be plain_text"},
		{"modal title plain_text only", "modal",
			modal([]any{section("x")}, nil), modal([]any{section("x")}, func(v map[string]any) { v["title"] = mtext("T") }),
			"/view/title/type", "must be plain_text"},
		{"text type plain_text or mrkdwn", "message",
			[]any{section("x")}, []any{map[string]any{"type": "section", "text": map[string]any{"type": "markdown", "text": "x"}}},
			"/blocks/0/text/type", "must be one of plain_text, mrkdwn"},
		{"emoji only on plain_text", "message",
			[]any{map[string]any{"type": "section", "text": with(ptext("x"), "emoji", true)}},
			[]any{map[string]any{"type": "section", "text": with(mtext("x"), "emoji", true)}},
			"/blocks/0/text/emoji", "emoji is only usable when type is plain_text"},
		{"verbatim only on mrkdwn", "message",
			[]any{map[string]any{"type": "section", "text": with(mtext("x"), "verbatim", true)}},
			[]any{map[string]any{"type": "section", "text": with(ptext("x"), "verbatim", true)}},
			"/blocks/0/text/verbatim", "verbatim is only usable when type is mrkdwn"},
		{"initial_option is one of the options", "modal",
			submitModal(inputOf("b", with(staticSel("s", opt("A", "a"), opt("B", "b")), "initial_option", opt("B", "b")))),
			submitModal(inputOf("b", with(staticSel("s", opt("A", "a"), opt("B", "b")), "initial_option", opt("C", "c")))),
			"/view/blocks/0/element/initial_option", "must match one of the options"},
		{"initial_option in option_groups", "message",
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "initial_option": opt("B", "b"),
				"option_groups": []any{map[string]any{"label": ptext("g"), "options": []any{opt("A", "a"), opt("B", "b")}}}})},
			[]any{actionsOf(map[string]any{"type": "static_select", "action_id": "s", "initial_option": opt("B", "x"),
				"option_groups": []any{map[string]any{"label": ptext("g"), "options": []any{opt("A", "a"), opt("B", "b")}}}})},
			"/blocks/0/elements/0/initial_option", "must match one of the options"},
		{"radio_buttons initial_option is one of the options", "message",
			[]any{actionsOf(map[string]any{"type": "radio_buttons", "action_id": "r", "options": []any{opt("A", "a")}, "initial_option": opt("A", "a")})},
			[]any{actionsOf(map[string]any{"type": "radio_buttons", "action_id": "r", "options": []any{opt("A", "a")}, "initial_option": opt("Z", "a")})},
			"/blocks/0/elements/0/initial_option", "must match one of the options"},
		{"checkboxes initial_options are among the options", "message",
			[]any{actionsOf(map[string]any{"type": "checkboxes", "action_id": "c", "options": []any{opt("A", "a"), opt("B", "b")}, "initial_options": []any{opt("B", "b")}})},
			[]any{actionsOf(map[string]any{"type": "checkboxes", "action_id": "c", "options": []any{opt("A", "a"), opt("B", "b")}, "initial_options": []any{opt("A", "a"), opt("C", "c")}})},
			"/blocks/0/elements/0/initial_options/1", "must match one of the options"},
		{"option values unique within an element", "message",
			[]any{actionsOf(staticSel("s", opt("A", "a"), opt("B", "b")))},
			[]any{actionsOf(staticSel("s", opt("A", "a"), opt("B", "a")))},
			"/blocks/0/elements/0/options/1/value", "duplicate option value: a"},
		{"option url only in overflow menus", "message",
			[]any{actionsOf(map[string]any{"type": "overflow", "action_id": "o", "options": []any{with(opt("t", "v"), "url", "https://x")}})},
			[]any{actionsOf(staticSel("s", with(opt("t", "v"), "url", "")))},
			"/blocks/0/elements/0/options/0/url", "url is only available in overflow menus"},
		{"datepicker initial_date YYYY-MM-DD", "message",
			[]any{actionsOf(map[string]any{"type": "datepicker", "action_id": "d", "initial_date": "2024-02-29"})},
			[]any{actionsOf(map[string]any{"type": "datepicker", "action_id": "d", "initial_date": "29/02/2024"})},
			"/blocks/0/elements/0/initial_date", "must match format YYYY-MM-DD"},
		{"timepicker initial_time HH:mm", "message",
			[]any{actionsOf(map[string]any{"type": "timepicker", "action_id": "t", "initial_time": "23:59"})},
			[]any{actionsOf(map[string]any{"type": "timepicker", "action_id": "t", "initial_time": "24:00"})},
			"/blocks/0/elements/0/initial_time", "must match format HH:mm"},
		{"multi-select max_selected_items at least 1", "modal",
			submitModal(inputOf("b", map[string]any{"type": "multi_users_select", "action_id": "m", "max_selected_items": 1})),
			submitModal(inputOf("b", map[string]any{"type": "multi_users_select", "action_id": "m", "max_selected_items": 0})),
			"/view/blocks/0/element/max_selected_items", "must be at least 1"},
		{"one focus_on_load per view", "modal",
			submitModal(inputOf("b1", map[string]any{"type": "plain_text_input", "action_id": "i", "focus_on_load": true}),
				inputOf("b2", map[string]any{"type": "plain_text_input", "action_id": "i"})),
			submitModal(inputOf("b1", map[string]any{"type": "plain_text_input", "action_id": "i", "focus_on_load": true}),
				inputOf("b2", map[string]any{"type": "plain_text_input", "action_id": "i", "focus_on_load": true})),
			"/view/blocks/1/element/focus_on_load", "only one element in a view may set focus_on_load"},
		{"no dispatch_action with file_input", "modal",
			submitModal(inputOf("b", map[string]any{"type": "file_input", "action_id": "f"})),
			submitModal(with(inputOf("b", map[string]any{"type": "file_input", "action_id": "f"}), "dispatch_action", true)),
			"/view/blocks/0/element/type", "unsupported type: file_input with dispatch_action"},
	}
	f := startFake(t, fastOptions(t))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if resp := sendTo(t, f, tc.where, tc.valid); resp["ok"] != true {
				t.Fatalf("valid content refused: %v", resp)
			}
			resp := sendTo(t, f, tc.where, tc.invalid)
			code := "invalid_blocks"
			if tc.where != "message" {
				code = "invalid_arguments"
			}
			if resp["ok"] != false || resp["error"] != code {
				t.Fatalf("invalid content: got %v, want %s", resp, code)
			}
			want := "[json-pointer:" + tc.pointer + "]"
			found := false
			meta, _ := resp["response_metadata"].(map[string]any)
			msgs, _ := meta["messages"].([]any)
			for _, m := range msgs {
				s, _ := m.(string)
				found = found || strings.HasPrefix(s, "[ERROR] ") && strings.Contains(s, tc.reason) && strings.HasSuffix(s, want)
			}
			if !found {
				t.Fatalf("no message %q ending %q in %v", tc.reason, want, msgs)
			}
			if code == "invalid_blocks" && !strings.Contains(fmt.Sprint(resp["errors"]), tc.reason+" "+want) {
				t.Fatalf("errors %v lack %q", resp["errors"], tc.reason+" "+want)
			}
		})
	}
}

// TestInputBlocksInMessages: Slack's blocks reference lists input blocks as
// available in messages and Home tabs as well as modals.
func TestInputBlocksInMessages(t *testing.T) {
	f := startFake(t, fastOptions(t))
	if resp := sendTo(t, f, "message", []any{input("b")}); resp["ok"] != true {
		t.Fatalf("input block in a message refused: %v", resp)
	}
	if resp := sendTo(t, f, "home", map[string]any{"type": "home", "blocks": []any{input("b")}}); resp["ok"] != true {
		t.Fatalf("input block in a home tab refused: %v", resp)
	}
}
