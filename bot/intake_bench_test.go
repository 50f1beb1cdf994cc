package bot

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"workbot/domain"
	"workbot/storage"
)

// BenchmarkIntake measures requests filed through the domain by 64 concurrent writers on a real bbolt
// file, with and without the outbox entries each request queues in its transaction (the item message,
// the requester's DM, the requester's App Home).
func BenchmarkIntake(b *testing.B) {
	for _, withOutbox := range []bool{false, true} {
		name := "without-outbox-64"
		if withOutbox {
			name = "with-outbox-64"
		}
		b.Run(name, func(b *testing.B) {
			db, err := storage.Open(filepath.Join(b.TempDir(), "intake.db"), storage.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			p := domain.DefaultPolicy()
			now := func() time.Time { return time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC) }
			bot, err := New(Config{BotToken: "xoxb-1", AppToken: "xapp-1", IntakeChannel: "C1", Policy: p, Now: now, Log: zerolog.Nop()}, db)
			if err != nil {
				b.Fatal(err)
			}
			svc := bot.svc
			if !withOutbox {
				svc = &domain.Service{Store: db, Policy: p, Now: now}
			}
			var left atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			var failed atomic.Value
			b.ResetTimer()
			start := time.Now()
			for w := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					requester := domain.UserID("U" + string(rune('A'+w%26)) + string(rune('A'+w/26)))
					for left.Add(-1) >= 0 {
						if _, err := svc.Create(context.Background(), requester, domain.NewItem{Title: "The printer on the third floor jams", Details: "Since Monday, every second page."}); err != nil {
							failed.Store(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "items/s")
			if err, _ := failed.Load().(error); err != nil {
				b.Fatal(err)
			}
		})
	}
}
