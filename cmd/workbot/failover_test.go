package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"workbot/bot/slackfake"
	"workbot/storage/pgstore/pgtest"
)

// digestConfig posts a digest to two leadership channels every minute: the finest schedule the
// config accepts (digest.schedule is a five-field cron spec).
const digestConfig = "intake_channel: " + cIntake + "\nleadership_channels: [" + cLeads + ", " + cLeads2 + "]\nleads: [U0LEAD]\n" +
	"digest: {schedule: \"* * * * *\", timezone: UTC, personal_schedule: \"off\"}\nbackup: {schedule: \"off\"}\n"

func addPeople(fake *slackfake.Fake) {
	for _, u := range []string{"U0LEAD", "U0DEV", "U0REQ"} {
		fake.AddUser(slackfake.User{ID: u, Name: strings.ToLower(u[2:])})
	}
}

// digestCounts is how many digests each leadership channel holds.
func digestCounts(fake *slackfake.Fake) [2]int {
	return [2]int{len(digests(fake, cLeads)), len(digests(fake, cLeads2))}
}

// settle waits until the first leader's start-up digest (the latest slot, caught up on a fresh
// database) is in both channels and nothing is left to deliver.
func (c *cluster) settle(leader *replica) {
	c.t.Helper()
	if err := c.fake.WaitForTimeout(30*time.Second, func() bool {
		n := digestCounts(c.fake)
		return n[0] > 0 && n[1] > 0
	}); err != nil {
		c.fatalf("no start-up digest: %v", err)
	}
	c.waitOutboxEmpty(leader, 30*time.Second)
}

// TestLeaderKilledAtADigestSlot kills the leader of three replicas with SIGKILL just before a digest
// slot. Another replica takes over and posts that slot's digest, exactly once in each of the two
// leadership channels, within 15 s of the kill.
func TestLeaderKilledAtADigestSlot(t *testing.T) {
	t.Parallel() // it waits for a minute boundary; so does TestNetworkCutBetweenAReplicaAndPostgres
	c := newCluster(t, digestConfig)
	addPeople(c.fake)
	for i := range 3 {
		c.start(fmt.Sprintf("replica-%d", i+1), c.db)
	}
	old := c.leader(20 * time.Second)
	c.settle(old)

	// The slot falls 700 ms after the kill: on no leader, or on a new one that has just taken over.
	slot := untilNextMinute(10*time.Second, 700*time.Millisecond)
	before := digestCounts(c.fake)
	killed := time.Now()
	c.kill(old)
	next := c.leader(15 * time.Second)
	leading := time.Since(killed)
	want := [2]int{before[0] + 1, before[1] + 1}
	if err := c.fake.WaitForTimeout(15*time.Second-time.Since(killed), func() bool { return digestCounts(c.fake) == want }); err != nil {
		c.fatalf("15 s after the leader was killed the channels hold %v digests, want %v", digestCounts(c.fake), want)
	}
	posted := time.Since(killed)
	t.Logf("leader killed %v before the slot; %s leads after %v; the slot's digests were in both channels after %v",
		slot.Sub(killed).Round(time.Millisecond), next.name, leading.Round(time.Millisecond), posted.Round(time.Millisecond))

	// Nothing more is on its way for this slot, and nothing came twice.
	c.waitOutboxEmpty(next, 15*time.Second)
	if time.Now().After(slot.Add(time.Minute)) {
		t.Fatal("the check ran into the next slot")
	}
	if got := digestCounts(c.fake); got != want {
		t.Errorf("the channels hold %v digests, want %v", got, want)
	}
	checkNothingTwice(t, c.fake)
	// The new leader queued it: a leader that was killed before the slot could not have.
	if n := next.metric(`workbot_digest_runs_total{outcome="queued"}`); n != 1 {
		t.Errorf("the new leader queued %v digests, want 1", n)
	}
	for _, r := range c.reps {
		if r != next && !r.dead {
			if n := r.metric(`workbot_digest_runs_total{outcome="queued"}`); n > 0 {
				t.Errorf("%s, a standby, queued %v digests", r.name, n)
			}
		}
	}
}

// TestReplicaKilledMidBurst files requests through the intake form while one of three replicas is
// killed with SIGKILL. Every request whose form was acked is kept, and has exactly one item message
// and one "Got it" DM, delivered by the others (the dead replica's claims expire with their lease);
// nothing is posted twice.
func TestReplicaKilledMidBurst(t *testing.T) {
	c := newCluster(t, "intake_channel: "+cIntake+"\nleads: [U0LEAD]\ndigest: {personal_schedule: \"off\"}\nbackup: {schedule: \"off\"}\n")
	addPeople(c.fake)
	for i := range 3 {
		c.start(fmt.Sprintf("replica-%d", i+1), c.db)
	}
	leader := c.leader(20 * time.Second)
	victim := c.reps[0]
	if victim == leader {
		victim = c.reps[1] // the leader's death is the other tests' subject
	}
	const requester, burst, killAfter = "U0REQ", 45, 15
	var acked []string
	var killed time.Time
	for i := range burst {
		title := fmt.Sprintf("Burst request %02d", i)
		if !fileRequest(c.fake, requester, title) {
			continue
		}
		acked = append(acked, title)
		// Killed right after it saved a form, the victim is likely announcing it: its commit woke its
		// own deliverer, which holds the item's claim.
		acks := c.fake.Acks()
		if len(acked) >= killAfter && !victim.dead && acks[len(acks)-1].Connection == victim.conn {
			c.kill(victim)
			killed = time.Now()
		}
	}
	if !victim.dead || len(acked) <= killAfter {
		c.fatalf("only %d of %d forms were acked: the kill did not fall mid-burst", len(acked), burst)
	}
	itemMessages := func() map[string]int {
		n := map[string]int{}
		for _, m := range c.fake.Messages(cIntake) {
			if m.ThreadTS == "" {
				for _, title := range acked {
					if strings.Contains(m.Text, title) {
						n[title]++
					}
				}
			}
		}
		return n
	}
	gotIts := func() int {
		n := 0
		for _, m := range c.fake.DMs(requester) {
			if strings.Contains(m.Text, "Got it") {
				n++
			}
		}
		return n
	}
	// A claim the dead replica held is taken over when its lease (30 s) runs out.
	if err := c.fake.WaitForTimeout(45*time.Second, func() bool { return len(itemMessages()) == len(acked) && gotIts() >= len(acked) }); err != nil {
		c.fatalf("%d of %d acked requests have a message and %d a DM: %v", len(itemMessages()), len(acked), gotIts(), err)
	}
	t.Logf("%d of %d forms acked; all announced %v after the kill", len(acked), burst, time.Since(killed).Round(time.Millisecond))
	c.waitOutboxEmpty(leader, 45*time.Second)
	for title, n := range itemMessages() {
		if n != 1 {
			t.Errorf("%q has %d item messages, want 1", title, n)
		}
	}
	checkNothingTwice(t, c.fake)
	dms := map[string]int{}
	for _, m := range c.fake.DMs(requester) {
		dms[m.Text]++
	}
	for text, n := range dms {
		if n != 1 {
			t.Errorf("DM %q arrived %d times", text, n)
		}
	}
	// Requests saved around the kill without an ack are announced too, once: every stored item has
	// its message.
	var items []exportedItem
	if r := runCLI(t, env{}, nil, "export", "--db", c.db); json.Unmarshal([]byte(r.stdout), &items) != nil {
		t.Fatalf("export: %s", r.stderr)
	}
	keys := itemKeys(c.fake)
	for _, it := range items {
		if !keys[it.Key] {
			t.Errorf("%s (%q) is stored but was never announced", it.Key, it.Title)
		}
	}
	if len(keys) != len(items) {
		t.Errorf("%d items stored, %d item messages", len(items), len(keys))
	}
	c.stopAll()
}

// itemKeys lists the keys of the item messages in the intake channel.
func itemKeys(fake *slackfake.Fake) map[string]bool {
	keys := map[string]bool{}
	for _, m := range fake.Messages(cIntake) {
		if m.ThreadTS == "" && m.BotID != "" {
			key, _, _ := strings.Cut(m.Text, ":")
			keys[key] = true
		}
	}
	return keys
}

// TestNetworkCutBetweenAReplicaAndPostgres cuts the leader of two replicas off from PostgreSQL (a
// proxy in between drops everything, with no FIN or RST) just before a digest slot. The cut replica
// turns not ready with the reason; the other takes over, posts the slot's digest once per channel,
// and handles a command that changes an item, announcement included.
func TestNetworkCutBetweenAReplicaAndPostgres(t *testing.T) {
	t.Parallel() // it waits for a minute boundary; so does TestLeaderKilledAtADigestSlot
	c := newCluster(t, digestConfig)
	addPeople(c.fake)
	proxy, viaProxy := pgtest.NewProxy(t, c.db)
	cut := c.start("cut-off", viaProxy)
	cutConn := c.fake.ConnectionsOpened()
	if c.leader(20*time.Second) != cut {
		t.Fatal("the replica started first does not lead")
	}
	other := c.start("other", c.db)
	otherConn := c.fake.ConnectionsOpened()
	if !fileRequest(c.fake, "U0REQ", "Printer on floor 3 jams") {
		c.fatalf("the request was not acked")
	}
	if err := c.fake.WaitForTimeout(20*time.Second, func() bool { return itemKeys(c.fake)["W-1"] }); err != nil {
		c.fatalf("W-1 was not announced")
	}
	c.settle(cut)

	slot := untilNextMinute(10*time.Second, 1500*time.Millisecond)
	before := digestCounts(c.fake)
	proxy.Cut()
	cutAt := time.Now()

	if _, body, ok := pollHTTP(other.ops+"/readyz", 20*time.Second, func(_ int, body string) bool { return body == "ok (leader)" }); !ok {
		c.fatalf("the other replica says %q 20 s after the leader was cut off", body)
	}
	leading := time.Since(cutAt)
	want := [2]int{before[0] + 1, before[1] + 1}
	if err := c.fake.WaitForTimeout(25*time.Second-time.Since(cutAt), func() bool { return digestCounts(c.fake) == want }); err != nil {
		c.fatalf("25 s after the cut the channels hold %v digests, want %v", digestCounts(c.fake), want)
	}
	posted := time.Since(cutAt)
	code, body, ok := pollHTTP(cut.ops+"/readyz", 30*time.Second, func(code int, _ string) bool { return code == http.StatusServiceUnavailable })
	if !ok || !strings.Contains(body, "store") {
		c.fatalf("the cut-off replica's /readyz says %d %q", code, body)
	}
	t.Logf("cut %v before the slot; the other leads after %v; digests in both channels after %v; the cut-off one says %d %q after %v",
		slot.Sub(cutAt).Round(time.Millisecond), leading.Round(time.Millisecond), posted.Round(time.Millisecond), code, body,
		time.Since(cutAt).Round(time.Millisecond))

	// The cut-off replica closes its socket, so Slack gives every envelope to the other one, which
	// serves it down to its announcement in the item's thread.
	if err := c.fake.WaitForTimeout(30*time.Second, func() bool { return c.fake.Connections() == 1 }); err != nil {
		c.fatalf("the cut-off replica kept its socket: %d connections", c.fake.Connections())
	}
	for i := range 4 {
		before := len(c.fake.Ephemerals("U0LEAD"))
		d, err := c.fake.SlashCommand("U0LEAD", cGeneral, "/work", "assign W-1 <@U0DEV|dev>")
		if err != nil {
			t.Fatal(err)
		}
		ack, err := d.WaitTimeout(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ack.Connection != otherConn {
			t.Fatalf("acked on socket %d, not the other replica's %d (the cut-off one held %d)", ack.Connection, otherConn, cutConn)
		}
		if err := c.fake.WaitForTimeout(10*time.Second, func() bool { return len(c.fake.Ephemerals("U0LEAD")) > before }); err != nil {
			c.fatalf("no answer to /work assign from the other replica")
		}
		want := "✅ Assigned"
		if i > 0 {
			want = "already" // assigning to the same person again changes nothing
		}
		if a := c.fake.Ephemerals("U0LEAD")[before].AllText(); i == 0 && !strings.Contains(a, want) {
			t.Errorf("the other replica answered %q", a)
		}
	}
	if err := c.fake.WaitForTimeout(20*time.Second, func() bool {
		for _, m := range c.fake.Messages(cIntake) {
			if m.ThreadTS != "" && strings.Contains(m.Text, "assigned it to <@U0DEV>") {
				return true
			}
		}
		return false
	}); err != nil {
		c.fatalf("the assignment was not announced in the item's thread")
	}
	c.waitOutboxEmpty(other, 30*time.Second)
	if got := digestCounts(c.fake); got != want {
		t.Errorf("the channels hold %v digests, want %v", got, want)
	}
	checkNothingTwice(t, c.fake)

	// When the network comes back, so does the replica: its socket reopens and it stands by.
	proxy.Heal()
	if _, body, ok := pollHTTP(cut.ops+"/readyz", 45*time.Second, func(code int, _ string) bool { return code == http.StatusOK }); !ok {
		c.fatalf("the cut-off replica says %q 45 s after the network came back", body)
	}
	if n := c.fake.Connections(); n != 2 {
		t.Errorf("%d connections after the network came back, want 2", n)
	}
}
