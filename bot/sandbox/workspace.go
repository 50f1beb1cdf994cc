package sandbox

import (
	"workbot/bot/slackfake"
	"workbot/domain"
)

// The demo workspace: a small IT company of thirteen people in three teams. The IDs look like Slack's so
// that what a person sees in the sandbox (mentions, config keys, exports) reads as it would in a real
// workspace. The first five keep the IDs the sandbox has always had, so links and scripts written for it
// still work.
const (
	Lead       = "U0LEAD" // Lea: head of engineering, the global lead, and lead of Platform
	Developer  = "U0DEV"  // Dana: Platform developer
	Developer2 = "U0DEV2" // Devon: Platform developer
	QA         = "U0QA"   // Quinn: QA, in Web & Mobile
	Requester  = "U0REQ"  // Rae: sales operations, asks for things

	SRE      = "U0SRE"    // Sam: site reliability, Platform
	WebLead  = "U0WLEAD"  // Marco: lead of Web & Mobile
	Frontend = "U0FE"     // Priya: front-end developer
	Mobile   = "U0MOB"    // Tom: mobile developer
	ITLead   = "U0ITLEAD" // Olga: lead of IT & Support
	Helpdesk = "U0HELP"   // Ben: helpdesk
	Sysadmin = "U0NET"    // Kim: systems and network, part-time
	Finance  = "U0FIN"    // Hugo: finance, asks for things

	IntakeChannel     = "C0INTAKE"
	LeadershipChannel = "C0LEADS"
	GeneralChannel    = "C0GENERAL"
)

// Team IDs of the demo company.
const (
	TeamPlatform domain.TeamID = "platform"
	TeamWeb      domain.TeamID = "web"
	TeamIT       domain.TeamID = "it"
)

// Users are the people of the demo workspace, the global lead first: the page offers them in this order.
var Users = []slackfake.User{
	{ID: Lead, Name: "lea", RealName: "Lea Lindqvist", TZ: "Europe/Berlin"},
	{ID: Developer, Name: "dana", RealName: "Dana Dietrich", TZ: "Europe/Berlin"},
	{ID: Developer2, Name: "devon", RealName: "Devon Doyle", TZ: "Europe/Lisbon"},
	{ID: SRE, Name: "sam", RealName: "Sam Sato", TZ: "Europe/Berlin"},
	{ID: WebLead, Name: "marco", RealName: "Marco Moretti", TZ: "Europe/Rome"},
	{ID: Frontend, Name: "priya", RealName: "Priya Patel", TZ: "Europe/London"},
	{ID: Mobile, Name: "tom", RealName: "Tom Tanaka", TZ: "Europe/Berlin"},
	{ID: QA, Name: "quinn", RealName: "Quinn Quade", TZ: "Europe/Berlin"},
	{ID: ITLead, Name: "olga", RealName: "Olga Orlova", TZ: "Europe/Berlin"},
	{ID: Helpdesk, Name: "ben", RealName: "Ben Becker", TZ: "Europe/Berlin"},
	{ID: Sysadmin, Name: "kim", RealName: "Kim Keller", TZ: "Europe/Berlin"},
	{ID: Requester, Name: "rae", RealName: "Rae Romero", TZ: "America/New_York"},
	{ID: Finance, Name: "hugo", RealName: "Hugo Hansen", TZ: "Europe/Copenhagen"},
}

// Titles say what each person does; the page shows them beside the names, as Slack shows a profile's
// title.
var Titles = map[string]string{
	Lead:       "head of engineering",
	Developer:  "developer",
	Developer2: "developer",
	SRE:        "SRE",
	WebLead:    "web lead",
	Frontend:   "front-end",
	Mobile:     "mobile",
	QA:         "QA",
	ITLead:     "IT lead",
	Helpdesk:   "helpdesk",
	Sysadmin:   "sysadmin",
	Requester:  "sales ops",
	Finance:    "finance",
}

// Leads are the global leads: they triage every item, post digests and set anyone's capacity.
var Leads = []domain.UserID{Lead}

// Teams are the demo company's teams. Rae and Hugo belong to none: they only ask for things.
var Teams = []domain.Team{
	{ID: TeamPlatform, Name: "Platform", Leads: []domain.UserID{Lead}, Members: []domain.UserID{Developer, Developer2, SRE}},
	{ID: TeamWeb, Name: "Web & Mobile", Leads: []domain.UserID{WebLead}, Members: []domain.UserID{Frontend, Mobile, QA}},
	{ID: TeamIT, Name: "IT & Support", Leads: []domain.UserID{ITLead}, Members: []domain.UserID{Helpdesk, Sysadmin}},
}

// Channels are the demo channels: ID to name.
var Channels = []struct{ ID, Name string }{
	{IntakeChannel, "work-intake"},
	{LeadershipChannel, "leadership"},
	{GeneralChannel, "general"},
}

// ApplyWorkspace puts the demo company's leads and teams into a policy; the workflow, calendar and
// capacity settings stay as they are.
func ApplyWorkspace(p *domain.Policy) {
	p.Leads = append([]domain.UserID(nil), Leads...)
	p.Teams = make([]domain.Team, len(Teams))
	for i, t := range Teams {
		p.Teams[i] = domain.Team{
			ID: t.ID, Name: t.Name,
			Leads:   append([]domain.UserID(nil), t.Leads...),
			Members: append([]domain.UserID(nil), t.Members...),
		}
	}
}

// Seed adds the demo people and channels to the fake.
func Seed(fake *slackfake.Fake) {
	for _, u := range Users {
		fake.AddUser(u)
	}
	for _, c := range Channels {
		fake.AddChannel(c.ID, c.Name)
	}
}

// The demo workspace's reaction intake: a :ticket: on a message in #general files it with workbot.
const IntakeReaction = "ticket"

// ReactionChannels are where IntakeReaction files messages.
var ReactionChannels = []string{GeneralChannel}

// AppDMLabel is how the page lists a person's DM with the app: under Apps, by the app's name, as Slack
// does.
const AppDMLabel = "workbot"

// Shortcut is one of the app's shortcuts as its manifest declares it: type "message" (in a message's
// ⋯ menu) or "global" (in the shortcuts menu).
type Shortcut struct {
	Name        string `json:"name" yaml:"name"`
	Type        string `json:"type" yaml:"type"`
	CallbackID  string `json:"callback_id" yaml:"callback_id"`
	Description string `json:"description" yaml:"description"`
}

// Shortcuts are workbot's shortcuts, as manifest.yaml declares them (a test holds the two together):
// Slack's client learns them from the app's configuration, and so does the page.
var Shortcuts = []Shortcut{
	{Name: "Turn into a work request", Type: "message", CallbackID: "file_message", Description: "File this message as a work request"},
	{Name: "New work request", Type: "global", CallbackID: "new_request", Description: "Open the work request form"},
}
