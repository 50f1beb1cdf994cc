package sandbox

import "workbot/bot/slackfake"

// The demo workspace. The IDs look like Slack's so that what a person sees in the sandbox (mentions,
// config keys, exports) reads as it would in a real workspace.
const (
	Lead       = "U0LEAD"
	Developer  = "U0DEV"
	Developer2 = "U0DEV2"
	QA         = "U0QA"
	Requester  = "U0REQ"

	IntakeChannel     = "C0INTAKE"
	LeadershipChannel = "C0LEADS"
	GeneralChannel    = "C0GENERAL"
)

// Users are the people of the demo workspace, the lead first.
var Users = []slackfake.User{
	{ID: Lead, Name: "lea", RealName: "Lea Lead (lead)", TZ: "Europe/Berlin"},
	{ID: Developer, Name: "dana", RealName: "Dana Dev (developer)", TZ: "Europe/Berlin"},
	{ID: Developer2, Name: "dev", RealName: "Devon Dev (developer)", TZ: "Europe/Lisbon"},
	{ID: QA, Name: "quinn", RealName: "Quinn QA (QA)", TZ: "Europe/Berlin"},
	{ID: Requester, Name: "rae", RealName: "Rae Requester (requester)", TZ: "America/New_York"},
}

// Channels are the demo channels: ID to name.
var Channels = []struct{ ID, Name string }{
	{IntakeChannel, "work-intake"},
	{LeadershipChannel, "leadership"},
	{GeneralChannel, "general"},
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
