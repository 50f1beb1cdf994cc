package bot

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/slackevents"

	"workbot/domain"
)

// Intake from anywhere: a message shortcut on any message, the global shortcut, a DM to workbot, and
// (when configured) an emoji reaction on a message. Each ends in the same domain.Create, with the
// message as the item's source, so one message never becomes two items.

// intakeForm is what the intake modal is prefilled with.
type intakeForm struct {
	Title, Details string
	// Source is the message the request comes from, if any.
	Source domain.Source
	// Requester is who asks for the work when it is not the person filling the form (a message's
	// author).
	Requester domain.UserID
	// Similar are likely duplicates, offered to follow instead.
	Similar []similarItem
}

// similarItem is a likely duplicate as the intake modal shows it.
type similarItem struct {
	Item domain.Item
}

// meta is the form's private_metadata: where the request came from and for whom.
func (f intakeForm) meta() string {
	var parts []string
	if !f.Source.IsZero() {
		parts = append(parts, "src="+f.Source.Conversation+","+f.Source.Message+","+f.Source.Thread)
	}
	if f.Requester != "" {
		parts = append(parts, "req="+string(f.Requester))
	}
	return strings.Join(parts, ";")
}

// formFromMeta reads back what meta wrote. Slack returns private_metadata as the app set it; the
// values are still checked by the domain.
func formFromMeta(meta string) (domain.Source, domain.UserID) {
	m := parseMeta(meta)
	var src domain.Source
	if parts := strings.Split(m["src"], ","); len(parts) == 3 {
		src = domain.Source{Conversation: parts[0], Message: parts[1], Thread: parts[2]}
	}
	req, _ := parseUser(m["req"])
	return src, req
}

// mentionRef matches Slack's control sequences in message text: <@U…>, <#C…|name>, <!here>, <url|label>.
var mentionRef = regexp.MustCompile(`<([^<>]*)>`)

// nameCache remembers user names looked up for readable titles.
type nameCache struct{ m sync.Map }

// readable turns message or command text into what a person reads: mentions and links become names
// and labels, and Slack's escapes (&amp; &lt; &gt;, which a command with should_escape gets too) are
// undone. The result is raw text, stored as typed; renderers escape it again.
func (b *Bot) readable(ctx context.Context, text string) string {
	out := mentionRef.ReplaceAllStringFunc(text, func(seq string) string {
		inner := seq[1 : len(seq)-1]
		ref, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(ref, "@"):
			if hasLabel && label != "" {
				return "@" + strings.TrimPrefix(label, "@")
			}
			return "@" + b.userName(ctx, ref[1:])
		case strings.HasPrefix(ref, "#"):
			if hasLabel && label != "" {
				return "#" + label
			}
			return "#channel"
		case strings.HasPrefix(ref, "!subteam^"):
			if hasLabel {
				return label
			}
			return "@group"
		case strings.HasPrefix(ref, "!"):
			name, _, _ := strings.Cut(ref[1:], "^")
			return "@" + name
		case hasLabel && label != "":
			return label
		}
		return strings.TrimPrefix(ref, "mailto:")
	})
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(out)
}

// userName is a person's display name, looked up once; their ID when Slack cannot say.
func (b *Bot) userName(ctx context.Context, id string) string {
	if v, ok := b.names.m.Load(id); ok {
		return v.(string)
	}
	u, err := b.api.api.GetUserInfoContext(ctx, id)
	if err != nil {
		return id
	}
	name := u.Profile.DisplayName
	if name == "" {
		name = u.Name
	}
	if name == "" {
		name = id
	}
	b.names.m.Store(id, name)
	return name
}

// formFromMessage prefills the intake form from a message: its first line, readable and cut on a word,
// as the title; the rest, and a link to the message, as the details.
func (b *Bot) formFromMessage(ctx context.Context, msg slack.Msg, src domain.Source, filer domain.UserID) intakeForm {
	// The trigger expires in 3 s: lookups for names and the link get a little of that, then give up.
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	text := strings.TrimSpace(b.readable(ctx, msg.Text))
	author := domain.UserID(msg.User)
	if author == "" || msg.BotID != "" || msg.SubType == "bot_message" {
		author = filer // a bot's message is filed for whoever asked
	}
	if text == "" {
		text = "Message from @" + b.userName(ctx, string(author))
	}
	title, details := titleAndDetails(text)
	if link, err := b.api.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: src.Conversation, Ts: src.Message}); err == nil {
		from := "\n\nFrom: " + link
		details = cut(strings.TrimSpace(details), domain.MaxDetailsLen-len([]rune(from))) + from
		details = strings.TrimSpace(details)
	}
	f := intakeForm{Title: title, Details: details, Source: src}
	if author != filer {
		f.Requester = author
	}
	return f
}

// alreadyFiled returns the item a source message became, if any.
func (b *Bot) alreadyFiled(ctx context.Context, src domain.Source) (domain.Item, bool) {
	var it domain.Item
	found := false
	_ = b.store.View(ctx, func(tx domain.ReadTx) error {
		id, ok, err := tx.ItemBySource(src.Key())
		if err != nil || !ok {
			return err
		}
		it, err = tx.Item(id)
		found = err == nil
		return err
	})
	return it, found
}

func filedAlready(it domain.Item, p *domain.Policy) string {
	return "📎 That message is already " + itemRef(it) + " (" + esc(stageName(p, it.Stage)) + "). Follow it with `/work follow " + it.Key + "`."
}

// handleMessageShortcut opens the intake form for the message the shortcut was used on.
func (b *Bot) handleMessageShortcut(ctx context.Context, cb slack.InteractionCallback) {
	r := b.replierFor(cb)
	msg := cb.Message.Msg
	ts := cb.MessageTs
	if ts == "" {
		ts = msg.Timestamp
	}
	src := domain.Source{Conversation: cb.Channel.ID, Message: ts}
	if msg.ThreadTimestamp != "" && msg.ThreadTimestamp != ts {
		src.Thread = msg.ThreadTimestamp
	}
	if src.Conversation == "" || src.Message == "" {
		r.say(ctx, "⚠️ Slack did not say which message this was; please try again.")
		return
	}
	if it, ok := b.alreadyFiled(ctx, src); ok {
		r.say(ctx, filedAlready(it, b.policy))
		return
	}
	f := b.formFromMessage(ctx, msg, src, domain.UserID(cb.User.ID))
	b.openModal(ctx, r, cb.TriggerID, b.intakeModalWithSimilar(ctx, f))
}

// handleGlobalShortcut opens an empty intake form from anywhere in Slack.
func (b *Bot) handleGlobalShortcut(ctx context.Context, cb slack.InteractionCallback) {
	b.openModal(ctx, b.replierFor(cb), cb.TriggerID, b.intakeModalWithSimilar(ctx, intakeForm{}))
}

// handleDM answers a person's DM to workbot with an offer to file it. The answer goes through the
// outbox, with a marker per message, so a redelivered event or a restart neither loses nor repeats it.
func (b *Bot) handleDM(ctx context.Context, ev *slackevents.MessageEvent) {
	user := domain.UserID(ev.User)
	blocks := []slack.Block{
		section("📝 Shall I file this as a work request? I'll prefill the form from your message."),
		actions("file_dm", primary(button(ActionFileDM, ev.Channel+"|"+ev.TimeStamp, "File this as a request"))),
	}
	raw, err := json.Marshal(blocks)
	if err != nil {
		b.log.Error().Err(err).Msg("DM offer blocks")
		return
	}
	err = b.store.UpdateState(ctx, func(tx domain.StateTx) error {
		e := &effects{b: b, st: tx, key: "user:" + string(user)}
		e.once(kvDMOffers, ev.Channel+"|"+ev.TimeStamp, effPost, e.key, dmLane(user),
			effect{Channel: ev.Channel, Thread: ev.TimeStamp, Text: "Shall I file this as a work request?", Blocks: raw})
		return e.flush(tx)
	})
	if err != nil {
		b.log.Error().Err(err).Str("user", ev.User).Msg("cannot answer a DM")
	}
}

const kvDMOffers = "dm_offers" // "<channel>|<ts>" → the DM was answered with an offer to file it

// fileDM opens the intake form for a DM the person sent to workbot.
func (b *Bot) fileDM(ctx context.Context, r replier, cb slack.InteractionCallback, value string) {
	channel, ts, ok := strings.Cut(value, "|")
	if !ok || channel == "" || ts == "" || len(value) > 100 {
		r.fail(ctx, errStaleButton)
		return
	}
	src := domain.Source{Conversation: channel, Message: ts}
	if it, ok := b.alreadyFiled(ctx, src); ok {
		r.say(ctx, filedAlready(it, b.policy))
		return
	}
	msg, err := b.fetchMessage(ctx, channel, ts)
	if err != nil {
		b.log.Warn().Err(err).Msg("cannot read the DM to file")
		r.say(ctx, "⚠️ I could not read that message any more. Use `/work request` instead.")
		return
	}
	if msg.User != cb.User.ID {
		r.fail(ctx, errStaleButton) // only the person who wrote it files it from here
		return
	}
	if msg.ThreadTimestamp != "" && msg.ThreadTimestamp != ts {
		src.Thread = msg.ThreadTimestamp
	}
	b.openModal(ctx, r, cb.TriggerID, b.intakeModalWithSimilar(ctx, b.formFromMessage(ctx, msg.Msg, src, domain.UserID(cb.User.ID))))
}

// fetchMessage reads one message: conversations.history holds top-level messages, and a reply in a
// thread is read with conversations.replies.
func (b *Bot) fetchMessage(ctx context.Context, channel, ts string) (slack.Message, error) {
	resp, err := b.api.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
		ChannelID: channel, Latest: ts, Oldest: ts, Inclusive: true, Limit: 1,
	})
	if err != nil {
		return slack.Message{}, err
	}
	if len(resp.Messages) == 1 && resp.Messages[0].Timestamp == ts {
		return resp.Messages[0], nil
	}
	msgs, _, _, err := b.api.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
		ChannelID: channel, Timestamp: ts, Oldest: ts, Latest: ts, Inclusive: true, Limit: 2,
	})
	if err != nil {
		return slack.Message{}, err
	}
	for _, m := range msgs {
		if m.Timestamp == ts {
			return m, nil
		}
	}
	return slack.Message{}, errNoSuchMessage
}

var errNoSuchMessage = domain.Errorf(domain.ENOTFOUND, "That message is gone.")

// reactionWanted says whether a reaction files its message: the configured emoji (any skin tone), on a
// message, in an allowed channel.
func (b *Bot) reactionWanted(ev *slackevents.ReactionAddedEvent) bool {
	name, _, _ := strings.Cut(ev.Reaction, "::")
	if b.cfg.IntakeReaction == "" || name != b.cfg.IntakeReaction || ev.Item.Type != "message" || ev.Item.Channel == "" || ev.Item.Timestamp == "" {
		return false
	}
	if len(b.cfg.ReactionChannels) == 0 {
		return true
	}
	for _, ch := range b.cfg.ReactionChannels {
		if ch == ev.Item.Channel {
			return true
		}
	}
	return false
}

// fileReaction files the message a reaction was added to, straight into the triage queue with the
// default value, urgency and size. A second reaction, a redelivered event or a restart finds the item
// the message already became and answers with its key.
func (b *Bot) fileReaction(ctx context.Context, ev *slackevents.ReactionAddedEvent) {
	reactor := domain.UserID(ev.User)
	src := domain.Source{Conversation: ev.Item.Channel, Message: ev.Item.Timestamp}
	tell := func(text string) {
		if _, err := b.api.api.PostEphemeralContext(ctx, src.Conversation, string(reactor), slack.MsgOptionText(text, false)); err != nil {
			b.log.Warn().Err(err).Msg("could not answer a reaction")
		}
	}
	if it, ok := b.alreadyFiled(ctx, src); ok {
		tell(filedAlready(it, b.policy))
		return
	}
	msg, err := b.fetchMessage(ctx, src.Conversation, src.Message)
	if err != nil {
		b.log.Warn().Err(err).Str("channel", src.Conversation).Msg("cannot read the message a reaction was added to")
		tell("⚠️ I could not read that message (" + esc(domain.ErrorMessage(err)) + "), so it was not filed. Use the message's ⋯ menu, \"Turn into a work request\", instead.")
		return
	}
	if msg.ThreadTimestamp != "" && msg.ThreadTimestamp != src.Message {
		src.Thread = msg.ThreadTimestamp
	}
	f := b.formFromMessage(ctx, msg.Msg, src, reactor)
	res, err := b.svc.Create(ctx, reactor, domain.NewItem{Title: f.Title, Details: f.Details, Requester: f.Requester, Source: src})
	switch {
	case domain.ErrorCode(err) == domain.ECONFLICT && res.Item.ID != 0:
		tell(filedAlready(res.Item, b.policy))
	case err != nil:
		if domain.ErrorCode(err) == domain.EINTERNAL {
			b.log.Error().Err(err).Msg("filing a reaction failed")
		}
		tell("⚠️ That message could not be filed: " + esc(domain.ErrorMessage(err)))
	}
}

// maxSimilar is how many likely duplicates a form or an item message offers.
const maxSimilar = 3

// intakeModalWithSimilar is the intake modal, with likely duplicates of its title when it has one.
func (b *Bot) intakeModalWithSimilar(ctx context.Context, f intakeForm) slack.ModalViewRequest {
	if strings.TrimSpace(f.Title) != "" {
		f.Similar = b.similarItems(ctx, f.Title+"\n"+f.Details)
	}
	return intakeModal(f, b.policy)
}

// similarItems are the open items whose text is most like text, best first; nil when the lookup fails.
func (b *Bot) similarItems(ctx context.Context, text string) []similarItem {
	var out []similarItem
	err := b.store.View(ctx, func(tx domain.ReadTx) error {
		var err error
		out, err = similarIn(tx, text, 0)
		return err
	})
	if err != nil {
		b.log.Warn().Err(err).Msg("looking for likely duplicates failed")
		return nil
	}
	return out
}

// similarIn is up to maxSimilar open items whose text is most like text, best first, leaving out the
// item except, each read whole.
func similarIn(tx domain.ReadTx, text string, except domain.ItemID) ([]similarItem, error) {
	ms, err := tx.SimilarOpenItems(text, except, maxSimilar)
	if err != nil {
		return nil, err
	}
	var out []similarItem
	for _, m := range ms {
		if it, err := tx.Item(m.Item); err == nil {
			out = append(out, similarItem{Item: it})
		}
	}
	return out, nil
}

// titleEntered refreshes the intake form's likely duplicates for the title just entered. The form is
// updated in place (with its hash, so a newer edit is never overwritten), keeping what was typed.
func (b *Bot) titleEntered(ctx context.Context, cb slack.InteractionCallback, title string) {
	v := cb.View
	src, requester := formFromMeta(v.PrivateMetadata)
	f := intakeForm{Title: title, Details: formValue(cb, BlockDetails), Source: src, Requester: requester}
	f.Similar = b.similarItems(ctx, f.Title+"\n"+f.Details)
	if _, err := b.api.api.UpdateViewContext(ctx, intakeModal(f, b.policy), "", v.Hash, v.ID); err != nil {
		b.log.Debug().Err(err).Msg("could not refresh the likely duplicates")
	}
}

// followInstead makes the form's writer follow a likely duplicate, and closes the form's question.
func (b *Bot) followInstead(ctx context.Context, cb slack.InteractionCallback, id domain.ItemID) {
	actor := domain.UserID(cb.User.ID)
	res, err := b.svc.Follow(ctx, actor, id)
	text := "🔔 You now follow " + itemRef(res.Item) + ". You will hear what its requester hears: when it is decided, assigned and done."
	if err != nil {
		text = "⚠️ " + esc(domain.ErrorMessage(err))
	}
	if _, err := b.api.api.UpdateViewContext(ctx, followedModal(text), "", cb.View.Hash, cb.View.ID); err != nil {
		b.log.Warn().Err(err).Msg("could not close the form after following")
		b.replierFor(cb).say(ctx, text)
	}
}
