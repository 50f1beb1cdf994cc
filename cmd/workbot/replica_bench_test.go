package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"workbot/bot"
	"workbot/bot/slackfake"
)

// BenchmarkReplicaAckLatency sends b.N envelopes at 200 a second through the fake Slack, which
// spreads them over the sockets of the processes connected, and reports the ack latency the fake
// measured from sending an envelope to receiving its ack (Ack.Latency): to three replicas on one
// PostgreSQL schema, and for comparison to one process on PostgreSQL and to one on a bbolt file. In
// every ten envelopes: three slash commands (show, list, mine, help, load in turn), three clicks on
// Follow in item messages (a write, with its announcements), two App Home opens, one /work request
// (which opens the form) and one submission of a form opened earlier; or, with mix=commands, slash
// commands only. Commands, clicks and events are acked before they are handled; a form submission is
// acked after its validation and commit, so it is reported apart.
//
//	go test -run '^$' -bench ReplicaAckLatency -benchtime 6000x ./cmd/workbot
func BenchmarkReplicaAckLatency(b *testing.B) {
	const cfg = "intake_channel: " + cIntake + "\nleads: [U0LEAD]\ndigest: {personal_schedule: \"off\"}\nbackup: {schedule: \"off\"}\n"
	for _, mixed := range []bool{true, false} {
		mix := "mix=mixed"
		if !mixed {
			mix = "mix=commands"
		}
		b.Run(mix+",replicas=3,store=postgres", func(b *testing.B) { ackLatency(b, newCluster(b, cfg), 3, mixed) })
		b.Run(mix+",replicas=1,store=postgres", func(b *testing.B) { ackLatency(b, newCluster(b, cfg), 1, mixed) })
		b.Run(mix+",replicas=1,store=bbolt", func(b *testing.B) {
			ackLatency(b, newClusterOn(b, cfg, filepath.Join(b.TempDir(), "workbot.db")), 1, mixed)
		})
	}
}

// ackLatency runs the benchmark on c with that many replicas; without mixed, every envelope is one of
// the slash commands (reads only), as in the bot's single-process benchmark.
func ackLatency(b *testing.B, c *cluster, replicas int, mixed bool) {
	addPeople(c.fake)
	const clickers, formers = 100, 2000
	for i := range clickers {
		c.fake.AddUser(slackfake.User{ID: fmt.Sprintf("U0C%03d", i), Name: fmt.Sprintf("c%03d", i)})
	}
	for i := range formers {
		c.fake.AddUser(slackfake.User{ID: fmt.Sprintf("U0F%04d", i), Name: fmt.Sprintf("f%04d", i)})
	}
	for i := range replicas {
		c.start(fmt.Sprintf("replica-%d", i+1), c.db)
	}
	if replicas > 1 {
		c.leader(20 * time.Second)
	}
	for i := range 20 {
		if !fileRequest(c.fake, "U0REQ", fmt.Sprintf("Benchmark item %02d", i)) {
			b.Fatal("seeding: a request was not acked")
		}
	}
	if err := c.fake.WaitForTimeout(30*time.Second, func() bool { return len(itemKeys(c.fake)) == 20 }); err != nil {
		c.fatalf("seeding: the items were not announced")
	}
	var items []slackfake.MessageRef
	for _, m := range c.fake.Messages(cIntake) {
		if m.ThreadTS == "" {
			items = append(items, m.Ref())
		}
	}
	commands := []string{"show W-1", "list", "mine", "help", "load"}
	before := len(c.fake.Acks())
	var (
		deliveries []*slackfake.Delivery
		opened     []string // users whose /work request was sent and whose form is not submitted yet
		sendErrs   int
	)
	nextForm := 0
	send := func(d *slackfake.Delivery, err error) {
		if err != nil {
			sendErrs++
			return
		}
		deliveries = append(deliveries, d)
	}
	const every = 5 * time.Millisecond // 200 a second
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		// Pacing to the rate is the point here; there is no condition to wait for.
		time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
		kind := i % 10
		if !mixed {
			kind = 0
		}
		switch kind {
		case 0, 1, 2:
			send(c.fake.SlashCommand("U0LEAD", cGeneral, "/work", commands[i%len(commands)]))
		case 3, 4, 5:
			user := fmt.Sprintf("U0C%03d", i/10%clickers)
			send(c.fake.ClickButton(user, items[i%len(items)], bot.ActionFollow))
		case 6, 7:
			send(c.fake.OpenAppHome(fmt.Sprintf("U0C%03d", i%clickers)))
		case 8:
			user := fmt.Sprintf("U0F%04d", nextForm%formers)
			nextForm++
			send(c.fake.SlashCommand(user, cGeneral, "/work", "request Benchmark form "+user))
			opened = append(opened, user)
		case 9:
			submitted := false
			for j, user := range opened {
				if v, ok := c.fake.TopModal(user); ok && v.CallbackID == bot.ViewIntake {
					send(c.fake.SubmitView(user, v.ID, nil))
					opened = slices.Delete(opened, j, j+1)
					submitted = true
					break
				}
			}
			if !submitted { // no form is open yet: keep the rate with a command
				send(c.fake.SlashCommand("U0LEAD", cGeneral, "/work", "help"))
			}
		}
	}
	sent := time.Since(start)
	for _, d := range deliveries {
		if _, err := d.WaitTimeout(10 * time.Second); err != nil {
			sendErrs++
		}
	}
	b.StopTimer()
	acks := c.fake.Acks()[before:]
	kinds := map[string][]time.Duration{}
	var all, immediate []time.Duration
	late := 0
	for _, a := range acks {
		kind := a.Type
		if a.Type == "interactive" || a.Type == "events_api" {
			kind = a.PayloadType
		}
		kinds[kind] = append(kinds[kind], a.Latency)
		all = append(all, a.Latency)
		if kind != "view_submission" {
			immediate = append(immediate, a.Latency)
		}
		if a.Late {
			late++
		}
	}
	perSocket := map[int]int{}
	for _, a := range acks {
		perSocket[a.Connection]++
	}
	b.Logf("%d envelopes in %v (%.0f/s), %d acks (%d late), %d not acked or not sent; per socket %v",
		b.N, sent.Round(time.Millisecond), float64(b.N)/sent.Seconds(), len(acks), late, sendErrs, perSocket)
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range kinds {
			if !yield(k) {
				return
			}
		}
	}) {
		b.Logf("%-16s %s", k, quantiles(kinds[k]))
	}
	b.Logf("%-16s %s", "all", quantiles(all))
	b.Logf("%-16s %s", "all but forms", quantiles(immediate))
	q := func(ds []time.Duration, p float64) float64 {
		slices.Sort(ds)
		if len(ds) == 0 {
			return 0
		}
		return float64(ds[min(len(ds)-1, int(p*float64(len(ds))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(q(all, 0.5), "p50-ms")
	b.ReportMetric(q(all, 0.99), "p99-ms")
	b.ReportMetric(q(immediate, 0.99), "p99-immediate-ms")
	if mixed {
		b.ReportMetric(q(kinds["view_submission"], 0.99), "p99-form-ms")
	}
	b.ReportMetric(0, "ns/op") // the rate is fixed: time per envelope says nothing
	c.stopAll()
}

// quantiles formats the count, p50, p99 and max of ds.
func quantiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	slices.Sort(ds)
	at := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	r := func(d time.Duration) string { return d.Round(10 * time.Microsecond).String() }
	return fmt.Sprintf("n=%d p50 %s p90 %s p99 %s max %s", len(ds), r(at(0.5)), r(at(0.9)), r(at(0.99)), r(ds[len(ds)-1]))
}

// BenchmarkLeaderFailover kills the leader of three replicas with SIGKILL b.N times and measures how
// long until another replica's /readyz says it leads; a fresh replica replaces each one killed.
//
//	go test -run '^$' -bench LeaderFailover -benchtime 10x ./cmd/workbot
func BenchmarkLeaderFailover(b *testing.B) {
	c := newCluster(b, digestConfig)
	addPeople(c.fake)
	for i := range 3 {
		c.start(fmt.Sprintf("replica-%d", i+1), c.db)
	}
	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		old := c.leader(20 * time.Second)
		killed := time.Now()
		c.kill(old)
		next := c.leader(20 * time.Second)
		took = append(took, time.Since(killed))
		b.StopTimer()
		if next == old {
			b.Fatal("the dead replica still leads")
		}
		c.start(fmt.Sprintf("replica-%d", i+4), c.db)
		b.StartTimer()
	}
	b.StopTimer()
	b.Logf("leader killed → another says it leads: %s; each: %v", quantiles(slices.Clone(took)), took)
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2])/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(took[len(took)-1])/float64(time.Millisecond), "max-ms")
	b.ReportMetric(0, "ns/op")
	c.stopAll()
}
