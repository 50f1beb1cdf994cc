package main

import (
	"context"
	"time"

	"github.com/rs/zerolog"

	"workbot/bot"
)

// startBot runs the Slack runtime (Socket Mode loop, handlers and scheduler) until ctx is cancelled.
// A graceful stop returns nil.
func startBot(ctx context.Context, cfg *Config, db bot.Store, logger zerolog.Logger) error {
	reg := newRegistry()
	b, err := newBot(cfg, db, logger, bot.NewMetrics(reg))
	if err != nil {
		return err
	}
	if cfg.OpsAddr != "" && cfg.OpsAddr != "off" {
		ops, err := startOps(cfg.OpsAddr, reg, b.Ready, logger)
		if err != nil {
			return err
		}
		defer ops.close()
	}
	return b.Run(ctx)
}

// newBot turns the validated config into the bot's own.
func newBot(cfg *Config, db bot.Store, logger zerolog.Logger, metrics *bot.Metrics) (*bot.Bot, error) {
	policy, err := cfg.Policy()
	if err != nil {
		return nil, err
	}
	loc, err := cfg.DigestLocation()
	if err != nil {
		return nil, err
	}
	schedules := bot.Schedules{Digest: cfg.Digest.Schedule, Location: loc, Grace: time.Duration(cfg.Digest.Grace)}
	if cfg.PersonalDigestEnabled() {
		schedules.Personal = cfg.Digest.PersonalSchedule
	}
	if _, onFile := db.(interface{ BackupFile(string) error }); cfg.BackupsEnabled() && !onFile {
		logger.Info().Msg("scheduled backups are off: they copy a bbolt file; back up PostgreSQL with pg_dump (README)")
	} else if cfg.BackupsEnabled() {
		schedules.Backup = cfg.Backup.Schedule
		schedules.BackupDir = cfg.Backup.Dir
		schedules.BackupKeep = cfg.Backup.Keep
	}
	return bot.New(bot.Config{
		BotToken:           cfg.BotToken,
		AppToken:           cfg.AppToken,
		APIURL:             cfg.APIURL,
		IntakeChannel:      cfg.IntakeChannel,
		LeadershipChannels: cfg.LeadershipChannels,
		Schedules:          schedules,
		DigestTop:          cfg.Digest.Top,
		IntakeReaction:     cfg.IntakeReaction,
		ReactionChannels:   cfg.IntakeReactionChannels,
		NotifySourceThread: cfg.NotifySourceThread,
		Policy:             policy,
		Log:                logger,
		Metrics:            metrics,
	}, db)
}
