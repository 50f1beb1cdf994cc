package main

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"workbot/storage"
)

// startBot runs the Slack runtime until ctx is cancelled. It is a placeholder: the bot package owns
// this file and replaces it with the Socket Mode loop and the scheduler. A graceful stop returns nil
// or ctx's error; anything else is a failure.
func startBot(ctx context.Context, cfg *Config, db *storage.DB, logger zerolog.Logger) error {
	_, _, _, _ = ctx, cfg, db, logger
	return errors.New("the Slack runtime is not wired yet; this build can only validate the config and open the database")
}
