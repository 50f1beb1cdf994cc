package bot

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

// The scheduler only triggers. Each job has its own file: digest_job.go (leadership digests),
// personal.go (the morning DM), sweep.go (nudges, escalations, daily samples, pruning), backup.go and
// alignment_job.go (the daily priority snapshot).
// Every Slack side effect a job causes goes through the outbox, queued in the same transaction as the
// record that says the job did it, so a crash can neither lose it nor repeat it.

// CronParser reads schedules: the standard five fields, an optional leading seconds field (handy for
// tests and the sandbox), and descriptors such as @daily. The config file is stricter (cmd/workbot
// validates with cron.ParseStandard): a seconds field there is more likely a mistake than a wish.
var CronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedules configures the scheduled work. Empty specs turn a job off.
type Schedules struct {
	Digest   string // leadership digest slots
	Personal string // the personal morning DM
	Sweep    string // nudges, escalations, daily samples and pruning (default every 10 minutes)
	// Snapshot records the priority order that plan versus execution measures against (default
	// "0 0 0 * * *": local midnight). It is read in the calendar's time zone, where weeks start.
	Snapshot string
	Location *time.Location // the zone the specs are read in
	// Grace is how late a missed digest slot may still be posted at start-up (default 2h).
	Grace time.Duration
	// Backup takes a hot backup of the database into BackupDir, keeping the newest BackupKeep.
	Backup     string
	BackupDir  string
	BackupKeep int
}

// cronLogger adapts zerolog to cron's logger interface.
type cronLogger struct{ log zerolog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	if msg == "skip" { // a job still running from its last tick: worth knowing
		l.log.Warn().Fields(kv).Msg("cron: skipped a run because the previous one is still going")
		return
	}
	l.log.Debug().Fields(kv).Msg("cron: " + msg)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error().Err(err).Fields(kv).Msg("cron: " + msg)
}

// scheduleLocation is the zone schedules are read in: the configured one, else the calendar's, else
// UTC.
func (b *Bot) scheduleLocation() *time.Location {
	if loc := b.cfg.Schedules.Location; loc != nil {
		return loc
	}
	if loc := b.policy.Calendar.Location; loc != nil {
		return loc
	}
	return time.UTC
}

// runSchedules runs the scheduled jobs: at once in a single process, and only while leading when the
// store elects one leader among replicas (PostgreSQL). A replica that loses leadership stops its jobs
// at once (their context ends) and campaigns again; another takes over and catches up a missed digest
// slot, which its record makes exactly-once. The returned function stops everything and waits.
func (b *Bot) runSchedules(ctx context.Context) (func(), error) {
	leader, ok := b.store.Store.(Leader)
	if !ok {
		stop, err := b.startScheduler(ctx)
		if err != nil {
			return nil, err
		}
		b.setRole(roleSingle)
		return func() { stop() }, nil
	}
	campaign, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.setRole(roleStandby)
	go func() {
		defer close(done)
		for campaign.Err() == nil {
			leadCtx, err := leader.Lead(campaign)
			if err != nil {
				if campaign.Err() == nil {
					b.log.Warn().Err(err).Msg("cannot campaign for leadership; retrying")
					_ = sleepCtx(campaign, time.Second)
				}
				continue
			}
			stop, err := b.startScheduler(leadCtx)
			if err != nil {
				b.log.Error().Err(err).Msg("cannot start the schedules")
				<-leadCtx.Done()
				continue
			}
			b.log.Info().Msg("leading: this replica runs the schedules")
			b.setRole(roleLeader)
			<-leadCtx.Done()
			stop()
			b.setRole(roleStandby)
			if campaign.Err() == nil {
				b.log.Warn().Msg("leadership lost: schedules stopped; standing by")
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}

// startScheduler registers the jobs and catches up a digest slot and a priority snapshot missed while
// the bot was down.
// The returned function stops the scheduler and waits for running jobs.
func (b *Bot) startScheduler(ctx context.Context) (func(), error) {
	s := b.cfg.Schedules
	logger := cronLogger{b.log}
	c := cron.New(
		cron.WithLocation(b.scheduleLocation()),
		cron.WithParser(CronParser),
		cron.WithLogger(logger),
		cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)),
	)
	add := func(name, spec string, fn func(context.Context)) error {
		if spec == "" {
			return nil
		}
		_, err := c.AddFunc(spec, func() {
			jctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			defer cancel()
			fn(jctx)
		})
		if err != nil {
			return fmt.Errorf("schedule %s %q: %w", name, spec, err)
		}
		return nil
	}
	sweep := s.Sweep
	if sweep == "" {
		sweep = "0 */10 * * * *"
	}
	for _, j := range []struct {
		name, spec string
		fn         func(context.Context)
	}{
		{"digest", s.Digest, func(ctx context.Context) { b.runDigestSlot(ctx, b.now(), false) }},
		{"personal", s.Personal, func(ctx context.Context) { b.sendPersonalDigests(ctx, b.now()) }},
		{"sweep", sweep, func(ctx context.Context) { b.sweep(ctx, b.now()) }},
		{"backup", s.Backup, func(context.Context) { b.backup(b.now()) }},
	} {
		if err := add(j.name, j.spec, j.fn); err != nil {
			return nil, err
		}
	}
	if err := b.scheduleSnapshots(ctx, c); err != nil {
		return nil, err
	}
	if s.Digest != "" {
		// Off the start-up path: building can take a while and envelopes must be read meanwhile.
		b.handlerWG.Add(1)
		go func() {
			defer b.handlerWG.Done()
			b.runDigestSlot(ctx, b.now(), true)
		}()
	}
	c.Start()
	return func() { <-c.Stop().Done() }, nil
}

// latestSlot is the newest time at or before now that spec fires, looking back at most lookback.
// It searches growing windows so that a schedule firing every second is as cheap as a daily one.
func latestSlot(spec string, loc *time.Location, now time.Time, lookback time.Duration) (time.Time, bool) {
	sched, err := CronParser.Parse(spec)
	if err != nil {
		return time.Time{}, false
	}
	if loc != nil {
		now = now.In(loc)
	}
	for _, window := range []time.Duration{2 * time.Minute, 2 * time.Hour, 2 * 24 * time.Hour, lookback} {
		window = min(window, lookback)
		var last time.Time
		t := now.Add(-window)
		for range 10000 {
			n := sched.Next(t)
			if n.IsZero() || n.After(now) {
				break
			}
			last, t = n, n
		}
		if !last.IsZero() {
			return last, true
		}
		if window == lookback {
			break
		}
	}
	return time.Time{}, false
}
