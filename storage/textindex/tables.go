package textindex

import (
	"strings"

	"github.com/kljensen/snowball/english"
)

// stopWords are Snowball's English stop words, the same contractions written without their
// apostrophe, and the filler of a work request: words that every request has and that say nothing
// about which one it is. Negations are among them on purpose: "VPN not working" and "can't use the
// VPN" should meet on "VPN", not differ on how they say it is broken.
var stopWords = setOf(`
a about above after again against all am an and any are as at be because been before being below
between both but by can did do does doing don down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own s same she
should so some such t than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
you your yours yourself yourselves

cant dont doesnt didnt isnt wont wasnt arent couldnt shouldnt wouldnt havent hasnt hadnt im ive
youre weve theyre thats whats theres lets

please pls plz hi hello hey thanks thank thx cheers regards asap urgent urgently could would may
might must shall get gets getting got need needs needed want wants wanted like also still since
anyone someone somebody anybody everything something anything help issue issues problem problems
request requests requesting ask asking able unable seems seem seemed know let us today yesterday
tomorrow morning afternoon currently already just really actually maybe possible possibly kindly
trying tried try keep keeps kept going go goes anymore etc eg ie
`)

// normalise maps IT abbreviations and variant spellings to one word before stemming. Every entry
// is a spelling of the same thing, so it cannot merge two different requests.
var normalise = map[string]string{
	"pw": "password", "pwd": "password", "passwd": "password", "passwords": "password",
	"db": "database", "dbs": "database",
	"repo": "repository", "repos": "repository",
	"k8s": "kubernetes", "kube": "kubernetes",
	"prod": "production", "env": "environment", "envs": "environment",
	"perms": "permission", "perm": "permission",
	"creds": "credentials",
	"cert":  "certificate", "certs": "certificate",
	"config": "configuration", "cfg": "configuration", "conf": "configuration",
	"2fa": "mfa", "totp": "mfa", "otp": "mfa",
	"signin": "login", "logon": "login", "signon": "login", "logins": "login",
	"wlan": "wifi",
	"vms":  "vm",
	"o365": "office365", "m365": "office365",
	"admin": "administrator", "admins": "administrator",
	"laptops": "laptop", "notebook": "laptop",
	"mins": "minutes", "min": "minutes", "secs": "seconds",
	"msg": "message", "msgs": "message",
	"pic": "picture", "pics": "picture",
	"docs": "documentation", "doc": "documentation",
	"acct": "account", "accts": "account",
	"mgr":  "manager",
	"dept": "department",
	"info": "information",
}

// synonymGroups join words that name the same thing in a request without being spellings of one
// word. Each group maps every inflection of its words (they are matched as stems) to the first
// word's stem. Kept only while the quality test shows it helps (see docs/benchmarks.md).
var synonymGroups = [][]string{
	{"laptop", "notebook", "computer", "pc", "macbook", "thinkpad"},
	{"slow", "sluggish", "laggy", "lag"},
	{"fail", "failure", "broken", "error", "crash"},
	{"remote", "remotely", "home", "wfh"},
	{"update", "patch"},
	{"cost", "spend"},
	{"bill", "billing", "invoice"},
	{"email", "mail"},
	{"disk", "storage"},
	{"wifi", "wireless"},
	{"night", "overnight"},
	{"onboard", "hire", "starter", "joiner", "newcomer"},
	{"offboard", "leaver"},
	{"reinstall", "reimage"},
	{"3", "third", "3rd"}, {"4", "fourth", "4th"}, {"5", "fifth", "5th"}, {"6", "sixth", "6th"},
	{"7", "seventh", "7th"}, {"8", "eighth", "8th"}, {"9", "ninth", "9th"}, {"10", "tenth", "10th"},
	{"1", "1st"}, {"2", "2nd"},
}

// synonymOf is synonymGroups keyed by stem.
var synonymOf = map[string]string{}

// phraseList joins a few phrases into one term. Keys are written as words and stemmed at start-up,
// so "logged in", "logging in" and "log in" all match "log in".
var phraseList = map[string]string{
	"log in": "login", "log on": "login", "sign in": "login", "sign on": "login",
	"single sign on": "sso",
	"two factor":     "mfa", "2 factor": "mfa", "multi factor": "mfa", "second factor": "mfa",
	"wi fi": "wifi", "e mail": "email", "on call": "oncall", "pager duty": "pagerduty",
	"virtual machine": "vm", "pull request": "mergerequest", "merge request": "mergerequest",
	"read only": "readonly", "set up": "setup", "time out": "timeout", "lock out": "lockout",
	"shut down": "shutdown", "back up": "backup", "roll back": "rollback", "office 365": "office365",
	"git lab": "gitlab", "git hub": "github", "1 password": "1password",
}

// phrases is phraseList keyed by the stems of its words.
var phrases = map[string]string{}

// maxPhrase is the longest phrase in words.
var maxPhrase int

func init() {
	for _, g := range synonymGroups {
		to := stemWord(g[0])
		for _, w := range g {
			synonymOf[stemWord(w)] = to
		}
	}
	for p, term := range phraseList {
		words := strings.Fields(p)
		for i, w := range words {
			words[i] = stemWord(w)
		}
		// The term is stemmed like any word, so "oncall" typed as one word meets "on call".
		phrases[strings.Join(words, " ")] = english.Stem(term, true)
		maxPhrase = max(maxPhrase, len(words))
	}
}

// stemWord is a table word as Tokens would see it: normalised and stemmed, synonyms not applied.
func stemWord(w string) string {
	if n, ok := normalise[w]; ok {
		w = n
	}
	if isDigits(w) {
		return w
	}
	return english.Stem(w, true)
}

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
