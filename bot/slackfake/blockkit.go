package slackfake

import (
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Block Kit as Slack checks it. Every rule here is one Slack's Block Kit
// reference states (https://docs.slack.dev/reference/block-kit/…, page named
// next to the rule); a rule Slack does not document is left out, because a
// fake stricter than Slack fails apps that Slack would serve. doc.go lists
// each rule with the test that covers it.

// The Block Kit limits, from the reference page named on each.
const (
	maxBlocksMessage   = 50   // blocks
	maxBlocksView      = 100  // blocks; views/modal-views
	maxHeaderText      = 150  // blocks/header-block
	maxSectionText     = 3000 // blocks/section-block; also any text object (composition-objects/text-object)
	maxSectionField    = 2000 // blocks/section-block
	maxSectionFields   = 10   // blocks/section-block
	maxViewTextField   = 24   // views/modal-views: title, submit, close
	maxOptionText      = 75   // composition-objects/option-object
	maxOptionValue     = 150  // composition-objects/option-object
	maxOptions         = 100  // block-elements/select-menu-element
	maxOptionGroups    = 100  // composition-objects/option-group-object
	maxGroupLabel      = 75   // composition-objects/option-group-object
	maxID              = 255  // block_id, action_id (every block and element page), callback_id, external_id
	maxPrivateMetadata = 3000 // views/modal-views
	maxButtonText      = 75   // block-elements/button-element; also accessibility_label
	maxButtonValue     = 2000 // block-elements/button-element
	maxURL             = 3000 // button url, image_url, option url
	maxPlaceholder     = 150  // every element with a placeholder
	maxInputLength     = 3000 // block-elements/plain-text-input-element: min_length, max_length
	maxLabel           = 2000 // blocks/input-block label and hint; blocks/image-block alt_text and title
	maxContextElements = 10   // blocks/context-block
	maxActionElements  = 25   // blocks/actions-block
	maxOverflowOptions = 5    // block-elements/overflow-menu-element
	maxChoiceOptions   = 10   // block-elements/checkboxes-element, radio-button-group-element
	maxConfirmTitle    = 100  // composition-objects/confirmation-dialog-object
	maxConfirmText     = 300
	maxConfirmButton   = 30 // confirm and deny
	maxViewBytes       = 250 << 10
)

type surface int

const (
	surfaceMessage surface = iota
	surfaceModal
	surfaceHome
)

func (s surface) String() string {
	return [...]string{"messages", "modals", "home tabs"}[s]
}

// surfaces is a set of surfaces.
type surfaces uint8

const (
	inMessages surfaces = 1 << surfaceMessage
	inModals   surfaces = 1 << surfaceModal
	inHome     surfaces = 1 << surfaceHome
	everywhere          = inMessages | inModals | inHome
)

func (ss surfaces) has(s surface) bool { return ss&(1<<s) != 0 }

// blockSurfaces is the "Available in surfaces" column of Slack's blocks
// reference (https://docs.slack.dev/reference/block-kit/blocks): input
// blocks are allowed in messages too, and only file blocks are limited.
var blockSurfaces = map[string]surfaces{
	"section": everywhere, "divider": everywhere, "image": everywhere, "actions": everywhere,
	"context": everywhere, "input": everywhere, "header": everywhere, "rich_text": everywhere,
	"video": everywhere, "markdown": everywhere, "file": inMessages,
}

// Where an element may sit in its block.
type slot int

const (
	slotSection slot = iota // section accessory
	slotActions
	slotInput
	slotContext
)

func (s slot) String() string {
	return [...]string{"section", "actions", "input", "context"}[s]
}

// elementSpec is one row of the table in Slack's block elements reference
// (https://docs.slack.dev/reference/block-kit/block-elements): "Available in
// surfaces" and "Works with block types". Where two versions of the page
// disagree (multi-selects and rich_text_input in actions blocks,
// datetimepicker in messages) the more permissive one is kept.
type elementSpec struct {
	surfaces surfaces
	slots    []slot
}

var (
	sectionActionsInput = []slot{slotSection, slotActions, slotInput}
	inputOnly           = []slot{slotInput}
)

var elementSpecs = map[string]elementSpec{
	"button":                     {everywhere, []slot{slotSection, slotActions}},
	"checkboxes":                 {everywhere, sectionActionsInput},
	"datepicker":                 {everywhere, sectionActionsInput},
	"datetimepicker":             {inModals | inMessages, []slot{slotActions, slotInput}},
	"email_text_input":           {inModals, inputOnly},
	"file_input":                 {inModals, inputOnly},
	"image":                      {everywhere, []slot{slotSection, slotContext}},
	"multi_static_select":        {everywhere, sectionActionsInput},
	"multi_external_select":      {everywhere, sectionActionsInput},
	"multi_users_select":         {everywhere, sectionActionsInput},
	"multi_conversations_select": {everywhere, sectionActionsInput},
	"multi_channels_select":      {everywhere, sectionActionsInput},
	"number_input":               {inModals, inputOnly},
	"overflow":                   {everywhere, []slot{slotSection, slotActions}},
	"plain_text_input":           {everywhere, inputOnly},
	"radio_buttons":              {everywhere, sectionActionsInput},
	"rich_text_input":            {inModals | inHome, []slot{slotActions, slotInput}},
	"static_select":              {everywhere, sectionActionsInput},
	"external_select":            {everywhere, sectionActionsInput},
	"users_select":               {everywhere, sectionActionsInput},
	"conversations_select":       {everywhere, sectionActionsInput},
	"channels_select":            {everywhere, sectionActionsInput},
	"timepicker":                 {everywhere, sectionActionsInput},
	"url_text_input":             {inModals, inputOnly},
	"workflow_button":            {inMessages, []slot{slotSection, slotActions}},
}

// checker collects Slack-style error strings: "<reason> [json-pointer:<path>]".
type checker struct {
	surface   surface
	errs      []string
	blockIDs  map[string]bool // block_id is unique within one message or view
	actionIDs map[string]bool // action_id is unique within one block
	focused   bool            // an element already asked for focus_on_load
}

func newChecker(s surface) *checker {
	return &checker{surface: s, blockIDs: map[string]bool{}}
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
	c := newChecker(s)
	c.blocks(raw, ptr)
	return c.errs
}

func (c *checker) blocks(raw json.RawMessage, ptr string) {
	var blocks []any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		c.add(ptr, "must be an array")
		return
	}
	// https://docs.slack.dev/reference/block-kit/blocks: "up to 50 blocks in
	// each message, and 100 blocks in modals or Home tabs".
	limit := maxBlocksMessage
	if c.surface != surfaceMessage {
		limit = maxBlocksView
	}
	if len(blocks) > limit {
		c.add(ptr, "must be no more than %d items", limit)
	}
	for i, b := range blocks {
		c.block(ptr+"/"+strconv.Itoa(i), b)
	}
}

func (c *checker) block(ptr string, v any) {
	b, ok := v.(map[string]any)
	if !ok {
		c.add(ptr, "must be an object")
		return
	}
	typ, _ := b["type"].(string)
	where, known := blockSurfaces[typ]
	if !known {
		c.add(ptr, "failed to match all allowed schemas")
		c.add(ptr+"/type", "unsupported type: %s", typ)
		return
	}
	if !where.has(c.surface) {
		c.add(ptr+"/type", "unsupported type: %s is not available in %s", typ, c.surface)
		return
	}
	if id, ok := b["block_id"].(string); ok {
		// Every block page: "Maximum length for this field is 255
		// characters. block_id should be unique for each message or view".
		c.maxLen(ptr+"/block_id", id, maxID)
		if id != "" && c.blockIDs[id] {
			c.add(ptr+"/block_id", "duplicate block_id: %s", id)
		}
		c.blockIDs[id] = true
	}
	c.actionIDs = map[string]bool{}
	switch typ {
	case "section":
		c.section(ptr, b)
	case "header":
		// blocks/header-block: text is required, a plain_text object of at
		// most 150 characters.
		c.requireField(ptr, b, "text")
		c.text(ptr+"/text", b["text"], maxHeaderText, true)
	case "context":
		c.context(ptr, b)
	case "actions":
		// blocks/actions-block: elements is required, at most 25.
		els := c.list(ptr, b, "elements", 1, maxActionElements)
		for i, e := range els {
			c.element(ptr+"/elements/"+strconv.Itoa(i), e, slotActions)
		}
	case "input":
		c.input(ptr, b)
	case "image":
		c.image(ptr, b)
	}
}

// section follows blocks/section-block.
func (c *checker) section(ptr string, b map[string]any) {
	_, hasText := b["text"]
	_, hasFields := b["fields"]
	if !hasText && !hasFields {
		// "This field is not required if a valid array of fields objects is
		// provided instead"; fields is "Required if no text is provided".
		c.add(ptr, "must provide either text or fields")
	}
	if hasText {
		c.text(ptr+"/text", b["text"], maxSectionText, false)
	}
	if hasFields {
		fields := c.list(ptr, b, "fields", 0, maxSectionFields)
		for i, fl := range fields {
			c.text(ptr+"/fields/"+strconv.Itoa(i), fl, maxSectionField, false)
		}
	}
	if acc, ok := b["accessory"]; ok {
		c.element(ptr+"/accessory", acc, slotSection)
	}
}

// context follows blocks/context-block: "An array of image elements and text
// objects. Maximum number of items is 10."
func (c *checker) context(ptr string, b map[string]any) {
	els := c.list(ptr, b, "elements", 1, maxContextElements)
	for i, e := range els {
		p := ptr + "/elements/" + strconv.Itoa(i)
		m, _ := e.(map[string]any)
		switch typ, _ := m["type"].(string); typ {
		case "plain_text", "mrkdwn":
			c.text(p, e, maxSectionText, false)
		default:
			c.element(p, e, slotContext)
		}
	}
}

// input follows blocks/input-block.
func (c *checker) input(ptr string, b map[string]any) {
	// label: "a text object that must have type of plain_text. Maximum
	// length for the text in this field is 2000 characters." Required.
	c.requireField(ptr, b, "label")
	c.text(ptr+"/label", b["label"], maxLabel, true)
	// hint: "It must be a text object with a type of plain_text. Maximum
	// length for the text in this field is 2000 characters."
	if h, ok := b["hint"]; ok {
		c.text(ptr+"/hint", h, maxLabel, true)
	}
	c.requireField(ptr, b, "element")
	e, ok := b["element"]
	if !ok {
		return
	}
	c.element(ptr+"/element", e, slotInput)
	// dispatch_action: "If dispatch_action is set to true and a file_input
	// block element is provided, an unsupported type error will be raised."
	if m, _ := e.(map[string]any); b["dispatch_action"] == true && m["type"] == "file_input" {
		c.add(ptr+"/element/type", "unsupported type: file_input with dispatch_action")
	}
}

// image follows blocks/image-block.
func (c *checker) image(ptr string, b map[string]any) {
	// "You must provide either an image_url or slack_file. Maximum length for
	// this field is 3000 characters."
	if url, ok := b["image_url"].(string); ok {
		c.maxLen(ptr+"/image_url", url, maxURL)
	} else if _, ok := b["slack_file"]; !ok {
		c.add(ptr, "missing required field: image_url")
	}
	// alt_text is required, at most 2000 characters.
	if alt, ok := b["alt_text"].(string); ok {
		c.maxLen(ptr+"/alt_text", alt, maxLabel)
	} else {
		c.add(ptr, "missing required field: alt_text")
	}
	// title: "a text object that can only be of type: plain_text. Maximum
	// length for the text in this field is 2000 characters."
	if t, ok := b["title"]; ok {
		c.text(ptr+"/title", t, maxLabel, true)
	}
}

func (c *checker) requireField(ptr string, m map[string]any, key string) {
	if _, ok := m[key]; !ok {
		c.add(ptr, "missing required field: %s", key)
	}
}

// list reads the array m[key], which must hold between lo and hi items;
// lo > 0 makes the field required.
func (c *checker) list(ptr string, m map[string]any, key string, lo, hi int) []any {
	v, present := m[key]
	if !present {
		if lo > 0 {
			c.add(ptr, "missing required field: %s", key)
		}
		return nil
	}
	items, ok := v.([]any)
	if !ok {
		c.add(ptr+"/"+key, "must be an array")
		return nil
	}
	if len(items) < lo {
		c.add(ptr+"/"+key, "must provide at least %d items", lo)
	}
	if len(items) > hi {
		c.add(ptr+"/"+key, "must be no more than %d items", hi)
	}
	return items
}

// validateView checks a view object for views.open/push/update/publish. It
// answers view_too_large for an oversized view, otherwise invalid_arguments
// with Slack's "[ERROR] … [json-pointer:/view/…]" messages.
func validateView(raw json.RawMessage, want surface) *apiError {
	if len(raw) > maxViewBytes {
		return fail("view_too_large")
	}
	c := newChecker(want)
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
	// views/modal-views: title is required; title, submit and close are
	// plain_text of at most 24 characters.
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
	// private_metadata: "Max length of 3000 characters"; callback_id:
	// "Maximum length of 255 characters".
	if pm, ok := v["private_metadata"].(string); ok {
		c.maxLen("/view/private_metadata", pm, maxPrivateMetadata)
	}
	for _, k := range []string{"callback_id", "external_id"} {
		if s, ok := v[k].(string); ok {
			c.maxLen("/view/"+k, s, maxID)
		}
	}
	if v["blocks"] == nil {
		c.add("/view", "missing required field: blocks")
	} else {
		blocksRaw, _ := json.Marshal(v["blocks"])
		c.blocks(blocksRaw, "/view/blocks")
	}
	// views/modal-views: "submit is required when an input block is within
	// the blocks array."
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
