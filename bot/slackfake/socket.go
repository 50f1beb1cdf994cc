package slackfake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Errors a Delivery can end with.
var (
	// ErrNotConnected: no socket was open, so Slack could not dispatch the
	// interaction (the person sees "dispatch_failed").
	ErrNotConnected = errors.New("slackfake: dispatch_failed: no socket mode connection")
	// ErrAckTimeout: the app did not ack within AckTimeout (the person sees
	// "operation timed out"). A later ack is still recorded, as Late.
	ErrAckTimeout = errors.New("slackfake: operation_timeout: not acked in time")
	// ErrNotAcked: an event was delivered MaxRedeliveries+1 times and never acked.
	ErrNotAcked = errors.New("slackfake: event never acked")
)

type socketConn struct {
	ws       *websocket.Conn
	id       int
	writeMu  sync.Mutex
	draining bool // sent a disconnect; gets no new envelopes
	done     chan struct{}
}

func (c *socketConn) write(data []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, data)
}

func (c *socketConn) writeJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return c.write(data)
}

func (f *Fake) appsConnectionsOpen(r *request) (map[string]any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	ticket := fmt.Sprintf("%08x-%04x-fake-ticket-%d", uint32(f.seq)*2654435761, f.seq, f.opts.Now().UnixNano())
	f.tickets[ticket] = true
	host := f.baseURL[len("http://"):]
	return map[string]any{"url": "ws://" + host + "/link/?ticket=" + ticket + "&app_id=" + f.opts.AppID}, nil
}

func (f *Fake) serveSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	f.mu.Lock()
	valid := f.tickets[ticket]
	delete(f.tickets, ticket) // a ticket opens one socket
	f.mu.Unlock()
	if !valid {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	ws, err := f.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	select {
	case <-f.closed:
		f.mu.Unlock()
		ws.Close()
		return
	default:
	}
	f.connCount++
	c := &socketConn{ws: ws, id: f.connCount, done: make(chan struct{})}
	live := 0
	for other := range f.conns {
		if !other.draining {
			live++
		}
	}
	tooMany := live >= f.opts.MaxConnections
	if tooMany {
		c.draining = true
	}
	// Slack's first frame is always hello: hold the write lock until it is
	// out, so that no envelope dispatched meanwhile can overtake it.
	c.writeMu.Lock()
	f.conns[c] = struct{}{}
	f.wg.Add(2) // this reader and the pinger
	f.notifyLocked()
	f.mu.Unlock()
	f.logf("socket %d connected (%d live)", c.id, live+1)

	go f.pinger(c)
	defer func() {
		close(c.done)
		ws.Close()
		f.mu.Lock()
		delete(f.conns, c)
		f.notifyLocked()
		f.mu.Unlock()
		f.logf("socket %d closed", c.id)
		f.wg.Done()
	}()

	hello, _ := json.Marshal(map[string]any{
		"type":            "hello",
		"num_connections": live + 1,
		"debug_info": map[string]any{
			"host":                        fmt.Sprintf("applink-fake-%d", c.id),
			"build_number":                1,
			"approximate_connection_time": 18060,
		},
		"connection_info": map[string]any{"app_id": f.opts.AppID},
	})
	_ = ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = ws.WriteMessage(websocket.TextMessage, hello)
	c.writeMu.Unlock()
	if tooMany {
		f.disconnect(c, "too_many_websockets")
	}
	// Frames are stamped as they are read and handled on another goroutine: an ack must not be
	// measured late because the one before it waited for the fake's lock.
	type frame struct {
		data []byte
		at   time.Time
	}
	frames := make(chan frame, 1024)
	handled := make(chan struct{})
	go func() {
		defer close(handled)
		for fr := range frames {
			f.handleAck(c, fr.data, fr.at)
		}
	}()
	defer func() {
		close(frames)
		<-handled
	}()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		frames <- frame{data, time.Now()}
	}
}

func (f *Fake) pinger(c *socketConn) {
	defer f.wg.Done()
	t := time.NewTicker(f.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			// WriteControl may run concurrently with WriteMessage.
			if err := c.ws.WriteControl(websocket.PingMessage, []byte("ping"), time.Now().Add(5*time.Second)); err != nil {
				return
			}
		case <-c.done:
			return
		case <-f.closed:
			return
		}
	}
}

// disconnect sends a disconnect message and closes the socket after the grace.
func (f *Fake) disconnect(c *socketConn, reason string) {
	f.mu.Lock()
	c.draining = true
	f.afterFuncLocked(f.opts.DisconnectGrace, func() { c.ws.Close() })
	f.mu.Unlock()
	_ = c.writeJSON(map[string]any{
		"type":       "disconnect",
		"reason":     reason,
		"debug_info": map[string]any{"host": fmt.Sprintf("applink-fake-%d", c.id)},
	})
}

func (f *Fake) liveConnsLocked() []*socketConn {
	var out []*socketConn
	for c := range f.conns {
		if !c.draining {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// Connections is the number of open sockets that receive envelopes.
func (f *Fake) Connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.liveConnsLocked())
}

// ConnectionsOpened is the number of sockets accepted since Start.
func (f *Fake) ConnectionsOpened() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connCount
}

// Disconnect sends {"type":"disconnect","reason":reason} on every open socket
// (reasons Slack uses: "refresh_requested", "warning", "too_many_websockets")
// and closes each DisconnectGrace later. It returns how many were told.
func (f *Fake) Disconnect(reason string) int {
	f.mu.Lock()
	conns := f.liveConnsLocked()
	f.mu.Unlock()
	for _, c := range conns {
		f.disconnect(c, reason)
	}
	return len(conns)
}

// DropSockets cuts every socket without a close frame, as a network failure
// would. It returns how many were cut.
func (f *Fake) DropSockets() int {
	f.mu.Lock()
	var conns []*socketConn
	for c := range f.conns {
		conns = append(conns, c)
	}
	f.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.NetConn().Close()
	}
	return len(conns)
}

// SendRaw writes data as one text frame on an open socket, for testing how
// the app copes with envelopes Slack should never send.
func (f *Fake) SendRaw(data []byte) error {
	f.mu.Lock()
	conns := f.liveConnsLocked()
	f.mu.Unlock()
	if len(conns) == 0 {
		return ErrNotConnected
	}
	return conns[0].write(data)
}

// envelope is one Socket Mode delivery.
type envelope struct {
	id, typ, payloadType string
	payload              json.RawMessage
	acceptsResponse      bool
	retryAttempt         int
	retryReason          string
	sentAt               time.Time
	acked                bool
	undelivered          bool
	conn                 *socketConn // the socket it went out on
	delivery             *Delivery
	// onAck applies the ack's payload (slash reply, response_action); called
	// with f.mu held, it returns a problem Slack would report, if any.
	onAck func(payload json.RawMessage) string
}

func (e *envelope) describe() Envelope {
	d := Envelope{
		EnvelopeID: e.id, Type: e.typ, PayloadType: e.payloadType, RetryAttempt: e.retryAttempt,
		RetryReason: e.retryReason, SentAt: e.sentAt, Acked: e.acked, Payload: e.payload,
	}
	if e.conn != nil {
		d.Connection = e.conn.id
	}
	return d
}

func (e *envelope) wire() map[string]any {
	m := map[string]any{
		"envelope_id":              e.id,
		"type":                     e.typ,
		"payload":                  e.payload,
		"accepts_response_payload": e.acceptsResponse,
	}
	if e.typ == "events_api" {
		m["retry_attempt"] = e.retryAttempt
		m["retry_reason"] = e.retryReason
	}
	return m
}

// Delivery follows one envelope (and, for events, its redeliveries) until
// it is acked or given up on.
type Delivery struct {
	// EnvelopeID is the id of the first delivery.
	EnvelopeID string
	// TriggerID and ResponseURL are what the payload carried, if anything.
	TriggerID   string
	ResponseURL string
	// ViewID is the view a view_submission or view_closed was about.
	ViewID string

	done chan struct{}
	ack  Ack
	err  error
}

// Done is closed when the delivery has its outcome.
func (d *Delivery) Done() <-chan struct{} { return d.done }

// Wait returns the ack, or why there was none (ErrNotConnected,
// ErrAckTimeout, ErrNotAcked), or ctx's error.
func (d *Delivery) Wait(ctx context.Context) (Ack, error) {
	select {
	case <-d.done:
		return d.ack, d.err
	case <-ctx.Done():
		return Ack{}, ctx.Err()
	}
}

// WaitTimeout is Wait with a deadline.
func (d *Delivery) WaitTimeout(timeout time.Duration) (Ack, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.Wait(ctx)
}

func (d *Delivery) finishLocked(ack Ack, err error) {
	select {
	case <-d.done:
		return
	default:
	}
	d.ack, d.err = ack, err
	close(d.done)
}

func (f *Fake) newEnvelopeLocked(typ, payloadType string, payload any) (*envelope, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("slackfake: encoding payload: %w", err)
	}
	f.seq++
	id := fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", uint32(f.seq)*2654435761, f.seq&0xffff, f.seq&0xfff, (f.seq*7)&0xfff, f.opts.Now().UnixNano()&0xffffffffffff)
	return &envelope{id: id, typ: typ, payloadType: payloadType, payload: raw}, nil
}

// dispatch sends env on a live socket and arms its ack deadline or
// redelivery. Slack spreads envelopes over an app's sockets (up to 10), so
// any socket may get any envelope; the fake takes the live sockets in the
// order they connected, round-robin, which spreads them evenly and sends a
// redelivery to the next socket.
func (f *Fake) dispatch(env *envelope) {
	f.mu.Lock()
	select {
	case <-f.closed:
		env.delivery.finishLocked(Ack{}, ErrNotConnected)
		f.mu.Unlock()
		return
	default:
	}
	conns := f.liveConnsLocked()
	var c *socketConn
	if len(conns) > 0 {
		c = conns[f.rr%len(conns)]
		f.rr++
	}
	env.sentAt = time.Now()
	env.undelivered = c == nil
	env.conn = c
	f.envelopes[env.id] = env
	f.envOrder = append(f.envOrder, env.id)
	f.armLocked(env)
	f.notifyLocked()
	f.mu.Unlock()

	if c == nil {
		f.logf("%s %s not delivered: no socket", env.typ, env.payloadType)
		return
	}
	if err := c.writeJSON(env.wire()); err != nil {
		f.mu.Lock()
		env.undelivered = true
		f.notifyLocked()
		f.mu.Unlock()
		f.logf("%s %s not delivered: %v", env.typ, env.payloadType, err)
	}
}

// armLocked sets what happens if env is not acked: interactions time out,
// events are redelivered.
func (f *Fake) armLocked(env *envelope) {
	if env.typ != "events_api" {
		if env.undelivered {
			env.delivery.finishLocked(Ack{}, ErrNotConnected)
			return
		}
		f.afterFuncLocked(f.opts.AckTimeout, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if !env.acked {
				env.delivery.finishLocked(Ack{}, ErrAckTimeout)
				f.notifyLocked()
			}
		})
		return
	}
	f.afterFuncLocked(f.opts.RedeliveryAfter, func() {
		f.mu.Lock()
		select {
		case <-env.delivery.done:
			f.mu.Unlock()
			return
		default:
		}
		if env.retryAttempt >= f.opts.MaxRedeliveries {
			env.delivery.finishLocked(Ack{}, ErrNotAcked)
			f.notifyLocked()
			f.mu.Unlock()
			return
		}
		next, err := f.newEnvelopeLocked(env.typ, env.payloadType, env.payload)
		if err != nil {
			f.mu.Unlock()
			return
		}
		next.retryAttempt = env.retryAttempt + 1
		next.retryReason = "timeout"
		next.delivery = env.delivery
		f.mu.Unlock()
		f.dispatch(next)
	})
}

// handleAck records an ack frame that arrived on socket c at received and applies its payload. An
// envelope is acked on the socket it was sent on; an ack for it on another socket is stray, and leaves
// the envelope unacked. Its latency runs to when the frame was read: waiting for the fake's lock is
// not the app's doing.
func (f *Fake) handleAck(c *socketConn, data []byte, received time.Time) {
	var msg struct {
		EnvelopeID string          `json:"envelope_id"`
		Payload    json.RawMessage `json:"payload"`
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.notifyLocked()
	if err := json.Unmarshal(data, &msg); err != nil || msg.EnvelopeID == "" {
		f.strayAcks = append(f.strayAcks, append(json.RawMessage(nil), data...))
		return
	}
	env, ok := f.envelopes[msg.EnvelopeID]
	if !ok || env.acked || env.conn != c {
		if ok && env.conn != nil && env.conn != c {
			f.logf("ack of %s on socket %d, but it was sent on socket %d", env.id, c.id, env.conn.id)
		}
		f.strayAcks = append(f.strayAcks, append(json.RawMessage(nil), data...))
		return
	}
	env.acked = true
	latency := received.Sub(env.sentAt)
	ack := Ack{
		EnvelopeID: env.id, Type: env.typ, PayloadType: env.payloadType, RetryAttempt: env.retryAttempt,
		Latency: latency, Payload: msg.Payload, Connection: c.id,
	}
	select {
	case <-env.delivery.done:
		// Slack already gave up on this interaction: the person saw an error.
		ack.Late = env.typ != "events_api"
	default:
	}
	if !ack.Late && env.onAck != nil {
		payload := msg.Payload
		if string(payload) == "null" {
			payload = nil
		}
		ack.Problem = env.onAck(payload)
	}
	f.acks = append(f.acks, ack)
	env.delivery.finishLocked(ack, nil)
}
