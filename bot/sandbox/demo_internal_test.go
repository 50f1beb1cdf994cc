package sandbox

import (
	"testing"
	"time"

	"workbot/domain"
)

// TestWorkingBefore: counting back in working time lands where WorkingTime counts forward the same
// amount, across weekends and holidays.
func TestWorkingBefore(t *testing.T) {
	cal := domain.DefaultPolicy().Calendar
	cal.Holidays = map[domain.Date]bool{{Year: 2026, Month: 3, Day: 3}: true}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, loc := range []*time.Location{time.UTC, berlin} {
		cal.Location = loc
		for _, now := range []time.Time{
			time.Date(2026, 3, 2, 8, 0, 0, 0, loc),
			time.Date(2026, 3, 7, 12, 0, 0, 0, loc), // Saturday
			time.Date(2026, 3, 30, 1, 0, 0, 0, loc), // after the DST change
		} {
			for _, d := range []time.Duration{0, time.Hour, 9 * time.Hour, 30 * time.Hour, 5 * day, 20*day + 3*time.Hour} {
				at := workingBefore(cal, now, d)
				if got := cal.WorkingTime(at, now); got != d || at.After(now) {
					t.Errorf("%v before %v = %v, which is %v of working time", d, now, at, got)
				}
			}
		}
	}
}
