package slackfake

import (
	"fmt"
	"slices"
	"strings"
)

// methodScopes are the bot scopes Slack requires for the fake's methods
// whose scope does not depend on the conversation (each method's page on
// docs.slack.dev lists them). Methods absent here need none (auth.test,
// chat.getPermalink, views.*).
var methodScopes = map[string]string{
	"chat.postMessage":             "chat:write",
	"chat.update":                  "chat:write",
	"chat.delete":                  "chat:write",
	"chat.postEphemeral":           "chat:write",
	"conversations.open":           "im:write",
	"users.info":                   "users:read",
	"users.list":                   "users:read",
	"usergroups.users.list":        "usergroups:read",
	"files.getUploadURLExternal":   "files:write",
	"files.completeUploadExternal": "files:write",
}

// scopeChatWritePublic lets an app post in public channels it is not a
// member of. The fake leaves it out of "everything granted" so that an app
// meets not_in_channel unless it asked for the scope.
const scopeChatWritePublic = "chat:write.public"

// hasScope reports whether the app was granted scope. With no
// Options.Scopes, every scope is granted but chat:write.public.
func (f *Fake) hasScope(scope string) bool {
	if len(f.opts.Scopes) == 0 {
		return scope != scopeChatWritePublic
	}
	return slices.Contains(f.opts.Scopes, scope)
}

// needScope answers missing_scope as Slack does, naming the scope needed
// and those the token has:
// {"ok":false,"error":"missing_scope","needed":"channels:history","provided":"chat:write"}.
func (f *Fake) needScope(scope string) *apiError {
	if scope == "" || f.hasScope(scope) {
		return nil
	}
	return &apiError{code: "missing_scope", needed: scope, provided: strings.Join(f.opts.Scopes, ",")}
}

// conversationScope is the scope of family ("history", "read") for the kind
// of conversation c is: channels:, groups:, im: or mpim:.
func conversationScope(c *channel, family string) string {
	switch {
	case c.isIM:
		return "im:" + family
	case c.isPrivate:
		return "groups:" + family
	default:
		return "channels:" + family
	}
}

// visibleToBot: Slack answers channel_not_found for a private channel the
// app is not in, as if it did not exist.
func (c *channel) visibleToBot() bool { return c.member || !c.isPrivate }

// postableLocked checks that the app may post in c, in Slack's order:
// channel_not_found for what it cannot see, is_archived, then not_in_channel
// for a public channel it has not joined (unless chat:write.public).
func (f *Fake) postableLocked(c *channel) *apiError {
	switch {
	case !c.visibleToBot():
		return fail("channel_not_found")
	case c.archived:
		return fail("is_archived")
	case !c.member && !f.hasScope(scopeChatWritePublic):
		return fail("not_in_channel")
	}
	return nil
}

// readableLocked checks that the app may read c's history: hidden private
// channels are not found, the history scope of the conversation type comes
// next, and a public channel must have been joined.
func (f *Fake) readableLocked(c *channel) *apiError {
	if !c.visibleToBot() {
		return fail("channel_not_found")
	}
	if aerr := f.needScope(conversationScope(c, "history")); aerr != nil {
		return aerr
	}
	if !c.member {
		return fail("not_in_channel")
	}
	return nil
}

// AddChannelWithoutBot adds a channel the app's bot user is not a member of
// (a public "C…" one, or private for a "G…" id): posting there answers
// not_in_channel (channel_not_found if private), reading history
// not_in_channel, and reactions in it are not sent to the app.
func (f *Fake) AddChannelWithoutBot(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.addChannelLocked(id, name)
	c.member = false
	f.notifyLocked()
}

// SetBotMember adds the bot user to a channel (as an invitation does) or
// removes it.
func (f *Fake) SetBotMember(channelID string, member bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.channels[channelID]
	if !ok {
		return fmt.Errorf("slackfake: no such channel %q", channelID)
	}
	if c.isIM {
		return fmt.Errorf("slackfake: %s is a DM: the app is always in it", channelID)
	}
	c.member = member
	f.notifyLocked()
	return nil
}

// ArchiveChannel archives a channel, or unarchives it with archived false.
// Posting in an archived channel answers is_archived; its history can
// still be read.
func (f *Fake) ArchiveChannel(channelID string, archived bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.channels[channelID]
	if !ok {
		return fmt.Errorf("slackfake: no such channel %q", channelID)
	}
	if c.isIM {
		return fmt.Errorf("slackfake: a DM cannot be archived")
	}
	c.archived = archived
	f.notifyLocked()
	return nil
}
