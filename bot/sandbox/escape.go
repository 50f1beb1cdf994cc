package sandbox

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"workbot/bot/slackfake"
)

// Slack's client does not send what a person typed. For a message, and for a slash command whose
// manifest entry sets should_escape (workbot's /work does), it sends:
//   - &, < and > as &amp;, &lt; and &gt;, so that the three can act as control characters;
//   - @name, when name is a member's username, display name or real name, as <@U123|name>;
//     an unknown @name stays text;
//   - @here, @channel and @everyone as <!here>, <!channel> and <!everyone>;
//   - #name of a channel as <#C123|name>;
//   - a link as <https://…>.
//
// escapeTyped does the same, so the bot sees in the sandbox exactly what it sees in Slack.

// mentionTarget is a name a person may type after @ or #, and what it turns into.
type mentionTarget struct {
	name string // as typed, compared case-insensitively
	out  string
}

// escapeTyped turns typed text into the text Slack sends. users and channels are the workspace's.
func escapeTyped(text string, users []slackfake.User, channels []slackfake.Channel) string {
	var people, rooms []mentionTarget
	for _, u := range users {
		if u.Deleted {
			continue
		}
		out := "<@" + u.ID + "|" + u.Name + ">"
		// The fake reports the username as the display name too (users.info).
		for _, n := range []string{u.Name, u.RealName} {
			if n = strings.TrimSpace(n); n != "" {
				people = append(people, mentionTarget{n, out})
			}
		}
	}
	for _, s := range []string{"here", "channel", "everyone"} {
		people = append(people, mentionTarget{s, "<!" + s + ">"})
	}
	for _, c := range channels {
		if !c.IsIM && c.Name != "" {
			rooms = append(rooms, mentionTarget{c.Name, "<#" + c.ID + "|" + c.Name + ">"})
		}
	}

	var b strings.Builder
	b.Grow(len(text) + 16)
	prev := rune(-1)
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		atStart := prev < 0 || !nameRune(prev)
		switch {
		case atStart && (r == '@' || r == '#'):
			targets := people
			if r == '#' {
				targets = rooms
			}
			if t, n := longestName(text[i+1:], targets); n > 0 {
				b.WriteString(t.out)
				i += 1 + n
				prev = 'x'
				continue
			}
		case atStart && (r == 'h' || r == 'H' || r == 'm' || r == 'M'):
			if n := linkLen(text[i:]); n > 0 {
				b.WriteString("<" + escapeText(text[i:i+n]) + ">")
				i += n
				prev = 'x'
				continue
			}
		}
		b.WriteString(escapeText(text[i : i+size]))
		i += size
		prev = r
	}
	return b.String()
}

// escapeText replaces Slack's three control characters.
func escapeText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// nameRune reports whether r can be part of a name or word, so that "a@b" or "x#y" is not a mention.
func nameRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.'
}

// longestName returns the target whose name rest starts with (ignoring case) and ends at a word
// boundary, preferring the longest, and the length of the name in rest.
func longestName(rest string, targets []mentionTarget) (mentionTarget, int) {
	var best mentionTarget
	n := 0
	for _, t := range targets {
		l := len(t.name)
		if l <= n || len(rest) < l || !strings.EqualFold(rest[:l], t.name) || !boundaryAt(rest, l) {
			continue
		}
		best, n = t, l
	}
	return best, n
}

// boundaryAt reports whether a name ending at rest[i] ends a word there: nothing follows, or a rune
// that cannot continue a name, or a full stop that ends a sentence.
func boundaryAt(rest string, i int) bool {
	if i >= len(rest) {
		return true
	}
	r, size := utf8.DecodeRuneInString(rest[i:])
	if r == '.' {
		next, _ := utf8.DecodeRuneInString(rest[i+size:])
		return i+size >= len(rest) || !nameRune(next)
	}
	return !nameRune(r)
}

// linkLen is the length of the link s starts with, or 0. Trailing punctuation belongs to the sentence.
func linkLen(s string) int {
	lower := strings.ToLower(s)
	if !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://") && !strings.HasPrefix(lower, "mailto:") {
		return 0
	}
	n := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' })
	if n < 0 {
		n = len(s)
	}
	for n > 0 && strings.ContainsRune(".,;:!?)]}'", rune(s[n-1])) {
		n--
	}
	if scheme := strings.Index(s, ":") + 1; n <= scheme+2 {
		return 0
	}
	return n
}
