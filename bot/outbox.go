package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/slack-go/slack"

	"workbot/domain"
)

// The outbox delivers what committed changes owe Slack (effects.go queues it), exactly once:
//
//   - Entries are claimed from the store in commit order, never ahead of an unfinished earlier entry
//     of the same item (Key) or conversation (Channel), so one item's messages and one channel's posts
//     keep their order.
//   - Before a post, the attempt is recorded durably. Every post carries message metadata naming its
//     entry. When an attempt's outcome is unknown (a crash, a timeout, a dropped connection, a 5xx,
//     internal_error), the deliverer first looks for its own message with that entry's name in the
//     conversation's history and adopts it; only when it is not there does it post.
//   - Edits (chat.update) and App Home publishes are idempotent and are simply retried.
//   - An entry is marked delivered, with its channel and ts, in the same transaction as whatever the
//     post leaves behind (the item message's reference, a handoff DM's reference).
//
// At start-up whatever was pending is delivered like anything else: a crash between a commit and its
// announcement only delays the announcement.

const (
	// metaEventType marks workbot's posts in Slack's message metadata.
	metaEventType = "workbot_outbox"
	// defaultClaimLease is how long a claim holds unless renewed: the deliverer renews its claims
	// every third of it while it works, so a replica that dies frees its entries within a lease.
	defaultClaimLease = 30 * time.Second
	// holdWait is the longest wait before a retry that a worker sits through holding its entry.
	// A longer one (a backoff grown by repeated failures, a long Retry-After) releases the entry to
	// rest instead, so a few failing conversations cannot occupy every worker while the rest of the
	// queue waits. A resting entry still blocks the later entries of its item and conversation.
	holdWait = 5 * time.Second
	// maxBackoff bounds the wait between attempts at an entry that keeps failing.
	maxBackoff = 5 * time.Minute
	// historySlack is how far before an entry's first attempt its post is looked for, against clock
	// skew between us and Slack.
	historySlack = 2 * time.Minute
	// historyPages bounds the search for an earlier attempt's post.
	historyPages = 10
)

// errLostClaim stops a delivery whose claim ran out and may now be another deliverer's: it must not
// act, and has nothing to release.
var errLostClaim = errors.New("the claim on this entry ran out")

// markAttempt records an attempt under this deliverer's claim.
func (o *outbox) markAttempt(ctx context.Context, e *domain.OutboxEntry) error {
	now := time.Now()
	if err := o.store.MarkAttempt(ctx, o.owner, e.ID, now); err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			return fmt.Errorf("%w: %w", errLostClaim, err)
		}
		return err
	}
	if e.AttemptedAt.IsZero() {
		e.AttemptedAt = now
	}
	e.Attempts++
	return nil
}

// errPermanent wraps failures that retrying cannot fix; the entry is then finished as failed.
var errPermanent = errors.New("refused for good")

func permanent(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errPermanent, fmt.Sprintf(format, args...))
}

// permanentRefusals are Slack errors after which the same call can never succeed.
var permanentRefusals = map[string]bool{
	"channel_not_found": true, "is_archived": true, "not_in_channel": true, "user_not_found": true,
	"user_not_visible": true, "cannot_dm_bot": true, "user_disabled": true, "invalid_blocks": true,
	"invalid_blocks_format": true, "msg_too_long": true, "no_text": true, "invalid_metadata_format": true,
	"invalid_metadata_schema": true, "metadata_too_large": true, "cant_update_message": true,
	"edit_window_closed": true, "restricted_action": true, "thread_not_found": true,
}

// outcome is a finished delivery: its state, result, and state writes that commit with it.
type outcome struct {
	state domain.OutboxState
	res   domain.OutboxResult
	also  func(domain.StateTx) error
}

func delivered(channel, ts string) outcome {
	return outcome{state: domain.OutboxDelivered, res: domain.OutboxResult{Channel: channel, TS: ts, At: time.Now()}}
}

// outbox is the deliverer. One runs per bot; several bots on one PostgreSQL database share the work
// through their claims.
type outbox struct {
	b       *Bot
	store   Store
	owner   string
	workers int
	// pollEvery is how often the store is asked for work nobody announced (another replica's, or an
	// entry whose retry is due).
	pollEvery time.Duration
	// lease is how long a claim holds unless renewed.
	lease time.Duration

	wake chan struct{}

	mu        sync.Mutex
	inflight  map[uint64]bool
	notBefore map[uint64]time.Time     // entries released after failing for a while rest before a retry
	backoffs  map[uint64]time.Duration // the next backoff of each resting entry, so it keeps growing
	wg        sync.WaitGroup           // deliveries in flight

	imChannels sync.Map // user → their DM channel with the bot

	authOnce sync.Mutex
	botID    string
	botUser  string

	// hookAfterSend, in tests, runs after Slack accepted a delivery and before it is recorded;
	// returning true simulates a crash at that moment.
	hookAfterSend func(e domain.OutboxEntry) bool
	crashed       atomic.Bool
}

func newOutbox(b *Bot, store Store, owner string) *outbox {
	return &outbox{
		b: b, store: store, owner: owner, workers: 8, pollEvery: time.Second, lease: defaultClaimLease,
		wake: make(chan struct{}, 1), inflight: map[uint64]bool{}, notBefore: map[uint64]time.Time{},
		backoffs: map[uint64]time.Duration{},
	}
}

// kick tells the deliverer that new entries may be ready.
func (o *outbox) kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// run claims and delivers until stop is closed or ctx ends. Deliveries run on ctx, which outlives
// stop: shutdown stops new claims here, then drains.
func (o *outbox) run(ctx context.Context, stop <-chan struct{}) {
	poll := time.NewTicker(o.pollEvery)
	defer poll.Stop()
	renew := time.NewTicker(o.lease / 3)
	defer renew.Stop()
	for {
		if o.crashed.Load() {
			return
		}
		o.claim(ctx)
		select {
		case <-ctx.Done():
			return
		case <-stop:
			return
		case <-o.wake:
		case <-poll.C:
		case <-renew.C:
			o.renewClaims(ctx)
		}
	}
}

// renewClaims extends this deliverer's claims on the entries it is delivering.
func (o *outbox) renewClaims(ctx context.Context) {
	o.mu.Lock()
	ids := make([]uint64, 0, len(o.inflight))
	for id := range o.inflight {
		ids = append(ids, id)
	}
	o.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	if err := o.store.ExtendClaims(ctx, o.owner, ids, o.lease); err != nil && ctx.Err() == nil {
		o.b.log.Warn().Err(err).Msg("outbox: cannot renew claims")
	}
}

func (o *outbox) inFlight() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.inflight)
}

// drain delivers what is ready until nothing is left or the deadline passes, then waits for the
// deliveries in flight (ctx's cancellation stops them). Shutdown uses it once the handlers are done,
// so changes acked just before a stop are usually announced before the process exits.
func (o *outbox) drain(ctx context.Context, deadline time.Time) {
	defer o.wg.Wait()
	for time.Now().Before(deadline) && ctx.Err() == nil && !o.crashed.Load() {
		o.claim(ctx)
		if o.inFlight() == 0 {
			// Nothing ready and nothing in flight: either all is delivered, or what is left waits on
			// a delivery that keeps failing and must wait for the next start.
			return
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-ctx.Done():
		case <-o.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (o *outbox) claim(ctx context.Context) int {
	o.mu.Lock()
	free := o.workers - len(o.inflight)
	o.mu.Unlock()
	if free <= 0 || ctx.Err() != nil {
		return 0
	}
	entries, err := o.store.ClaimEffects(ctx, o.owner, free, o.lease)
	if err != nil {
		if ctx.Err() == nil {
			o.b.log.Error().Err(err).Msg("outbox: cannot claim entries")
		}
		return 0
	}
	started := 0
	now := time.Now()
	for _, e := range entries {
		o.mu.Lock()
		busy := o.inflight[e.ID]
		resting := now.Before(o.notBefore[e.ID])
		if !busy && !resting {
			o.inflight[e.ID] = true
			delete(o.notBefore, e.ID)
		}
		o.mu.Unlock()
		if busy {
			continue // our own claim expired and was renewed while we still work on it
		}
		if resting {
			_ = o.store.ReleaseEffect(ctx, o.owner, e.ID)
			continue
		}
		started++
		o.wg.Add(1)
		go func(e domain.OutboxEntry) {
			defer o.wg.Done()
			defer func() {
				o.mu.Lock()
				delete(o.inflight, e.ID)
				o.mu.Unlock()
				o.kick()
			}()
			o.deliverOne(ctx, e)
		}(e)
	}
	return started
}

// deliverOne tries an entry until it is delivered, refused for good, or the next retry is further off
// than holdWait, in which case it is released to rest until then. Stopped by ctx, it releases the
// entry.
func (o *outbox) deliverOne(ctx context.Context, e domain.OutboxEntry) {
	defer func() {
		if r := recover(); r != nil {
			o.b.log.Error().Interface("panic", r).Uint64("entry", e.ID).Str("kind", e.Kind).Msg("outbox: delivery panicked; it will be retried")
			o.rest(e.ID, time.Minute, time.Minute)
		}
	}()
	o.mu.Lock()
	backoff, ok := o.backoffs[e.ID]
	delete(o.backoffs, e.ID)
	o.mu.Unlock()
	if !ok {
		backoff = time.Second
	}
	for {
		out, err := o.attempt(ctx, &e)
		if o.crashed.Load() {
			return
		}
		if errors.Is(err, errLostClaim) {
			o.b.log.Warn().Err(err).Uint64("entry", e.ID).Str("kind", e.Kind).Msg("outbox: lost the claim on an entry before delivering it; leaving it to its new owner")
			return
		}
		if err == nil {
			if o.hookAfterSend != nil && o.hookAfterSend(e) {
				o.crashed.Store(true)
				return
			}
			o.finish(ctx, e, out)
			return
		}
		if errors.Is(err, errPermanent) || (definitelyNotDone(err) && permanentRefusals[slackError(err)]) {
			o.b.log.Error().Err(err).Uint64("entry", e.ID).Str("kind", e.Kind).Str("key", e.Key).Msg("outbox: Slack refused a delivery for good; it is dropped")
			o.finish(ctx, e, outcome{state: domain.OutboxFailed, res: domain.OutboxResult{Error: err.Error(), At: time.Now()}})
			return
		}
		if ctx.Err() != nil {
			o.rest(e.ID, 0, backoff)
			return
		}
		wait := backoff
		switch ra, limited := rateLimited(err); {
		case limited:
			wait = ra
		case !definitelyNotDone(err):
			// The call may still be under way at Slack: give it time to land before looking for it.
			wait = max(backoff, 5*time.Second)
			backoff = min(backoff*2, maxBackoff)
		default:
			backoff = min(backoff*2, maxBackoff)
		}
		o.b.metrics.retried("outbox:"+e.Kind, err)
		if wait > holdWait {
			o.b.log.Warn().Err(err).Uint64("entry", e.ID).Str("kind", e.Kind).Dur("wait", wait).Msg("outbox: delivery keeps failing; it rests before the next attempt")
			o.rest(e.ID, wait, backoff)
			return
		}
		o.b.log.Warn().Err(err).Uint64("entry", e.ID).Str("kind", e.Kind).Dur("wait", wait).Msg("outbox: delivery failed; retrying")
		if sleepCtx(ctx, wait) != nil {
			o.rest(e.ID, 0, backoff)
			return
		}
	}
}

// rest releases an entry and keeps this deliverer from taking it again for d; its next attempt
// starts with backoff.
func (o *outbox) rest(id uint64, d, backoff time.Duration) {
	o.mu.Lock()
	o.notBefore[id] = time.Now().Add(d)
	o.backoffs[id] = backoff
	o.pruneRests()
	o.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = o.store.ReleaseEffect(ctx, o.owner, id)
}

// pruneRests forgets the rests of entries long past them, which another replica may have delivered
// meanwhile, so the maps stay small. o.mu is held.
func (o *outbox) pruneRests() {
	if len(o.notBefore) < 1024 {
		return
	}
	stale := time.Now().Add(-2 * maxBackoff)
	for id, t := range o.notBefore {
		if t.Before(stale) {
			delete(o.notBefore, id)
			delete(o.backoffs, id)
		}
	}
}

func (o *outbox) finish(ctx context.Context, e domain.OutboxEntry, out outcome) {
	// The delivery happened; recording it must not be cut short by a stop that comes meanwhile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := o.store.UpdateState(ctx, func(tx domain.StateTx) error {
		if out.also != nil {
			if err := out.also(tx); err != nil {
				return err
			}
		}
		return tx.FinishEffect(e.ID, out.state, out.res)
	})
	if err == nil {
		o.b.metrics.delivered(e.Kind, out.state)
	}
	if err != nil {
		// It stays pending; the next attempt finds the post by its metadata instead of posting again.
		o.b.log.Error().Err(err).Uint64("entry", e.ID).Msg("outbox: cannot record a delivery; it will be checked again")
		o.rest(e.ID, 5*time.Second, time.Second)
	}
}

// attempt performs one delivery of e. A nil error means it happened; errPermanent means it never can.
func (o *outbox) attempt(ctx context.Context, e *domain.OutboxEntry) (outcome, error) {
	var p effect
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return outcome{}, permanent("unreadable payload: %v", err)
	}
	switch e.Kind {
	case effItemMessage:
		return o.itemMessage(ctx, e, p)
	case effThread:
		ref, ok := o.b.loadRef(ctx, kvItemMessages, idKey(uint64(p.Item)))
		if !ok {
			return outcome{}, permanent("the item has no message to thread under")
		}
		ts, err := o.postOnce(ctx, e, ref.Channel, ref.TS, p.Text, nil)
		return delivered(ref.Channel, ts), err
	case effDM:
		return o.dm(ctx, e, p)
	case effHandoffDM:
		return o.handoffDM(ctx, e, p)
	case effHandoffClose:
		return o.handoffClose(ctx, p)
	case effHome:
		return o.home(ctx, p)
	case effDigest:
		var blocks slack.Blocks
		if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
			return outcome{}, permanent("unreadable digest blocks: %v", err)
		}
		ts, err := o.postOnce(ctx, e, p.Channel, "", p.Text, blocks.BlockSet)
		out := delivered(p.Channel, ts)
		out.also = func(tx domain.StateTx) error {
			return putJSON(tx, kvDigestPosts, digestPostKey(p.Slot, p.Channel), messageRef{Channel: p.Channel, TS: ts})
		}
		return out, err
	case effChart:
		return o.chart(ctx, e, p)
	case effPost:
		var blocks slack.Blocks
		if len(p.Blocks) > 0 {
			if err := json.Unmarshal(p.Blocks, &blocks); err != nil {
				return outcome{}, permanent("unreadable blocks: %v", err)
			}
		}
		ts, err := o.postOnce(ctx, e, p.Channel, p.Thread, p.Text, blocks.BlockSet)
		return delivered(p.Channel, ts), err
	case effSourceReply:
		return o.sourceReply(ctx, e, p)
	}
	return outcome{}, permanent("unknown kind %q (from a newer workbot?)", e.Kind)
}

func (o *outbox) itemMessage(ctx context.Context, e *domain.OutboxEntry, p effect) (outcome, error) {
	key := idKey(uint64(p.Item))
	// From here on, a new change must queue a new edit: this one may render before it commits.
	if err := o.store.UpdateState(ctx, func(tx domain.StateTx) error { return tx.Delete(kvPendingItemMsg, key) }); err != nil {
		return outcome{}, err
	}
	v, err := o.b.itemView(ctx, p.Item)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return outcome{}, permanent("no item %d", p.Item)
	} else if err != nil {
		return outcome{}, err
	}
	blocks := itemMessage(v)
	keep := func(ref messageRef) func(domain.StateTx) error {
		ref.Version = v.Item.Version
		return func(tx domain.StateTx) error { return putJSON(tx, kvItemMessages, key, ref) }
	}
	if ref, ok := o.b.loadRef(ctx, kvItemMessages, key); ok {
		if ref.Version >= v.Item.Version && ref.Version != 0 {
			return delivered(ref.Channel, ref.TS), nil // it already shows this version or a newer one
		}
		err := o.b.api.update(ctx, ref.Channel, ref.TS, itemText(v), blocks)
		if slackError(err) != "message_not_found" {
			out := delivered(ref.Channel, ref.TS)
			out.also = keep(ref)
			return out, err
		}
		// Someone deleted the item message: post a new one rather than leave the item without.
		o.b.log.Warn().Str("item", v.Item.Key).Msg("the item message was deleted; posting it again")
	}
	channel := o.b.cfg.IntakeChannel
	if channel == "" {
		return outcome{}, permanent("no intake_channel is configured")
	}
	ts, err := o.postOnce(ctx, e, channel, "", itemText(v), blocks)
	out := delivered(channel, ts)
	out.also = keep(messageRef{Channel: channel, TS: ts})
	return out, err
}

func (o *outbox) dm(ctx context.Context, e *domain.OutboxEntry, p effect) (outcome, error) {
	ch, err := o.imChannel(ctx, p.User)
	if err != nil {
		return outcome{}, err
	}
	var blocks []slack.Block
	switch {
	case p.Intro != "" || p.Nudge:
		it, err := o.b.svc.Item(ctx, p.Item)
		if domain.ErrorCode(err) == domain.ENOTFOUND {
			return outcome{}, permanent("no item %d", p.Item)
		} else if err != nil {
			return outcome{}, err
		}
		if p.Nudge {
			blocks = nudgeBlocks(it, o.b.policy, o.b.now())
		} else {
			v, err := o.b.itemView(ctx, p.Item)
			if err != nil {
				return outcome{}, err
			}
			blocks = append([]slack.Block{section(p.Intro)}, itemMessage(v)...)
		}
	case len(p.Blocks) > 0:
		var bs slack.Blocks
		if err := json.Unmarshal(p.Blocks, &bs); err != nil {
			return outcome{}, permanent("unreadable blocks: %v", err)
		}
		blocks = bs.BlockSet
	}
	ts, err := o.postOnce(ctx, e, ch, "", cut(p.Text, maxMessageText), blocks)
	return delivered(ch, ts), err
}

func (o *outbox) handoffDM(ctx context.Context, e *domain.OutboxEntry, p effect) (outcome, error) {
	h, it, err := o.b.handoffAndItem(ctx, p.Handoff)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return outcome{}, permanent("no handoff %d", p.Handoff)
	} else if err != nil {
		return outcome{}, err
	}
	ch, err := o.imChannel(ctx, p.User)
	if err != nil {
		return outcome{}, err
	}
	text := "Handoff request for " + it.Key
	if p.Approval {
		text = "Handoff approval needed for " + it.Key
	}
	ts, err := o.postOnce(ctx, e, ch, "", text, handoffDM(h, it, o.b.policy, p.Approval))
	out := delivered(ch, ts)
	out.also = func(tx domain.StateTx) error {
		key := idKey(uint64(p.Handoff))
		var refs []messageRef
		if err := getJSON(tx, kvHandoffDMs, key, &refs); err != nil {
			return err
		}
		return putJSON(tx, kvHandoffDMs, key, append(refs, messageRef{Channel: ch, TS: ts, Approval: p.Approval}))
	}
	return out, err
}

// handoffClose replaces the buttons in every DM about a handoff with where it stands now.
func (o *outbox) handoffClose(ctx context.Context, p effect) (outcome, error) {
	h, it, err := o.b.handoffAndItem(ctx, p.Handoff)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return outcome{}, permanent("no handoff %d", p.Handoff)
	} else if err != nil {
		return outcome{}, err
	}
	var refs []messageRef
	if err := o.store.ViewState(ctx, func(tx domain.StateReader) error { return getJSON(tx, kvHandoffDMs, idKey(uint64(h.ID)), &refs) }); err != nil {
		return outcome{}, err
	}
	for _, r := range refs {
		err := o.b.api.update(ctx, r.Channel, r.TS, "Handoff of "+it.Key, handoffDM(h, it, o.b.policy, r.Approval))
		if err != nil && !(definitelyNotDone(err) && permanentRefusals[slackError(err)]) && slackError(err) != "message_not_found" {
			return outcome{}, err
		}
	}
	return delivered("", ""), nil
}

func (o *outbox) home(ctx context.Context, p effect) (outcome, error) {
	if err := o.store.UpdateState(ctx, func(tx domain.StateTx) error { return tx.Delete(kvPendingHome, string(p.User)) }); err != nil {
		return outcome{}, err
	}
	d, err := o.b.homeData(ctx, p.User)
	if err != nil {
		return outcome{}, err
	}
	return delivered("", ""), o.b.api.publishHome(ctx, string(p.User), homeView(d))
}

// sourceReply posts in the thread of the message an item was filed from. If Slack refuses for good
// (workbot is not in that channel, it was archived or deleted), the person who filed it is told
// privately, once, and later replies are skipped.
func (o *outbox) sourceReply(ctx context.Context, e *domain.OutboxEntry, p effect) (outcome, error) {
	key := idKey(uint64(p.Item))
	var gone []byte
	if err := o.store.ViewState(ctx, func(tx domain.StateReader) error {
		var err error
		gone, err = tx.Get(kvSourceGone, key)
		return err
	}); err != nil {
		return outcome{}, err
	}
	if gone != nil {
		return delivered("", ""), nil
	}
	it, err := o.b.svc.Item(ctx, p.Item)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return outcome{}, permanent("no item %d", p.Item)
	} else if err != nil {
		return outcome{}, err
	}
	text := p.Text
	if p.Link {
		if ref, ok := o.b.loadRef(ctx, kvItemMessages, key); ok {
			if link, err := o.b.api.api.GetPermalinkContext(ctx, &slack.PermalinkParameters{Channel: ref.Channel, Ts: ref.TS}); err == nil {
				text += " <" + link + "|Open " + it.Key + ">"
			}
		}
	}
	src := it.Source
	ts, err := o.postOnce(ctx, e, src.Conversation, src.ThreadRoot(), text, nil)
	if err == nil || !definitelyNotDone(err) || !permanentRefusals[slackError(err)] {
		return delivered(src.Conversation, ts), err
	}
	o.b.log.Warn().Err(err).Str("item", it.Key).Msg("cannot reply in the thread the request came from; telling the person privately")
	tell := p.User
	if tell == "" {
		tell = it.Requester
	}
	out := outcome{state: domain.OutboxFailed, res: domain.OutboxResult{Error: err.Error(), At: time.Now()}}
	out.also = func(tx domain.StateTx) error {
		if err := tx.Put(kvSourceGone, key, []byte(slackError(err))); err != nil {
			return err
		}
		fx := &effects{b: o.b, st: tx, key: itemKey(it.ID)}
		fx.dm(tell, effect{Text: "I could not reply in the thread of the message " + itemRef(it) + " came from (" + esc(slackError(err)) +
			"; is workbot in that channel?). It is filed all the same, and I will keep you posted here."})
		return fx.flush(tx)
	}
	return out, nil
}

// imChannel is the DM channel with user; conversations.open is asked once per person per process.
func (o *outbox) imChannel(ctx context.Context, user domain.UserID) (string, error) {
	if user == "" {
		return "", permanent("a DM without a person")
	}
	if ch, ok := o.imChannels.Load(user); ok {
		return ch.(string), nil
	}
	ch, err := o.b.api.dmChannel(ctx, string(user))
	if err != nil {
		return "", err
	}
	o.imChannels.Store(user, ch)
	return ch, nil
}

// entryRef names an entry in message metadata. The enqueue time makes it unique even across a
// database restored from a backup, which hands out the same IDs again.
func entryRef(e *domain.OutboxEntry) string {
	return strconv.FormatUint(e.ID, 10) + "." + strconv.FormatInt(e.At.UnixNano(), 36)
}

// postOnce posts a message exactly once for entry e: if an earlier attempt may have landed, it looks
// for it first; it records the attempt before posting; and it tags the post with the entry's name.
func (o *outbox) postOnce(ctx context.Context, e *domain.OutboxEntry, channel, threadTS, text string, blocks []slack.Block) (string, error) {
	if !e.AttemptedAt.IsZero() {
		ts, found, err := o.findOwnPost(ctx, e, channel, threadTS)
		if err != nil {
			return "", fmt.Errorf("looking for an earlier attempt's post: %w", err)
		}
		if found {
			o.b.log.Info().Uint64("entry", e.ID).Str("channel", channel).Msg("outbox: an earlier attempt had posted; adopting it")
			return ts, nil
		}
	}
	if err := o.markAttempt(ctx, e); err != nil {
		return "", err
	}
	opts := []slack.MsgOption{
		slack.MsgOptionText(text, false), slack.MsgOptionDisableLinkUnfurl(),
		slack.MsgOptionMetadata(slack.SlackMetadata{EventType: metaEventType, EventPayload: map[string]any{"id": entryRef(e)}}),
	}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	_, ts, err := o.b.api.api.PostMessageContext(ctx, channel, opts...)
	if err != nil && definitelyNotDone(err) {
		// Nothing was posted: the next attempt need not look first.
		e.AttemptedAt = time.Time{}
	}
	return ts, err
}

// findOwnPost looks for the bot's own message carrying e's name, posted since e's first attempt.
func (o *outbox) findOwnPost(ctx context.Context, e *domain.OutboxEntry, channel, threadTS string) (string, bool, error) {
	o.whoAmI(ctx)
	oldest := e.AttemptedAt.Add(-historySlack)
	oldestTS := strconv.FormatInt(oldest.Unix(), 10) + ".000000"
	want := entryRef(e)
	cursor := ""
	for range historyPages {
		var (
			msgs []slack.Message
			more bool
			next string
			err  error
		)
		if threadTS != "" {
			msgs, more, next, err = o.b.api.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
				ChannelID: channel, Timestamp: threadTS, Oldest: oldestTS, Limit: 200, Cursor: cursor, IncludeAllMetadata: true,
			})
		} else {
			var resp *slack.GetConversationHistoryResponse
			resp, err = o.b.api.api.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{
				ChannelID: channel, Oldest: oldestTS, Limit: 200, Cursor: cursor, IncludeAllMetadata: true,
			})
			if resp != nil {
				msgs, more, next = resp.Messages, resp.HasMore, resp.ResponseMetaData.NextCursor
			}
		}
		if err != nil {
			return "", false, err
		}
		for _, m := range msgs {
			if m.Metadata.EventType != metaEventType || fmt.Sprint(m.Metadata.EventPayload["id"]) != want {
				continue
			}
			if o.botID != "" && m.BotID != o.botID && m.User != o.botUser {
				continue // someone else's message that names our entry is not ours to adopt
			}
			return m.Timestamp, true, nil
		}
		if !more || next == "" {
			return "", false, nil
		}
		cursor = next
	}
	return "", false, nil
}

// whoAmI learns the bot's own IDs once, to recognise its messages in history.
func (o *outbox) whoAmI(ctx context.Context) {
	o.authOnce.Lock()
	defer o.authOnce.Unlock()
	if o.botID != "" {
		return
	}
	if r, err := o.b.api.api.AuthTestContext(ctx); err == nil {
		o.botID, o.botUser = r.BotID, r.UserID
	}
}

// putJSON and getJSON keep small JSON values in the bot's state.
func putJSON(tx domain.StateTx, bucket, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(bucket, key, raw)
}

func getJSON(tx domain.StateReader, bucket, key string, v any) error {
	raw, err := tx.Get(bucket, key)
	if err != nil || len(raw) == 0 {
		return err
	}
	return json.Unmarshal(raw, v)
}
