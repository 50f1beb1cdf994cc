package slackfake

import (
	"regexp"
	"strconv"
	"strings"
)

// Block elements and composition objects, each following its page under
// https://docs.slack.dev/reference/block-kit/.

var (
	isoDate = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	// block-elements/time-picker-element: "in the format HH:mm, where HH is
	// the 24-hour format of an hour (00 to 23) and mm is minutes with leading
	// zeros (00 to 59)".
	hhmm = regexp.MustCompile(`^([01]\d|2[0-3]):[0-5]\d$`)
)

// The elements whose option texts must be plain_text (option-object: "Overflow,
// select, and multi-select menus can only use plain_text objects, while radio
// buttons and checkboxes can use mrkdwn text objects").
var plainOptionElements = map[string]bool{
	"static_select": true, "multi_static_select": true, "overflow": true,
}

func (c *checker) element(ptr string, v any, in slot) {
	e, ok := v.(map[string]any)
	if !ok {
		c.add(ptr, "must be an object")
		return
	}
	typ, _ := e["type"].(string)
	spec, known := elementSpecs[typ]
	if !known {
		c.add(ptr, "failed to match all allowed schemas")
		c.add(ptr+"/type", "unsupported type: %s", typ)
		return
	}
	allowed := false
	for _, s := range spec.slots {
		allowed = allowed || s == in
	}
	if !allowed {
		c.add(ptr, "failed to match all allowed schemas")
		c.add(ptr+"/type", "unsupported type: %s is not allowed in %s blocks", typ, in)
		return
	}
	if !spec.surfaces.has(c.surface) {
		c.add(ptr+"/type", "unsupported type: %s is not available in %s", typ, c.surface)
		return
	}
	if id, ok := e["action_id"].(string); ok {
		// Every interactive element: "Should be unique among all other
		// action_ids in the containing block. Maximum length is 255
		// characters." Slack refuses the whole message or view otherwise.
		c.maxLen(ptr+"/action_id", id, maxID)
		if id != "" && c.actionIDs[id] {
			c.add(ptr+"/action_id", "duplicate action_id: %s", id)
		}
		c.actionIDs[id] = true
	}
	if p, ok := e["placeholder"]; ok {
		// Every element with a placeholder: "A plain_text only text object
		// … Maximum length for the text in this field is 150 characters."
		c.text(ptr+"/placeholder", p, maxPlaceholder, true)
	}
	if cf, ok := e["confirm"]; ok {
		c.confirm(ptr+"/confirm", cf)
	}
	if e["focus_on_load"] == true && c.surface != surfaceMessage {
		// focus_on_load: "Indicates whether the element will be set to auto
		// focus within the view object. Only one element can be set to true."
		if c.focused {
			c.add(ptr+"/focus_on_load", "only one element in a view may set focus_on_load")
		}
		c.focused = true
	}
	switch typ {
	case "button":
		c.button(ptr, e)
	case "static_select", "multi_static_select":
		c.staticSelect(ptr, e, typ)
	case "overflow":
		// overflow-menu-element: options is required, "An array of up to
		// five option objects".
		opts := c.list(ptr, e, "options", 1, maxOverflowOptions)
		c.options(ptr+"/options", opts, typ, map[string]bool{})
	case "checkboxes", "radio_buttons":
		// checkboxes-element, radio-button-group-element: options is
		// required, "A maximum of 10 options are allowed."
		opts := c.list(ptr, e, "options", 1, maxChoiceOptions)
		c.options(ptr+"/options", opts, typ, map[string]bool{})
		c.initialOptions(ptr, e, opts)
	case "plain_text_input":
		// plain-text-input-element: min_length "between 0 and 3000,
		// inclusive"; max_length "between 1 and 3000, inclusive".
		c.intRange(ptr, e, "min_length", 0, maxInputLength)
		c.intRange(ptr, e, "max_length", 1, maxInputLength)
	case "datepicker":
		// date-picker-element: initial_date "in the format YYYY-MM-DD".
		if d, ok := e["initial_date"].(string); ok && !isoDate.MatchString(d) {
			c.add(ptr+"/initial_date", "must match format YYYY-MM-DD")
		}
	case "timepicker":
		if t, ok := e["initial_time"].(string); ok && !hhmm.MatchString(t) {
			c.add(ptr+"/initial_time", "must match format HH:mm")
		}
	case "image":
		c.imageElement(ptr, e)
	}
	if strings.HasPrefix(typ, "multi_") {
		// multi-select-menu-element: max_selected_items "Minimum number 1".
		if n, ok := e["max_selected_items"].(float64); ok && n < 1 {
			c.add(ptr+"/max_selected_items", "must be at least 1")
		}
	}
}

// button follows block-elements/button-element.
func (c *checker) button(ptr string, e map[string]any) {
	// text: required, "Can only be of type: plain_text … Maximum length for
	// the text in this field is 75 characters."
	c.requireField(ptr, e, "text")
	c.text(ptr+"/text", e["text"], maxButtonText, true)
	if val, ok := e["value"].(string); ok {
		c.maxLen(ptr+"/value", val, maxButtonValue)
	}
	if url, ok := e["url"].(string); ok {
		c.maxLen(ptr+"/url", url, maxURL)
	}
	if label, ok := e["accessibility_label"].(string); ok {
		c.maxLen(ptr+"/accessibility_label", label, maxButtonText)
	}
	// style: primary or danger; leaving it out gives the default button.
	if st, ok := e["style"]; ok && st != "primary" && st != "danger" {
		c.add(ptr+"/style", "must be one of primary, danger")
	}
}

// staticSelect follows block-elements/select-menu-element and
// multi-select-menu-element (static options).
func (c *checker) staticSelect(ptr string, e map[string]any, typ string) {
	_, hasOpts := e["options"]
	_, hasGroups := e["option_groups"]
	// options: "Maximum number of options is 100. If option_groups is
	// specified, this field should not be." One of the two is required.
	switch {
	case !hasOpts && !hasGroups:
		c.add(ptr, "must provide either options or option_groups")
	case hasOpts && hasGroups:
		c.add(ptr, "must provide only one of options or option_groups")
	}
	values := map[string]bool{}
	all := c.list(ptr, e, "options", 0, maxOptions)
	c.options(ptr+"/options", all, typ, values)
	// option-group-object: "An option_groups array can have a maximum number
	// of 100 option groups with a maximum of 100 options"; label is a
	// required plain_text of at most 75 characters; options is required.
	groups := c.list(ptr, e, "option_groups", 0, maxOptionGroups)
	for i, g := range groups {
		gp := ptr + "/option_groups/" + strconv.Itoa(i)
		gm, ok := g.(map[string]any)
		if !ok {
			c.add(gp, "must be an object")
			continue
		}
		c.requireField(gp, gm, "label")
		c.text(gp+"/label", gm["label"], maxGroupLabel, true)
		gopts := c.list(gp, gm, "options", 1, maxOptions)
		c.options(gp+"/options", gopts, typ, values)
		all = append(all, gopts...)
	}
	c.initialOptions(ptr, e, all)
}

// initialOptions checks initial_option and initial_options against the
// element's options: select-menu-element "A single option that exactly
// matches one of the options within options or option_groups";
// checkboxes-element "exactly matches one or more of the options".
func (c *checker) initialOptions(ptr string, e map[string]any, opts []any) {
	if io, ok := e["initial_option"]; ok {
		c.initialOption(ptr+"/initial_option", io, opts)
	}
	if ios, ok := e["initial_options"].([]any); ok {
		for i, io := range ios {
			c.initialOption(ptr+"/initial_options/"+strconv.Itoa(i), io, opts)
		}
	}
}

func (c *checker) initialOption(ptr string, io any, opts []any) {
	for _, o := range opts {
		if sameOption(io, o) {
			return
		}
	}
	c.add(ptr, "must match one of the options")
}

// sameOption compares what a person sees and what the app receives: the
// value and the text. Flags such as emoji are not compared, as the reference
// does not say they must match.
func sameOption(a, b any) bool {
	am, _ := a.(map[string]any)
	bm, _ := b.(map[string]any)
	if am == nil || bm == nil {
		return false
	}
	at, _ := am["text"].(map[string]any)
	bt, _ := bm["text"].(map[string]any)
	return am["value"] == bm["value"] && at != nil && bt != nil &&
		at["type"] == bt["type"] && at["text"] == bt["text"]
}

func (c *checker) options(ptr string, opts []any, elem string, values map[string]bool) {
	for i, o := range opts {
		c.option(ptr+"/"+strconv.Itoa(i), o, elem, values)
	}
}

// option follows composition-objects/option-object.
func (c *checker) option(ptr string, v any, elem string, values map[string]bool) {
	o, ok := v.(map[string]any)
	if !ok {
		c.add(ptr, "must be an object")
		return
	}
	plainOnly := plainOptionElements[elem]
	// text: required, at most 75 characters, plain_text in menus.
	c.requireField(ptr, o, "text")
	c.text(ptr+"/text", o["text"], maxOptionText, plainOnly)
	// value: required, "A unique string value … Maximum length for this
	// field is 150 characters."
	c.requireField(ptr, o, "value")
	if val, ok := o["value"].(string); ok {
		c.maxLen(ptr+"/value", val, maxOptionValue)
		if values[val] {
			c.add(ptr+"/value", "duplicate option value: %s", val)
		}
		values[val] = true
	}
	// description: plain_text, "Checkbox group and radio button group items
	// can also use mrkdwn formatting", at most 75 characters.
	if d, ok := o["description"]; ok {
		c.text(ptr+"/description", d, maxOptionText, plainOnly)
	}
	// url: "The url attribute is only available in overflow menus. Maximum
	// length for this field is 3000 characters."
	if url, ok := o["url"]; ok {
		s, _ := url.(string)
		if elem != "overflow" {
			c.add(ptr+"/url", "url is only available in overflow menus")
		} else {
			c.maxLen(ptr+"/url", s, maxURL)
		}
	}
}

// confirm follows composition-objects/confirmation-dialog-object: title,
// text, confirm and deny are all required.
func (c *checker) confirm(ptr string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		c.add(ptr, "must be an object")
		return
	}
	for _, f := range []struct {
		key   string
		limit int
		plain bool
	}{
		{"title", maxConfirmTitle, true},
		// The page now says plain_text for text; it said "A text object"
		// before, and mrkdwn was accepted, so both are.
		{"text", maxConfirmText, false},
		{"confirm", maxConfirmButton, true},
		{"deny", maxConfirmButton, true},
	} {
		c.requireField(ptr, m, f.key)
		c.text(ptr+"/"+f.key, m[f.key], f.limit, f.plain)
	}
	if st, ok := m["style"]; ok && st != "primary" && st != "danger" {
		c.add(ptr+"/style", "must be one of primary, danger")
	}
}

// imageElement follows block-elements/image-element: alt_text is required,
// and so is one of image_url (at most 3000 characters) or slack_file.
func (c *checker) imageElement(ptr string, e map[string]any) {
	c.requireField(ptr, e, "alt_text")
	if url, ok := e["image_url"].(string); ok {
		c.maxLen(ptr+"/image_url", url, maxURL)
	} else if _, ok := e["slack_file"]; !ok {
		c.add(ptr, "missing required field: image_url")
	}
}

func (c *checker) intRange(ptr string, e map[string]any, key string, lo, hi int) {
	v, ok := e[key]
	if !ok {
		return
	}
	n, ok := v.(float64)
	if !ok || n != float64(int(n)) || int(n) < lo || int(n) > hi {
		c.add(ptr+"/"+key, "must be an integer between %d and %d", lo, hi)
	}
}

// text checks a text object (composition-objects/text-object): type is
// plain_text or mrkdwn, text is required with "minimum length is 1 and
// maximum length is 3000 characters", emoji "is only usable when type is
// plain_text" and verbatim "is only usable when type is mrkdwn". limit is the
// field's own, tighter limit; plainOnly refuses mrkdwn where the field's page
// asks for plain_text.
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
		if _, ok := t["verbatim"]; ok {
			c.add(ptr+"/verbatim", "verbatim is only usable when type is mrkdwn")
		}
	case typ == "mrkdwn" && !plainOnly:
		if _, ok := t["emoji"]; ok {
			c.add(ptr+"/emoji", "emoji is only usable when type is plain_text")
		}
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
	c.maxLen(ptr+"/text", s, min(limit, maxSectionText))
}
