package bot

import (
	"fmt"
	"net/http"
	"os"
	"sort"
	"testing"
	"time"

	"go.uber.org/goleak"

	"workbot/domain"
)

// TestMain fails the package if any test leaves a goroutine behind: the bot starts workers, a socket
// client, a scheduler and timers, and all of them must stop with Run.
func TestMain(m *testing.M) {
	before := goleak.IgnoreCurrent() // what runs before any test, e.g. the runtime's own
	code := m.Run()
	scaleCleanup()
	// Idle keep-alive connections of the HTTP client are pooled, not leaked.
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(before); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// BenchmarkSlashCommandAck sends slash commands at 100 per second through the fake Slack and reports
// the ack latency the fake measured (send → ack on the socket), p50 and p99.
func BenchmarkSlashCommandAck(b *testing.B) {
	h := newHarness(b)
	id := h.request(uReq, "Benchmark item", "3")
	key := domain.FormatKey("W", id)
	texts := []string{"show " + key, "list", "mine", "help", "load"}
	before := len(h.fake.Acks())
	tick := time.NewTicker(10 * time.Millisecond) // 100 commands per second
	defer tick.Stop()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		<-tick.C
		if _, err := h.fake.SlashCommand(uReq, cGeneral, SlashCommand, texts[i%len(texts)]); err != nil {
			b.Fatal(err)
		}
	}
	h.waitFor("every ack", func() bool { return len(h.fake.Acks())-before >= b.N })
	b.StopTimer()
	var lat []time.Duration
	for _, a := range h.fake.Acks()[before:] {
		if a.Type == "slash_commands" {
			lat = append(lat, a.Latency)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1.0), "max-ms")
}
