package textindex

import (
	"slices"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// Stems meet across inflections; stop words and request filler go.
		{"Can't connect to the VPN from home", "connect vpn remot"},
		{"VPN connection drops when working remotely", "vpn connect drop work remot"},
		// Phrases become one term whether typed apart, hyphenated or joined.
		{"logged in, log-in, sign in, signin", "login login login login"},
		{"on-call rota / oncall / on call", "oncal rota oncal oncal"},
		{"Wi-Fi, wifi and the wireless network", "wifi wifi wifi network"},
		{"single sign-on via SSO", "sso via sso"},
		{"2FA, two-factor and MFA", "mfa mfa mfa"},
		// Abbreviations are normalised before stemming.
		{"prod DB pwd for k8s", "product databas password kubernet"},
		// Ordinals meet their digits; other numbers and codes stay.
		{"3rd floor, third floor, floor 3, error 502", "3 floor 3 floor floor 3 fail 502"},
		// Apostrophes vanish, everything else that is not a letter or digit splits.
		{"user's laptop (asset #10482)", "user laptop asset 10482"},
		{"", ""},
	} {
		if got := strings.Join(Tokens(c.in, true), " "); got != c.want {
			t.Errorf("Tokens(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTokensDropLongWordsAndSingleLetters(t *testing.T) {
	blob := strings.Repeat("a1b2", 20) // a pasted hash
	got := Tokens("x "+blob+" y printer", true)
	if !slices.Equal(got, []string{"printer"}) {
		t.Errorf("Tokens = %q, want only printer", got)
	}
}

func TestAnalyzeWeighsTitleWords(t *testing.T) {
	d := Analyze("Printer jam", "The printer on floor 2 jams.")
	want := []TermFreq{{"2", 1}, {"floor", 1}, {"jam", 3}, {"printer", 3}}
	if !slices.Equal(d.Terms, want) || d.Len != 8 {
		t.Errorf("Analyze = %v len %d, want %v len 8", d.Terms, d.Len, want)
	}
	if d := Analyze("the and of", "please thanks"); len(d.Terms) != 0 || d.Len != 0 {
		t.Errorf("Analyze(stop words only) = %+v, want empty", d)
	}
}

func TestTermsFitTheKeyLimit(t *testing.T) {
	long := strings.Repeat("ü", MaxTermLen) // 2 bytes a rune
	for _, tok := range Tokens(long+" ok", true) {
		if len(tok) > MaxTermLen {
			t.Errorf("term of %d bytes, limit %d", len(tok), MaxTermLen)
		}
	}
}
