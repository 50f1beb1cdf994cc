package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"workbot/bot"
	"workbot/bot/slackfake"
)

// The mixed workload: scriptActors people-groups each walk one request through Slack, ten envelopes
// each (commands, form submissions, clicks on the item message and in DMs, App Home opens), every
// step waiting for the answer to the previous one, as a person would. Items are walked side by side,
// so the replicas see interleaved work on many items at once; the outcome of each item depends on its
// own steps only, so any correct run ends in the same state.

const (
	scriptActors   = 100
	scriptSteps    = 10 // envelopes per actor
	scriptParallel = 20 // actors at work at once
	stepTimeout    = 20 * time.Second
	// inputAction is the action_id of every modal input (bot's ids.go): a block ID alone names a field.
	inputAction = "v"
)

// scriptPeople are the four people of actor i: each actor has its own, so that every answer to a
// person belongs to one actor's step.
type scriptPeople struct{ req, dev, lead, qa string }

func actorPeople(i int) scriptPeople {
	id := func(role string) string { return fmt.Sprintf("U0%s%03d", role, i) }
	return scriptPeople{req: id("REQ"), dev: id("DEV"), lead: id("LEAD"), qa: id("QA")}
}

// scriptConfig: every actor's lead leads; capacity is large so no assignment waits on an overload
// warning (whose outcome would depend on how other items interleave); no schedule posts anything
// during the run.
func scriptConfig() string {
	var leads []string
	for i := range scriptActors {
		leads = append(leads, actorPeople(i).lead)
	}
	return "intake_channel: " + cIntake + "\nleads: [" + strings.Join(leads, ", ") + "]\n" +
		"capacity: {default_points: 100}\n" +
		"digest: {schedule: \"0 0 1 1 *\", personal_schedule: \"off\"}\nbackup: {schedule: \"off\"}\n"
}

func addScriptPeople(fake *slackfake.Fake) {
	for i := range scriptActors {
		p := actorPeople(i)
		for _, u := range []string{p.req, p.dev, p.lead, p.qa} {
			fake.AddUser(slackfake.User{ID: u, Name: strings.ToLower(u[2:])})
		}
	}
}

type actor struct {
	f    *slackfake.Fake
	sent *atomic.Int64
	i    int
	p    scriptPeople
	key  string
	id   string
	msg  slackfake.MessageRef
}

func (a *actor) title() string { return fmt.Sprintf("Replica script request %03d", a.i) }

func mention(u string) string { return "<@" + u + "|" + strings.ToLower(u[2:]) + ">" }

// send counts an envelope and waits for its ack, which must be on time and well formed.
func (a *actor) send(d *slackfake.Delivery, err error) (slackfake.Ack, error) {
	if err != nil {
		return slackfake.Ack{}, err
	}
	a.sent.Add(1)
	ack, err := d.WaitTimeout(stepTimeout)
	if err != nil {
		return ack, err
	}
	if ack.Late || ack.Problem != "" {
		return ack, fmt.Errorf("ack late or refused: %+v", ack)
	}
	return ack, nil
}

// answered sends what act sends and waits for the next private answer to user, which must contain
// want.
func (a *actor) answered(user, want string, act func() (*slackfake.Delivery, error)) error {
	before := len(a.f.Ephemerals(user))
	if _, err := a.send(act()); err != nil {
		return err
	}
	var got string
	if err := a.f.WaitForTimeout(stepTimeout, func() bool {
		es := a.f.Ephemerals(user)
		if len(es) > before {
			got = es[before].AllText()
			return true
		}
		return false
	}); err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if !strings.Contains(got, want) {
		return fmt.Errorf("answer %q lacks %q", got, want)
	}
	return nil
}

func (a *actor) command(user, text string) error {
	return a.answered(user, "✅", func() (*slackfake.Delivery, error) { return a.f.SlashCommand(user, cGeneral, "/work", text) })
}

// onMessage waits for the item message to offer what a click needs, then clicks as user.
func (a *actor) onMessage(user, offers string, act func() (*slackfake.Delivery, error)) error {
	if err := a.f.WaitForTimeout(stepTimeout, func() bool {
		m, ok := a.f.Message(a.msg.Channel, a.msg.TS)
		return ok && strings.Contains(string(m.Blocks), offers)
	}); err != nil {
		return fmt.Errorf("the item message never offered %s: %w", offers, err)
	}
	return a.answered(user, "✅", act)
}

func (a *actor) click(user, actionID string) error {
	return a.onMessage(user, `"action_id":"`+actionID+`"`, func() (*slackfake.Delivery, error) {
		return a.f.ClickButton(user, a.msg, actionID)
	})
}

func (a *actor) moveTo(user, stage string) error {
	value := a.id + "|" + stage
	return a.onMessage(user, `"value":"`+value+`"`, func() (*slackfake.Delivery, error) {
		return a.f.Choose(user, a.msg, bot.ActionMove, slackfake.OptionValue(value))
	})
}

func (a *actor) home(user string) error {
	_, err := a.send(a.f.OpenAppHome(user))
	return err
}

// form waits for user's modal, then submits it with values (block ID → value).
func (a *actor) form(user, callbackID string, values map[string]slackfake.Value) error {
	var v slackfake.View
	if err := a.f.WaitForTimeout(stepTimeout, func() bool {
		var ok bool
		v, ok = a.f.TopModal(user)
		return ok && v.CallbackID == callbackID
	}); err != nil {
		return fmt.Errorf("modal %s never opened: %w", callbackID, err)
	}
	in := map[string]map[string]slackfake.Value{}
	for block, val := range values {
		in[block] = map[string]slackfake.Value{inputAction: val}
	}
	ack, err := a.send(a.f.SubmitView(user, v.ID, in))
	if err != nil {
		return err
	}
	if strings.Contains(string(ack.Payload), "errors") {
		return fmt.Errorf("form %s refused: %s", callbackID, ack.Payload)
	}
	return nil
}

var keyInGotIt = regexp.MustCompile(`Got it: \*(W-(\d+))\*`)

// request files the actor's request through the intake form and learns its key and message.
func (a *actor) request() error {
	if _, err := a.send(a.f.SlashCommand(a.p.req, cGeneral, "/work", "request "+a.title())); err != nil {
		return err
	}
	if err := a.form(a.p.req, bot.ViewIntake, map[string]slackfake.Value{
		bot.BlockDetails: slackfake.TextValue("Step " + strconv.Itoa(a.i) + " of the replica script."),
		bot.BlockSize:    slackfake.OptionValue("3"),
	}); err != nil {
		return err
	}
	// The item message and this DM share the item's lane, so the message is posted when it arrives.
	if err := a.f.WaitForTimeout(stepTimeout, func() bool {
		for _, m := range a.f.DMs(a.p.req) {
			if g := keyInGotIt.FindStringSubmatch(m.Text); g != nil {
				a.key, a.id = g[1], g[2]
				return true
			}
		}
		return false
	}); err != nil {
		return fmt.Errorf("no 'Got it' DM: %w", err)
	}
	for _, m := range a.f.Messages(cIntake) {
		if m.ThreadTS == "" && strings.HasPrefix(m.Text, a.key+":") {
			a.msg = m.Ref()
			return nil
		}
	}
	return fmt.Errorf("%s has no item message", a.key)
}

// walk runs the actor's ten steps; the variant (i mod 4) decides where the item ends.
func (a *actor) walk() error {
	p := a.p
	steps := []struct {
		name string
		run  func() error
	}{
		{"request and submit the form", a.request},
		{"prioritise from the item message", func() error {
			if _, err := a.send(a.f.ClickButton(p.lead, a.msg, bot.ActionPrioritise)); err != nil {
				return err
			}
			return a.form(p.lead, bot.ViewPrioritise, map[string]slackfake.Value{
				bot.BlockValue:   slackfake.OptionValue(strconv.Itoa(1 + a.i%5)),
				bot.BlockUrgency: slackfake.OptionValue(strconv.Itoa(1 + a.i/5%5)),
				bot.BlockSize:    slackfake.OptionValue([]string{"1", "2", "3", "5", "8"}[a.i%5]),
			})
		}},
		{"assign", func() error { return a.command(p.lead, "assign "+a.key+" "+mention(p.dev)) }},
	}
	type step = struct {
		name string
		run  func() error
	}
	switch a.i % 4 {
	case 0: // started, blocked and unblocked, reviewed through the menu, done
		steps = append(steps,
			step{"start", func() error { return a.click(p.dev, bot.ActionStart) }},
			step{"block", func() error { return a.command(p.dev, "block "+a.key+" waiting for the vendor") }},
			step{"unblock", func() error { return a.command(p.dev, "unblock "+a.key) }},
			step{"move to review", func() error { return a.moveTo(p.dev, "review") }},
			step{"done", func() error { return a.command(p.dev, "done "+a.key) }},
		)
	case 1: // handed off to QA, accepted from the DM, moved to review
		steps = append(steps,
			step{"start", func() error { return a.command(p.dev, "start "+a.key) }},
			step{"hand off", func() error { return a.command(p.dev, "handoff "+a.key+" "+mention(p.qa)+" please review the fix") }},
			step{"accept", func() error {
				var dm slackfake.Message
				if err := a.f.WaitForTimeout(stepTimeout, func() bool {
					for _, m := range a.f.DMs(p.qa) {
						if strings.Contains(string(m.Blocks), bot.ActionHandoffAccept) {
							dm = m
							return true
						}
					}
					return false
				}); err != nil {
					return fmt.Errorf("no handoff DM: %w", err)
				}
				return a.answered(p.qa, "✅", func() (*slackfake.Delivery, error) {
					return a.f.ClickButton(p.qa, dm.Ref(), bot.ActionHandoffAccept)
				})
			}},
			step{"App Home", func() error { return a.home(p.qa) }},
			step{"move to review", func() error { return a.command(p.qa, "move "+a.key+" review") }},
		)
	case 2: // started, followed, blocked
		steps = append(steps,
			step{"start", func() error { return a.click(p.dev, bot.ActionStart) }},
			step{"follow", func() error { return a.click(p.qa, bot.ActionFollow) }},
			step{"block", func() error { return a.command(p.dev, "block "+a.key+" needs a schema change") }},
			step{"App Home", func() error { return a.home(p.dev) }},
			step{"show", func() error {
				return a.answered(p.lead, "History", func() (*slackfake.Delivery, error) {
					return a.f.SlashCommand(p.lead, cGeneral, "/work", "show "+a.key)
				})
			}},
		)
	case 3: // reassigned to QA, who takes it through review to testing
		steps = append(steps,
			step{"App Home", func() error { return a.home(p.req) }},
			step{"reassign", func() error { return a.command(p.lead, "assign "+a.key+" "+mention(p.qa)) }},
			step{"start", func() error { return a.click(p.qa, bot.ActionStart) }},
			step{"move to review", func() error { return a.command(p.qa, "move "+a.key+" review") }},
			step{"move to testing", func() error { return a.command(p.qa, "move "+a.key+" testing") }},
		)
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return fmt.Errorf("actor %d (%s) %s: %w", a.i, a.key, s.name, err)
		}
	}
	return nil
}

// runScript walks every actor, scriptParallel at a time, and returns how many envelopes it sent.
func runScript(t *testing.T, fake *slackfake.Fake) int {
	t.Helper()
	var sent atomic.Int64
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	slots := make(chan struct{}, scriptParallel)
	for i := range scriptActors {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			a := &actor{f: fake, sent: &sent, i: i, p: actorPeople(i)}
			if err := a.walk(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs[:min(len(errs), 10)] {
		t.Error(err)
	}
	return int(sent.Load())
}

// itemOutcome is what the comparison looks at for one item, by title (keys depend on which
// request reached the database first).
type itemOutcome struct {
	Stage, Assignee, Resolution, Blocked string
	Triaged                              bool
	Value, Urgency, Size                 int
	Events                               []string // types, in audit order
	Thread                               []string // the thread under its item message, in order
}

// outcomes exports the items and events of db and reads each item's thread from fake.
func outcomes(t *testing.T, fake *slackfake.Fake, db string) map[string]itemOutcome {
	t.Helper()
	r := runCLI(t, env{}, nil, "export", "--db", db)
	if r.code != exitOK {
		t.Fatalf("export: %s", r.stderr)
	}
	var items []exportedItem
	if err := json.Unmarshal([]byte(r.stdout), &items); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, env{}, nil, "export", "--db", db, "--events")
	if r.code != exitOK {
		t.Fatalf("export --events: %s", r.stderr)
	}
	events := map[uint64][]exportedEvent{}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e exportedEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		events[e.ItemID] = append(events[e.ItemID], e)
	}
	messages := fake.Messages(cIntake)
	out := map[string]itemOutcome{}
	for _, it := range items {
		id, _ := strconv.ParseUint(strings.TrimPrefix(it.Key, "W-"), 10, 64)
		evs := events[id]
		sort.Slice(evs, func(i, j int) bool { return evs[i].Seq < evs[j].Seq })
		o := itemOutcome{Stage: it.Stage, Assignee: it.Assignee, Resolution: it.Resolution, Blocked: it.BlockedReason,
			Triaged: it.Triaged, Value: it.Value, Urgency: it.Urgency, Size: it.Size}
		for _, e := range evs {
			o.Events = append(o.Events, e.Type)
		}
		var root string
		for _, m := range messages {
			switch {
			case m.ThreadTS == "" && strings.HasPrefix(m.Text, it.Key+":"):
				root = m.TS
			case root != "" && m.ThreadTS == root && m.TS != root:
				o.Thread = append(o.Thread, m.Text)
			}
		}
		if root == "" {
			t.Errorf("%s has no item message", it.Key)
		}
		checkThread(t, it.Key, evs, o.Thread)
		if _, dup := out[it.Title]; dup {
			t.Errorf("two items are titled %q", it.Title)
		}
		out[it.Title] = o
	}
	return out
}

// checkThread: the thread under an item message lists its events (all but the creation) in the
// order of the audit log, one line each.
func checkThread(t *testing.T, key string, evs []exportedEvent, thread []string) {
	t.Helper()
	var want []exportedEvent
	for _, e := range evs {
		if e.Type != "created" {
			want = append(want, e)
		}
	}
	if len(thread) != len(want) {
		t.Errorf("%s: %d thread lines for %d events:\n%s", key, len(thread), len(want), strings.Join(thread, "\n"))
		return
	}
	for i, e := range want {
		phrase := map[string]string{
			"triaged": "prioritised it", "moved": "moved it from", "blocked": "blocked it", "unblocked": "unblocked it",
			"handoff_requested": "asked for a handoff", "handoff_accepted": "accepted the handoff", "followed": "followed",
		}[e.Type]
		if e.Type == "assigned" {
			for _, c := range e.Changes {
				if c.Field == "assignee" {
					phrase = "assigned it to <@" + c.After + ">"
				}
			}
		}
		if phrase == "" {
			phrase = strings.ReplaceAll(e.Type, "_", " ")
		}
		if !strings.HasPrefix(thread[i], "<@"+e.Actor+">") || !strings.Contains(thread[i], phrase) {
			t.Errorf("%s: thread line %d is %q; the audit log's event %d is %s by %s", key, i+1, thread[i], i+2, e.Type, e.Actor)
		}
	}
}

// waitOutboxEmpty waits until r reports nothing left to deliver.
func (c *cluster) waitOutboxEmpty(r *replica, timeout time.Duration) {
	c.t.Helper()
	if _, _, ok := pollHTTP(r.ops+"/metrics", timeout, func(code int, body string) bool {
		return code == http.StatusOK && regexp.MustCompile(`(?m)^workbot_outbox_pending 0$`).MatchString(body)
	}); !ok {
		c.fatalf("the outbox still holds %v entries after %v", r.metric("workbot_outbox_pending"), timeout)
	}
}

// ackStats summarises ack latencies.
func ackStats(acks []slackfake.Ack) string {
	if len(acks) == 0 {
		return "no acks"
	}
	lat := make([]time.Duration, len(acks))
	for i, a := range acks {
		lat[i] = a.Latency
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	return fmt.Sprintf("%d acks: p50 %v, p99 %v, max %v", len(lat), q(0.5).Round(10*time.Microsecond),
		q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
}

// TestThreeReplicasMatchOne runs the mixed workload (1,000 envelopes) through three replicas on one
// PostgreSQL schema, the fake spreading envelopes over their sockets, and the same workload through a
// single process on a bbolt file. The items end the same (stage, assignee, fields, the audit log's
// event types in order), each item's thread lists its events in audit order, no outbox entry was
// posted twice and no item has two messages.
func TestThreeReplicasMatchOne(t *testing.T) {
	if scriptActors*scriptSteps != 1000 {
		t.Fatalf("the script sends %d envelopes", scriptActors*scriptSteps)
	}
	cfg := scriptConfig()

	c := newCluster(t, cfg)
	addScriptPeople(c.fake)
	for i := range 3 {
		c.start(fmt.Sprintf("replica-%d", i+1), c.db)
	}
	leader := c.leader(20 * time.Second)
	start := time.Now()
	if n := runScript(t, c.fake); n != scriptActors*scriptSteps {
		t.Errorf("three replicas: sent %d envelopes", n)
	}
	t.Logf("three replicas: the script took %v; %s", time.Since(start).Round(time.Millisecond), ackStats(c.fake.Acks()))
	if t.Failed() {
		c.fatalf("the script failed on three replicas")
	}
	c.waitOutboxEmpty(leader, 60*time.Second)
	perSocket := map[int]int{}
	for _, a := range c.fake.Acks() {
		perSocket[a.Connection]++
	}
	if len(perSocket) != 3 {
		t.Errorf("acks came on %d sockets, want 3: %v", len(perSocket), perSocket)
	}
	for conn, n := range perSocket {
		if n < 200 {
			t.Errorf("socket %d acked only %d of 1,000 envelopes: %v", conn, n, perSocket)
		}
	}
	if u := c.fake.Unacked(); len(u) > 0 {
		t.Errorf("%d envelopes were never acked", len(u))
	}
	checkNothingTwice(t, c.fake)
	c.stopAll()
	replicated := outcomes(t, c.fake, c.db)

	one := newClusterOn(t, cfg, filepath.Join(t.TempDir(), "workbot.db"))
	addScriptPeople(one.fake)
	r := one.start("single", one.db)
	start = time.Now()
	if n := runScript(t, one.fake); n != scriptActors*scriptSteps {
		t.Errorf("one process: sent %d envelopes", n)
	}
	t.Logf("one process on bbolt: the script took %v; %s", time.Since(start).Round(time.Millisecond), ackStats(one.fake.Acks()))
	if t.Failed() {
		one.fatalf("the script failed on one process")
	}
	one.waitOutboxEmpty(r, 60*time.Second)
	checkNothingTwice(t, one.fake)
	one.stopAll()
	single := outcomes(t, one.fake, one.db)

	if len(replicated) != scriptActors || len(single) != scriptActors {
		t.Fatalf("%d items on three replicas, %d on one, want %d each", len(replicated), len(single), scriptActors)
	}
	diffs := 0
	for title, want := range single {
		got := replicated[title]
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
			diffs++
			if diffs <= 5 {
				t.Errorf("%s differs:\nthree replicas: %+v\none process:    %+v", title, got, want)
			}
		}
	}
	if diffs > 0 {
		t.Errorf("%d of %d items differ", diffs, len(single))
	}
}
