package bot

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
)

// outbox sends to Slack's Web API with the retry rules workbot promises: a 429 waits for Retry-After,
// a 5xx or network error backs off, and messages to one channel go out one at a time, so a message that
// is being retried is never overtaken by a later one to the same channel.
type outbox struct {
	api *slack.Client
	log zerolog.Logger

	maxAttempts int
	backoff     time.Duration // first wait for 5xx and network errors; doubles each time
	maxWait     time.Duration // longest single wait, whatever Retry-After says

	mu       sync.Mutex
	channels map[string]*sync.Mutex
}

func newOutbox(api *slack.Client, log zerolog.Logger) *outbox {
	return &outbox{
		api:         api,
		log:         log,
		maxAttempts: 5,
		backoff:     200 * time.Millisecond,
		maxWait:     60 * time.Second,
		channels:    map[string]*sync.Mutex{},
	}
}

func (o *outbox) channelLock(channel string) *sync.Mutex {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.channels[channel]
	if !ok {
		m = &sync.Mutex{}
		o.channels[channel] = m
	}
	return m
}

// retry says which failures a call may be sent again after.
type retry int

const (
	// retryIdempotent: 429, 5xx and network errors; for calls that do the same thing twice.
	retryIdempotent retry = iota
	// retryPost: 429 and 5xx, not network errors, after which the message may already be posted.
	retryPost
	// retryRateLimit: 429 only, the one failure that proves nothing happened; for posts that must
	// never be duplicated (digests, their charts).
	retryRateLimit
)

// retryable says whether a failed call may be sent again, and after how long.
func (o *outbox) retryable(err error, attempt int, mode retry) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		wait := rl.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		return min(wait, o.maxWait), true
	}
	if mode == retryRateLimit {
		return 0, false
	}
	back := min(o.backoff<<attempt, o.maxWait)
	var sc slack.StatusCodeError
	if errors.As(err, &sc) && sc.Code >= 500 {
		// Slack answers 5xx before it acts on a request in practice; retrying is what its SDKs do.
		return back, true
	}
	if mode == retryIdempotent && isNetworkError(err) {
		return back, true
	}
	return 0, false
}

// definitelyNotDone reports whether a failed call certainly had no effect: Slack refused it by name
// (ok:false with an error code) or rate-limited it. After anything else it may have happened.
func definitelyNotDone(err error) bool {
	var rl *slack.RateLimitedError
	var se slack.SlackErrorResponse
	return errors.As(err, &rl) || errors.As(err, &se)
}

func isNetworkError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// do runs call until it succeeds, fails for good, or ctx ends.
func (o *outbox) do(ctx context.Context, method string, mode retry, call func(context.Context) error) error {
	var err error
	for attempt := 0; attempt < o.maxAttempts; attempt++ {
		err = call(ctx)
		if err == nil {
			return nil
		}
		wait, ok := o.retryable(err, attempt, mode)
		if !ok {
			return err
		}
		o.log.Warn().Err(err).Str("method", method).Int("attempt", attempt+1).Dur("wait", wait).Msg("slack call failed; retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
	return err
}

// post sends a message (thread reply when threadTS is set) and returns its ts.
func (o *outbox) post(ctx context.Context, channel, threadTS, text string, blocks []slack.Block) (string, error) {
	return o.postWith(ctx, retryPost, channel, threadTS, text, blocks)
}

// postWith is post with a chosen retry rule.
func (o *outbox) postWith(ctx context.Context, mode retry, channel, threadTS, text string, blocks []slack.Block) (string, error) {
	lock := o.channelLock(channel)
	lock.Lock()
	defer lock.Unlock()
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionDisableLinkUnfurl()}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var ts string
	err := o.do(ctx, "chat.postMessage", mode, func(ctx context.Context) error {
		var err error
		_, ts, err = o.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	return ts, err
}

// update replaces a message in place.
func (o *outbox) update(ctx context.Context, channel, ts, text string, blocks []slack.Block) error {
	lock := o.channelLock(channel)
	lock.Lock()
	defer lock.Unlock()
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)}
	return o.do(ctx, "chat.update", retryIdempotent, func(ctx context.Context) error {
		_, _, _, err := o.api.UpdateMessageContext(ctx, channel, ts, opts...)
		return err
	})
}

// dmChannel opens (or finds) the DM channel with a user.
func (o *outbox) dmChannel(ctx context.Context, user string) (string, error) {
	var id string
	err := o.do(ctx, "conversations.open", retryIdempotent, func(ctx context.Context) error {
		ch, _, _, err := o.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{user}, ReturnIM: true})
		if err != nil {
			return err
		}
		id = ch.ID
		return nil
	})
	return id, err
}

// openView opens a modal. A trigger is single-use and short-lived, so it is never retried.
func (o *outbox) openView(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error) {
	return o.api.OpenViewContext(ctx, triggerID, view)
}

// publishHome publishes a user's App Home tab.
func (o *outbox) publishHome(ctx context.Context, user string, view slack.HomeTabViewRequest) error {
	return o.do(ctx, "views.publish", retryIdempotent, func(ctx context.Context) error {
		_, err := o.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: view})
		return err
	})
}
