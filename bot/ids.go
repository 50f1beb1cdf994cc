// Package bot is workbot's Slack adapter: the Socket Mode loop, routing, handlers, Block Kit rendering and
// the scheduler glue. Business rules live in domain; this package decodes, calls the domain, acks, renders
// and calls Slack.
package bot

// SlashCommand is the one slash command the app registers; manifest.yaml must declare the same name
// (a test checks it).
const SlashCommand = "/work"

// Action IDs of buttons and selects. A button's value carries the item or handoff ID it acts on; the
// handler re-reads the state and re-checks permissions, so a forged or stale value changes nothing.
const (
	ActionPrioritise      = "item_prioritise"
	ActionAssign          = "item_assign"
	ActionStart           = "item_start"
	ActionMove            = "item_move" // a static select: the selected option's value is "<id>|<stage>"
	ActionDone            = "item_done"
	ActionBlock           = "item_block"
	ActionUnblock         = "item_unblock"
	ActionHandoff         = "item_handoff"
	ActionReject          = "item_reject"
	ActionDuplicate       = "item_duplicate"
	ActionShow            = "item_show"
	ActionSnooze          = "item_snooze"
	ActionHandoffAccept   = "handoff_accept"
	ActionHandoffDecline  = "handoff_decline"
	ActionHandoffApprove  = "handoff_approve"
	ActionHandoffRefuse   = "handoff_refuse"
	ActionHandoffCancel   = "handoff_cancel"
	ActionAssignConfirm   = "assign_confirm"   // value "<id>|<user>|<version>": assign despite the overload warning
	ActionAssignSuggested = "assign_suggested" // value as ActionAssignConfirm, naming the suggested teammate
	ActionHomeRefresh     = "home_refresh"
	ActionPrefsNudges     = "prefs_nudges" // value "nudges:on" or "nudges:off": what the click asks for
	ActionPrefsDigest     = "prefs_digest" // value "digest:on" or "digest:off"
	ActionNoop            = "noop"         // selects inside modals report changes we do not need
	ActionFollow          = "item_follow"
	ActionFollowInstead   = "follow_instead" // in the intake modal: follow a likely duplicate instead of filing
	ActionDuplicateOf     = "duplicate_of"   // value "<id>|<of>": close as a duplicate of a likely one, in one click
	ActionFileDM          = "file_dm"        // value "<channel>|<ts>": file a DM sent to workbot as a request
	ActionTitle           = "intake_title"   // the intake title input: entering it refreshes likely duplicates
)

// Callback IDs of the shortcuts declared in manifest.yaml.
const (
	ShortcutFileMessage = "file_message" // message shortcut "Turn into a work request"
	ShortcutNewRequest  = "new_request"  // global shortcut "New work request"
)

// Callback IDs of modals.
const (
	ViewIntake        = "intake"
	ViewPrioritise    = "prioritise"
	ViewAssign        = "assign"
	ViewAssignConfirm = "assign_confirm"
	ViewHandoff       = "handoff"
	ViewDecline       = "handoff_decline"
	ViewRefuse        = "handoff_refuse"
	ViewReject        = "reject"
	ViewDuplicate     = "duplicate"
	ViewBlock         = "block"
	ViewFollowed      = "followed" // the intake form, after its writer chose to follow a likely duplicate
)

// Block IDs of modal inputs; response_action errors are keyed by them.
const (
	BlockTitle     = "title"
	BlockDetails   = "details"
	BlockKind      = "kind"
	BlockTeam      = "team"
	BlockValue     = "value"
	BlockUrgency   = "urgency"
	BlockSize      = "size"
	BlockDue       = "due"
	BlockPin       = "pin"
	BlockAssignee  = "assignee"
	BlockTarget    = "target"
	BlockNoteDone  = "note_done"
	BlockNoteNext  = "note_next"
	BlockNoteLinks = "note_links"
	BlockNextStage = "next_stage"
	BlockReason    = "reason"
	BlockOf        = "duplicate_of"
)

// inputAction is the action_id of every modal input: one per block, so the block ID alone names the field.
const inputAction = "v"

// Scopes are the bot scopes workbot asks for, each with what needs it. manifest.yaml must ask for
// exactly these (a test checks it): an unused scope is a permission nobody should have to grant.
var Scopes = []struct{ Name, Why string }{
	{"commands", "the /work slash command"},
	{"chat:write", "chat.postMessage and chat.update of workbot's own messages"},
	{"im:write", "conversations.open, to DM people"},
	{"files:write", "files.getUploadURLExternal and files.completeUploadExternal for the digest chart"},
	{"channels:history", "conversations.history/replies in public channels: reading a message filed by reaction, finding workbot's own post after an attempt whose outcome is unknown"},
	{"groups:history", "the same in private channels"},
	{"im:history", "the same in DMs, and the message.im event for DMs people send workbot"},
	{"reactions:read", "the reaction_added event, for intake_reaction"},
	{"users:read", "users.info, to show mentions by name when a message becomes a request title"},
}

// Events are the bot events workbot subscribes to; manifest.yaml must list exactly these.
var Events = []string{"app_home_opened", "message.im", "reaction_added"}
