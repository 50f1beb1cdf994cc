package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"strconv"
	"time"

	"github.com/slack-go/slack"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"workbot/domain"
)

// maxChartPeople bounds the load chart; the busiest people are the ones worth a picture.
const maxChartPeople = 20

// digestChartPNG draws the digest's chart: load against capacity for the busiest people, open items
// per stage over the days sampled, and the plan-versus-execution shares of the trend's weeks. It is a
// pure function of its inputs.
func digestChartPNG(loads []domain.PersonLoad, days []domain.Date, samples []map[domain.StageID]int, trend []domain.Alignment, p *domain.Policy) ([]byte, error) {
	loadPlot := plot.New()
	loadPlot.Title.Text = "Load against weekly capacity (points)"
	loadPlot.Y.Label.Text = "points"
	shown := loads
	if len(shown) > maxChartPeople {
		shown = shown[:maxChartPeople]
	}
	if len(shown) == 0 {
		loadPlot.Title.Text += ": nobody has work assigned"
	} else {
		load := make(plotter.Values, len(shown))
		capacity := make(plotter.Values, len(shown))
		names := make([]string, len(shown))
		for i, l := range shown {
			load[i], capacity[i] = float64(l.Load), float64(l.Capacity)
			names[i] = string(l.Person.ID)
		}
		w := vg.Points(8)
		loadBars, err := plotter.NewBarChart(load, w)
		if err != nil {
			return nil, err
		}
		loadBars.Color = color.RGBA{R: 0xd9, G: 0x53, B: 0x4f, A: 0xff}
		loadBars.Offset = -w / 2
		capBars, err := plotter.NewBarChart(capacity, w)
		if err != nil {
			return nil, err
		}
		capBars.Color = color.RGBA{R: 0x9e, G: 0xc5, B: 0xe8, A: 0xff}
		capBars.Offset = w / 2
		loadPlot.Add(loadBars, capBars)
		loadPlot.Legend.Add("load", loadBars)
		loadPlot.Legend.Add("capacity", capBars)
		loadPlot.Legend.Top = true
		loadPlot.NominalX(names...)
		loadPlot.X.Tick.Label.Rotation = 0.6
		loadPlot.X.Tick.Label.XAlign = draw.XRight
	}

	wipPlot := plot.New()
	wipPlot.Title.Text = "Open items per stage"
	wipPlot.Y.Label.Text = "items"
	if len(days) == 0 {
		wipPlot.Title.Text += ": no samples yet"
	} else {
		var lines []any
		for _, st := range p.Workflow.Stages {
			if st.Terminal {
				continue
			}
			pts := make(plotter.XYs, len(days))
			for i := range days {
				pts[i].X = float64(i)
				pts[i].Y = float64(samples[i][st.ID])
			}
			lines = append(lines, st.Name, pts)
		}
		if err := plotutil.AddLinePoints(wipPlot, lines...); err != nil {
			return nil, err
		}
		labels := make([]string, len(days))
		for i, d := range days {
			labels[i] = fmt.Sprintf("%02d-%02d", int(d.Month), d.Day)
		}
		wipPlot.NominalX(labels...)
		wipPlot.Legend.Top = true
		wipPlot.Legend.Left = true
	}

	alignPlot, err := alignmentPlot(trend, p.Calendar.Loc())
	if err != nil {
		return nil, err
	}

	img := vgimg.New(vg.Points(720), vg.Points(1040))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 3, Cols: 1, PadX: vg.Millimeter, PadY: 4 * vg.Millimeter,
		PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align([][]*plot.Plot{{loadPlot}, {wipPlot}, {alignPlot}}, tiles, dc)
	loadPlot.Draw(canvases[0][0])
	wipPlot.Draw(canvases[1][0])
	alignPlot.Draw(canvases[2][0])
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// alignmentPlot stacks each week's planned, interrupt and other shares (and the prioritised work of a
// week whose plan is unknown) as percentages of the points that moved forward.
func alignmentPlot(trend []domain.Alignment, loc *time.Location) (*plot.Plot, error) {
	pl := plot.New()
	pl.Title.Text = "Plan vs execution: share of points moved forward"
	pl.Y.Label.Text = "%"
	if len(trend) == 0 {
		pl.Title.Text += ": no weeks yet"
		return pl, nil
	}
	series := []struct {
		name  string
		share func(domain.AlignmentShares) float64
		color color.Color
	}{
		{"planned", func(s domain.AlignmentShares) float64 { return s.Planned }, color.RGBA{R: 0x3c, G: 0x9a, B: 0x5f, A: 0xff}},
		{"interrupts", func(s domain.AlignmentShares) float64 { return s.Interrupt }, color.RGBA{R: 0xd9, G: 0x53, B: 0x4f, A: 0xff}},
		{"other", func(s domain.AlignmentShares) float64 { return s.Other }, color.RGBA{R: 0x9e, G: 0xc5, B: 0xe8, A: 0xff}},
		{"plan unknown", func(s domain.AlignmentShares) float64 { return s.Unknown }, color.RGBA{R: 0xbb, G: 0xbb, B: 0xbb, A: 0xff}},
	}
	labels := make([]string, len(trend))
	for i, a := range trend {
		labels[i] = a.Week.From.In(loc).Format("Jan 2")
		switch {
		case !a.SharesDefined:
			labels[i] += " (nothing moved)"
		case !a.PlanKnown:
			labels[i] += " (no plan)"
		}
	}
	var below *plotter.BarChart
	for _, s := range series {
		vals := make(plotter.Values, len(trend))
		some := false
		for i, a := range trend {
			vals[i] = 100 * s.share(a.Shares)
			some = some || vals[i] > 0
		}
		if !some && s.name == "plan unknown" {
			continue // only weeks without a plan have this category; keep the legend short otherwise
		}
		bars, err := plotter.NewBarChart(vals, vg.Points(40))
		if err != nil {
			return nil, err
		}
		bars.Color = s.color
		bars.LineStyle.Width = 0
		if below != nil {
			bars.StackOn(below)
		}
		below = bars
		pl.Add(bars)
		pl.Legend.Add(s.name, bars)
	}
	// Headroom above 100% keeps the legend off the bars.
	pl.Y.Min, pl.Y.Max = 0, 140
	pl.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 25}, {Value: 50, Label: "50"}, {Value: 75}, {Value: 100, Label: "100"}})
	pl.Legend.Top = true
	pl.NominalX(labels...)
	return pl, nil
}

// renderChart draws the chart for a digest; nil when drawing fails, because the digest goes out anyway.
func (b *Bot) renderChart(ctx context.Context, d domain.Digest, now time.Time, trend []domain.Alignment) []byte {
	from := b.policy.Calendar.Today(now).AddDays(-14)
	days, samples := b.wipSeries(ctx, from)
	png, err := digestChartPNG(d.Loads, days, samples, trend, b.policy)
	if err != nil {
		b.log.Warn().Err(err).Msg("digest chart failed; posting the digest without it")
		return nil
	}
	return png
}

// chart shares the digest's chart in the digest's thread with the files upload v2 flow, once: an
// upload whose outcome is unknown is looked for in the thread, by its file name, before uploading again.
func (o *outbox) chart(ctx context.Context, e *domain.OutboxEntry, p effect) (outcome, error) {
	dig, ok := o.b.loadRef(ctx, kvDigestPosts, digestPostKey(p.Slot, p.Channel))
	if !ok {
		// The digest comes first in this lane, so it was refused for good.
		return outcome{}, permanent("its digest was not posted")
	}
	channel, thread := dig.Channel, dig.TS
	name := "workbot-digest-" + entryRef(e) + ".png"
	if !e.AttemptedAt.IsZero() {
		ts, ok, err := o.findFile(ctx, e, channel, thread, name)
		if err != nil {
			return outcome{}, fmt.Errorf("looking for an earlier upload: %w", err)
		}
		if ok {
			return delivered(channel, ts), nil
		}
	}
	if err := o.markAttempt(ctx, e); err != nil {
		return outcome{}, err
	}
	_, err := o.b.api.api.UploadFileContext(ctx, slack.UploadFileParameters{
		Reader:          bytes.NewReader(p.PNG),
		FileSize:        len(p.PNG),
		Filename:        name,
		Title:           "Load, WIP and plan vs execution",
		AltTxt:          "Bar chart of load against capacity per person, a line chart of open items per stage, and stacked bars of the planned, interrupt and other shares of the last weeks",
		Channel:         channel,
		ThreadTimestamp: thread,
	})
	if err != nil && definitelyNotDone(err) {
		e.AttemptedAt = time.Time{}
	}
	return delivered(channel, thread), err
}

// findFile looks in a thread for a file the bot shared under name since e's first attempt.
func (o *outbox) findFile(ctx context.Context, e *domain.OutboxEntry, channel, thread, name string) (string, bool, error) {
	oldest := strconv.FormatInt(e.AttemptedAt.Add(-historySlack).Unix(), 10) + ".000000"
	cursor := ""
	for range historyPages {
		msgs, more, next, err := o.b.api.api.GetConversationRepliesContext(ctx, &slack.GetConversationRepliesParameters{
			ChannelID: channel, Timestamp: thread, Oldest: oldest, Limit: 200, Cursor: cursor,
		})
		if err != nil {
			return "", false, err
		}
		for _, m := range msgs {
			for _, f := range m.Files {
				if f.Name == name {
					return m.Timestamp, true, nil
				}
			}
		}
		if !more || next == "" {
			return "", false, nil
		}
		cursor = next
	}
	return "", false, nil
}

const kvWIPSamples = "wip_samples" // date → open items per stage

// wipSeries reads the stored samples since from, oldest first (keys are ISO dates, which sort by day).
func (b *Bot) wipSeries(ctx context.Context, from domain.Date) ([]domain.Date, []map[domain.StageID]int) {
	var days []domain.Date
	var samples []map[domain.StageID]int
	_ = b.store.ViewState(ctx, func(tx domain.StateReader) error {
		return tx.Scan(kvWIPSamples, "", func(key string, val []byte) bool {
			d, err := domain.ParseDate(key)
			if err != nil || d.Before(from) {
				return true
			}
			var m map[domain.StageID]int
			if json.Unmarshal(val, &m) == nil {
				days = append(days, d)
				samples = append(samples, m)
			}
			return true
		})
	})
	return days, samples
}
