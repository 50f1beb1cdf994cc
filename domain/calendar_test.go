package domain

import (
	"math/rand/v2"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin must resolve on machines without a zoneinfo database
)

func calTestBerlin(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatalf("loading Europe/Berlin: %v", err)
	}
	return loc
}

// calTestWeekdays is Mon–Fri in Berlin with Christmas 2026 (a Friday) off.
func calTestWeekdays(t testing.TB) Calendar {
	return Calendar{
		WorkingDays: [7]bool{time.Monday: true, time.Tuesday: true, time.Wednesday: true, time.Thursday: true, time.Friday: true},
		Holidays:    map[Date]bool{{2026, time.December, 25}: true},
		Location:    calTestBerlin(t),
	}
}

// calTestEveryDay works seven days a week in Berlin, so the DST Sundays count.
func calTestEveryDay(t testing.TB) Calendar {
	c := calTestWeekdays(t)
	c.WorkingDays = [7]bool{true, true, true, true, true, true, true}
	return c
}

func calTestAt(loc *time.Location, y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, loc)
}

func TestWorkingTime(t *testing.T) {
	weekdays := calTestWeekdays(t)
	everyDay := calTestEveryDay(t)
	b := weekdays.Location
	tests := []struct {
		name     string
		cal      Calendar
		from, to time.Time
		want     time.Duration
	}{
		{"SameDay", weekdays, calTestAt(b, 2026, 3, 23, 9, 0), calTestAt(b, 2026, 3, 23, 17, 0), 8 * time.Hour},
		{"ToBeforeFrom", weekdays, calTestAt(b, 2026, 3, 23, 17, 0), calTestAt(b, 2026, 3, 23, 9, 0), 0},
		{"Equal", weekdays, calTestAt(b, 2026, 3, 23, 9, 0), calTestAt(b, 2026, 3, 23, 9, 0), 0},
		{"WeekendOnly", weekdays, calTestAt(b, 2026, 3, 21, 9, 0), calTestAt(b, 2026, 3, 22, 17, 0), 0},
		{"AcrossWeekendAndSpringDST", weekdays, calTestAt(b, 2026, 3, 27, 12, 0), calTestAt(b, 2026, 3, 30, 12, 0), 24 * time.Hour},
		{"FromSaturday", weekdays, calTestAt(b, 2026, 3, 28, 15, 0), calTestAt(b, 2026, 3, 30, 6, 0), 6 * time.Hour},
		{"WholeWeek", weekdays, calTestAt(b, 2026, 3, 23, 0, 0), calTestAt(b, 2026, 3, 30, 0, 0), 120 * time.Hour},
		{"AcrossChristmas", weekdays, calTestAt(b, 2026, 12, 24, 12, 0), calTestAt(b, 2026, 12, 28, 12, 0), 24 * time.Hour},
		{"AYear", weekdays, calTestAt(b, 2026, 1, 5, 0, 0), calTestAt(b, 2027, 1, 4, 0, 0), 259 * 24 * time.Hour},
		// On the DST Sundays a 7-day calendar still counts one working day per day, though the days
		// last 23 and 25 real hours.
		{"SpringForwardDay", everyDay, calTestAt(b, 2026, 3, 28, 12, 0), calTestAt(b, 2026, 3, 29, 12, 0), 24 * time.Hour},
		{"FallBackDay", everyDay, calTestAt(b, 2026, 10, 24, 12, 0), calTestAt(b, 2026, 10, 25, 12, 0), 24 * time.Hour},
		// Wall-clock: 01:30 CET to 03:30 CEST is one real hour but two hours on the clock.
		{"OverTheGap", everyDay, calTestAt(b, 2026, 3, 29, 1, 30), calTestAt(b, 2026, 3, 29, 3, 30), 2 * time.Hour},
		{"ZeroCalendarIsUTCEveryDay", Calendar{}, time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC), 54 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.WorkingTime(tt.from, tt.to); got != tt.want {
				t.Errorf("WorkingTime(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestWorkingTimeDSTRealDurations(t *testing.T) {
	// Guards the premise of the DST cases above: the real durations differ from the working ones.
	b := calTestBerlin(t)
	if got := calTestAt(b, 2026, 3, 29, 12, 0).Sub(calTestAt(b, 2026, 3, 28, 12, 0)); got != 23*time.Hour {
		t.Fatalf("spring Sunday real duration %v, want 23h", got)
	}
	if got := calTestAt(b, 2026, 10, 25, 12, 0).Sub(calTestAt(b, 2026, 10, 24, 12, 0)); got != 25*time.Hour {
		t.Fatalf("autumn Sunday real duration %v, want 25h", got)
	}
}

func TestAddWorkingTime(t *testing.T) {
	weekdays := calTestWeekdays(t)
	everyDay := calTestEveryDay(t)
	b := weekdays.Location
	tests := []struct {
		name string
		cal  Calendar
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"SameDay", weekdays, calTestAt(b, 2026, 3, 23, 9, 0), 8 * time.Hour, calTestAt(b, 2026, 3, 23, 17, 0)},
		{"Zero", weekdays, calTestAt(b, 2026, 3, 28, 9, 0), 0, calTestAt(b, 2026, 3, 28, 9, 0)},
		{"Negative", weekdays, calTestAt(b, 2026, 3, 28, 9, 0), -time.Hour, calTestAt(b, 2026, 3, 28, 9, 0)},
		{"AcrossWeekendAndDST", weekdays, calTestAt(b, 2026, 3, 27, 12, 0), 24 * time.Hour, calTestAt(b, 2026, 3, 30, 12, 0)},
		{"EndOfDayRollsToNextWorkingDay", weekdays, calTestAt(b, 2026, 3, 27, 12, 0), 12 * time.Hour, calTestAt(b, 2026, 3, 30, 0, 0)},
		{"FromSaturday", weekdays, calTestAt(b, 2026, 3, 28, 10, 0), time.Hour, calTestAt(b, 2026, 3, 30, 1, 0)},
		{"AcrossChristmas", weekdays, calTestAt(b, 2026, 12, 24, 12, 0), 24 * time.Hour, calTestAt(b, 2026, 12, 28, 12, 0)},
		{"SpringForwardDay", everyDay, calTestAt(b, 2026, 3, 28, 12, 0), 24 * time.Hour, calTestAt(b, 2026, 3, 29, 12, 0)},
		{"FallBackDay", everyDay, calTestAt(b, 2026, 10, 24, 12, 0), 24 * time.Hour, calTestAt(b, 2026, 10, 25, 12, 0)},
		{"Weeks", weekdays, calTestAt(b, 2026, 3, 2, 9, 0), 15 * 24 * time.Hour, calTestAt(b, 2026, 3, 23, 9, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.AddWorkingTime(tt.from, tt.d); !got.Equal(tt.want) {
				t.Errorf("AddWorkingTime(%v, %v) = %v, want %v", tt.from, tt.d, got, tt.want)
			}
		})
	}
}

func TestAddWorkingTimeTerminatesOnHugeDurations(t *testing.T) {
	cal := calTestWeekdays(t)
	from := calTestAt(cal.Location, 2026, 3, 23, 9, 0)
	got := cal.AddWorkingTime(from, 200*365*24*time.Hour)
	if !got.After(from.AddDate(19, 0, 0)) || got.After(from.AddDate(21, 0, 0)) {
		t.Fatalf("AddWorkingTime with 200 years = %v, want about 20 years after %v (the walk's cap)", got, from)
	}
}

// calTestNaiveWorkingTime is the definition, walked one calendar day at a time with time.Date.
func calTestNaiveWorkingTime(c Calendar, from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	loc := c.Loc()
	from, to = from.In(loc), to.In(loc)
	tod := func(t time.Time) time.Duration {
		h, m, s := t.Clock()
		return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
	}
	var total time.Duration
	for d := DateOf(from); !DateOf(to).Before(d); d = d.AddDays(1) {
		if !c.IsWorkingDay(d) {
			continue
		}
		start, end := time.Duration(0), 24*time.Hour
		if d == DateOf(from) {
			start = tod(from)
		}
		if d == DateOf(to) {
			end = tod(to)
		}
		if end > start {
			total += end - start
		}
	}
	return total
}

// calTestInstant draws an instant in 2026–2027 at a whole second.
func calTestInstant(r *rand.Rand) time.Time {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return base.Add(time.Duration(r.Int64N(int64(2*365*24*time.Hour/time.Second))) * time.Second)
}

// calTestClean reports whether t's wall-clock time is unambiguous: DST days' 02:00–03:00 is skipped or
// repeated, so wall-clock positions there do not map back to one instant.
func calTestClean(c Calendar, t time.Time) bool {
	l := t.In(c.Loc())
	_, off0 := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, l.Location()).Zone()
	_, off1 := time.Date(l.Year(), l.Month(), l.Day(), 23, 0, 0, 0, l.Location()).Zone()
	return off0 == off1 || l.Hour() != 2
}

func TestWorkingTimeMatchesNaiveWalk(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, cal := range []Calendar{calTestWeekdays(t), calTestEveryDay(t), {}} {
		for i := 0; i < 3000; i++ {
			from := calTestInstant(r)
			to := from.Add(time.Duration(r.Int64N(int64(120 * 24 * time.Hour))))
			if i%10 == 0 {
				to = from.Add(time.Duration(r.Int64N(int64(3 * 24 * time.Hour))))
			}
			if got, want := cal.WorkingTime(from, to), calTestNaiveWorkingTime(cal, from, to); got != want {
				t.Fatalf("WorkingTime(%v, %v) = %v, naive walk says %v", from, to, got, want)
			}
		}
	}
}

func TestAddWorkingTimeInvertsWorkingTime(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, cal := range []Calendar{calTestWeekdays(t), calTestEveryDay(t)} {
		checked := 0
		for i := 0; i < 5000; i++ {
			from := calTestInstant(r)
			to := from.Add(time.Duration(r.Int64N(int64(40*24*time.Hour/time.Second))) * time.Second)
			local := to.In(cal.Location)
			h, m, s := local.Clock()
			// Round trip holds for instants inside working time: on a working day, after midnight, with
			// an unambiguous wall clock.
			if !cal.IsWorkingDay(DateOf(local)) || h+m+s == 0 || !calTestClean(cal, to) || !to.After(from) {
				continue
			}
			checked++
			if got := cal.AddWorkingTime(from, cal.WorkingTime(from, to)); !got.Equal(to) {
				t.Fatalf("AddWorkingTime(%v, WorkingTime(from, %v)) = %v", from, to, got)
			}
		}
		if checked < 1000 {
			t.Fatalf("only %d round trips checked; the generator is off", checked)
		}
	}
}

func TestWorkingTimeOfAddWorkingTime(t *testing.T) {
	// DST days are Sundays, off in this calendar, so every result has a clean wall clock.
	cal := calTestWeekdays(t)
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 3000; i++ {
		from := calTestInstant(r)
		d := time.Duration(r.Int64N(int64(30*24*time.Hour/time.Second))) * time.Second
		if got := cal.WorkingTime(from, cal.AddWorkingTime(from, d)); got != d {
			t.Fatalf("WorkingTime(%v, AddWorkingTime(from, %v)) = %v", from, d, got)
		}
	}
}

func TestWorkingDaysBetween(t *testing.T) {
	cal := calTestWeekdays(t)
	tests := []struct {
		name     string
		from, to Date
		want     int
	}{
		{"MondayToMonday", Date{2026, 3, 23}, Date{2026, 3, 30}, 5},
		{"MondayToWednesday", Date{2026, 3, 23}, Date{2026, 3, 25}, 2},
		{"FridayToMonday", Date{2026, 3, 27}, Date{2026, 3, 30}, 1},
		{"SaturdayToMonday", Date{2026, 3, 28}, Date{2026, 3, 30}, 0},
		{"Same", Date{2026, 3, 23}, Date{2026, 3, 23}, 0},
		{"Backwards", Date{2026, 3, 30}, Date{2026, 3, 23}, 0},
		{"ChristmasWeek", Date{2026, 12, 21}, Date{2026, 12, 28}, 4},
		{"AYear", Date{2026, 1, 5}, Date{2027, 1, 4}, 259},
		{"AcrossYearsOfHolidays", Date{2020, 1, 1}, Date{2030, 1, 1}, 2609 - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cal.WorkingDaysBetween(tt.from, tt.to); got != tt.want {
				t.Errorf("WorkingDaysBetween(%v, %v) = %d, want %d", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestWorkingDaysBetweenMatchesCounting(t *testing.T) {
	cal := calTestWeekdays(t)
	cal.Holidays[Date{2027, 1, 1}] = true
	cal.Holidays[Date{2026, 5, 2}] = true // a Saturday: must not be subtracted twice
	start := Date{2026, 1, 1}
	for span := 0; span < 500; span += 7 {
		for offset := 0; offset < 7; offset++ {
			from := start.AddDays(offset * 13)
			to := from.AddDays(span + offset)
			want := 0
			for d := from; d.Before(to); d = d.AddDays(1) {
				if cal.IsWorkingDay(d) {
					want++
				}
			}
			if got := cal.WorkingDaysBetween(from, to); got != want {
				t.Fatalf("WorkingDaysBetween(%v, %v) = %d, counting says %d", from, to, got, want)
			}
		}
	}
}

func TestIsWorkingDay(t *testing.T) {
	cal := calTestWeekdays(t)
	for _, tt := range []struct {
		d    Date
		want bool
	}{
		{Date{2026, 3, 23}, true},   // Monday
		{Date{2026, 3, 27}, true},   // Friday
		{Date{2026, 3, 28}, false},  // Saturday
		{Date{2026, 3, 29}, false},  // Sunday (DST)
		{Date{2026, 12, 24}, true},  // Thursday
		{Date{2026, 12, 25}, false}, // holiday on a Friday
		{Date{1969, 12, 31}, true},  // before the epoch: a Wednesday
		{Date{2000, 2, 29}, true},   // leap day, a Tuesday
		{Date{2100, 3, 1}, true},    // Monday (2100 is not a leap year)
	} {
		if got := cal.IsWorkingDay(tt.d); got != tt.want {
			t.Errorf("IsWorkingDay(%v) = %v, want %v", tt.d, got, tt.want)
		}
	}
	// Malformed and far-off dates must not panic and must agree with time.Date's normalisation.
	for _, d := range []Date{{2026, 13, 40}, {2026, 3, 0}, {-400, 1, 1}, {10000, 1, 3}, {2026, 0, 0}} {
		norm := time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, time.UTC)
		want := norm.Weekday() != time.Saturday && norm.Weekday() != time.Sunday && !cal.Holidays[DateOf(norm)]
		if got := cal.IsWorkingDay(d); got != want {
			t.Errorf("IsWorkingDay(%+v) = %v, want %v (time.Date normalises it to %v)", d, got, want, norm)
		}
	}
}

func TestDayNumbersMatchTimePackage(t *testing.T) {
	for n := int64(-800000); n < 800000; n += 997 {
		y, m, d := civilFromDays(n)
		tt := time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
		if got := (tt.Unix() - 12*3600) / 86400; got != n { // noon minus 12h is midnight, exactly divisible
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, which time.Date puts at day %d", n, y, m, d, got)
		}
		if got := daysFromCivil(y, m, d); got != n {
			t.Fatalf("daysFromCivil(civilFromDays(%d)) = %d", n, got)
		}
		if weekdayOfDay(n) != tt.Weekday() {
			t.Fatalf("weekdayOfDay(%d) = %v, time.Date says %v", n, weekdayOfDay(n), tt.Weekday())
		}
	}
}

func TestToday(t *testing.T) {
	cal := calTestWeekdays(t)
	// 23:30 UTC on Friday is already Saturday in Berlin.
	if got, want := cal.Today(time.Date(2026, 3, 27, 23, 30, 0, 0, time.UTC)), (Date{2026, 3, 28}); got != want {
		t.Errorf("Today = %v, want %v", got, want)
	}
	if got, want := (Calendar{}).Today(time.Date(2026, 3, 27, 23, 30, 0, 0, time.UTC)), (Date{2026, 3, 27}); got != want {
		t.Errorf("Today with nil location = %v, want %v (UTC)", got, want)
	}
}

func TestPreparedCalendarMatchesCalendar(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	withSaturdayHoliday := calTestWeekdays(t)
	withSaturdayHoliday.Holidays = map[Date]bool{{2026, 12, 25}: true, {2026, 5, 2}: true, {2027, 1, 1}: true, {2026, 6, 1}: false}
	for _, cal := range []Calendar{calTestWeekdays(t), calTestEveryDay(t), withSaturdayHoliday, {}} {
		pc := cal.prepare()
		for i := 0; i < 3000; i++ {
			from := calTestInstant(r)
			to := from.Add(time.Duration(r.Int64N(int64(400 * 24 * time.Hour))))
			if got, want := pc.between(pc.point(from), pc.point(to)), cal.WorkingTime(from, to); got != want {
				t.Fatalf("prepared WorkingTime(%v, %v) = %v, Calendar says %v", from, to, got, want)
			}
			fd, td := DateOf(from), DateOf(to)
			if got, want := pc.workingDaysBetween(fd, td), cal.WorkingDaysBetween(fd, td); got != want {
				t.Fatalf("prepared WorkingDaysBetween(%v, %v) = %d, Calendar says %d", fd, td, got, want)
			}
			if got, want := pc.workingDay(daysFromCivil(fd.Year, fd.Month, fd.Day)), cal.IsWorkingDay(fd); got != want {
				t.Fatalf("prepared workingDay(%v) = %v, Calendar says %v", fd, got, want)
			}
		}
	}
}

// FuzzCalendar checks that no pair of instants or duration makes the calendar panic, that working time
// never exceeds elapsed wall-clock days, and that AddWorkingTime never goes backwards.
func FuzzCalendar(f *testing.F) {
	f.Add(int64(1774598400), int64(1774857600), int64(24*time.Hour), uint8(0b0111110))
	f.Add(int64(-62135596800), int64(253402300799), int64(-1), uint8(0))
	f.Add(int64(0), int64(0), int64(1<<62), uint8(0b1000000))
	loc := calTestBerlin(f)
	f.Fuzz(func(t *testing.T, fromUnix, toUnix, d int64, days uint8) {
		var wd [7]bool
		for i := range wd {
			wd[i] = days&(1<<i) != 0
		}
		cal := Calendar{WorkingDays: wd, Holidays: map[Date]bool{{2026, 12, 25}: true}, Location: loc}
		from, to := time.Unix(fromUnix%(1<<40), 0), time.Unix(toUnix%(1<<40), 0)
		worked := cal.WorkingTime(from, to)
		if worked < 0 {
			t.Fatalf("WorkingTime(%v, %v) = %v < 0", from, to, worked)
		}
		if elapsed := to.Sub(from); elapsed > 0 && elapsed < 100*365*24*time.Hour && worked > elapsed+25*time.Hour {
			t.Fatalf("WorkingTime(%v, %v) = %v, more than the elapsed %v", from, to, worked, to.Sub(from))
		}
		if got := cal.AddWorkingTime(from, time.Duration(d)); got.Before(from) {
			t.Fatalf("AddWorkingTime(%v, %v) = %v, before from", from, time.Duration(d), got)
		}
		_ = cal.WorkingDaysBetween(DateOf(from), DateOf(to))
	})
}
