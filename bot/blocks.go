package bot

import (
	"strconv"

	"github.com/slack-go/slack"
)

// Slack's Block Kit limits that rendering must respect for any input.
const (
	maxMessageBlocks = 50
	maxViewBlocks    = 100
	maxSectionText   = 3000
	maxFieldText     = 2000
	maxHeaderText    = 150
	maxButtonText    = 75
	maxOptionText    = 75
	maxOptions       = 100
	maxContextText   = 2000
	maxModalTitle    = 24
	maxMessageText   = 4000
)

func mrkdwn(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.MarkdownType, cut(s, maxSectionText), false, false)
}

func plain(s string) *slack.TextBlockObject {
	return slack.NewTextBlockObject(slack.PlainTextType, s, false, false)
}

func section(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(text), nil, nil)
}

func sectionWith(text string, accessory slack.BlockElement) *slack.SectionBlock {
	return slack.NewSectionBlock(mrkdwn(text), nil, slack.NewAccessory(accessory))
}

func fields(pairs ...string) *slack.SectionBlock {
	var fs []*slack.TextBlockObject
	for i := 0; i+1 < len(pairs) && len(fs) < 10; i += 2 {
		fs = append(fs, slack.NewTextBlockObject(slack.MarkdownType, cut("*"+pairs[i]+"*\n"+pairs[i+1], maxFieldText), false, false))
	}
	return slack.NewSectionBlock(nil, fs, nil)
}

func header(text string) *slack.HeaderBlock {
	return slack.NewHeaderBlock(plain(cut(oneLine(text), maxHeaderText)))
}

func contextText(text string) *slack.ContextBlock {
	return slack.NewContextBlock("", mrkdwn(cut(text, maxContextText)))
}

func button(actionID, value, text string) *slack.ButtonBlockElement {
	return slack.NewButtonBlockElement(actionID, value, plain(cut(text, maxButtonText)))
}

func primary(b *slack.ButtonBlockElement) *slack.ButtonBlockElement {
	b.Style = slack.StylePrimary
	return b
}

func danger(b *slack.ButtonBlockElement) *slack.ButtonBlockElement {
	b.Style = slack.StyleDanger
	return b
}

func option(value, text string) *slack.OptionBlockObject {
	return slack.NewOptionBlockObject(value, plain(cut(oneLine(text), maxOptionText)), nil)
}

func actions(blockID string, elems ...slack.BlockElement) *slack.ActionBlock {
	if len(elems) > 25 {
		elems = elems[:25]
	}
	return slack.NewActionBlock(blockID, elems...)
}

// fitBlocks keeps at most max blocks. When it has to cut, the last kept block says how many were left out
// and where to see them.
func fitBlocks(blocks []slack.Block, max int, more string) []slack.Block {
	if len(blocks) <= max {
		return blocks
	}
	kept := blocks[:max-1]
	return append(kept, contextText("…and "+strconv.Itoa(len(blocks)-len(kept))+" more. "+more))
}

// listLimit cuts a list to n entries and says how many were left out.
func listLimit[T any](xs []T, n int) ([]T, int) {
	if len(xs) <= n {
		return xs, 0
	}
	return xs[:n], len(xs) - n
}

func andMore(n int, where string) string {
	if n <= 0 {
		return ""
	}
	s := "…and " + strconv.Itoa(n) + " more"
	if where != "" {
		s += ", see " + where
	}
	return s + "."
}
