package storage

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"workbot/domain"
)

// errCorrupt is wrapped by every decoding failure so callers (and Check) can tell a damaged record
// from an I/O error.
var errCorrupt = errors.New("corrupt record")

// encoder appends fields to a byte slice. The record layout is: version byte, uvarint field count, then
// the fields in their fixed order. The count lets a newer writer append fields that an older reader
// skips, and an older record lack fields that a newer reader fills with zero values.
type encoder struct {
	buf    []byte
	fields int
}

func newEncoder(sizeHint int) *encoder {
	return &encoder{buf: make([]byte, 0, sizeHint)}
}

func (e *encoder) uvarint(v uint64) {
	e.buf = binary.AppendUvarint(e.buf, v)
	e.fields++
}

func (e *encoder) varint(v int64) {
	e.buf = binary.AppendVarint(e.buf, v)
	e.fields++
}

func (e *encoder) boolean(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
	e.fields++
}

func (e *encoder) str(s string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
	e.buf = append(e.buf, s...)
	e.fields++
}

// timestamp stores 0 for the zero time and zigzag(unix nanoseconds)+1 otherwise, so the zero time
// costs one byte and the Unix epoch stays distinguishable from it.
func (e *encoder) timestamp(t time.Time) {
	e.buf = binary.AppendUvarint(e.buf, encodeTime(t))
	e.fields++
}

func (e *encoder) date(d domain.Date) {
	e.buf = binary.AppendVarint(e.buf, int64(d.Year))
	e.buf = binary.AppendUvarint(e.buf, uint64(d.Month))
	e.buf = binary.AppendUvarint(e.buf, uint64(d.Day))
	e.fields++
}

func (e *encoder) ids(ids []domain.ItemID) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(ids)))
	for _, id := range ids {
		e.buf = binary.AppendUvarint(e.buf, uint64(id))
	}
	e.fields++
}

func (e *encoder) strs(ss []string) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(ss)))
	for _, s := range ss {
		e.buf = binary.AppendUvarint(e.buf, uint64(len(s)))
		e.buf = append(e.buf, s...)
	}
	e.fields++
}

func (e *encoder) changes(cs []changeRecord) {
	e.buf = binary.AppendUvarint(e.buf, uint64(len(cs)))
	for _, c := range cs {
		e.buf = binary.AppendUvarint(e.buf, uint64(len(c.Field)))
		e.buf = append(e.buf, c.Field...)
		e.buf = binary.AppendUvarint(e.buf, uint64(len(c.Before)))
		e.buf = append(e.buf, c.Before...)
		e.buf = binary.AppendUvarint(e.buf, uint64(len(c.After)))
		e.buf = append(e.buf, c.After...)
	}
	e.fields++
}

// finish returns version byte, field count and body in one fresh slice.
func (e *encoder) finish(version byte) []byte {
	out := make([]byte, 0, len(e.buf)+1+binary.MaxVarintLen16)
	out = append(out, version)
	out = binary.AppendUvarint(out, uint64(e.fields))
	return append(out, e.buf...)
}

func encodeTime(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	n := t.UnixNano()
	return uint64(n<<1^n>>63) + 1
}

func decodeTime(v uint64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	v--
	n := int64(v>>1) ^ -int64(v&1)
	return time.Unix(0, n).UTC()
}

// decoder reads fields written by encoder. Once the declared field count is used up every read
// returns a zero value, which is how records written before a field existed decode. Reads never
// panic: a short or malformed buffer sets err and yields zero values.
type decoder struct {
	buf []byte
	// text is the whole record copied into one string at the start; strings are cut from it, so a
	// record costs one allocation for all its strings instead of one each (bbolt's bytes die with the
	// transaction, so a copy is needed either way).
	text    string
	size    int // len(text); the offset of buf in text is size-len(buf)
	version byte
	left    uint64 // fields still declared in the record
	err     error
}

// init reads the header. A decoder is a value, not allocated: decoding sits on the digest's hot path.
func (d *decoder) init(b []byte) {
	*d = decoder{}
	if len(b) == 0 {
		d.err = errCorrupt
		return
	}
	d.version = b[0]
	n, k := binary.Uvarint(b[1:])
	if k <= 0 {
		d.err = errCorrupt
		return
	}
	d.buf = b[1+k:]
	d.left = n
	d.text = string(d.buf)
	d.size = len(d.buf)
}

// next reports whether another declared field is there to read.
func (d *decoder) next() bool {
	if d.err != nil || d.left == 0 {
		return false
	}
	d.left--
	return true
}

func (d *decoder) rawUvarint() uint64 {
	// Most values (lengths, counts, zero times, small numbers) fit in one byte; skipping the general
	// loop for them is a measurable share of decoding an item.
	if len(d.buf) > 0 && d.buf[0] < 0x80 && d.err == nil {
		v := uint64(d.buf[0])
		d.buf = d.buf[1:]
		return v
	}
	if d.err != nil {
		return 0
	}
	v, k := binary.Uvarint(d.buf)
	if k <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.buf = d.buf[k:]
	return v
}

func (d *decoder) rawVarint() int64 {
	if d.err != nil {
		return 0
	}
	v, k := binary.Varint(d.buf)
	if k <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.buf = d.buf[k:]
	return v
}

func (d *decoder) rawString() string {
	n := d.rawUvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.buf)) {
		d.err = errCorrupt
		return ""
	}
	if n == 0 {
		return ""
	}
	off := d.size - len(d.buf)
	d.buf = d.buf[n:]
	return d.text[off : off+int(n)]
}

func (d *decoder) uvarint() uint64 {
	if !d.next() {
		return 0
	}
	return d.rawUvarint()
}

func (d *decoder) int() int {
	if !d.next() {
		return 0
	}
	v := d.rawVarint()
	if v > math.MaxInt32 || v < math.MinInt32 {
		d.err = errCorrupt
		return 0
	}
	return int(v)
}

func (d *decoder) boolean() bool {
	if !d.next() || d.err != nil {
		return false
	}
	if len(d.buf) == 0 || d.buf[0] > 1 {
		d.err = errCorrupt
		return false
	}
	v := d.buf[0] == 1
	d.buf = d.buf[1:]
	return v
}

func (d *decoder) str() string {
	if !d.next() {
		return ""
	}
	return d.rawString()
}

func (d *decoder) timestamp() time.Time {
	if !d.next() {
		return time.Time{}
	}
	return decodeTime(d.rawUvarint())
}

func (d *decoder) date() domain.Date {
	if !d.next() {
		return domain.Date{}
	}
	y := d.rawVarint()
	m := d.rawUvarint()
	day := d.rawUvarint()
	if y > math.MaxInt32 || y < math.MinInt32 || m > 12 || day > 31 {
		d.err = errCorrupt
		return domain.Date{}
	}
	return domain.Date{Year: int(y), Month: time.Month(m), Day: int(day)}
}

func (d *decoder) ids() []domain.ItemID {
	if !d.next() {
		return nil
	}
	n := d.rawUvarint()
	// Every ID takes at least one byte, so a count beyond the bytes left is corruption, and checking it
	// first keeps a damaged count from allocating gigabytes.
	if d.err != nil || n > uint64(len(d.buf)) {
		d.err = errCorrupt
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]domain.ItemID, n)
	for i := range out {
		out[i] = domain.ItemID(d.rawUvarint())
	}
	return out
}

func (d *decoder) strs() []string {
	if !d.next() {
		return nil
	}
	n := d.rawUvarint()
	if d.err != nil || n > uint64(len(d.buf)) {
		d.err = errCorrupt
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.rawString()
	}
	return out
}

func (d *decoder) changes() []changeRecord {
	if !d.next() {
		return nil
	}
	n := d.rawUvarint()
	if d.err != nil || n > uint64(len(d.buf)) {
		d.err = errCorrupt
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]changeRecord, n)
	for i := range out {
		out[i] = changeRecord{Field: d.rawString(), Before: d.rawString(), After: d.rawString()}
	}
	return out
}
