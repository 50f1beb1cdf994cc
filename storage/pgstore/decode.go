package pgstore

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"workbot/domain"
)

// Items are decoded straight from PostgreSQL's binary wire format rather than through rows.Scan:
// the digest reads every open item, and generic scanning of thirty columns costs several times the
// query itself. The decoder makes one string allocation per row for all its text columns.

// itemColumns is the column list every item query selects, in the order decodeItem reads them.
const itemColumns = `id, key, title, details, kind, requester, team, value, urgency, size, due, stage, assignee,
	blocked_reason, blocked_at, depends_on, depends_since, pin, triaged, resolution, duplicate_of,
	pending_handoff, nudged_at, snoozed_until, created_at, stage_entered_at, last_activity_at, done_at,
	updated_at, version`

const itemColumnCount = 30

// pgEpoch is where PostgreSQL's binary timestamps and dates count from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

var errFormat = errors.New("unexpected column format (the simple query protocol is not supported)")

type rowDecoder struct {
	vals   [][]byte
	fields []pgconn.FieldDescription
	text   string // every text column of the row, concatenated: strings are cut from it
	off    int
	err    error
}

// reset prepares a row: it copies the text columns into one string in column order.
func (d *rowDecoder) reset(rows pgx.Rows, textCols []bool) {
	d.vals = rows.RawValues()
	d.fields = rows.FieldDescriptions()
	d.err = nil
	d.off = 0
	n := 0
	for i, v := range d.vals {
		if textCols[i] {
			n += len(v)
		}
	}
	buf := make([]byte, 0, n)
	for i, v := range d.vals {
		if textCols[i] {
			buf = append(buf, v...)
		}
	}
	d.text = string(buf)
}

func (d *rowDecoder) fail(i int, err error) {
	if d.err == nil {
		name := "?"
		if i < len(d.fields) {
			name = d.fields[i].Name
		}
		d.err = fmt.Errorf("column %s: %w", name, err)
	}
}

func (d *rowDecoder) binary(i int) ([]byte, bool) {
	if d.fields[i].Format != pgx.BinaryFormatCode {
		d.fail(i, errFormat)
		return nil, false
	}
	return d.vals[i], d.vals[i] != nil
}

// str cuts column i (a text column, counted in reset) from the row's string.
func (d *rowDecoder) str(i int) string {
	n := len(d.vals[i])
	s := d.text[d.off : d.off+n]
	d.off += n
	return s
}

func (d *rowDecoder) int64(i int) int64 {
	v, ok := d.binary(i)
	if !ok {
		return 0
	}
	switch len(v) {
	case 8:
		return int64(binary.BigEndian.Uint64(v))
	case 4:
		return int64(int32(binary.BigEndian.Uint32(v)))
	case 2:
		return int64(int16(binary.BigEndian.Uint16(v)))
	}
	d.fail(i, errFormat)
	return 0
}

func (d *rowDecoder) int(i int) int {
	v := d.int64(i)
	if v > math.MaxInt32 || v < math.MinInt32 {
		d.fail(i, errors.New("out of range"))
	}
	return int(v)
}

func (d *rowDecoder) uint64(i int) uint64 {
	v := d.int64(i)
	if v < 0 {
		d.fail(i, errors.New("negative"))
		return 0
	}
	return uint64(v)
}

func (d *rowDecoder) bool(i int) bool {
	v, ok := d.binary(i)
	if !ok {
		return false
	}
	if len(v) != 1 {
		d.fail(i, errFormat)
	}
	return v[0] == 1
}

// time reads a timestamptz; NULL is the zero time.
func (d *rowDecoder) time(i int) time.Time {
	v, ok := d.binary(i)
	if !ok {
		return time.Time{}
	}
	if len(v) != 8 {
		d.fail(i, errFormat)
		return time.Time{}
	}
	us := int64(binary.BigEndian.Uint64(v))
	if us == math.MaxInt64 || us == math.MinInt64 {
		d.fail(i, errors.New("infinite timestamp"))
		return time.Time{}
	}
	sec, rem := us/1e6, us%1e6
	if rem < 0 {
		sec, rem = sec-1, rem+1e6
	}
	return time.Unix(sec+pgEpoch.Unix(), rem*1000).UTC()
}

// date reads a date; NULL is the zero date.
func (d *rowDecoder) date(i int) domain.Date {
	v, ok := d.binary(i)
	if !ok {
		return domain.Date{}
	}
	if len(v) != 4 {
		d.fail(i, errFormat)
		return domain.Date{}
	}
	days := int32(binary.BigEndian.Uint32(v))
	if days == math.MaxInt32 || days == math.MinInt32 {
		d.fail(i, errors.New("infinite date"))
		return domain.Date{}
	}
	return domain.DateOf(pgEpoch.AddDate(0, 0, int(days)))
}

// ids reads a one-dimensional bigint[] without NULLs; empty is nil, as the bbolt store returns.
func (d *rowDecoder) ids(i int) []domain.ItemID {
	v, ok := d.binary(i)
	if !ok {
		return nil
	}
	if len(v) < 12 {
		d.fail(i, errFormat)
		return nil
	}
	ndim := binary.BigEndian.Uint32(v)
	if ndim == 0 {
		return nil
	}
	if ndim != 1 || len(v) < 20 {
		d.fail(i, errFormat)
		return nil
	}
	n := int(binary.BigEndian.Uint32(v[12:]))
	v = v[20:]
	if n < 0 || len(v) != n*12 {
		d.fail(i, errFormat)
		return nil
	}
	out := make([]domain.ItemID, n)
	for k := range out {
		if binary.BigEndian.Uint32(v) != 8 {
			d.fail(i, errFormat)
			return nil
		}
		out[k] = domain.ItemID(binary.BigEndian.Uint64(v[4:]))
		v = v[12:]
	}
	return out
}

// itemTextCols marks the text columns of itemColumns.
var itemTextCols = func() []bool {
	t := make([]bool, itemColumnCount)
	for _, i := range []int{1, 2, 3, 4, 5, 6, 11, 12, 13, 19} {
		t[i] = true
	}
	return t
}()

func decodeItem(d *rowDecoder, rows pgx.Rows) (domain.Item, error) {
	if len(rows.RawValues()) != itemColumnCount {
		return domain.Item{}, fmt.Errorf("item row has %d columns, want %d", len(rows.RawValues()), itemColumnCount)
	}
	d.reset(rows, itemTextCols)
	it := domain.Item{
		ID: domain.ItemID(d.uint64(0)), Key: d.str(1), Title: d.str(2), Details: d.str(3), Kind: d.str(4),
		Requester: domain.UserID(d.str(5)), Team: domain.TeamID(d.str(6)),
		Value: d.int(7), Urgency: d.int(8), Size: d.int(9), Due: d.date(10),
		Stage: domain.StageID(d.str(11)), Assignee: domain.UserID(d.str(12)),
		BlockedReason: d.str(13), BlockedAt: d.time(14), DependsOn: d.ids(15), DependsSince: d.time(16),
		Pin: d.int(17), Triaged: d.bool(18), Resolution: domain.Resolution(d.str(19)),
		DuplicateOf: domain.ItemID(d.uint64(20)), PendingHandoff: domain.HandoffID(d.uint64(21)),
		NudgedAt: d.time(22), SnoozedUntil: d.time(23), CreatedAt: d.time(24), StageEnteredAt: d.time(25),
		LastActivityAt: d.time(26), DoneAt: d.time(27), UpdatedAt: d.time(28), Version: d.uint64(29),
	}
	if d.err != nil {
		return domain.Item{}, fmt.Errorf("item %d: %w", it.ID, d.err)
	}
	return it, nil
}

// itemArgs are PutItem's parameters in itemColumns order.
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

func changesOf(raw []byte) ([]domain.Change, error) {
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
