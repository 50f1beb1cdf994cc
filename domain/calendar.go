package domain

import (
	"math"
	"slices"
	"time"
)

// Working time.
//
// Thresholds (stall_after, escalate_after, blocked) are counted in working time: a working day contributes
// 24 hours, measured in wall-clock time of day in the calendar's time zone, and every other day
// (a weekday that is off, or a holiday) contributes nothing. Measuring wall-clock rather than elapsed
// time keeps a "24h" threshold equal to exactly one working day on the days clocks change: the spring
// day has 23 real hours and the autumn day 25, but each counts as 24h of working time. The price is
// that the repeated autumn hour counts once, and the skipped spring hour counts although it never
// happened.
//
// A Calendar with no working weekday at all (the zero Calendar) treats every weekday as working, so a
// half-built configuration still measures time rather than silently never stalling anything.

// day is 24 hours of working time: one working day.
const day = 24 * time.Hour

// maxCalendarDays bounds day-by-day walks (AddWorkingTime), so a calendar made entirely of holidays
// cannot loop for ever.
const maxCalendarDays = 20 * 366

// shortRangeDays is the longest range of days WorkingDaysBetween walks day by day; longer ranges are
// counted by whole weeks plus a pass over the holiday list.
const shortRangeDays = 31

// calPoint is an instant as the calendar sees it: a day number (days since 1970-01-01 in the calendar's
// zone) and the wall-clock time of day.
type calPoint struct {
	day int64
	tod time.Duration
}

// Loc is the calendar's time zone, UTC when none is set.
func (c Calendar) Loc() *time.Location {
	if c.Location == nil {
		return time.UTC
	}
	return c.Location
}

func (c Calendar) point(t time.Time) calPoint {
	t = t.In(c.Loc())
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	tod := time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(s)*time.Second +
		time.Duration(t.Nanosecond())
	return calPoint{day: daysFromCivil(y, m, d), tod: tod}
}

// weekdayOn reports whether weekday w is a working weekday, applying the "no working weekday at all
// means every weekday" rule.
func (c Calendar) weekdayOn(w time.Weekday) bool {
	if c.WorkingDays == [7]bool{} {
		return true
	}
	return c.WorkingDays[w]
}

func (c Calendar) workingDayNumber(n int64) bool {
	if !c.weekdayOn(weekdayOfDay(n)) {
		return false
	}
	if len(c.Holidays) == 0 {
		return true
	}
	return !c.Holidays[dateOfDay(n)]
}

// IsWorkingDay reports whether d is a working weekday and not a holiday.
func (c Calendar) IsWorkingDay(d Date) bool {
	return c.workingDayNumber(daysFromCivil(d.Year, d.Month, d.Day))
}

// Today is the date of now in the calendar's time zone (UTC when Location is nil).
func (c Calendar) Today(now time.Time) Date {
	return DateOf(now.In(c.Loc()))
}

// WorkingDaysBetween counts the working days d with from <= d < to: "working days left before to".
// It is 0 when to is not after from. Long ranges are counted by whole weeks, so the cost does not grow
// with the distance.
func (c Calendar) WorkingDaysBetween(from, to Date) int {
	return c.workingDaysBetween(daysFromCivil(from.Year, from.Month, from.Day), daysFromCivil(to.Year, to.Month, to.Day))
}

// workingDaysBetween counts working day numbers in [a, b).
func (c Calendar) workingDaysBetween(a, b int64) int {
	if b <= a {
		return 0
	}
	if b-a <= shortRangeDays {
		n := 0
		for d := a; d < b; d++ {
			if c.workingDayNumber(d) {
				n++
			}
		}
		return n
	}
	perWeek := int64(0)
	for w := time.Sunday; w <= time.Saturday; w++ {
		if c.weekdayOn(w) {
			perWeek++
		}
	}
	span := b - a
	n := span / 7 * perWeek
	for d := a + span/7*7; d < b; d++ {
		if c.weekdayOn(weekdayOfDay(d)) {
			n++
		}
	}
	for h, off := range c.Holidays {
		if !off {
			continue
		}
		hd := daysFromCivil(h.Year, h.Month, h.Day)
		if hd >= a && hd < b && c.weekdayOn(weekdayOfDay(hd)) {
			n--
		}
	}
	return int(n)
}

// WorkingTime is the working time between from and to (see the rules above). It is 0 when to is not
// after from. Its cost is constant for ranges over a month and at most a month of day checks otherwise.
func (c Calendar) WorkingTime(from, to time.Time) time.Duration {
	if !to.After(from) {
		return 0
	}
	return c.workingBetween(c.point(from), c.point(to))
}

// workingBetween is WorkingTime on points already converted, so a caller measuring many intervals up to
// the same "now" converts now once.
func (c Calendar) workingBetween(a, b calPoint) time.Duration {
	if b.day < a.day {
		return 0
	}
	if a.day == b.day {
		if b.tod <= a.tod || !c.workingDayNumber(a.day) {
			return 0
		}
		return b.tod - a.tod
	}
	var total time.Duration
	if c.workingDayNumber(a.day) {
		total += day - a.tod
	}
	if c.workingDayNumber(b.day) {
		total += b.tod
	}
	return saturatingAdd(total, int64(c.workingDaysBetween(a.day+1, b.day)))
}

// maxWholeDays is the most whole days a time.Duration can hold.
const maxWholeDays = int64(math.MaxInt64/int64(day)) - 1

// saturatingAdd adds whole working days to a duration, stopping at the largest duration instead of
// overflowing (ranges of more than 290 years).
func saturatingAdd(total time.Duration, days int64) time.Duration {
	if days >= maxWholeDays {
		return math.MaxInt64
	}
	return total + time.Duration(days)*day
}

// AddWorkingTime is the instant at which d working time has passed since from: the inverse of
// WorkingTime, used to say when an item will stall and when to nudge.
//
// When the time runs out exactly at the end of a working day, the answer is the start of the next
// working day (the moment the threshold is actually crossed), not the midnight before a weekend.
// A d of 0 or less returns from. If d cannot be reached within 20 years (a calendar of holidays), the
// instant reached after 20 years is returned.
func (c Calendar) AddWorkingTime(from time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return from
	}
	p := c.point(from)
	left := d
	for i := 0; i < maxCalendarDays; i++ {
		if c.workingDayNumber(p.day) {
			rest := day - p.tod
			if left < rest {
				return c.instant(calPoint{day: p.day, tod: p.tod + left})
			}
			left -= rest
		}
		p = calPoint{day: p.day + 1}
	}
	return c.instant(p)
}

// instant turns a point back into a time. A wall-clock time skipped by a DST change resolves the way
// time.Date does (to the later wall-clock time).
func (c Calendar) instant(p calPoint) time.Time {
	y, m, d := civilFromDays(p.day)
	tod := p.tod
	h := tod / time.Hour
	tod -= h * time.Hour
	mi := tod / time.Minute
	tod -= mi * time.Minute
	s := tod / time.Second
	tod -= s * time.Second
	return time.Date(y, m, d, int(h), int(mi), int(s), int(tod), c.Loc())
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
// (Howard Hinnant's algorithm), so day arithmetic needs no time.Time and no zone lookups.
func daysFromCivil(y int, m time.Month, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := yy / 400
	if yy < 0 && yy%400 != 0 {
		era--
	}
	yoe := yy - era*400
	mp := (int64(m) + 9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays inverts daysFromCivil.
func civilFromDays(n int64) (int, time.Month, int) {
	n += 719468
	era := n / 146097
	if n < 0 && n%146097 != 0 {
		era--
	}
	doe := n - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return int(y), time.Month(m), int(d)
}

func dateOfDay(n int64) Date {
	y, m, d := civilFromDays(n)
	return Date{y, m, d}
}

// weekdayOfDay: 1970-01-01 was a Thursday.
func weekdayOfDay(n int64) time.Weekday {
	w := (n + 4) % 7
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}

// preparedCalendar is a Calendar made ready for many questions about the same calendar (a digest asks
// for every open item): the holidays that fall on working weekdays become a sorted list of day
// numbers, so counting working days over any range is whole weeks plus two binary searches, with no
// map lookups or date conversions per day.
type preparedCalendar struct {
	loc      *time.Location
	weekdays [7]bool
	perWeek  int64
	holidays []int64 // day numbers of holidays on working weekdays, ascending
}

func (c Calendar) prepare() preparedCalendar {
	pc := preparedCalendar{loc: c.Loc()}
	for w := time.Sunday; w <= time.Saturday; w++ {
		pc.weekdays[w] = c.weekdayOn(w)
		if pc.weekdays[w] {
			pc.perWeek++
		}
	}
	for h, off := range c.Holidays {
		if n := daysFromCivil(h.Year, h.Month, h.Day); off && pc.weekdays[weekdayOfDay(n)] {
			pc.holidays = append(pc.holidays, n)
		}
	}
	slices.Sort(pc.holidays)
	pc.holidays = slices.Compact(pc.holidays)
	return pc
}

func (pc *preparedCalendar) point(t time.Time) calPoint {
	return Calendar{Location: pc.loc}.point(t)
}

func (pc *preparedCalendar) workingDay(n int64) bool {
	if !pc.weekdays[weekdayOfDay(n)] {
		return false
	}
	_, holiday := slices.BinarySearch(pc.holidays, n)
	return !holiday
}

// daysBetween counts working day numbers in [a, b).
func (pc *preparedCalendar) daysBetween(a, b int64) int64 {
	if b <= a {
		return 0
	}
	span := b - a
	n := span / 7 * pc.perWeek
	for d := a + span/7*7; d < b; d++ {
		if pc.weekdays[weekdayOfDay(d)] {
			n++
		}
	}
	if len(pc.holidays) > 0 {
		lo, _ := slices.BinarySearch(pc.holidays, a)
		hi, _ := slices.BinarySearch(pc.holidays, b)
		n -= int64(hi - lo)
	}
	return n
}

// between is Calendar.workingBetween.
func (pc *preparedCalendar) between(a, b calPoint) time.Duration {
	if b.day < a.day {
		return 0
	}
	if a.day == b.day {
		if b.tod <= a.tod || !pc.workingDay(a.day) {
			return 0
		}
		return b.tod - a.tod
	}
	var total time.Duration
	if pc.workingDay(a.day) {
		total += day - a.tod
	}
	if pc.workingDay(b.day) {
		total += b.tod
	}
	return saturatingAdd(total, pc.daysBetween(a.day+1, b.day))
}

// workingDaysBetween is Calendar.WorkingDaysBetween.
func (pc *preparedCalendar) workingDaysBetween(from, to Date) int {
	return int(pc.daysBetween(daysFromCivil(from.Year, from.Month, from.Day), daysFromCivil(to.Year, to.Month, to.Day)))
}
