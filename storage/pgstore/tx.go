package pgstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"workbot/domain"
)

// maxIndexedLen mirrors the bbolt store's limit on user, stage and state names, so both stores refuse
// the same values.
const maxIndexedLen = 1024

// txn is domain.Tx (and domain.StateTx, through stateTx) on a pgx transaction. A fresh txn wraps every
// run of a transaction function, so nothing survives a retry.
//
// Locking in write transactions (READ COMMITTED):
//   - Item and Handoff read with SELECT … FOR UPDATE: the row stays locked until commit, and a reader
//     that waited gets the version the previous holder committed. Operations on one item therefore
//     run one after the other, as in bbolt's single writer.
//   - Person and the bot state's Get, Put and Delete take a transaction-scoped advisory lock on the
//     name first, then read in a new statement (so a fresh snapshot). Unlike a row lock this also
//     covers a row that does not exist yet, so two transactions creating one person cannot both
//     read "absent" and lose one of their writes.
//   - Iterators (OpenItems, EventsBetween, …) lock nothing: what they read is advisory (a WIP count,
//     say), and locking every open item would serialise every writer.
type txn struct {
	s     *Store
	ctx   context.Context
	db    dbconn
	write bool
	// begun: BEGIN was sent (write transactions send it with their first statement); pending: writes
	// not sent yet (see conn.go).
	begun   bool
	pending *pgx.Batch
	// dbErr is the first database error of the transaction: fn may wrap or drop it, and the retry
	// decision needs the original.
	dbErr error
	// itemsHeld and handoffsHeld are rows this transaction has read or allocated: PutItem need not
	// move the sequence past them.
	itemsHeld, handoffsHeld map[uint64]bool
	names                   map[string]bool // advisory locks held

	// In read-only transactions, the items named by the events EventsBetween visited: the digest
	// reads each of them next, and one query for all beats one round trip each.
	hints    []domain.ItemID
	hinted   bool
	prefetch map[domain.ItemID]domain.Item
}

var _ domain.Tx = (*txn)(nil)

func (t *txn) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if t.dbErr == nil {
		t.dbErr = err
	}
	return t.s.ioErr(op, err)
}

// lock takes the advisory locks for names not yet held, in a stable order, queued on b.
func (t *txn) queueLocks(b *pgx.Batch, names ...string) {
	if !t.write {
		return
	}
	var keys []int64
	for _, n := range names {
		if t.names[n] {
			continue
		}
		if t.names == nil {
			t.names = map[string]bool{}
		}
		t.names[n] = true
		keys = append(keys, t.s.lockKey(n))
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.Queue("SELECT pg_advisory_xact_lock($1)", k)
	}
}

// lockLater queues the advisory locks for names not yet held ahead of the writes that follow.
func (t *txn) lockLater(names ...string) {
	b := &pgx.Batch{}
	t.queueLocks(b, names...)
	for _, q := range b.QueuedQueries {
		t.later(q.SQL, q.Arguments...)
	}
}

func hold(m *map[uint64]bool, id uint64) {
	if *m == nil {
		*m = map[uint64]bool{}
	}
	(*m)[id] = true
}

// Item returns ENOTFOUND if there is no item with that ID. In a write transaction it locks the row.
func (t *txn) Item(id domain.ItemID) (domain.Item, error) {
	if !t.write {
		if it, ok := t.prefetched(id); ok {
			return it, nil
		}
	}
	q := "SELECT " + itemRead + " FROM items WHERE id = $1"
	if t.write {
		q += " FOR UPDATE"
		hold(&t.itemsHeld, uint64(id))
	}
	var out domain.Item
	found := false
	err := t.queryItems(q, []any{int64(id)}, func(it domain.Item) bool { out, found = it, true; return false })
	if err != nil {
		return domain.Item{}, err
	}
	if !found {
		return domain.Item{}, domain.Errorf(domain.ENOTFOUND, "There is no item %d.", id)
	}
	return out, nil
}

// queryItems runs one item query (one row, or a page) and visits its rows. The rows are read in
// full before fn sees any: the connection serves one statement at a time, and fn may read through
// the same transaction (the bot reads each pending handoff's item, say), which bbolt allows too.
func (t *txn) queryItems(q string, args []any, fn func(domain.Item) bool) error {
	rows, err := t.query("read items", q, args...)
	if err != nil {
		return err
	}
	var page []domain.Item
	for rows.Next() {
		it, err := decodeItem(rows)
		if err != nil {
			rows.Close()
			return err
		}
		page = append(page, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t.fail("read items", err)
	}
	for _, it := range page {
		if !fn(it) {
			return nil
		}
	}
	return nil
}

// Pages start small, so an iterator stopped after a few items costs little, and grow, so a scan of
// every open item takes a few dozen round trips rather than thousands.
const (
	firstPage = 64
	maxPage   = 8192
)

// pagedItems visits items matching where (with args $3…) in ID order, or newest first when desc,
// in keyset pages: $1 is the last ID seen, $2 the page size.
func (t *txn) pagedItems(where string, args []any, desc bool, fn func(domain.Item) bool) error {
	q := pagedItemsQuery(where, desc)
	last := int64(0)
	if desc {
		last = 1<<63 - 1
	}
	for page := firstPage; ; page = min(2*page, maxPage) {
		n, stopped := 0, false
		err := t.queryItems(q, append([]any{last, page}, args...), func(it domain.Item) bool {
			n++
			last = int64(it.ID)
			if !fn(it) {
				stopped = true
				return false
			}
			return true
		})
		if err != nil || stopped || n < page {
			return err
		}
	}
}

func pagedItemsQuery(where string, desc bool) string {
	order, cmp := "id", ">"
	if desc {
		order, cmp = "id DESC", "<"
	}
	return fmt.Sprintf("SELECT %s FROM items WHERE %s AND id %s $1 ORDER BY %s LIMIT $2", itemRead, where, cmp, order)
}

// Where clauses of the item iterators; tests EXPLAIN them.
const (
	whereOpen      = "resolution = ''"
	whereAssignee  = "resolution = '' AND assignee = $3"
	whereStage     = "resolution = '' AND stage = $3"
	whereRequester = "requester = $3"
)

// OpenItems reads the partial index of open items; closed history is never touched.
func (t *txn) OpenItems(fn func(domain.Item) bool) error {
	return t.pagedItems(whereOpen, nil, false, fn)
}

func (t *txn) OpenItemsByAssignee(user domain.UserID, fn func(domain.Item) bool) error {
	return t.pagedItems(whereAssignee, []any{string(user)}, false, fn)
}

func (t *txn) OpenItemsInStage(stage domain.StageID, fn func(domain.Item) bool) error {
	return t.pagedItems(whereStage, []any{string(stage)}, false, fn)
}

func (t *txn) ItemsByRequester(user domain.UserID, fn func(domain.Item) bool) error {
	return t.pagedItems(whereRequester, []any{string(user)}, true, fn)
}

const handoffColumns = `id, item_id, from_user, to_user, to_team, note_done, note_next, note_links, next_stage,
	status, requested_by, requested_at, approved_by, approved_at, decided_by, decided_at, reason, escalated_at`

func scanHandoff(rows pgx.Rows) (domain.Handoff, error) {
	var h domain.Handoff
	var id, item int64
	var reqAt, apprAt, decAt, escAt *time.Time
	err := rows.Scan(&id, &item, &h.From, &h.To, &h.ToTeam, &h.Note.Done, &h.Note.Next, &h.Note.Links,
		&h.NextStage, &h.Status, &h.RequestedBy, &reqAt, &h.ApprovedBy, &apprAt, &h.DecidedBy, &decAt,
		&h.Reason, &escAt)
	h.ID, h.ItemID = domain.HandoffID(id), domain.ItemID(item)
	h.RequestedAt, h.ApprovedAt, h.DecidedAt, h.EscalatedAt = timeOf(reqAt), timeOf(apprAt), timeOf(decAt), timeOf(escAt)
	return h, err
}

func handoffArgs(h domain.Handoff) []any {
	return []any{
		int64(h.ID), int64(h.ItemID), string(h.From), string(h.To), string(h.ToTeam), h.Note.Done, h.Note.Next,
		h.Note.Links, string(h.NextStage), string(h.Status), string(h.RequestedBy), timeArg(h.RequestedAt),
		string(h.ApprovedBy), timeArg(h.ApprovedAt), string(h.DecidedBy), timeArg(h.DecidedAt), h.Reason,
		timeArg(h.EscalatedAt),
	}
}

// Handoff returns ENOTFOUND if there is no handoff with that ID. In a write transaction it locks the row.
func (t *txn) Handoff(id domain.HandoffID) (domain.Handoff, error) {
	q := "SELECT " + handoffColumns + " FROM handoffs WHERE id = $1"
	if t.write {
		q += " FOR UPDATE"
		hold(&t.handoffsHeld, uint64(id))
	}
	var out domain.Handoff
	found := false
	err := t.queryHandoffs(q, []any{int64(id)}, func(h domain.Handoff) bool { out, found = h, true; return false })
	if err != nil {
		return domain.Handoff{}, err
	}
	if !found {
		return domain.Handoff{}, domain.Errorf(domain.ENOTFOUND, "There is no handoff %d.", id)
	}
	return out, nil
}

// queryHandoffs reads every row before visiting them, as queryItems does.
func (t *txn) queryHandoffs(q string, args []any, fn func(domain.Handoff) bool) error {
	rows, err := t.query("read handoffs", q, args...)
	if err != nil {
		return err
	}
	var page []domain.Handoff
	for rows.Next() {
		h, err := scanHandoff(rows)
		if err != nil {
			rows.Close()
			return t.fail("read handoffs", err)
		}
		page = append(page, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t.fail("read handoffs", err)
	}
	for _, h := range page {
		if !fn(h) {
			return nil
		}
	}
	return nil
}

func (t *txn) PendingHandoffs(fn func(domain.Handoff) bool) error {
	q := "SELECT " + handoffColumns + ` FROM handoffs WHERE status IN ('awaiting_approval', 'pending')
		AND id > $1 ORDER BY id LIMIT $2`
	last := int64(0)
	for page := firstPage; ; page = min(2*page, maxPage) {
		n, stopped := 0, false
		err := t.queryHandoffs(q, []any{last, page}, func(h domain.Handoff) bool {
			n++
			last = int64(h.ID)
			stopped = !fn(h)
			return !stopped
		})
		if err != nil || stopped || n < page {
			return err
		}
	}
}

const personColumns = "id, team, capacity, capacity_set, away_until, nudges_off, personal_digest_off, updated_at"

func scanPerson(rows pgx.Rows) (domain.Person, error) {
	var p domain.Person
	var away, upd *time.Time
	err := rows.Scan(&p.ID, &p.Team, &p.Capacity, &p.CapacitySet, &away, &p.NudgesOff, &p.PersonalDigestOff, &upd)
	p.AwayUntil, p.UpdatedAt = dateOf(away), timeOf(upd)
	return p, err
}

func personLock(id domain.UserID) string { return "person:" + string(id) }

// Person returns the stored person and true, or false if none is stored. In a write transaction it
// holds the person's advisory lock, whether or not the row exists.
func (t *txn) Person(id domain.UserID) (domain.Person, bool, error) {
	if id == "" {
		return domain.Person{}, false, nil
	}
	b := &pgx.Batch{}
	t.queueLocks(b, personLock(id))
	locks := b.Len()
	b.Queue("SELECT "+personColumns+" FROM people WHERE id = $1", string(id))
	var out domain.Person
	found := false
	err := t.runBatch("read person", b, locks, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return t.fail("read person", err)
		}
		defer rows.Close()
		if rows.Next() {
			if out, err = scanPerson(rows); err != nil {
				return t.fail("read person", err)
			}
			found = true
		}
		rows.Close()
		return t.fail("read person", rows.Err())
	})
	return out, found, err
}

func (t *txn) People(fn func(domain.Person) bool) error {
	q := "SELECT " + personColumns + " FROM people WHERE id > $1 ORDER BY id LIMIT $2"
	last := ""
	for page := firstPage; ; page = min(2*page, maxPage) {
		rows, err := t.query("read people", q, last, page)
		if err != nil {
			return err
		}
		// Read in full before visiting: fn may read through this transaction (see queryItems).
		var people []domain.Person
		for rows.Next() {
			p, err := scanPerson(rows)
			if err != nil {
				rows.Close()
				return t.fail("read people", err)
			}
			people = append(people, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return t.fail("read people", err)
		}
		for _, p := range people {
			if !fn(p) {
				return nil
			}
			last = string(p.ID)
		}
		if len(people) < page {
			return nil
		}
	}
}

const eventColumns = "seq, at, actor, type, item_id, subject, handoff_id, changes::text, note"

func scanEvent(rows pgx.Rows) (domain.Event, error) {
	var e domain.Event
	var seq, item, handoff int64
	var at *time.Time
	var changes string
	if err := rows.Scan(&seq, &at, &e.Actor, &e.Type, &item, &e.Subject, &handoff, &changes, &e.Note); err != nil {
		return e, err
	}
	e.Seq, e.At, e.ItemID, e.Handoff = uint64(seq), timeOf(at), domain.ItemID(item), domain.HandoffID(handoff)
	cs, err := changesOf([]byte(changes))
	if err != nil {
		return e, fmt.Errorf("event %d: changes: %w", seq, err)
	}
	e.Changes = cs
	return e, nil
}

// pagedEvents visits events in pages; where has $1, $2 for the keyset (after) and args from $3 on;
// next gives the keyset values after an event.
func (t *txn) pagedEvents(q string, first []any, args []any, next func(domain.Event) []any, fn func(domain.Event) bool) error {
	key := first
	for page := firstPage; ; page = min(2*page, maxPage) {
		rows, err := t.query("read events", q, append(append(append([]any{}, key...), page), args...)...)
		if err != nil {
			return err
		}
		// Read in full before visiting: fn may read through this transaction (see queryItems).
		var events []domain.Event
		for rows.Next() {
			e, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return t.fail("read events", err)
			}
			events = append(events, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return t.fail("read events", err)
		}
		for _, e := range events {
			key = next(e)
			if !t.write && !t.hinted && e.ItemID != 0 && len(t.hints) < maxHints {
				t.hints = append(t.hints, e.ItemID)
			}
			if !fn(e) {
				return nil
			}
		}
		if len(events) < page {
			return nil
		}
	}
}

// EventsBetween visits events with from <= At < to in (At, Seq) order. The zero time is stored as
// NULL and sorts first, as in bbolt, so it is only in range when from is the zero time too.
func (t *txn) EventsBetween(from, to time.Time, fn func(domain.Event) bool) error {
	if !from.Before(to) {
		return nil
	}
	bySeq := func(e domain.Event) []any { return []any{int64(e.Seq)} }
	if from.IsZero() {
		stopped := false
		err := t.pagedEvents("SELECT "+eventColumns+" FROM events WHERE at IS NULL AND seq > $1 ORDER BY seq LIMIT $2",
			[]any{int64(0)}, nil, bySeq, func(e domain.Event) bool { stopped = !fn(e); return !stopped })
		if err != nil || stopped {
			return err
		}
		if to.IsZero() {
			return nil
		}
		return t.pagedEvents("SELECT "+eventColumns+` FROM events WHERE at IS NOT NULL AND at < $4
			AND (at, seq) > ($1, $2) ORDER BY at NULLS FIRST, seq LIMIT $3`,
			[]any{pgtype.Timestamptz{InfinityModifier: pgtype.NegativeInfinity, Valid: true}, int64(0)}, []any{to.UTC()},
			func(e domain.Event) []any { return []any{e.At, int64(e.Seq)} }, fn)
	}
	return t.pagedEvents("SELECT "+eventColumns+` FROM events WHERE at >= $4 AND at < $5
		AND (at, seq) > ($1, $2) ORDER BY at NULLS FIRST, seq LIMIT $3`,
		[]any{from.UTC(), int64(0)}, []any{from.UTC(), to.UTC()},
		func(e domain.Event) []any { return []any{e.At, int64(e.Seq)} }, fn)
}

// ItemEvents visits one item's events in Seq order. Events of one item are appended by transactions
// that hold the item's row lock, so Seq order is their commit order.
func (t *txn) ItemEvents(id domain.ItemID, fn func(domain.Event) bool) error {
	return t.pagedEvents("SELECT "+eventColumns+" FROM events WHERE item_id = $3 AND seq > $1 ORDER BY seq LIMIT $2",
		[]any{int64(0)}, []any{int64(id)}, func(e domain.Event) []any { return []any{int64(e.Seq)} }, fn)
}

// maxHints bounds the prefetch of event items: past it, items are read one at a time.
const maxHints = 20000

// prefetched returns an item read ahead for a read-only transaction: the first miss on an item named
// by a visited event fetches all of them in one query.
func (t *txn) prefetched(id domain.ItemID) (domain.Item, bool) {
	if it, ok := t.prefetch[id]; ok {
		it.DependsOn = slices.Clone(it.DependsOn)
		return it, true
	}
	if t.hinted || len(t.hints) == 0 || !slices.Contains(t.hints, id) {
		return domain.Item{}, false
	}
	t.hinted = true
	ids := make([]int64, 0, len(t.hints))
	for _, h := range t.hints {
		ids = append(ids, int64(h))
	}
	t.hints = nil
	t.prefetch = make(map[domain.ItemID]domain.Item, len(ids))
	err := t.queryItems("SELECT "+itemRead+" FROM items WHERE id = ANY($1)", []any{ids}, func(it domain.Item) bool {
		t.prefetch[it.ID] = it
		return true
	})
	if err != nil {
		// The point read that follows reports the failure, if it persists.
		t.prefetch = nil
		return domain.Item{}, false
	}
	it, ok := t.prefetch[id]
	if ok {
		it.DependsOn = slices.Clone(it.DependsOn)
	}
	return it, ok
}

// NextItemID allocates from a sequence. A transaction that rolls back or is retried does not give
// its numbers back, so item IDs (and keys) can have gaps; they never repeat.
func (t *txn) NextItemID() (domain.ItemID, error) {
	n, err := t.nextval("item_ids")
	if err != nil {
		return 0, err
	}
	hold(&t.itemsHeld, uint64(n))
	return domain.ItemID(n), nil
}

// NextHandoffID allocates from a sequence; gaps as for NextItemID.
func (t *txn) NextHandoffID() (domain.HandoffID, error) {
	n, err := t.nextval("handoff_ids")
	if err != nil {
		return 0, err
	}
	hold(&t.handoffsHeld, uint64(n))
	return domain.HandoffID(n), nil
}

func (t *txn) nextval(seq string) (int64, error) {
	var n int64
	rows, err := t.query("next "+seq, "SELECT nextval('"+seq+"')")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, t.fail("next "+seq, rows.Err())
	}
	if err := rows.Scan(&n); err != nil {
		return 0, t.fail("next "+seq, err)
	}
	rows.Close()
	return n, t.fail("next "+seq, rows.Err())
}

func checkIndexed(what, s string) error {
	if len(s) > maxIndexedLen {
		return domain.Errorf(domain.EINVALID, "The %s is too long (%d bytes; at most %d).", what, len(s), maxIndexedLen)
	}
	return nil
}

// raiseSeq moves a sequence past id when a caller stored a record with an ID it did not allocate
// (an import), so the number is never handed out again.
const raiseSeq = `SELECT setval('%[1]s', $1) FROM %[1]s WHERE $1 > last_value OR (NOT is_called AND $1 = last_value)`

var itemUpsert = func() string {
	cols := []string{"id", "key", "title", "details", "kind", "requester", "team", "value", "urgency", "size", "due",
		"stage", "assignee", "blocked_reason", "blocked_at", "depends_on", "depends_since", "pin", "triaged",
		"resolution", "duplicate_of", "pending_handoff", "nudged_at", "snoozed_until", "created_at",
		"stage_entered_at", "last_activity_at", "done_at", "updated_at", "version", "rec", "source_key"}
	return upsert("items", "id", cols)
}()

func upsert(table, key string, cols []string) string {
	q := "INSERT INTO " + table + " ("
	vals, sets := "", ""
	for i, c := range cols {
		if i > 0 {
			q += ", "
			vals += ", "
		}
		q += c
		vals += fmt.Sprintf("$%d", i+1)
		if c != key {
			if sets != "" {
				sets += ", "
			}
			sets += c + " = EXCLUDED." + c
		}
	}
	return q + ") VALUES (" + vals + ") ON CONFLICT (" + key + ") DO UPDATE SET " + sets
}

// PutItem stores the item. The indexes follow by themselves: they are PostgreSQL indexes on the row.
func (t *txn) PutItem(it domain.Item) error {
	if it.ID == 0 {
		return domain.Errorf(domain.EINVALID, "An item needs an ID from NextItemID.")
	}
	for _, c := range []struct{ what, s string }{
		{"assignee", string(it.Assignee)}, {"stage", string(it.Stage)}, {"requester", string(it.Requester)},
	} {
		if err := checkIndexed(c.what, c.s); err != nil {
			return err
		}
	}
	t.later(itemUpsert, itemArgs(it)...)
	t.indexText(it)
	if !t.itemsHeld[uint64(it.ID)] {
		t.later(fmt.Sprintf(raiseSeq, "item_ids"), int64(it.ID))
	}
	hold(&t.itemsHeld, uint64(it.ID))
	return nil
}

var handoffUpsert = upsert("handoffs", "id", []string{"id", "item_id", "from_user", "to_user", "to_team",
	"note_done", "note_next", "note_links", "next_stage", "status", "requested_by", "requested_at",
	"approved_by", "approved_at", "decided_by", "decided_at", "reason", "escalated_at"})

func (t *txn) PutHandoff(h domain.Handoff) error {
	if h.ID == 0 {
		return domain.Errorf(domain.EINVALID, "A handoff needs an ID from NextHandoffID.")
	}
	t.later(handoffUpsert, handoffArgs(h)...)
	if !t.handoffsHeld[uint64(h.ID)] {
		t.later(fmt.Sprintf(raiseSeq, "handoff_ids"), int64(h.ID))
	}
	hold(&t.handoffsHeld, uint64(h.ID))
	return nil
}

var personUpsert = upsert("people", "id", []string{"id", "team", "capacity", "capacity_set", "away_until",
	"nudges_off", "personal_digest_off", "updated_at"})

func personArgs(p domain.Person) []any {
	return []any{string(p.ID), string(p.Team), p.Capacity, p.CapacitySet, dateArg(p.AwayUntil), p.NudgesOff,
		p.PersonalDigestOff, timeArg(p.UpdatedAt)}
}

// PutPerson takes the person's lock too, so a blind write waits for a read-modify-write in progress.
func (t *txn) PutPerson(p domain.Person) error {
	if p.ID == "" {
		return domain.Errorf(domain.EINVALID, "A person needs a user ID.")
	}
	if err := checkIndexed("user ID", string(p.ID)); err != nil {
		return err
	}
	t.lockLater(personLock(p.ID))
	t.later(personUpsert, personArgs(p)...)
	return nil
}

const eventInsert = `INSERT INTO events (seq, at, actor, type, item_id, subject, handoff_id, changes, note)
	VALUES (nextval('event_seq'), $1, $2, $3, $4, $5, $6, $7::jsonb, $8)`

// AppendEvent assigns Seq from a sequence: strictly increasing, and in commit order for the events
// of one item (see ItemEvents). Rolled-back transactions leave gaps.
func (t *txn) AppendEvent(e domain.Event) error {
	changes, err := changesArg(e.Changes)
	if err != nil {
		return err
	}
	t.later(eventInsert, timeArg(e.At), string(e.Actor), string(e.Type), int64(e.ItemID),
		string(e.Subject), int64(e.Handoff), changes, e.Note)
	return nil
}
