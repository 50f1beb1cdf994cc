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
// Everything sent is checked against Block Kit's rules, answering as Slack
// does: invalid_blocks with "errors" and response_metadata.messages such as
// "must be less than 151 characters [json-pointer:/blocks/0/text/text]" for
// messages; invalid_arguments with "[ERROR] …" messages for views;
// view_too_large, msg_too_long, hash_conflict, push_limit_reached,
// expired_trigger_id, exchanged_trigger_id, not_found.
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
