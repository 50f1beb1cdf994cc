package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
)

// progress draws one self-overwriting line on a terminal: done/total, rate and time left. On anything
// that is not a terminal (a log file, a pipe, a test's buffer) it draws nothing, so scripts and logs
// only get the final result.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	on      bool
	label   string
	unit    string
	total   int64
	done    int64
	start   time.Time
	drawn   time.Time
	written bool
}

// progressRedraw limits redraws: a terminal needs no more, and drawing costs time on fast copies.
const progressRedraw = 200 * time.Millisecond

func (c *cli) progress(label, unit string, total int64) *progress {
	f, ok := c.stderr.(*os.File)
	on := ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
	return &progress{w: c.stderr, on: on, label: label, unit: unit, total: total, start: time.Now()}
}

// Set moves the count to done; Add moves it by n.
func (p *progress) Set(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	p.draw(false)
}

func (p *progress) Add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.draw(false)
}

// Phase starts counting something else on the same line.
func (p *progress) Phase(label string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.total, p.done, p.start = label, total, 0, time.Now()
	p.draw(true)
}

// Finish draws the final state and ends the line.
func (p *progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.on || !p.written {
		return
	}
	p.draw(true)
	fmt.Fprintln(p.w)
	p.written = false
}

func (p *progress) draw(force bool) {
	if !p.on {
		return
	}
	now := time.Now()
	if !force && now.Sub(p.drawn) < progressRedraw {
		return
	}
	p.drawn = now
	p.written = true
	fmt.Fprintf(p.w, "\r\033[K%s", progressLine(p.label, p.unit, p.done, p.total, now.Sub(p.start)))
}

// progressLine formats "label: 1,234/10,000 items (12%), 5,678 items/s, 0:02 left".
func progressLine(label, unit string, done, total int64, elapsed time.Duration) string {
	s := fmt.Sprintf("%s: %s", label, thousands(done))
	if total > 0 {
		s += fmt.Sprintf("/%s %s (%d%%)", thousands(total), unit, done*100/total)
	} else {
		s += " " + unit
	}
	if elapsed > 0 && done > 0 {
		rate := float64(done) / elapsed.Seconds()
		s += fmt.Sprintf(", %s %s/s", thousands(int64(rate)), unit)
		if total > done && rate > 0 {
			left := time.Duration(float64(total-done) / rate * float64(time.Second))
			s += ", " + clock(left) + " left"
		}
	}
	return s
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := ""
	for len(s) > 3 {
		out = "," + s[len(s)-3:] + out
		s = s[:len(s)-3]
	}
	out = s + out
	if neg {
		out = "-" + out
	}
	return out
}

func clock(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%d:%02d", m, s)
}

// countingWriter feeds a progress line with bytes written.
type countingWriter struct {
	w io.Writer
	p *progress
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.Add(int64(n))
	return n, err
}
