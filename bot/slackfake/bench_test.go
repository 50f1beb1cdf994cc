package slackfake

import (
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// BenchmarkPostMessage is one chat.postMessage with blocks through slack-go.
func BenchmarkPostMessage(b *testing.B) {
	f := startFake(b, Options{})
	api := newAPI(b, f)
	ctx := ctxT(b)
	opts := []slack.MsgOption{slack.MsgOptionText("hello", false), itemMessageBlocks()}
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := api.PostMessageContext(ctx, "C1", opts...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSlashCommandRoundTrip is a slash command sent over the socket to
// the slack-go client, acked, and the ack seen by the fake.
func BenchmarkSlashCommandRoundTrip(b *testing.B) {
	// Real ack deadlines, but pings often enough for startApp's client,
	// which drops a socket that sees no PING for 2 s.
	f := startFake(b, Options{PingInterval: 500 * time.Millisecond})
	a := startApp(b, f)
	a.next(b, socketmode.EventTypeHello)
	b.ResetTimer()
	for b.Loop() {
		d, err := f.SlashCommand("U1", "C1", "/work", "list")
		if err != nil {
			b.Fatal(err)
		}
		evt := a.next(b, socketmode.EventTypeSlashCommand)
		a.ack(b, evt.Request, nil)
		await(b, d)
	}
}
