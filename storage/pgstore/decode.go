package pgstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"workbot/domain"
	"workbot/storage"
)

// Item reads select only items.rec, the item in the bbolt store's record encoding (see the
// migration): one bytea per row is cheap for the server to send and cheap to decode, which is what
// keeps a digest over 100k open items within reach of the bbolt store.

// itemColumns are the item's typed columns, in itemArgs order (rec follows them).
const itemColumns = `id, key, title, details, kind, requester, team, value, urgency, size, due, stage, assignee,
	blocked_reason, blocked_at, depends_on, depends_since, pin, triaged, resolution, duplicate_of,
	pending_handoff, nudged_at, snoozed_until, created_at, stage_entered_at, last_activity_at, done_at,
	updated_at, version`

// itemRead is what item queries select.
const itemRead = "rec"

func decodeItem(rows pgx.Rows) (domain.Item, error) {
	raw := rows.RawValues()
	if len(raw) != 1 || raw[0] == nil {
		return domain.Item{}, fmt.Errorf("item row: want one non-null rec column")
	}
	it, err := storage.DecodeItem(raw[0])
	if err != nil {
		return domain.Item{}, fmt.Errorf("items.rec: %w", err)
	}
	return it, nil
}

// scanItemColumns reads itemColumns, for Check's comparison with rec.
func scanItemColumns(rows pgx.Rows, extra ...any) (domain.Item, error) {
	var it domain.Item
	var id, dup, pend, version int64
	var due, blockedAt, dependsSince, nudged, snoozed, created, entered, activity, done, updated *time.Time
	var deps []int64
	dests := []any{&id, &it.Key, &it.Title, &it.Details, &it.Kind, &it.Requester, &it.Team, &it.Value, &it.Urgency,
		&it.Size, &due, &it.Stage, &it.Assignee, &it.BlockedReason, &blockedAt, &deps, &dependsSince, &it.Pin,
		&it.Triaged, &it.Resolution, &dup, &pend, &nudged, &snoozed, &created, &entered, &activity, &done, &updated, &version}
	err := rows.Scan(append(dests, extra...)...)
	it.ID, it.DuplicateOf, it.PendingHandoff, it.Version = domain.ItemID(id), domain.ItemID(dup), domain.HandoffID(pend), uint64(version)
	it.Due = dateOf(due)
	it.BlockedAt, it.DependsSince, it.NudgedAt, it.SnoozedUntil = timeOf(blockedAt), timeOf(dependsSince), timeOf(nudged), timeOf(snoozed)
	it.CreatedAt, it.StageEnteredAt, it.LastActivityAt, it.DoneAt, it.UpdatedAt = timeOf(created), timeOf(entered), timeOf(activity), timeOf(done), timeOf(updated)
	for _, d := range deps {
		it.DependsOn = append(it.DependsOn, domain.ItemID(d))
	}
	return it, err
}

// itemArgs are PutItem's parameters in itemColumns order, then rec.
func itemArgs(it domain.Item) []any {
	deps := make([]int64, len(it.DependsOn))
	for i, id := range it.DependsOn {
		deps[i] = int64(id)
	}
	return []any{
		int64(it.ID), it.Key, it.Title, it.Details, it.Kind, string(it.Requester), string(it.Team),
		it.Value, it.Urgency, it.Size, dateArg(it.Due), string(it.Stage), string(it.Assignee),
		it.BlockedReason, timeArg(it.BlockedAt), deps, timeArg(it.DependsSince), it.Pin, it.Triaged,
		string(it.Resolution), int64(it.DuplicateOf), int64(it.PendingHandoff), timeArg(it.NudgedAt),
		timeArg(it.SnoozedUntil), timeArg(it.CreatedAt), timeArg(it.StageEnteredAt),
		timeArg(it.LastActivityAt), timeArg(it.DoneAt), timeArg(it.UpdatedAt), int64(it.Version),
		storage.EncodeItem(it), sourceArg(it),
	}
}

// timeArg stores the zero time as NULL.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// timeOf reads a nullable timestamptz scanned into *time.Time.
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func dateArg(d domain.Date) any {
	if d.IsZero() {
		return nil
	}
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC)
}

func dateOf(t *time.Time) domain.Date {
	if t == nil {
		return domain.Date{}
	}
	return domain.DateOf(t.UTC())
}

// changesJSON is the events.changes column: a JSON array kept in order.
type changeJSON struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

func changesArg(cs []domain.Change) (string, error) {
	out := make([]changeJSON, len(cs))
	for i, c := range cs {
		out[i] = changeJSON(c)
	}
	b, err := json.Marshal(out)
	return string(b), err
}

// changesOf reads the changes column as PostgreSQL prints jsonb. The week's events are read for
// every digest, and encoding/json was a fifth of a small digest's time, so the array of flat
// string-valued objects is parsed by hand; anything else goes to encoding/json.
func changesOf(raw []byte) ([]domain.Change, error) {
	if out, ok := parseChanges(raw); ok {
		return out, nil
	}
	var in []changeJSON
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, err
	}
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]domain.Change, len(in))
	for i, c := range in {
		out[i] = domain.Change(c)
	}
	return out, nil
}

// parseChanges is changesOf's fast path: ok is false for input it does not handle.
func parseChanges(b []byte) (out []domain.Change, ok bool) {
	p := jsonScanner{b: b}
	if !p.eat('[') {
		return nil, false
	}
	if p.eat(']') {
		return nil, p.end()
	}
	for {
		if !p.eat('{') {
			return nil, false
		}
		var c domain.Change
		for {
			k, ok := p.str()
			if !ok || !p.eat(':') {
				return nil, false
			}
			v, ok := p.str()
			if !ok {
				return nil, false
			}
			switch k {
			case "field":
				c.Field = v
			case "before":
				c.Before = v
			case "after":
				c.After = v
			default:
				return nil, false
			}
			if p.eat('}') {
				break
			}
			if !p.eat(',') {
				return nil, false
			}
		}
		out = append(out, c)
		if p.eat(']') {
			return out, p.end()
		}
		if !p.eat(',') {
			return nil, false
		}
	}
}

type jsonScanner struct {
	b []byte
	i int
}

func (p *jsonScanner) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *jsonScanner) eat(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *jsonScanner) end() bool {
	p.space()
	return p.i == len(p.b)
}

// str reads a JSON string; one with escapes is handed to encoding/json.
func (p *jsonScanner) str() (string, bool) {
	p.space()
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return "", false
	}
	start := p.i
	escaped := false
	for j := start + 1; j < len(p.b); j++ {
		switch p.b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			p.i = j + 1
			if !escaped {
				return string(p.b[start+1 : j]), true
			}
			var s string
			if err := json.Unmarshal(p.b[start:j+1], &s); err != nil {
				return "", false
			}
			return s, true
		}
	}
	return "", false
}
