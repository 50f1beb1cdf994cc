package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"workbot/domain"
)

// Metrics are what an operator watches (README "Operating workbot" says what each means). A nil
// *Metrics records nothing, so tests and tools need not build one.
type Metrics struct {
	Envelopes      *prometheus.CounterVec   // socket envelopes by type
	AckLatency     prometheus.Histogram     // from reading an envelope to its ack
	HandlerLatency *prometheus.HistogramVec // handling commands, clicks and forms, by kind and name
	APICalls       *prometheus.CounterVec   // Web API calls by method and outcome
	APIRetries     *prometheus.CounterVec   // Web API calls sent again, by method and reason
	Deliveries     *prometheus.CounterVec   // outbox deliveries by kind and outcome
	DigestRuns     *prometheus.CounterVec   // digest runs by outcome
	AlignmentWeek  prometheus.Histogram     // computing one week of plan versus execution, every team at once
	StoreTx        *prometheus.HistogramVec // store transactions by kind
	OpenItems      *prometheus.GaugeVec     // open items by stage, as of the last sweep
	Overloaded     prometheus.Gauge         // people over capacity, as of the last sweep
	Stalled        prometheus.Gauge         // stalled items, as of the last sweep
	SocketUp       prometheus.Gauge         // 1 while the Socket Mode connection is up
	Leader         prometheus.Gauge         // 1 while this process runs the schedules

	outbox func(ctx context.Context) (int, time.Time, error)
}

// NewMetrics registers workbot's metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Envelopes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workbot_envelopes_total",
			Help: "Socket Mode envelopes received, by type."}, []string{"type"}),
		AckLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "workbot_ack_seconds",
			Help:    "Time from reading an envelope to acking it (Slack allows 3 s).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}),
		HandlerLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "workbot_handler_seconds",
			Help: "Time to handle a command, click or form, by kind and name.", Buckets: prometheus.DefBuckets}, []string{"kind", "name"}),
		APICalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workbot_slack_api_calls_total",
			Help: "Slack Web API calls by method and outcome (ok, a Slack error code, http_429, http_5xx, network)."}, []string{"method", "outcome"}),
		APIRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workbot_slack_api_retries_total",
			Help: "Slack Web API calls sent again after a failure, by method and reason."}, []string{"method", "reason"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workbot_outbox_deliveries_total",
			Help: "Outbox entries finished, by kind and outcome (delivered, failed)."}, []string{"kind", "outcome"}),
		DigestRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "workbot_digest_runs_total",
			Help: "Leadership digest runs by outcome (queued, already_queued, missed, failed)."}, []string{"outcome"}),
		AlignmentWeek: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "workbot_alignment_week_seconds",
			Help:    "Computing one complete week of plan versus execution from the audit log (once per week, then stored).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		StoreTx: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "workbot_store_transaction_seconds",
			Help:    "Store transactions by kind (update, view, state_update, state_view), including waiting for the writer.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}}, []string{"kind"}),
		OpenItems: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "workbot_open_items",
			Help: "Open items by stage, as of the last sweep."}, []string{"stage"}),
		Overloaded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "workbot_overloaded_people",
			Help: "People whose load is over their capacity, as of the last sweep."}),
		Stalled: prometheus.NewGauge(prometheus.GaugeOpts{Name: "workbot_stalled_items",
			Help: "Stalled items (stage threshold, blocked too long, dropped handoff), as of the last sweep."}),
		SocketUp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "workbot_socket_connected",
			Help: "1 while the Socket Mode connection to Slack is up."}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "workbot_scheduler_leader",
			Help: "1 while this process runs the schedules (always, for a single process; on the elected replica otherwise)."}),
	}
	reg.MustRegister(m.Envelopes, m.AckLatency, m.HandlerLatency, m.APICalls, m.APIRetries, m.Deliveries,
		m.DigestRuns, m.AlignmentWeek, m.StoreTx, m.OpenItems, m.Overloaded, m.Stalled, m.SocketUp, m.Leader)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "workbot_outbox_pending",
		Help: "Outbox entries not yet delivered."}, func() float64 { n, _ := m.outboxStats(); return float64(n) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "workbot_outbox_oldest_age_seconds",
		Help: "Age of the oldest outbox entry not yet delivered; 0 when there is none."}, func() float64 {
		_, age := m.outboxStats()
		return age.Seconds()
	}))
	return m
}

// outboxStats asks the store at scrape time: the outbox's depth is one indexed count.
func (m *Metrics) outboxStats() (int, time.Duration) {
	if m == nil || m.outbox == nil {
		return 0, 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, oldest, err := m.outbox(ctx)
	if err != nil || n == 0 || oldest.IsZero() {
		return n, 0
	}
	return n, time.Since(oldest)
}

func (m *Metrics) envelope(typ string) {
	if m != nil {
		m.Envelopes.WithLabelValues(typ).Inc()
	}
}

func (m *Metrics) acked(since time.Time) {
	if m != nil {
		m.AckLatency.Observe(time.Since(since).Seconds())
	}
}

func (m *Metrics) handled(kind, name string, since time.Time) {
	if m != nil {
		m.HandlerLatency.WithLabelValues(kind, name).Observe(time.Since(since).Seconds())
	}
}

func (m *Metrics) retried(method string, err error) {
	if m != nil {
		m.APIRetries.WithLabelValues(method, failureReason(err)).Inc()
	}
}

func (m *Metrics) delivered(kind string, state domain.OutboxState) {
	if m != nil {
		m.Deliveries.WithLabelValues(kind, state.String()).Inc()
	}
}

func (m *Metrics) digest(outcome string) {
	if m != nil {
		m.DigestRuns.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) alignmentWeek(took time.Duration) {
	if m != nil {
		m.AlignmentWeek.Observe(took.Seconds())
	}
}

func (m *Metrics) tx(kind string, since time.Time) {
	if m != nil {
		m.StoreTx.WithLabelValues(kind).Observe(time.Since(since).Seconds())
	}
}

func (m *Metrics) socket(up bool) {
	if m != nil {
		v := 0.0
		if up {
			v = 1
		}
		m.SocketUp.Set(v)
	}
}

// failureReason names a failure for the retry counter.
func failureReason(err error) string {
	if _, ok := rateLimited(err); ok {
		return "http_429"
	}
	if code := slackError(err); code != "" {
		return code
	}
	if isNetworkError(err) {
		return "network"
	}
	return "other"
}

// countingTransport counts every Web API call by method and outcome, reading Slack's ok:false error
// codes from the response body, which it hands on unchanged.
type countingTransport struct {
	next    http.RoundTripper
	metrics *Metrics
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	method := path.Base(req.URL.Path)
	resp, err := t.next.RoundTrip(req)
	if t.metrics == nil {
		return resp, err
	}
	outcome := "ok"
	switch {
	case err != nil:
		outcome = "network"
	case resp.StatusCode == http.StatusTooManyRequests:
		outcome = "http_429"
	case resp.StatusCode >= 500:
		outcome = "http_5xx"
	case resp.StatusCode >= 400:
		outcome = "http_" + strconv.Itoa(resp.StatusCode)
	case resp.Body != nil && resp.ContentLength < 1<<20:
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var r struct {
			OK    *bool  `json:"ok"`
			Error string `json:"error"`
		}
		if rerr != nil {
			outcome = "network"
		} else if json.Unmarshal(body, &r) == nil && r.OK != nil && !*r.OK && r.Error != "" {
			outcome = r.Error
		}
	}
	t.metrics.APICalls.WithLabelValues(method, outcome).Inc()
	return resp, err
}

// readiness is what /readyz reports: the socket, the store and the scheduler.
type readiness struct {
	mu       sync.Mutex
	socketUp bool
	role     role
	storeErr error
	storeAt  time.Time
}

// role is how this process takes part in the schedules.
type role string

const (
	roleStopped role = ""        // not running them
	roleSingle  role = "single"  // the only process: runs them
	roleLeader  role = "leader"  // one of several replicas, elected to run them
	roleStandby role = "standby" // one of several replicas, ready to take over
)

// Ready reports whether the bot can serve: its Socket Mode connection is up, the store took a write
// recently, and the scheduler runs. When not, reason says what is wrong.
func (b *Bot) Ready() (ok bool, reason string) {
	r := &b.ready
	r.mu.Lock()
	defer r.mu.Unlock()
	// The store comes first: when it fails, a replica closes its socket too, and the store is the cause.
	switch {
	case r.storeErr != nil:
		return false, "the store is not writable: " + r.storeErr.Error()
	case !r.socketUp:
		return false, "not connected to Slack (Socket Mode)"
	case r.storeAt.IsZero():
		return false, "the store has not been checked yet"
	case r.role == roleStopped:
		return false, "the scheduler is not running"
	case r.role == roleSingle:
		return true, "ok"
	}
	return true, "ok (" + string(r.role) + ")"
}

func (b *Bot) setSocket(up bool) {
	b.ready.mu.Lock()
	b.ready.socketUp = up
	b.ready.mu.Unlock()
	b.metrics.socket(up)
}

func (b *Bot) setRole(r role) {
	b.ready.mu.Lock()
	b.ready.role = r
	b.ready.mu.Unlock()
	if b.metrics != nil {
		b.metrics.Leader.Set(map[bool]float64{true: 1, false: 0}[r == roleLeader || r == roleSingle])
	}
}

// checkStore writes a heartbeat, the cheapest proof that the store takes writes.
func (b *Bot) checkStore(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := b.store.UpdateState(ctx, func(tx domain.StateTx) error {
		return tx.Put(kvHealth, "heartbeat", []byte(strconv.FormatInt(time.Now().Unix(), 10)))
	})
	if errors.Is(err, context.Canceled) {
		return
	}
	b.ready.mu.Lock()
	b.ready.storeErr, b.ready.storeAt = err, time.Now()
	b.ready.mu.Unlock()
	b.pauseSocketIf(err != nil)
}

const kvHealth = "health"
