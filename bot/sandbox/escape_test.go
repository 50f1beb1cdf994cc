package sandbox

import (
	"testing"

	"workbot/bot/slackfake"
)

// TestEscapeTyped: what a person types turns into what Slack sends for a should_escape command.
func TestEscapeTyped(t *testing.T) {
	users := append([]slackfake.User{{ID: "UBOT", Name: "workbot", IsBot: true}, {ID: "UGONE", Name: "gone", Deleted: true},
		{ID: "U0DAN", Name: "dan", RealName: "Dan Other"}}, Users...)
	channels := []slackfake.Channel{{ID: "C0GENERAL", Name: "general"}, {ID: "C0INTAKE", Name: "work-intake"}, {ID: "D1", IsIM: true}}
	for _, c := range []struct{ in, want string }{
		{"assign W-1 @dana", "assign W-1 <@U0DEV|dana>"},
		{"assign W-1 @Dana", "assign W-1 <@U0DEV|dana>"},
		{"assign W-1 @Dana Dietrich", "assign W-1 <@U0DEV|dana>"},
		{"assign W-1 @dana.", "assign W-1 <@U0DEV|dana>."},
		{"handoff W-2 @quinn please test, then @dan", "handoff W-2 <@U0QA|quinn> please test, then <@U0DAN|dan>"},
		{"@danafoo and @dan.x and mail@dana", "@danafoo and @dan.x and mail@dana"},
		{"@nobody @gone", "@nobody @gone"},
		{"@workbot", "<@UBOT|workbot>"},
		{"@here @channel @everyone @heres", "<!here> <!channel> <!everyone> @heres"},
		{"see #general and #work-intake, not #nope", "see <#C0GENERAL|general> and <#C0INTAKE|work-intake>, not #nope"},
		{"block W-3 waiting for A&B <legal> team", "block W-3 waiting for A&amp;B &lt;legal&gt; team"},
		{"<@U0LEAD> <!channel>", "&lt;@U0LEAD&gt; &lt;!channel&gt;"},
		{"docs at https://example.com/a?b=1&c=2.", "docs at <https://example.com/a?b=1&amp;c=2>."},
		{"(https://x.org) mailto:a@b.c http:// xhttps://y", "(<https://x.org>) <mailto:a@b.c> http:// xhttps://y"},
		{"é@dana @dana", "é@dana <@U0DEV|dana>"},
		{"", ""},
	} {
		if got := escapeTyped(c.in, users, channels); got != c.want {
			t.Errorf("escapeTyped(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}
