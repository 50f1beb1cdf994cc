// Package loadtest drives the real workbot binary through the local Slack (bot/slackfake) over real
// sockets, on a copy of the benchmark fixture, and measures what a person would notice: how long
// Slack waits for each ack, whether any is missed, how long the bot takes from a cold start to its
// first answer, and how much memory it holds.
//
// It runs only when asked (make loadtest, or make bench): WORKBOT_LOADTEST=1 go test ./loadtest -v.
// WORKBOT_SCALE=1m uses the 1M-item fixture, as make does; the default is the 20k one.
package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"workbot/bot"
	"workbot/bot/slackfake"
	"workbot/domain"
	"workbot/storage"
	"workbot/storage/fixture"
)

// The load: rate envelopes per second for duration, in a fixed rotation of kinds (see plan).
var (
	rate     = 200
	duration = 60 * time.Second
)

func TestLoad(t *testing.T) {
	if os.Getenv("WORKBOT_LOADTEST") == "" {
		t.Skip("set WORKBOT_LOADTEST=1 (make loadtest) to run the load test")
	}
	if s := os.Getenv("WORKBOT_LOADTEST_RATE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		rate = n
	}
	if s := os.Getenv("WORKBOT_LOADTEST_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		duration = time.Duration(n) * time.Second
	}
	spec := fixture.Small
	if os.Getenv("WORKBOT_SCALE") == "1m" {
		spec = fixture.Scale
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "workbot")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "workbot/cmd/workbot")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("building workbot: %v", err)
	}
	src, err := fixture.Path(spec, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "workbot.db")
	if err := fixture.Copy(src, dbPath); err != nil {
		t.Fatal(err)
	}
	if err := fixture.Evict(dbPath); err != nil {
		t.Logf("cannot drop the copy from the page cache (%v); start-up is measured warm", err)
	}
	pick := pickItems(t, dbPath)

	fake := slackfake.New(slackfake.Options{})
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	fake.AddUser(slackfake.User{ID: string(fixture.Lead), Name: "lead", RealName: "The Lead", TZ: "UTC"})
	for i := 0; i < spec.People; i++ {
		u := string(fixture.Person(i))
		fake.AddUser(slackfake.User{ID: u, Name: strings.ToLower(u), RealName: "Person " + strconv.Itoa(i), TZ: "UTC"})
		fake.AddUser(slackfake.User{ID: fmt.Sprintf("UX%08d", i), Name: fmt.Sprintf("ux%d", i), RealName: "Requester " + strconv.Itoa(i), TZ: "UTC"})
	}
	fake.AddChannel(fixture.IntakeChannel, "work-intake")
	fake.AddChannel(fixture.LeadershipChannel, "leadership")
	fake.AddChannel("C0GENERAL", "general")

	cfgPath := filepath.Join(dir, "workbot.yaml")
	if err := os.WriteFile(cfgPath, []byte(config(spec)), 0o600); err != nil {
		t.Fatal(err)
	}
	member := string(fixture.Person(spec.Teams + 7))
	env := append(os.Environ(),
		"SLACK_BOT_TOKEN="+fake.BotToken(), "SLACK_APP_TOKEN="+fake.AppToken(), "SLACK_API_URL="+fake.URL(),
		"WORKBOT_LOG_LEVEL=warn", "WORKBOT_LOG_FORMAT=json")
	weekly := weeklyReports(t, bin, cfgPath, dbPath, env, fake, member)
	if err := fixture.Evict(dbPath); err != nil {
		t.Logf("cannot drop the copy from the page cache (%v); start-up is measured warm", err)
	}
	waitClearOfSweep(t)

	// Start-up: from exec to the first acked command, on a file the page cache has not seen.
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--db", dbPath)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &logTail{}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go logs.read(stderr)
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	var startup time.Duration
	for {
		if time.Since(started) > 60*time.Second {
			t.Fatalf("no ack within a minute of starting; log:\n%s", logs.String())
		}
		if d, err := fake.SlashCommand(member, "C0GENERAL", bot.SlashCommand, "help"); err == nil {
			if _, err := d.WaitTimeout(5 * time.Second); err == nil {
				startup = time.Since(started)
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	pid := cmd.Process.Pid
	time.Sleep(5 * time.Second) // let start-up work (the outbox's first claim, catch-ups) settle
	idle := readStatus(pid)

	// One digest on its own: what it costs in memory, before the load touches the rest of the file.
	digestSampler := startSampler(pid, 10*time.Millisecond)
	digestTook := digestPreview(t, fake, member)
	time.Sleep(time.Second)
	digestPeak := digestSampler.stop()

	// The load.
	sampler := startSampler(pid, 50*time.Millisecond)
	drv := &driver{t: t, fake: fake, spec: spec, pick: pick, member: member, rng: rand.New(rand.NewPCG(1, 2))}
	drv.prepare()
	before := len(fake.Acks())
	botCPU0, selfCPU0, wall0 := cpuSeconds(pid), cpuSeconds(os.Getpid()), time.Now()
	sent := drv.run(rate, duration)
	botCPU, selfCPU, wall := cpuSeconds(pid)-botCPU0, cpuSeconds(os.Getpid())-selfCPU0, time.Since(wall0).Seconds()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && len(fake.Acks())-before < sent.total() {
		time.Sleep(20 * time.Millisecond)
	}
	peak := sampler.stop()
	after := readStatus(pid)
	if path := os.Getenv("WORKBOT_LOADTEST_METRICS"); path != "" {
		// The bot's own view (handler and transaction latencies), for finding where time goes.
		if resp, err := http.Get("http://127.0.0.1:9464/metrics"); err != nil {
			t.Logf("cannot read the bot's metrics: %v", err)
		} else {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_ = os.WriteFile(path, body, 0o644)
		}
	}

	// Stop as an operator would, and check the file.
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("workbot did not stop cleanly: %v\n%s", err, logs.String())
	}
	stopped = true

	acks := fake.Acks()[before:]
	byKind := map[string][]time.Duration{}
	late := 0
	for _, a := range acks {
		kind := a.Type
		if a.PayloadType != "" && a.Type == "interactive" {
			kind = a.PayloadType
		}
		byKind[kind] = append(byKind[kind], a.Latency)
		byKind["all"] = append(byKind["all"], a.Latency)
		if a.Late {
			late++
		}
	}
	missed := sent.total() - len(acks) + late
	t.Logf("fixture %s; %d envelopes in %v (%s)", spec.Name, sent.total(), duration, sent)
	t.Logf("start-up to the first ack, cold page cache: %v", startup.Round(time.Millisecond))
	t.Logf("the weekly plan-versus-execution reports (4 weeks, every team), computed by a first digest: %v; RSS peak meanwhile %s (heap %s, file %s)",
		weekly.took.Round(time.Millisecond), mib(weekly.peak.rss), mib(weekly.peak.anon), mib(weekly.peak.file))
	t.Logf("RSS peak during one digest after that (%v): %s (heap %s, file %s)", digestTook.Round(time.Millisecond), mib(digestPeak.rss), mib(digestPeak.anon), mib(digestPeak.file))
	t.Logf("RSS idle: %s (heap %s, file %s); peak during the load (digests included): %s (heap %s, file %s; VmHWM %s); after: %s",
		mib(idle.rss), mib(idle.anon), mib(idle.file), mib(peak.rss), mib(peak.anon), mib(peak.file), mib(after.hwm), mib(after.rss))
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range byKind {
			if !yield(k) {
				return
			}
		}
	}) {
		l := byKind[k]
		t.Logf("ack latency %-16s n=%5d p50 %6.2f ms  p99 %6.2f ms  max %7.2f ms", k, len(l), pct(l, 0.5), pct(l, 0.99), pct(l, 1))
	}
	t.Logf("missed acks: %d (late %d, never %d)", missed, late, sent.total()-len(acks))
	t.Logf("CPU during the load: workbot %.2f cores, this test and the local Slack %.2f cores (of %d)",
		botCPU/wall, selfCPU/wall, runtime.NumCPU())
	if path := os.Getenv("WORKBOT_LOADTEST_LOG"); path != "" {
		logs.mu.Lock()
		_ = os.WriteFile(path, []byte(strings.Join(logs.lines, "\n")), 0o644)
		logs.mu.Unlock()
	}
	if problems := logs.errors(); len(problems) > 0 {
		t.Logf("errors in the bot's log (%d), first: %s", len(problems), problems[0])
	}
	writeResult(t, map[string]any{
		"fixture": spec.Name, "envelopes": sent.total(), "seconds": duration.Seconds(),
		"startup_ms": startup.Milliseconds(), "rss_idle_mib": float64(idle.rss) / (1 << 20),
		"rss_peak_mib": float64(peak.rss) / (1 << 20), "vm_hwm_mib": float64(after.hwm) / (1 << 20),
		"rss_digest_peak_mib": float64(digestPeak.rss) / (1 << 20), "weekly_reports_ms": weekly.took.Milliseconds(),
		"rss_weekly_reports_peak_mib": float64(weekly.peak.rss) / (1 << 20),
		"ack_p50_ms":                  pct(byKind["all"], 0.5), "ack_p99_ms": pct(byKind["all"], 0.99), "ack_max_ms": pct(byKind["all"], 1),
		"missed": missed,
	})
	if missed > 0 {
		t.Errorf("%d acks missed", missed)
	}
	if p := pct(byKind["all"], 0.99); p > 5 {
		t.Errorf("ack p99 %.2f ms, want ≤ 5 ms", p)
	}
}

// digestPreview runs `/work digest` as member and waits for the preview.
func digestPreview(t *testing.T, fake *slackfake.Fake, member string) time.Duration {
	t.Helper()
	before := len(fake.Ephemerals(member))
	sent := time.Now()
	if _, err := fake.SlashCommand(member, "C0GENERAL", bot.SlashCommand, "digest"); err != nil {
		t.Fatal(err)
	}
	preview := func() bool {
		for _, e := range fake.Ephemerals(member)[before:] {
			if e.Text == "Work digest preview" {
				return true
			}
		}
		return false
	}
	if err := fake.WaitForTimeout(3*time.Minute, preview); err != nil {
		t.Fatalf("no digest preview: %v", err)
	}
	return time.Since(sent)
}

type weeklyRun struct {
	took time.Duration
	peak status
}

// weeklyReports runs the bot once as it runs once a week: the fixture has never had its complete
// weeks of plan versus execution computed, so the first digest computes and stores them (see
// bot/alignment_cache.go). The measured run then starts, like a bot the rest of the week, with them
// stored.
func weeklyReports(t *testing.T, bin, cfgPath, dbPath string, env []string, fake *slackfake.Fake, member string) weeklyRun {
	t.Helper()
	cmd := exec.Command(bin, "run", "--config", cfgPath, "--db", dbPath)
	cmd.Env = env
	logs := &logTail{}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go logs.read(stderr)
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("workbot did not stop cleanly after the weekly reports: %v\n%s", err, logs.String())
		}
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		if d, err := fake.SlashCommand(member, "C0GENERAL", bot.SlashCommand, "help"); err == nil {
			if _, err := d.WaitTimeout(5 * time.Second); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ack within a minute of starting; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	sampler := startSampler(cmd.Process.Pid, 10*time.Millisecond)
	took := digestPreview(t, fake, member)
	return weeklyRun{took: took, peak: sampler.stop()}
}

// config is the YAML for the fixture's workspace. Scheduled digests and morning DMs are off, so what
// is measured is the load; a digest preview runs within it.
func config(spec fixture.Spec) string {
	p := fixture.Policy(spec)
	var b strings.Builder
	fmt.Fprintf(&b, "intake_channel: %s\nleadership_channels: [%s]\nleads: [%s]\n", fixture.IntakeChannel, fixture.LeadershipChannel, fixture.Lead)
	b.WriteString("calendar: {working_days: [mon, tue, wed, thu, fri], timezone: UTC}\n")
	b.WriteString("digest: {schedule: \"0 0 1 1 *\", personal_schedule: \"off\"}\n")
	b.WriteString("teams:\n")
	for _, team := range p.Teams {
		fmt.Fprintf(&b, "  - id: %s\n    name: %s\n    leads: [%s]\n    members: [", team.ID, team.Name, team.Leads[0])
		for i, m := range team.Members {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(string(m))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// waitClearOfSweep starts the run where the bot's ten-minute sweep cannot fall inside it: the sweep
// is not what this test measures.
func waitClearOfSweep(t *testing.T) {
	need := duration + 90*time.Second
	now := time.Now()
	next := now.Truncate(10 * time.Minute).Add(10 * time.Minute)
	if next.Sub(now) < need {
		wait := time.Until(next.Add(5 * time.Second))
		t.Logf("waiting %v for the sweep at %s to pass", wait.Round(time.Second), next.Format("15:04"))
		time.Sleep(wait)
	}
}

// items are open items the driver names in commands.
type items struct {
	todo []domain.Item
}

func pickItems(t *testing.T, path string) items {
	db, err := storage.Open(path, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out items
	err = db.View(context.Background(), func(tx domain.ReadTx) error {
		return tx.OpenItemsInStage(domain.StageTodo, func(it domain.Item) bool {
			out.todo = append(out.todo, it)
			return len(out.todo) < 2000
		})
	})
	if err != nil || len(out.todo) == 0 {
		t.Fatalf("no open items to name: %v", err)
	}
	return out
}

// driver sends the envelopes.
type driver struct {
	t      *testing.T
	fake   *slackfake.Fake
	spec   fixture.Spec
	pick   items
	member string
	rng    *rand.Rand

	mu     sync.Mutex
	modals []modal // intake forms opened and not yet submitted
	homes  []string
	opened int
}

type modal struct{ user, id string }

type counts map[string]int

func (c counts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

func (c counts) String() string {
	var parts []string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range c {
			if !yield(k) {
				return
			}
		}
	}) {
		parts = append(parts, fmt.Sprintf("%s %d", k, c[k]))
	}
	return strings.Join(parts, ", ")
}

// plan is one rotation of 20 envelopes: 11 commands drawn from the weighted mix (commands), 3 that
// open the intake form, 3 submissions of forms opened earlier and 3 clicks on App Home's refresh.
var plan = []string{
	"cmd", "open", "click", "cmd", "submit", "cmd", "cmd", "open", "click", "cmd",
	"submit", "cmd", "cmd", "open", "click", "cmd", "submit", "cmd", "cmd", "cmd",
}

// prepare publishes App Homes to click in.
func (d *driver) prepare() {
	for i := 0; i < 40; i++ {
		u := string(fixture.Person(d.spec.Teams + i))
		if _, err := d.fake.OpenAppHome(u); err != nil {
			d.t.Fatal(err)
		}
		d.homes = append(d.homes, u)
	}
	err := d.fake.WaitForTimeout(30*time.Second, func() bool {
		for _, u := range d.homes {
			if _, ok := d.fake.Home(u); !ok {
				return false
			}
		}
		return true
	})
	if err != nil {
		d.t.Fatalf("App Homes were not published: %v", err)
	}
}

func (d *driver) command(user, text string) {
	if _, err := d.fake.SlashCommand(user, "C0GENERAL", bot.SlashCommand, text); err != nil {
		d.t.Errorf("/work %s: %v", text, err)
	}
}

func (d *driver) run(rate int, dur time.Duration) counts {
	sent := counts{}
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(dur)
	for i := 0; time.Now().Before(end); i++ {
		<-tick.C
		kind := plan[i%len(plan)]
		user := string(fixture.Person(d.spec.Teams + d.rng.IntN(d.spec.People-d.spec.Teams)))
		it := d.pick.todo[d.rng.IntN(len(d.pick.todo))]
		switch kind {
		case "open":
			// Each person has at most one form open: the next one they open would replace it.
			d.opened++
			user := string(fixture.Person(d.spec.Teams + d.opened%(d.spec.People-d.spec.Teams)))
			title := "Load test request " + strconv.Itoa(i)
			dl, err := d.fake.SlashCommand(user, "C0GENERAL", bot.SlashCommand, "request "+title)
			if err != nil {
				d.t.Errorf("/work request: %v", err)
				continue
			}
			go d.awaitModal(user, dl)
			sent["command"]++
		case "submit":
			d.mu.Lock()
			var m modal
			if len(d.modals) > 0 {
				m, d.modals = d.modals[0], d.modals[1:]
			}
			d.mu.Unlock()
			if m.id == "" {
				d.command(user, "help") // no form open yet: keep the rate
				sent["command"]++
				continue
			}
			if _, err := d.fake.SubmitView(m.user, m.id, nil); err != nil {
				d.t.Errorf("submit: %v", err)
				continue
			}
			sent["view_submission"]++
		case "click":
			u := d.homes[d.rng.IntN(len(d.homes))]
			home, ok := d.fake.Home(u)
			if !ok {
				continue
			}
			if _, err := d.fake.ClickButton(u, home.Ref(), ActionHomeRefresh); err != nil {
				d.t.Errorf("click: %v", err)
				continue
			}
			sent["block_actions"]++
		default:
			if lightOnly {
				d.command(user, "help")
				sent["command"]++
				continue
			}
			if i%(len(plan)*50) == 5 && os.Getenv("WORKBOT_LOADTEST_NO_DIGEST") == "" { // a digest preview about every five seconds
				d.command(d.member, "digest")
				sent["command"]++
				continue
			}
			d.command(d.pickCommand(user, it))
			sent["command"]++
		}
	}
	return sent
}

// lightOnly sends help commands alone, for telling the cost of the socket from that of the handlers.
var lightOnly = os.Getenv("WORKBOT_LOADTEST_LIGHT") != ""

// commands are the slash commands of the mix with their weights: mostly what people run about their
// own work, the leads' views less often, lists of everything least.
var commands = []struct {
	weight int
	text   func(d *driver, user string, it domain.Item) (string, string)
}{
	{20, func(d *driver, u string, _ domain.Item) (string, string) { return u, "mine" }},
	{15, func(d *driver, u string, it domain.Item) (string, string) { return u, "show " + it.Key }},
	{10, func(d *driver, u string, _ domain.Item) (string, string) { return u, "help" }},
	{8, func(d *driver, _ string, _ domain.Item) (string, string) { return string(fixture.Lead), "mine" }},
	{8, func(d *driver, u string, it domain.Item) (string, string) {
		return string(fixture.Lead), "assign " + it.Key + " <@" + u + ">"
	}},
	{5, func(d *driver, _ string, _ domain.Item) (string, string) { return string(fixture.Lead), "load" }},
	{5, func(d *driver, _ string, _ domain.Item) (string, string) { return string(fixture.Lead), "triage" }},
	{5, func(d *driver, u string, _ domain.Item) (string, string) { return u, "list <@" + u + ">" }},
	{5, func(d *driver, u string, _ domain.Item) (string, string) { return u, "list in_progress" }},
	{5, func(d *driver, u string, _ domain.Item) (string, string) {
		return u, "list " + string(fixture.Team(d.rng.IntN(d.spec.Teams)))
	}},
	{5, func(d *driver, u string, _ domain.Item) (string, string) { return u, "list" }},
}

func (d *driver) pickCommand(user string, it domain.Item) (string, string) {
	total := 0
	for _, c := range commands {
		total += c.weight
	}
	n := d.rng.IntN(total)
	for _, c := range commands {
		if n < c.weight {
			return c.text(d, user, it)
		}
		n -= c.weight
	}
	return user, "help"
}

// ActionHomeRefresh is the App Home's refresh button (bot.ActionHomeRefresh).
const ActionHomeRefresh = bot.ActionHomeRefresh

// awaitModal waits for the intake form a /work request opened and offers it for submission.
func (d *driver) awaitModal(user string, dl *slackfake.Delivery) {
	if _, err := dl.WaitTimeout(5 * time.Second); err != nil {
		return
	}
	var id string
	err := d.fake.WaitForTimeout(5*time.Second, func() bool {
		v, ok := d.fake.TopModal(user)
		if ok && v.CallbackID == bot.ViewIntake {
			id = v.ID
		}
		return ok
	})
	if err != nil || id == "" {
		return
	}
	d.mu.Lock()
	d.modals = append(d.modals, modal{user, id})
	d.mu.Unlock()
}

// status is a process's memory: resident in all, its anonymous part (the Go heap and stacks) and its
// file part (pages of the database file the bot has mapped and touched), and the high-water mark.
type status struct{ rss, anon, file, hwm int64 }

func readStatus(pid int) status {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return status{}
	}
	defer f.Close()
	var s status
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			s.rss = n << 10
		case "VmHWM:":
			s.hwm = n << 10
		case "RssAnon:":
			s.anon = n << 10
		case "RssFile:":
			s.file = n << 10
		}
	}
	return s
}

type sampler struct {
	stopc chan struct{}
	done  chan status
}

// startSampler reads pid's memory every so often and keeps the sample with the most resident.
func startSampler(pid int, every time.Duration) *sampler {
	s := &sampler{stopc: make(chan struct{}), done: make(chan status, 1)}
	go func() {
		var peak status
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if st := readStatus(pid); st.rss > peak.rss {
				peak = st
			}
			select {
			case <-tick.C:
			case <-s.stopc:
				s.done <- peak
				return
			}
		}
	}()
	return s
}

func (s *sampler) stop() status {
	close(s.stopc)
	return <-s.done
}

func pct(l []time.Duration, p float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	return float64(s[min(len(s)-1, int(p*float64(len(s))))].Microseconds()) / 1000
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// logTail keeps the bot's log lines.
type logTail struct {
	mu    sync.Mutex
	lines []string
}

func (l *logTail) read(r interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		l.mu.Unlock()
	}
}

func (l *logTail) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-40):], "\n")
}

func (l *logTail) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, `"level":"error"`) {
			out = append(out, line)
		}
	}
	return out
}

// writeResult leaves the figures in $WORKBOT_LOADTEST_OUT, for the benchmark notes.
func writeResult(t *testing.T, r map[string]any) {
	path := os.Getenv("WORKBOT_LOADTEST_OUT")
	if path == "" {
		return
	}
	r["go"] = runtime.Version()
	raw, _ := json.MarshalIndent(r, "", "  ")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Error(err)
	}
}

// cpuSeconds is the user and system time a process has used, from /proc.
func cpuSeconds(pid int) float64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command may hold spaces; the fields after it are fixed.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // clock ticks; 100 a second on Linux
}
