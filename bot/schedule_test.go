package bot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"workbot/bot/slackfake"
	"workbot/domain"
	"workbot/storage"
)

const cLeads2 = "C0LEADS2"

// everySecond makes cron tick every real second; the slot itself comes from the harness clock, so a
// test decides when a new slot begins by moving the clock.
func everySecond(c *Config) {
	c.LeadershipChannels = []string{cLeads, cLeads2}
	c.Schedules = Schedules{Digest: "* * * * * *", Sweep: "* * * * * *", Location: time.UTC, Grace: time.Hour}
}

func digests(h *harness, channel string) []slackfake.Message {
	var out []slackfake.Message
	for _, m := range h.fake.Messages(channel) {
		if m.ThreadTS == "" && strings.HasPrefix(m.Text, "Work digest") {
			out = append(out, m)
		}
	}
	return out
}

// waitTicks lets at least n scheduler ticks pass (a tick is one real second).
func (h *harness) waitTicks(n int) {
	_ = h.fake.WaitForTimeout(time.Duration(n)*time.Second+200*time.Millisecond, func() bool { return false })
}

func newDigestHarness(t *testing.T) *harness {
	h := newHarness(t, withConfig(everySecond))
	h.fake.AddChannel(cLeads2, "leadership-2")
	return h
}

// TestDigestArrivesInEveryLeadershipChannel seeds work, moves the clock three working days and checks
// the digest's top keys, overloaded people and stalled keys.
func TestDigestArrivesInEveryLeadershipChannel(t *testing.T) {
	h := newDigestHarness(t)
	big := h.request(uReq, "Big migration", "8")
	stuck := h.request(uReq, "Waiting on the vendor", "2")
	bigKey, stuckKey := domain.FormatKey("W", big), domain.FormatKey("W", stuck)
	for _, c := range []string{
		"move " + bigKey + " todo", "move " + stuckKey + " todo",
		"capacity <@" + uDev + "> 4",
		"assign " + stuckKey + " <@" + uQA + ">",
	} {
		h.reply(uLead, cGeneral, c)
	}
	contains(t, "overload", h.reply(uLead, cGeneral, "assign "+bigKey+" <@"+uDev+">"), "Assign anyway")
	h.click(uLead, h.lastEphemeral(uLead).Ref(), "Assign anyway")
	h.waitFor("the big item to be assigned", func() bool { return h.item(big).Assignee == uDev })
	h.reply(uQA, cGeneral, "block "+stuckKey+" vendor has not answered")
	h.reply(uDev, cGeneral, "prefs nudges off") // stage stalls of people without nudges go straight to the digest

	// Tuesday 09:00 → Friday 10:00: three working days and an hour later.
	h.advance(3*24*time.Hour + time.Hour)
	for _, ch := range []string{cLeads, cLeads2} {
		h.waitFor("a digest with the seeded work in "+ch, func() bool {
			ds := digests(h, ch)
			return len(ds) > 0 && strings.Contains(ds[len(ds)-1].AllText(), stuckKey)
		})
		text := digests(h, ch)[len(digests(h, ch))-1].AllText()
		contains(t, "digest in "+ch, text,
			"Top priorities", bigKey, stuckKey,
			"Overloaded", "<@"+uDev+">", "8/4 pts",
			"Stalled: blocked too long", "Stalled: stage over its threshold",
			"Cycle time", "WIP by stage")
	}
}

// TestDigestSlotPostedOnceAcrossACrash: the bot "crashes" right after posting to the first channel and
// before recording it. After the restart the missed channel gets the slot, the first does not get it
// twice, and further ticks of the same slot post nothing.
func TestDigestSlotPostedOnceAcrossACrash(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		everySecond(c)
		c.Schedules.Digest = "" // the first run starts without a schedule, so no slot is posted yet
	}))
	h.fake.AddChannel(cLeads2, "leadership-2")
	h.request(uReq, "Something to report", "3")
	h.stop()

	crashed := make(chan struct{})
	h.hook = func(e domain.OutboxEntry) bool {
		if e.Kind != effDigest || e.Channel != cLeads {
			return false
		}
		select {
		case <-crashed:
			return false
		default:
		}
		close(crashed)
		h.cancel() // the process dies here, between Slack's answer and the record
		return true
	}
	h.cfg.Schedules.Digest = "* * * * * *"
	h.start()
	<-crashed
	h.stop()
	// Each channel has its own lane, so the second may or may not have been posted before the crash.
	if n1, n2 := len(digests(h, cLeads)), len(digests(h, cLeads2)); n1 != 1 || n2 > 1 {
		t.Fatalf("after the crash: %d and %d digests, want 1 and at most 1", n1, n2)
	}

	h.hook = nil
	h.start()
	h.waitFor("the missed channel to get the slot", func() bool { return len(digests(h, cLeads2)) == 1 })
	h.waitTicks(2)
	if n1, n2 := len(digests(h, cLeads)), len(digests(h, cLeads2)); n1 != 1 || n2 != 1 {
		t.Fatalf("same slot: %d and %d digests, want 1 each", n1, n2)
	}

	// A restart in the same slot posts nothing more.
	h.restart()
	h.waitTicks(2)
	if n1, n2 := len(digests(h, cLeads)), len(digests(h, cLeads2)); n1 != 1 || n2 != 1 {
		t.Fatalf("after a second restart: %d and %d digests, want 1 each", n1, n2)
	}

	// The next slot is posted once to each.
	h.advance(time.Minute)
	h.waitFor("the next slot", func() bool { return len(digests(h, cLeads)) == 2 && len(digests(h, cLeads2)) == 2 })
	h.waitTicks(2)
	if n1, n2 := len(digests(h, cLeads)), len(digests(h, cLeads2)); n1 != 2 || n2 != 2 {
		t.Fatalf("next slot: %d and %d digests, want 2 each", n1, n2)
	}
}

// TestDigestRetriedOn429 injects a 429 on the post and on the upload; the digest and its chart arrive
// once each.
func TestDigestRetriedOn429(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		everySecond(c)
		c.LeadershipChannels = []string{cLeads}
		c.Schedules.Digest = ""
	}))
	h.request(uReq, "Chart me", "3")
	h.stop()
	h.fake.FailNext("chat.postMessage", 1, slackfake.Fault{Status: 429, RetryAfter: time.Second})
	h.fake.FailNext("files.getUploadURLExternal", 1, slackfake.Fault{Status: 429, RetryAfter: time.Second})
	h.cfg.Schedules.Digest = "* * * * * *"
	h.start()
	h.waitFor("the digest and its chart", func() bool {
		ds := digests(h, cLeads)
		if len(ds) != 1 {
			return false
		}
		for _, m := range h.fake.Messages(cLeads) {
			if m.ThreadTS == ds[0].TS && len(m.Files) > 0 {
				return true
			}
		}
		return false
	})
	h.waitTicks(2)
	if n := len(digests(h, cLeads)); n != 1 {
		t.Errorf("%d digests, want 1", n)
	}
	files := 0
	for _, m := range h.fake.Messages(cLeads) {
		files += len(m.Files)
	}
	if files != 1 {
		t.Errorf("%d charts shared, want 1", files)
	}
}

// TestDigestPostsWhenTheChartUploadFails: the picture is optional, the digest is not.
func TestDigestPostsWhenTheChartUploadFails(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		everySecond(c)
		c.LeadershipChannels = []string{cLeads}
		c.Schedules.Digest = ""
	}))
	h.stop()
	h.fake.FailNext("files.getUploadURLExternal", 10, slackfake.Fault{Status: 500})
	h.cfg.Schedules.Digest = "* * * * * *"
	h.start()
	h.waitFor("the digest", func() bool { return len(digests(h, cLeads)) == 1 })
}

// TestNudgeBeforeStall: a quiet item first earns its assignee a DM with Snooze, Mark blocked and Move;
// only once.
func TestNudgeBeforeStall(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		c.Schedules = Schedules{Sweep: "* * * * * *", Location: time.UTC}
	}))
	id := h.request(uReq, "Quiet work", "3")
	key := domain.FormatKey("W", id)
	h.reply(uLead, cGeneral, "move "+key+" todo")
	h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+">")
	h.reply(uDev, cGeneral, "start "+key)
	// In progress stalls after 72h of working time; the nudge comes at 75%, 54h: Tuesday 09:00 plus
	// two working days and six hours is Thursday 15:00. Thursday 16:00 is past it.
	h.advance(2*24*time.Hour + 7*time.Hour)
	nudge := h.waitDM(uDev, "close to stalling")
	contains(t, "nudge", nudge.AllText(), key, "Snooze 1 day", "Mark blocked", "Move to…")
	h.waitTicks(2)
	n := 0
	for _, m := range h.fake.DMs(uDev) {
		if strings.Contains(m.Text, "close to stalling") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d nudges, want 1", n)
	}
	contains(t, "snooze", h.clickExpectingReply(uDev, nudge.Ref(), "Snooze 1 day"), "Snoozed")
	if it := h.item(id); it.SnoozedUntil.IsZero() {
		t.Errorf("not snoozed: %+v", it)
	}
}

// TestPersonalMorningDM: one DM a day to each person with work, unless they opted out.
func TestPersonalMorningDM(t *testing.T) {
	h := newHarness(t, withConfig(func(c *Config) {
		c.Schedules = Schedules{Personal: "* * * * * *", Location: time.UTC}
	}))
	h.stop()
	h.start()
	a := h.request(uReq, "Morning item", "3")
	b := h.request(uReq, "Other morning item", "3")
	h.reply(uLead, cGeneral, "assign "+domain.FormatKey("W", a)+" <@"+uDev+">")
	h.reply(uLead, cGeneral, "assign "+domain.FormatKey("W", b)+" <@"+uQA+">")
	h.reply(uQA, cGeneral, "prefs digest off")
	h.waitDM(uDev, "Your top items today")
	h.waitTicks(2)
	count := func(u string) int {
		n := 0
		for _, m := range h.fake.DMs(u) {
			if strings.Contains(m.AllText(), "Your top items today") {
				n++
			}
		}
		return n
	}
	if count(uDev) != 1 || count(uQA) != 0 {
		t.Errorf("personal DMs: dev %d (want 1), qa %d (want 0)", count(uDev), count(uQA))
	}
}

// TestScheduledHotBackups: the running bot writes consistent backups of its own database and keeps
// only the newest ones.
func TestScheduledHotBackups(t *testing.T) {
	if e2eStore == "postgres" {
		t.Skip("scheduled backups are the bbolt store's; PostgreSQL is backed up with pg_dump")
	}
	dir := t.TempDir()
	h := newHarness(t, withConfig(func(c *Config) {
		c.Schedules = Schedules{Backup: "* * * * * *", BackupDir: dir, BackupKeep: 2, Location: time.UTC}
	}))
	id := h.request(uReq, "Back me up", "3")
	var files []string
	for i := range 3 {
		h.advance(time.Minute) // backup names come from the bot's clock
		h.pollFor(fmt.Sprintf("backup %d", i+1), func() bool {
			files, _ = filepath.Glob(filepath.Join(dir, "workbot-*.db"))
			return len(files) >= min(i+1, 2) && slices.Contains(files, filepath.Join(dir, "workbot-"+h.clock().UTC().Format("20060102T150405Z")+".db"))
		})
	}
	h.waitTicks(1)
	files, _ = filepath.Glob(filepath.Join(dir, "workbot-*.db"))
	if len(files) != 2 {
		t.Fatalf("%d backups kept, want 2: %v", len(files), files)
	}
	for _, f := range files {
		if err := storage.Check(f); err != nil {
			t.Errorf("backup %s: %v", f, err)
		}
		db, err := storage.Open(f, storage.Options{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		err = db.View(context.Background(), func(tx domain.ReadTx) error {
			it, err := tx.Item(id)
			if err == nil && it.Title != "Back me up" {
				t.Errorf("backup holds %q", it.Title)
			}
			return err
		})
		db.Close()
		if err != nil {
			t.Errorf("backup %s: %v", f, err)
		}
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("backup mode %v", fi.Mode().Perm())
		}
	}
}

// TestStallReportedEvenWhenTheNudgeWasMissed: an item that went past its stage limit while no sweep
// ran is nudged late, and still reaches the digest; with nudges off (ratio 0) it is reported at once.
func TestStallReportedEvenWhenTheNudgeWasMissed(t *testing.T) {
	for _, ratio := range []float64{0.75, 0} {
		t.Run(fmt.Sprintf("ratio=%v", ratio), func(t *testing.T) {
			h := newHarness(t, withConfig(func(c *Config) { c.Policy.NudgeRatio = ratio }))
			id := h.request(uReq, "Forgotten work", "3")
			key := domain.FormatKey("W", id)
			h.reply(uLead, cGeneral, "move "+key+" todo")
			h.reply(uLead, cGeneral, "assign "+key+" <@"+uDev+">")
			h.reply(uDev, cGeneral, "start "+key)
			h.advance(4 * 24 * time.Hour) // past the 72h limit of In progress, with no sweep running
			if ratio > 0 {
				h.bot.sweep(context.Background(), h.clock())
				h.waitDM(uDev, key)
			}
			contains(t, "digest", h.reply(uLead, cGeneral, "digest"), "Stalled: stage over its threshold", key)
		})
	}
}
