package bot

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/slack-go/slack"
)

// webAPI calls Slack's Web API with the retry rules workbot promises: a 429 waits for Retry-After, a
// 5xx or network error backs off. What must reach Slack exactly once goes through the outbox
// (outbox.go), which has its own rules for posts; direct answers to a person (response_url, modals)
// use this client alone.
type webAPI struct {
	api     *slack.Client
	log     zerolog.Logger
	metrics *Metrics

	maxAttempts int
	backoff     time.Duration // first wait for 5xx and network errors; doubles each time
	maxWait     time.Duration // longest single wait, whatever Retry-After says
}

func newWebAPI(api *slack.Client, log zerolog.Logger) *webAPI {
	return &webAPI{
		api:         api,
		log:         log,
		maxAttempts: 5,
		backoff:     200 * time.Millisecond,
		maxWait:     60 * time.Second,
	}
}

// retry says which failures a call may be sent again after.
type retry int

const (
	// retryIdempotent: 429, 5xx and network errors; for calls that do the same thing twice.
	retryIdempotent retry = iota
	// retryPost: 429 and 5xx, not network errors, after which the message may already be posted.
	retryPost
)

// retryable says whether a failed call may be sent again, and after how long.
func (o *webAPI) retryable(err error, attempt int, mode retry) (time.Duration, bool) {
	if wait, ok := rateLimited(err); ok {
		return min(wait, o.maxWait), true
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

// rateLimited reports a 429 and how long Slack asked us to wait.
func rateLimited(err error) (time.Duration, bool) {
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) {
		return 0, false
	}
	if rl.RetryAfter <= 0 {
		return time.Second, true
	}
	return rl.RetryAfter, true
}

// slackError is the error code of an ok:false answer, or "".
func slackError(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

// mayHaveHappened lists ok:false answers after which Slack says part of the call may have been
// carried out (its documentation of internal_error and fatal_error), so they tell us nothing.
var mayHaveHappened = map[string]bool{"internal_error": true, "fatal_error": true}

// definitelyNotDone reports whether a failed call certainly had no effect: Slack rate-limited it, or
// refused it by name with an error that means nothing was done. After anything else (a timeout, a
// dropped connection, a 5xx, internal_error) it may have happened.
func definitelyNotDone(err error) bool {
	if _, ok := rateLimited(err); ok {
		return true
	}
	code := slackError(err)
	return code != "" && !mayHaveHappened[code]
}

func isNetworkError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// do runs call until it succeeds, fails for good, or ctx ends.
func (o *webAPI) do(ctx context.Context, method string, mode retry, call func(context.Context) error) error {
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
		o.metrics.retried(method, err)
		if err := sleepCtx(ctx, wait); err != nil {
			return errors.Join(err, ctx.Err())
		}
	}
	return err
}

// sleepCtx waits d or until ctx ends, whichever is first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// update replaces a message in place; doing it twice does no harm, so every failure is retried.
func (o *webAPI) update(ctx context.Context, channel, ts, text string, blocks []slack.Block) error {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionBlocks(blocks...)}
	return o.do(ctx, "chat.update", retryIdempotent, func(ctx context.Context) error {
		_, _, _, err := o.api.UpdateMessageContext(ctx, channel, ts, opts...)
		return err
	})
}

// dmChannel opens (or finds) the DM channel with a user.
func (o *webAPI) dmChannel(ctx context.Context, user string) (string, error) {
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
func (o *webAPI) openView(ctx context.Context, triggerID string, view slack.ModalViewRequest) (*slack.ViewResponse, error) {
	return o.api.OpenViewContext(ctx, triggerID, view)
}

// publishHome publishes a user's App Home tab.
func (o *webAPI) publishHome(ctx context.Context, user string, view slack.HomeTabViewRequest) error {
	return o.do(ctx, "views.publish", retryIdempotent, func(ctx context.Context) error {
		_, err := o.api.PublishViewContext(ctx, slack.PublishViewContextRequest{UserID: user, View: view})
		return err
	})
}

// post sends a message that is an answer to someone, not an announcement: an answer lost in a crash
// is not owed later, so it skips the outbox. It is retried after a 429 or a 5xx, never after a
// network error, where it may already be posted.
func (o *webAPI) post(ctx context.Context, channel, text string, blocks []slack.Block) (string, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(text, false), slack.MsgOptionDisableLinkUnfurl()}
	if len(blocks) > 0 {
		opts = append(opts, slack.MsgOptionBlocks(blocks...))
	}
	var ts string
	err := o.do(ctx, "chat.postMessage", retryPost, func(ctx context.Context) error {
		var err error
		_, ts, err = o.api.PostMessageContext(ctx, channel, opts...)
		return err
	})
	return ts, err
}
