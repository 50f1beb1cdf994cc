package bot

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"workbot/domain"
)

// esc escapes user text for mrkdwn and message text. Slack treats only &, < and > as control characters,
// so escaping exactly those turns "<!channel>" into harmless text.
func esc(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cut shortens s to at most max runes, ending with an ellipsis when it had to cut. Cutting happens before
// escaping, so callers that escape must leave room (see escCut).
func cut(s string, max int) string {
	if max <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return strings.TrimRightFunc(string(r[:max-1]), func(r rune) bool { return r == ' ' }) + "…"
}

// escCut escapes s and keeps the result within max runes, cutting whole characters of the source so an
// entity like &amp; is never split.
func escCut(s string, max int) string {
	e := esc(s)
	if utf8.RuneCountInString(e) <= max {
		return e
	}
	r := []rune(s)
	lo, hi := 0, len(r)
	for lo < hi { // the longest prefix whose escaped form plus "…" fits
		mid := (lo + hi + 1) / 2
		if utf8.RuneCountInString(esc(string(r[:mid])))+1 <= max {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return esc(strings.TrimRight(string(r[:lo]), " ")) + "…"
}

// oneLine folds newlines so a title cannot break a list layout.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// mention renders a user mention, or a dash for nobody.
func mention(u domain.UserID) string {
	if u == "" {
		return "—"
	}
	if u == domain.SystemActor {
		return "workbot"
	}
	return "<@" + string(u) + ">"
}

// With should_escape on, Slack sends mentions as <@U123|name>; people also paste bare IDs.
var (
	mentionRe = regexp.MustCompile(`^<@([UW][A-Z0-9]{2,20})(?:\|[^>]*)?>$`)
	userIDRe  = regexp.MustCompile(`^@?([UW][A-Z0-9]{2,20})$`)
)

// parseUser reads a user mention or a bare user ID.
func parseUser(s string) (domain.UserID, bool) {
	s = strings.TrimSpace(s)
	if m := mentionRe.FindStringSubmatch(s); m != nil {
		return domain.UserID(m[1]), true
	}
	if m := userIDRe.FindStringSubmatch(s); m != nil {
		return domain.UserID(m[1]), true
	}
	return "", false
}

// cutOnWord keeps s within max runes, cutting at the last space of the kept part when there is one in
// its second half, so a title never ends mid-word, and marking the cut with "…".
func cutOnWord(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)[:max-1]
	if i := strings.LastIndexFunc(string(r), unicode.IsSpace); i > len(string(r))/2 {
		return strings.TrimRightFunc(string(r)[:i], unicode.IsSpace) + "…"
	}
	return strings.TrimRightFunc(string(r), unicode.IsSpace) + "…"
}

// titleAndDetails splits request text into a title, its first line cut on a word to the title limit,
// and details holding the whole text whenever the title does not, so nothing typed is lost.
func titleAndDetails(text string) (title, details string) {
	text = strings.TrimSpace(text)
	first, _, _ := strings.Cut(text, "\n")
	title = cutOnWord(strings.TrimSpace(first), domain.MaxTitleLen)
	if title == text {
		return title, ""
	}
	return title, cut(text, domain.MaxDetailsLen)
}
