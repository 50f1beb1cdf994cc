// Package slackfake is a local Slack: the Web API and Socket Mode of one
// workspace with one installed app, served on a loopback port. It behaves
// like Slack, limits, error codes and failures included, so that an app can
// be tested end to end with the real slack-go client and no network. It
// knows nothing of any particular app: it is Slack, not a mock of a bot.
//
// # Starting
//
//	fake := slackfake.New(slackfake.Options{Logf: t.Logf})
//	if err := fake.Start(); err != nil { … }
//	defer fake.Close() // closes sockets, stops timers, waits for goroutines
//
//	api := slack.New(fake.BotToken(),
//		slack.OptionAppLevelToken(fake.AppToken()),
//		slack.OptionAPIURL(fake.URL())) // "http://127.0.0.1:port/api/"
//	sm := socketmode.New(api)
//
//	fake.AddUser(slackfake.User{ID: "U1", Name: "alice", RealName: "Alice", TZ: "Europe/Paris"})
//	fake.AddChannel("C1", "general")           // the bot is a member ("G…": private)
//	fake.AddChannelWithoutBot("C2", "random")  // it is not
//	fake.SetBotMember("C2", true)              // invited
//	fake.ArchiveChannel("C2", true)
//
// Posting (chat.postMessage, chat.postEphemeral, sharing a file) where the
// bot is not a member answers not_in_channel, in an archived channel
// is_archived, and in a private channel the bot is not in, or an unknown
// one, channel_not_found, as Slack hides those. Options.Scopes limits the
// granted bot scopes (empty: all but chat:write.public); a method lacking
// one answers missing_scope with "needed" and "provided", and the history
// scope depends on the conversation (channels:history, groups:history,
// im:history).
//
// Options holds Slack's real numbers by default (trigger_id 3 s, ack
// deadline 3 s, redelivery after 3 s, up to 3 retries, response_url 5 uses
// in 30 min, 10 sockets). Tests shorten the durations and may inject a
// clock (Options.Now) for trigger_id and response_url expiry.
//
// # Web API
//
// Methods live at /api/<method> and take form-encoded (token field or
// Bearer) or JSON (Bearer) bodies: auth.test, apps.connections.open (app
// token only), chat.postMessage/update/delete/postEphemeral/getPermalink,
// conversations.open/info/history/replies, users.info/list, usergroups.users.list,
// views.open/push/update/publish, files.getUploadURLExternal, the upload
// URL, and files.completeUploadExternal (slack-go's UploadFileContext works;
// as on Slack, files.getUploadURLExternal reads a form body only).
// A bot token on apps.connections.open, or the app token anywhere else,
// answers not_allowed_token_type; an unknown token invalid_auth; no token
// not_authed. An unknown method answers unknown_method (HTTP 404) and is
// listed by UnknownMethods. Every call is recorded (Calls).
//
// chat.postMessage and chat.update take message metadata
// ({"event_type","event_payload"}, a JSON string in a form post as
// slack-go's MsgOptionMetadata sends it): invalid_metadata_format,
// invalid_metadata_schema or metadata_too_large (over 8 KB) refuse the call;
// an event_type other than lower-case letters, digits and underscores posts
// the message without its metadata, as Slack does. chat.update keeps the
// metadata when the argument is absent and removes it for {}. Message.Metadata
// holds what was kept. conversations.history (top-level messages, newest
// first; limit 100 by default, 999 at most) and conversations.replies (the
// parent, then the replies, oldest first; the parent on the first page only)
// take latest, oldest, inclusive, limit, cursor and include_all_metadata,
// without which no message carries its metadata. The app's messages carry
// user (the bot user), bot_id, app_id and bot_profile, as in Slack.
//
// Errors are Slack's: invalid_blocks and invalid_arguments (see Block Kit
// below), view_too_large, msg_too_long, hash_conflict, push_limit_reached,
// expired_trigger_id, exchanged_trigger_id, not_found.
//
// # Block Kit
//
// Every blocks array and view the app sends (chat.postMessage, chat.update,
// chat.postEphemeral, files.completeUploadExternal, views.*, acks, response
// URLs) is checked against the rules of Slack's Block Kit reference, and
// against nothing more: a fake stricter than Slack fails apps Slack serves.
// Messages answer invalid_blocks with "errors" and response_metadata.messages
// such as "[ERROR] must be less than 151 characters
// [json-pointer:/blocks/0/text/text]"; views answer invalid_arguments with
// the same "[ERROR] …" messages. A response_url is an incoming webhook: it
// answers HTTP 400 with the plain-text body invalid_blocks and no detail,
// which slack-go's PostWebhookContext reports as a StatusCodeError; the
// details go to Options.Logf.
//
// Each rule below names its test: R is TestBlockKitRules, L is
// TestLimitsRefused, followed by the subtest name. Pages are under
// https://docs.slack.dev/reference/block-kit/ unless named otherwise.
//
// Uniqueness:
//   - action_id unique among the elements of its block, free to repeat
//     across blocks (every element page): R "action_id unique within its
//     block", R "action_id unique within a home tab block".
//   - block_id unique within a message or view (every block page): R
//     "block_id unique within a message", R "block_id unique within a view".
//   - option values unique within an element (option-object, "A unique
//     string value"): R "option values unique within an element".
//   - at most one element with focus_on_load in a view (every element
//     page): R "one focus_on_load per view".
//
// Surfaces and placement:
//   - at most 50 blocks in a message, 100 in a modal or Home tab (blocks):
//     L "blocks per message", L "blocks per modal", L "blocks per home tab".
//   - file blocks in messages only; every other block on every surface, input
//     blocks in messages and Home tabs included (blocks): R "file block in
//     messages only", TestInputBlocksInMessages.
//   - each element only on the surfaces of the block elements table:
//     email, url, number and file inputs in modals, rich_text_input in modals
//     and Home tabs, datetimepicker not in Home tabs, workflow_button in
//     messages (block-elements): R "email_text_input in modals only", R
//     "workflow_button in messages only".
//   - each element only in the blocks of that table ("Works with block
//     types"), refused as "failed to match all allowed schemas": R "actions
//     block elements", R "section accessory elements", R "input block
//     elements", R "context block elements" (image elements and text objects
//     only), R "misplaced element fails the schema".
//   - no dispatch_action on an input block holding a file_input
//     (blocks/input-block): R "no dispatch_action with file_input".
//
// Lengths, in characters:
//   - block_id, action_id 255: L "block_id", L "action_id".
//   - callback_id, external_id 255; private_metadata 3000 (views/modal-views):
//     L "callback_id", R "external_id at most 255", L "private_metadata".
//   - modal title, submit, close 24 (views/modal-views): L "modal title",
//     L "modal submit", L "modal close".
//   - a view's JSON 250 kB, answered view_too_large: L "view size".
//   - header text 150: L "header text"; section text 3000: L "section text";
//     section field 2000: L "section field".
//   - any text object 1 to 3000 (composition-objects/text-object): R "text
//     object at most 3000", R "text object at least 1".
//   - button text 75, value 2000, url 3000, accessibility_label 75: R "button
//     text at most 75", R "button value at most 2000", R "button url at most
//     3000", R "button accessibility_label at most 75".
//   - placeholder 150 (every element with one): R "placeholder at most 150".
//   - input label and hint 2000: R "input label at most 2000", R "input hint
//     at most 2000".
//   - image block alt_text 2000, image_url 3000, title 2000; image element
//     image_url 3000: R "image block alt_text at most 2000", R "image block
//     image_url at most 3000", R "image block title at most 2000", R "image
//     element image_url at most 3000".
//   - option text 75, value 150, description 75, url 3000: L "option text",
//     L "option value", R "option description at most 75", R "option url at
//     most 3000".
//   - option group label 75: R "option group label at most 75".
//   - confirm title 100, text 300, confirm and deny 30: R "confirm title at
//     most 100", R "confirm text at most 300", R "confirm button text at most
//     30", R "confirm deny text at most 30".
//   - plain_text_input min_length 0 to 3000, max_length 1 to 3000: R
//     "plain_text_input min_length between 0 and 3000", R "plain_text_input
//     max_length between 1 and 3000", R "plain_text_input max_length not 0".
//   - response_url text beyond 40,000 characters is truncated and posted, as
//     Slack does on every way of posting
//     (https://api.slack.com/changelog/2018-04-truncating-really-long-messages):
//     TestResponseURLTruncatesText.
//
// Counts:
//   - section fields 10: R "section fields at most 10".
//   - context elements 1 to 10: R "context elements at most 10", R "context
//     elements at least 1".
//   - actions elements 1 to 25: R "actions elements at most 25", R "actions
//     elements at least 1".
//   - select options 100: L "options per select"; option groups 100 of 100
//     options each: R "option groups at most 100", R "options per option
//     group at most 100".
//   - overflow options 5: R "overflow options at most 5"; checkboxes and
//     radio_buttons options 10: R "checkboxes options at most 10", R
//     "radio_buttons options at most 10".
//
// Required fields:
//   - section text or fields: R "section needs text or fields".
//   - header text: R "header needs text"; button text: R "button needs text".
//   - input label and element: R "input needs a label", R "input needs an
//     element".
//   - image block alt_text and image_url or slack_file: R "image block needs
//     alt_text", R "image block needs image_url or slack_file"; image element
//     likewise: R "image element needs alt_text", R "image element needs
//     image_url or slack_file".
//   - option text and value: R "option needs text", R "option needs a value".
//   - static selects take options or option_groups, exactly one: R
//     "static_select needs options or option_groups", R "static_select takes
//     options or option_groups, not both"; an option group needs its label:
//     R "option group needs a label".
//   - overflow, checkboxes and radio_buttons need options: R "overflow needs
//     options", R "checkboxes need options".
//   - confirm title, text, confirm and deny: R "confirm needs title, text,
//     confirm and deny".
//   - modal title: R "modal needs a title"; view blocks: R "view needs
//     blocks"; modal submit when an input block is present: L "input block
//     needs a submit button".
//
// Values:
//   - button and confirm style primary or danger: R "button style primary or
//     danger", R "confirm style primary or danger".
//   - plain_text only for header text, button text, input label and hint,
//     placeholders, option text and description in selects and overflow
//     menus (mrkdwn allowed in checkboxes and radio buttons), option group
//     labels, confirm title, confirm and deny, image titles, modal title,
//     submit and close: R "header text plain_text only", R "button text
//     plain_text only", R "input label plain_text only", R "placeholder
//     plain_text only", R "select option text plain_text only", R "modal
//     title plain_text only".
//   - text object type plain_text or mrkdwn: R "text type plain_text or
//     mrkdwn"; emoji only on plain_text, verbatim only on mrkdwn: R "emoji
//     only on plain_text", R "verbatim only on mrkdwn".
//   - initial_option and initial_options among the element's options or
//     option groups (value and text): R "initial_option is one of the
//     options", R "initial_option in option_groups", R "radio_buttons
//     initial_option is one of the options", R "checkboxes initial_options
//     are among the options".
//   - option url only in overflow menus: R "option url only in overflow
//     menus".
//   - datepicker initial_date YYYY-MM-DD: R "datepicker initial_date
//     YYYY-MM-DD"; timepicker initial_time HH:mm: R "timepicker initial_time
//     HH:mm".
//   - multi-select max_selected_items at least 1: R "multi-select
//     max_selected_items at least 1".
//
// Shapes (the schema under every rule): R "blocks is an array", R "block is
// an object", R "unknown block type is named", R "elements is an array", R
// "element is an object", R "unknown element type is named", R "option is an
// object", R "option group is an object", R "confirm is an object", R "text
// object is an object", R "text object needs text", R "view is an object", R
// "view type matches the method", L "unknown block type", L "unknown element
// type".
//
// Response URLs refuse invalid blocks with HTTP 400 and the plain-text body
// invalid_blocks, posting nothing
// (https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks):
// TestResponseURLRefusesInvalidBlocks.
//
// Not checked, as the reference does not say so: min_length at most
// max_length, a length for plain_text_input initial_value, a required
// placeholder on selects (optional in the current reference), a minimum of
// two overflow options (an older page's rule).
//
// # Acting as people
//
// The driver sends what Slack would send over the socket, and returns a
// *Delivery to await the app's ack:
//
//	d, _ := fake.SlashCommand("U1", "C1", "/work", "new Fix the printer")
//	ack, err := d.WaitTimeout(5 * time.Second) // ErrAckTimeout, ErrNotConnected…
//	modal, _ := fake.TopModal("U1")
//	d, _ = fake.SubmitView("U1", modal.ID, map[string]map[string]slackfake.Value{
//		"title": {"input": slackfake.TextValue("Fix the printer")},
//	})
//	msg, _ := fake.LastMessage("C1")
//	d, _ = fake.ClickButton("U1", msg.Ref(), "Take it") // by action_id or text
//	d, _ = fake.Choose("U1", msg.Ref(), "move", slackfake.OptionValue("doing"))
//	fake.Fill("U1", modal.ID, values) // type without submitting; Slack sends nothing
//	d, _ = fake.OpenAppHome("U1")
//	d, _ = fake.SendEvent(map[string]any{"type": "member_joined_channel", …})
//	fake.SendRaw([]byte(`{"garbage":`))
//	fake.PostAsUser("U1", "C1", "hello", "") // history only; no event is sent
//	d, _ = fake.MessageShortcut("U1", "C1", msg.TS, "make_ticket") // message_action
//	d, _ = fake.GlobalShortcut("U1", "new_ticket")                  // shortcut
//	d, _ = fake.AddReaction("U1", "C1", msg.TS, "ticket")           // reaction_added
//	d, _ = fake.RemoveReaction("U1", "C1", msg.TS, "ticket")        // reaction_removed
//	m, d, _ := fake.SendDM("U1", "help")                            // message, channel_type im
//	_, d, _ = fake.ReplyInDM("U1", m.TS, "more")                    // in m's thread
//
// Shortcut payloads follow Slack's reference: message_action carries
// callback_id, trigger_id (views.open within TriggerTTL), message_ts,
// response_url, user, channel, team and the message, without message.user
// when the app posted it; shortcut has no channel, message or response_url.
// Reactions are kept on the message (history shows them) and the events
// go out only when the bot is in the conversation and has reactions:read,
// DM message events only with im:history; otherwise the Delivery is nil.
// chat.getPermalink links a thread reply with ?thread_ts=…&cid=….
//
// An app may hold several sockets (MaxConnections, 10 by default), as
// several processes sharing the load do. Envelopes are spread over the live
// sockets round-robin in the order they connected, so any socket may get
// any envelope, and a redelivered event goes to the next socket. An ack
// counts only on the socket its envelope went out on; sent on another it
// is stray and the envelope stays unacked. Envelope.Connection and
// Ack.Connection number the sockets from 1.
//
// Acks carry effects as in Slack: a slash-command ack payload is shown
// (ephemeral, or in_channel); a view_submission ack's response_action
// (errors, update, push, clear, or none to close) changes the modal stack.
// An ack after the deadline is recorded as Late and its payload ignored.
// Unacked events_api envelopes are redelivered with retry_attempt and
// retry_reason "timeout".
//
// # Kept state
//
// Save and Load (SaveFile and LoadFile for a path, written atomically)
// keep the Slack side across a restart as versioned JSON: users, channels
// with membership and archiving, messages with threads, metadata, reactions
// and files, DMs, user groups, App Home and open modal views with their ids
// and hashes, and the counters behind ids and timestamps, so that the app
// can still chat.update an old message. Sockets, envelopes, acks, triggers,
// response_urls, ephemeral messages and the logs are not kept. Load needs
// the same team, app and bot user ids, and refuses another version.
//
// # Assertions and waiting
//
// Messages(channel), Message(channel, ts) (with its Metadata and
// Reactions), DMs(user), Ephemerals(user), Views(user) (every change a
// person saw), ModalStack, TopModal, Home, Channels (with membership and
// archiving), Users, Calls(method) (Dropped for a DropResponse),
// UnknownMethods, Acks (with latency and socket), Unacked, Envelopes,
// StrayAcks, Connections, ConnectionsOpened. Message, Ephemeral and View
// have AllText for assertions that should not depend on layout. Never sleep: wait on a condition, re-checked
// on every change of the fake (Changed gives the raw notification channel):
//
//	err := fake.WaitForTimeout(2*time.Second, func() bool { return len(fake.Messages("C1")) == 1 })
//
// # Faults
//
//	fake.FailNext("chat.postMessage", 2, slackfake.Fault{Status: 429, RetryAfter: time.Second})
//	fake.FailNext("views.open", 1, slackfake.Fault{Status: 503})
//	fake.FailNext("users.info", 1, slackfake.Fault{Delay: 2 * time.Second})
//	fake.FailNext("chat.postMessage", 1, slackfake.Fault{DropResponse: true})
//	fake.Disconnect("refresh_requested") // or "warning"; an 11th socket gets too_many_websockets
//	fake.DropSockets()                   // cut without a close frame
//
// DropResponse lets the call take effect (the message is posted) and then
// closes the connection before answering: slack-go returns an EOF error and
// the app cannot tell whether it worked; Call.Dropped records it. It applies
// to Web API methods, not to response_urls.
//
// With Options.RateLimits, methods answer 429 with Retry-After once called
// faster than their Slack tier (apps.connections.open one a minute,
// chat.postMessage about one a second per channel), on the Options.Now clock.
//
// Not implemented: group DMs, Events API over HTTP, message events for what
// people post in channels (PostAsUser) and for the app's own posts, and
// methods the app does not use.
package slackfake
