package bot

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// fileBackups is a store that can copy itself to a file while it serves: the bbolt store. A store
// that cannot (PostgreSQL, backed up with pg_dump) has no scheduled backups.
type fileBackups interface {
	BackupFile(path string) error
	Path() string
}

// backup writes a hot backup named by its time and removes the oldest beyond BackupKeep. Backups are
// consistent snapshots taken while the bot keeps serving.
func (b *Bot) backup(now time.Time) {
	s := b.cfg.Schedules
	db, ok := b.store.Store.(fileBackups)
	if !ok {
		b.log.Warn().Msg("scheduled backups need the bbolt store; back up PostgreSQL with pg_dump")
		return
	}
	if err := os.MkdirAll(s.BackupDir, 0o700); err != nil {
		b.log.Error().Err(err).Str("dir", s.BackupDir).Msg("backup directory")
		return
	}
	name := filepath.Join(s.BackupDir, "workbot-"+now.UTC().Format("20060102T150405Z")+".db")
	if err := db.BackupFile(name); err != nil {
		b.log.Error().Err(err).Str("file", name).Msg("backup failed")
		return
	}
	b.log.Info().Str("file", name).Msg("backup written")
	// Only files this job named are pruned: never the live database, never anything else in the folder.
	entries, err := os.ReadDir(s.BackupDir)
	if err != nil {
		return
	}
	live, _ := filepath.Abs(db.Path())
	var old []string
	for _, e := range entries {
		stamp, ok := strings.CutPrefix(e.Name(), "workbot-")
		stamp, ok2 := strings.CutSuffix(stamp, ".db")
		if !ok || !ok2 || e.IsDir() {
			continue
		}
		if _, err := time.Parse("20060102T150405Z", stamp); err != nil {
			continue
		}
		path := filepath.Join(s.BackupDir, e.Name())
		if abs, _ := filepath.Abs(path); abs == live {
			continue
		}
		old = append(old, path)
	}
	sort.Strings(old) // the names sort by time
	keep := max(s.BackupKeep, 1)
	for len(old) > keep {
		if err := os.Remove(old[0]); err != nil {
			b.log.Warn().Err(err).Str("file", old[0]).Msg("could not remove an old backup")
		}
		old = old[1:]
	}
}
