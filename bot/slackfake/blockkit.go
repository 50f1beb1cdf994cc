package slackfake

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"unicode/utf8"
)

// The Block Kit limits Slack enforces, from Slack's reference pages.
const (
	maxBlocksMessage   = 50
	maxBlocksView      = 100
	maxHeaderText      = 150
	maxSectionText     = 3000
	maxSectionField    = 2000
	maxSectionFields   = 10
	maxViewTextField   = 24 // modal title, submit, close
	maxOptionText      = 75
	maxOptionValue     = 150
	maxOptions         = 100
	maxID              = 255 // block_id, action_id, callback_id, external_id
	maxPrivateMetadata = 3000
	maxButtonText      = 75
	maxButtonValue     = 2000
	maxURL             = 3000
	maxPlaceholder     = 150
	maxInputLength     = 3000
	maxLabel           = 2000
	maxContextElements = 10
	maxActionElements  = 25
	maxViewBytes       = 250 << 10
)

type surface int

const (
	surfaceMessage surface = iota
	surfaceModal
	surfaceHome
)

var knownBlocks = map[string]bool{
	"section": true, "divider": true, "image": true, "actions": true, "context": true, "input": true,
	"header": true, "file": true, "rich_text": true, "video": true, "markdown": true,
}

var knownElements = map[string]bool{
	"button": true, "checkboxes": true, "datepicker": true, "datetimepicker": true, "email_text_input": true,
	"image": true, "multi_static_select": true, "multi_external_select": true, "multi_users_select": true,
	"multi_conversations_select": true, "multi_channels_select": true, "number_input": true, "overflow": true,
	"plain_text_input": true, "radio_buttons": true, "static_select": true, "external_select": true,
	"users_select": true, "conversations_select": true, "channels_select": true, "timepicker": true,
	"url_text_input": true, "rich_text_input": true, "file_input": true, "workflow_button": true,
}

// checker collects Slack-style error strings: "<reason> [json-pointer:<path>]".
type checker struct {
	surface  surface
	errs     []string
	blockIDs map[string]bool
}

func (c *checker) add(ptr, format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...)+" [json-pointer:"+ptr+"]")
}

func (c *checker) maxLen(ptr, s string, limit int) {
	if utf8.RuneCountInString(s) > limit {
		c.add(ptr, "must be less than %d characters", limit+1)
	}
}

// validateBlocks checks a blocks array for a surface; ptr is the JSON pointer
// of the array in the request ("/blocks" or "/view/blocks").
func validateBlocks(raw json.RawMessage, s surface, ptr string) []string {
	c := &checker{surface: s, blockIDs: map[string]bool{}}
	var blocks []any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		c.add(ptr, "must be an array")
		return c.errs
	}
	limit := maxBlocksMessage
	if s != surfaceMessage {
		limit = maxBlocksView
	}
	if len(blocks) > limit {
		c.add(ptr, "must be no more than %d items", limit)
	}
	for i, b := range blocks {
		c.block(ptr+"/"+strconv.Itoa(i), b)
	}
	return c.errs
}

func (c *checker) block(ptr string, v any) {
	b, ok := v.(map[string]any)
	if !ok {
		c.add(ptr, "must be an object")
		return
	}
	typ, _ := b["type"].(string)
	if !knownBlocks[typ] {
		c.add(ptr, "failed to match all allowed schemas")
		c.add(ptr+"/type", "unsupported type: %s", typ)
		return
	}
	if id, ok := b["block_id"].(string); ok {
		c.maxLen(ptr+"/block_id", id, maxID)
		if c.blockIDs[id] {
			c.add(ptr+"/block_id", "duplicate block_id: %s", id)
		}
		c.blockIDs[id] = true
	}
	switch typ {
	case "section":
		_, hasText := b["text"]
		fields, hasFields := b["fields"].([]any)
		if !hasText && !hasFields {
			c.add(ptr, "must provide either text or fields")
		}
		if hasText {
			c.text(ptr+"/text", b["text"], maxSectionText, false)
		}
		if hasFields {
			if len(fields) > maxSectionFields {
				c.add(ptr+"/fields", "must be no more than %d items", maxSectionFields)
			}
			for i, fl := range fields {
				c.text(ptr+"/fields/"+strconv.Itoa(i), fl, maxSectionField, false)
			}
		}
		if acc, ok := b["accessory"]; ok {
			c.element(ptr+"/accessory", acc)
		}
	case "header":
		c.requireField(ptr, b, "text")
		c.text(ptr+"/text", b["text"], maxHeaderText, true)
	case "context":
		els, _ := b["elements"].([]any)
		if len(els) == 0 {
			c.add(ptr+"/elements", "must provide at least 1 items")
		}
		if len(els) > maxContextElements {
			c.add(ptr+"/elements", "must be no more than %d items", maxContextElements)
		}
		for i, e := range els {
			p := ptr + "/elements/" + strconv.Itoa(i)
			if m, ok := e.(map[string]any); ok && m["type"] == "image" {
				c.element(p, e)
			} else {
				c.text(p, e, maxSectionText, false)
			}
		}
	case "actions":
		els, _ := b["elements"].([]any)
		if len(els) == 0 {
			c.add(ptr+"/elements", "must provide at least 1 items")
		}
		if len(els) > maxActionElements {
			c.add(ptr+"/elements", "must be no more than %d items", maxActionElements)
		}
		for i, e := range els {
			c.element(ptr+"/elements/"+strconv.Itoa(i), e)
		}
	case "input":
		if c.surface == surfaceMessage {
			c.add(ptr+"/type", "unsupported type: input")
			return
		}
		c.requireField(ptr, b, "label")
		c.text(ptr+"/label", b["label"], maxLabel, true)
		if h, ok := b["hint"]; ok {
			c.text(ptr+"/hint", h, maxLabel, true)
		}
		c.requireField(ptr, b, "element")
		if e, ok := b["element"]; ok {
			c.element(ptr+"/element", e)
		}
	case "image":
		if url, ok := b["image_url"].(string); ok {
			c.maxLen(ptr+"/image_url", url, maxURL)
		} else if _, ok := b["slack_file"]; !ok {
			c.add(ptr, "missing required field: image_url")
		}
		if alt, ok := b["alt_text"].(string); ok {
			c.maxLen(ptr+"/alt_text", alt, maxLabel)
		} else {
			c.add(ptr, "missing required field: alt_text")
		}
		if t, ok := b["title"]; ok {
			c.text(ptr+"/title", t, maxLabel, true)
		}
	}
}

func (c *checker) requireField(ptr string, m map[string]any, key string) {
	if _, ok := m[key]; !ok {
		c.add(ptr, "missing required field: %s", key)
	}
}

// text checks a text object; plainOnly refuses mrkdwn where Slack does.
func (c *checker) text(ptr string, v any, limit int, plainOnly bool) {
	if v == nil {
		return
	}
	t, ok := v.(map[string]any)
	if !ok {
		c.add(ptr, "must be an object")
		return
	}
	typ, _ := t["type"].(string)
	switch {
	case typ == "plain_text":
	case typ == "mrkdwn" && !plainOnly:
	case typ == "mrkdwn":
		c.add(ptr+"/type", "must be plain_text")
		return
	default:
		c.add(ptr+"/type", "must be one of plain_text, mrkdwn")
		return
	}
	s, ok := t["text"].(string)
	if !ok {
		c.add(ptr, "missing required field: text")
		return
	}
	if s == "" {
		c.add(ptr+"/text", "must be more than 0 characters")
	}
	c.maxLen(ptr+"/text", s, limit)
}

var isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func (c *checker) element(ptr string, v any) {
	e, ok := v.(map[string]any)
	if !ok {
		c.add(ptr, "must be an object")
		return
	}
	typ, _ := e["type"].(string)
	if !knownElements[typ] {
		c.add(ptr, "failed to match all allowed schemas")
		c.add(ptr+"/type", "unsupported type: %s", typ)
		return
	}
	if id, ok := e["action_id"].(string); ok {
		c.maxLen(ptr+"/action_id", id, maxID)
	}
	if p, ok := e["placeholder"]; ok {
		c.text(ptr+"/placeholder", p, maxPlaceholder, true)
	}
	switch typ {
	case "button":
		c.requireField(ptr, e, "text")
		c.text(ptr+"/text", e["text"], maxButtonText, true)
		if val, ok := e["value"].(string); ok {
			c.maxLen(ptr+"/value", val, maxButtonValue)
		}
		if url, ok := e["url"].(string); ok {
			c.maxLen(ptr+"/url", url, maxURL)
		}
		if st, ok := e["style"].(string); ok && st != "primary" && st != "danger" {
			c.add(ptr+"/style", "must be one of primary, danger")
		}
	case "static_select", "multi_static_select":
		opts, hasOpts := e["options"].([]any)
		groups, hasGroups := e["option_groups"].([]any)
		if !hasOpts && !hasGroups {
			c.add(ptr, "must provide either options or option_groups")
		}
		c.options(ptr+"/options", opts, maxOptions)
		for i, g := range groups {
			if gm, ok := g.(map[string]any); ok {
				gopts, _ := gm["options"].([]any)
				c.options(ptr+"/option_groups/"+strconv.Itoa(i)+"/options", gopts, maxOptions)
			}
		}
		if io, ok := e["initial_option"]; ok {
			c.option(ptr+"/initial_option", io)
		}
	case "overflow":
		opts, _ := e["options"].([]any)
		c.options(ptr+"/options", opts, 5)
	case "radio_buttons", "checkboxes":
		opts, _ := e["options"].([]any)
		c.options(ptr+"/options", opts, 10)
	case "plain_text_input":
		for _, k := range []string{"max_length", "min_length"} {
			if n, ok := e[k].(float64); ok && (n > maxInputLength || n < 0) {
				c.add(ptr+"/"+k, "must be less than %d", maxInputLength+1)
			}
		}
		if iv, ok := e["initial_value"].(string); ok {
			c.maxLen(ptr+"/initial_value", iv, maxInputLength)
		}
	case "datepicker":
		if d, ok := e["initial_date"].(string); ok && !isoDate.MatchString(d) {
			c.add(ptr+"/initial_date", "must match format YYYY-MM-DD")
		}
	case "image":
		c.requireField(ptr, e, "alt_text")
	}
}

func (c *checker) options(ptr string, opts []any, limit int) {
	if len(opts) > limit {
		c.add(ptr, "must be no more than %d items", limit)
	}
	for i, o := range opts {
		c.option(ptr+"/"+strconv.Itoa(i), o)
	}
}

func (c *checker) option(ptr string, v any) {
	o, ok := v.(map[string]any)
	if !ok {
		c.add(ptr, "must be an object")
		return
	}
	c.requireField(ptr, o, "text")
	c.text(ptr+"/text", o["text"], maxOptionText, false)
	if val, ok := o["value"].(string); ok {
		c.maxLen(ptr+"/value", val, maxOptionValue)
	}
	if d, ok := o["description"]; ok {
		c.text(ptr+"/description", d, maxOptionText, false)
	}
}

// validateView checks a view object for views.open/push/update/publish. It
// answers view_too_large for an oversized view, otherwise invalid_arguments
// with Slack's "[ERROR] … [json-pointer:/view/…]" messages.
func validateView(raw json.RawMessage, want surface) *apiError {
	if len(raw) > maxViewBytes {
		return fail("view_too_large")
	}
	c := &checker{surface: want, blockIDs: map[string]bool{}}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		c.add("/view", "must be an object")
		return invalidArguments(c.errs)
	}
	typ, _ := v["type"].(string)
	switch {
	case want == surfaceModal && typ != "modal", want == surfaceHome && typ != "home":
		expected := "modal"
		if want == surfaceHome {
			expected = "home"
		}
		c.add("/view/type", "must be %s", expected)
		return invalidArguments(c.errs)
	}
	if want == surfaceModal {
		if _, ok := v["title"]; !ok {
			c.add("/view", "missing required field: title")
		}
		for _, k := range []string{"title", "submit", "close"} {
			if t, ok := v[k]; ok {
				c.text("/view/"+k, t, maxViewTextField, true)
			}
		}
	}
	if pm, ok := v["private_metadata"].(string); ok {
		c.maxLen("/view/private_metadata", pm, maxPrivateMetadata)
	}
	for _, k := range []string{"callback_id", "external_id"} {
		if s, ok := v[k].(string); ok {
			c.maxLen("/view/"+k, s, maxID)
		}
	}
	blocksRaw, _ := json.Marshal(v["blocks"])
	if v["blocks"] == nil {
		c.add("/view", "missing required field: blocks")
	} else {
		c.errs = append(c.errs, validateBlocks(blocksRaw, want, "/view/blocks")...)
	}
	if want == surfaceModal && v["submit"] == nil && hasInputBlock(v["blocks"]) {
		c.add("/view", "must provide submit when blocks contain an input")
	}
	if len(c.errs) > 0 {
		return invalidArguments(c.errs)
	}
	return nil
}

func hasInputBlock(blocks any) bool {
	list, _ := blocks.([]any)
	for _, b := range list {
		if m, ok := b.(map[string]any); ok && m["type"] == "input" {
			return true
		}
	}
	return false
}

func invalidArguments(errs []string) *apiError {
	e := &apiError{code: "invalid_arguments"}
	for _, s := range errs {
		e.messages = append(e.messages, "[ERROR] "+s)
	}
	return e
}
