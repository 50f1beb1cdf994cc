package pgstore

import (
	"time"

	"workbot/domain"
)

// The aggregate reads of domain.ReadTx, answered by queries on the partial indexes of open items (and
// on migration 00003's indexes), so they never read closed history.

// OpenCounts implements domain.ReadTx.
func (t *txn) OpenCounts() (domain.OpenCounts, error) {
	out := domain.OpenCounts{ByStage: map[domain.StageID]int{}, ByTeam: map[domain.TeamID]int{}}
	rows, err := t.query("open counts", "SELECT stage, team, count(*) FROM items WHERE resolution = '' GROUP BY stage, team")
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var stage, team string
		var n int64
		if err := rows.Scan(&stage, &team, &n); err != nil {
			return out, t.fail("open counts", err)
		}
		out.Total += int(n)
		out.ByStage[domain.StageID(stage)] += int(n)
		out.ByTeam[domain.TeamID(team)] += int(n)
	}
	return out, t.fail("open counts", rows.Err())
}

// Workload implements domain.ReadTx.
func (t *txn) Workload(user domain.UserID) (domain.Workload, error) {
	if user == "" {
		return domain.Workload{}, nil
	}
	rows, err := t.query("workload", "SELECT coalesce(sum(size), 0), count(*) FROM items WHERE resolution = '' AND assignee = $1", string(user))
	if err != nil {
		return domain.Workload{}, err
	}
	defer rows.Close()
	var w domain.Workload
	if rows.Next() {
		var points, n int64
		if err := rows.Scan(&points, &n); err != nil {
			return w, t.fail("workload", err)
		}
		w = domain.Workload{Points: int(points), Items: int(n)}
	}
	return w, t.fail("workload", rows.Err())
}

// Workloads implements domain.ReadTx.
func (t *txn) Workloads(fn func(domain.UserID, domain.Workload) bool) error {
	rows, err := t.query("workloads", `SELECT assignee, sum(size), count(*) FROM items
		WHERE resolution = '' AND assignee <> '' GROUP BY assignee ORDER BY assignee`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var user string
		var points, n int64
		if err := rows.Scan(&user, &points, &n); err != nil {
			return t.fail("workloads", err)
		}
		if !fn(domain.UserID(user), domain.Workload{Points: int(points), Items: int(n)}) {
			return nil
		}
	}
	return t.fail("workloads", rows.Err())
}

const briefColumns = `id, stage, assignee, team, value, urgency, size, pin, due, triaged, created_at,
	blocked_reason <> '', blocked_at, depends_on, depends_since, snoozed_until, stage_entered_at, last_activity_at`

// OpenBriefs implements domain.ReadTx: the columns ranking reads, without the items' text.
func (t *txn) OpenBriefs(stage domain.StageID, fn func(domain.Brief) bool) error {
	q, args := "SELECT "+briefColumns+" FROM items WHERE resolution = ''", []any{}
	if stage != "" {
		q, args = q+" AND stage = $1", []any{string(stage)}
	}
	rows, err := t.query("open briefs", q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b domain.Brief
		var id int64
		var due, created, blockedAt, dependsSince, snoozed, entered, activity *time.Time
		var deps []int64
		if err := rows.Scan(&id, &b.Stage, &b.Assignee, &b.Team, &b.Value, &b.Urgency, &b.Size, &b.Pin, &due, &b.Triaged,
			&created, &b.Blocked, &blockedAt, &deps, &dependsSince, &snoozed, &entered, &activity); err != nil {
			return t.fail("open briefs", err)
		}
		b.ID, b.Due, b.CreatedAt = domain.ItemID(id), dateOf(due), timeOf(created)
		b.BlockedAt, b.DependsSince, b.SnoozedUntil = timeOf(blockedAt), timeOf(dependsSince), timeOf(snoozed)
		b.StageEnteredAt, b.LastActivityAt = timeOf(entered), timeOf(activity)
		for _, d := range deps {
			b.DependsOn = append(b.DependsOn, domain.ItemID(d))
		}
		if !fn(b) {
			return nil
		}
	}
	return t.fail("open briefs", rows.Err())
}

// ClosedBetween implements domain.ReadTx.
func (t *txn) ClosedBetween(from, to time.Time, fn func(domain.Closure) bool) error {
	rows, err := t.query("closed between", `SELECT id, resolution, created_at, done_at, due FROM items
		WHERE resolution <> '' AND done_at >= $1 AND done_at < $2 ORDER BY done_at, id`, from.UTC(), to.UTC())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var c domain.Closure
		var id int64
		var res string
		var created, done, due *time.Time
		if err := rows.Scan(&id, &res, &created, &done, &due); err != nil {
			return t.fail("closed between", err)
		}
		c.ID, c.Resolution, c.CreatedAt, c.DoneAt, c.Due = domain.ItemID(id), domain.Resolution(res), timeOf(created), timeOf(done), dateOf(due)
		if !fn(c) {
			return nil
		}
	}
	return t.fail("closed between", rows.Err())
}

// CountEvents implements domain.ReadTx.
func (t *txn) CountEvents(typ domain.EventType, from, to time.Time) (int, error) {
	rows, err := t.query("count events", "SELECT count(*) FROM events WHERE type = $1 AND at >= $2 AND at < $3", string(typ), from.UTC(), to.UTC())
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, t.fail("count events", err)
		}
	}
	return int(n), t.fail("count events", rows.Err())
}

// OpenItemsByID implements domain.OpenItemsReader: the open items among ids in one query, for the
// digest, which reads whole only the items it reports.
func (t *txn) OpenItemsByID(ids []domain.ItemID, fn func(domain.Item) bool) error {
	if len(ids) == 0 {
		return nil
	}
	arg := make([]int64, len(ids))
	for i, id := range ids {
		arg[i] = int64(id)
	}
	return t.queryItems("SELECT rec FROM items WHERE id = ANY($1) AND resolution = '' ORDER BY id", []any{arg}, fn)
}
