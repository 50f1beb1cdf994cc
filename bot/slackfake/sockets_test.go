package slackfake

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/slack-go/slack/socketmode"
)

// TestEnvelopesSpreadOverSockets runs three socketmode clients, as three
// processes of one app would: each gets some of the envelopes, and every
// envelope is acked once, on the socket it came on.
func TestEnvelopesSpreadOverSockets(t *testing.T) {
	opts := fastOptions(t)
	opts.RedeliveryAfter = waitLimit // no redelivery muddles the count
	f := startFake(t, opts)
	apps := []*app{startApp(t, f), startApp(t, f), startApp(t, f)}
	for _, a := range apps {
		a.next(t, socketmode.EventTypeHello)
	}
	waitFor(t, f, "three sockets", func() bool { return f.Connections() == 3 })

	var deliveries []*Delivery
	for i := range 12 {
		var d *Delivery
		var err error
		if i%4 == 3 {
			d, err = f.SlashCommand("U1", "C1", "/work", "x")
		} else {
			d, err = f.SendEvent(map[string]any{"type": "member_joined_channel", "user": "U2", "channel": "C1"})
		}
		if err != nil {
			t.Fatal(err)
		}
		deliveries = append(deliveries, d)
	}

	got := make([]int, len(apps))
	deadline := time.After(waitLimit)
	for total := 0; total < len(deliveries); {
		var i int
		var evt socketmode.Event
		select {
		case evt = <-apps[0].events:
		case evt = <-apps[1].events:
			i = 1
		case evt = <-apps[2].events:
			i = 2
		case <-deadline:
			t.Fatalf("received %v of %d envelopes", got, len(deliveries))
		}
		if evt.Request == nil || evt.Request.EnvelopeID == "" {
			continue
		}
		apps[i].ack(t, evt.Request, nil)
		got[i]++
		total++
	}
	for _, d := range deliveries {
		await(t, d)
	}
	for i, n := range got {
		if n == 0 {
			t.Errorf("socket client %d received nothing: %v", i, got)
		}
	}
	acks := f.Acks()
	seen := map[string]bool{}
	envs := map[string]Envelope{}
	for _, e := range f.Envelopes() {
		envs[e.EnvelopeID] = e
	}
	for _, a := range acks {
		if seen[a.EnvelopeID] {
			t.Errorf("envelope %s acked twice", a.EnvelopeID)
		}
		seen[a.EnvelopeID] = true
		if e := envs[a.EnvelopeID]; e.Connection != a.Connection || a.Connection == 0 {
			t.Errorf("envelope %s sent on socket %d, acked on %d", a.EnvelopeID, e.Connection, a.Connection)
		}
	}
	if len(acks) != len(deliveries) || len(f.Envelopes()) != len(deliveries) || len(f.Unacked()) != 0 || len(f.StrayAcks()) != 0 {
		t.Fatalf("%d acks, %d envelopes, unacked %v, stray %s", len(acks), len(f.Envelopes()), f.Unacked(), f.StrayAcks())
	}
}

// TestRedeliveryMovesToAnotherSocket: an event left unacked on one socket
// comes back on the next one, and an ack sent on the wrong socket does not
// count.
func TestRedeliveryMovesToAnotherSocket(t *testing.T) {
	opts := fastOptions(t)
	opts.RedeliveryAfter = 200 * time.Millisecond
	f := startFake(t, opts)

	// A silent socket first, so that it is first in the round.
	_, resp := callJSON(t, f, "apps.connections.open", f.AppToken(), nil)
	wsURL, _ := resp["url"].(string)
	silent, _, err := websocket.DefaultDialer.DialContext(ctxT(t), wsURL, http.Header{"Origin": {"https://api.slack.com"}})
	if err != nil {
		t.Fatal(err)
	}
	frames := make(chan []byte, 16)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			_, data, err := silent.ReadMessage()
			if err != nil {
				return
			}
			frames <- data
		}
	}()
	t.Cleanup(func() { silent.Close(); <-readDone })
	<-frames // hello
	waitFor(t, f, "silent socket", func() bool { return f.Connections() == 1 })
	a := startApp(t, f)
	a.next(t, socketmode.EventTypeHello)
	waitFor(t, f, "two sockets", func() bool { return f.Connections() == 2 })

	d, err := f.SendEvent(map[string]any{"type": "member_joined_channel", "user": "U2", "channel": "C1"})
	if err != nil {
		t.Fatal(err)
	}
	var first struct {
		EnvelopeID string `json:"envelope_id"`
	}
	if err := json.Unmarshal(<-frames, &first); err != nil || first.EnvelopeID == "" {
		t.Fatalf("first delivery: %v", err)
	}
	evt := a.next(t, socketmode.EventTypeEventsAPI)
	if evt.Request.RetryAttempt != 1 || evt.Request.RetryReason != "timeout" {
		t.Fatalf("redelivery = %+v", evt.Request)
	}
	// The client acks the first envelope too, on its own socket: stray.
	a.ack(t, &socketmode.Request{EnvelopeID: first.EnvelopeID}, nil)
	waitFor(t, f, "stray ack", func() bool { return len(f.StrayAcks()) == 1 })
	a.ack(t, evt.Request, nil)
	ack := await(t, d)
	envs := f.Envelopes()
	if ack.RetryAttempt != 1 || ack.Connection != 2 || len(envs) != 2 || envs[0].Connection != 1 || envs[1].Connection != 2 {
		t.Fatalf("ack %+v, envelopes %+v", ack, envs)
	}
	if un := f.Unacked(); len(un) != 1 || un[0].EnvelopeID != first.EnvelopeID {
		t.Fatalf("unacked = %+v", un)
	}
	// On the socket it went out on, the late ack is taken.
	if err := silent.WriteJSON(map[string]string{"envelope_id": first.EnvelopeID}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, f, "ack on the right socket", func() bool { return len(f.Acks()) == 2 && len(f.Unacked()) == 0 })
}
