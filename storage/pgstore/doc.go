// Package pgstore keeps workbot's state in PostgreSQL, so that several `workbot run` replicas can
// share one database. It implements the same ports as the bbolt store (domain.Store and bot.Store;
// storage/storetest runs one contract suite against both) plus the replica hooks of bot/ports.go
// (SeenEvent, Lead, Ping). Open it with a postgres:// or postgresql:// URL; the schema is whatever
// search_path names first, so one database can hold several installations.
//
// # Schema
//
// migrations/00001_initial.sql is the reference. In short, one table per bbolt bucket group, with
// real columns and constraints, and an index for each bbolt index:
//
//	items        id PK; typed columns; rec (the item in the bbolt record encoding, see below)
//	             items_open (id) WHERE resolution = ''             ~ idx_open
//	             items_open_by_assignee (assignee, id) WHERE …     ~ idx_assignee
//	             items_open_by_stage (stage, id) WHERE …           ~ idx_stage
//	             items_by_requester (requester, id)                ~ idx_requester
//	handoffs     id PK; handoffs_pending (id) WHERE status is undecided ~ idx_handoff_pending
//	people       id PK (COLLATE "C": byte order, as bbolt)
//	events       seq PK; events_by_time (at NULLS FIRST, seq); events_by_item (item_id, seq)
//	bot_state    (bucket, key) PK                                  ~ kv/<bucket>/<key>
//	outbox       id PK; lease columns claimed_by, claimed_until; partial indexes on unfinished
//	             entries: (id), (lane_key, id), (channel, id)       ~ outbox_pending
//	seen_events  event_id PK, seen_at (SeenEvent); ping (Ping)
//	item_ids, handoff_ids, event_seq, outbox_ids                   sequences ~ bucket sequences
//
// Open work is always read through the partial indexes, so its cost does not grow with closed
// history (TestOpenWorkUsesPartialIndexes checks the plans with EXPLAIN). Reads decode items.rec
// rather than thirty columns: PostgreSQL sends one bytea much faster, and the digest reads every
// open item. The columns remain the truth for SQL, constraints and indexes; a trigger refuses an
// UPDATE that changes them without rec, and Check compares the two. Times in columns are kept to the
// microsecond (PostgreSQL's precision); rec keeps nanoseconds, as bbolt does.
//
// # Transactions and locking
//
// A write transaction costs few round trips: BEGIN goes out with its first statement, writes wait
// for the next read or the commit, and COMMIT goes out with the last writes (conn.go). A database
// error in a deferred write therefore surfaces at the next read or at commit.
//
// View is one REPEATABLE READ, READ ONLY transaction: one snapshot. Update and UpdateState are READ
// COMMITTED write transactions in which reading a record locks it: items and handoffs with SELECT …
// FOR UPDATE (a waiter then reads the version the previous holder committed), people and bot state
// with a transaction-scoped advisory lock taken before the read, which also covers rows that do not
// exist yet. So two operations on one item, person or state key run one after the other, as under
// bbolt's single writer, and a read-modify-write never loses an update (the contract suite runs 50
// concurrent operations on one item). Iterators lock nothing. Deadlocks (40P01) and serialization
// failures (40001) roll back and run fn again, with a random growing backoff, at most
// Options.MaxRetries times; domain.Store allows fn to run more than once. A commit whose outcome is
// unknown (a broken connection) is never retried.
//
// # Sequences
//
// Item, handoff and event numbers and outbox IDs come from sequences. A rolled-back or retried
// transaction does not return its numbers, so IDs (and item keys) can have gaps; they never repeat
// and always increase. Event Seq is strictly increasing; for the events of one item it is also
// commit order, because those are appended by transactions holding the item's row lock.
//
// # Outbox ordering and claims
//
// An outbox ID is taken when the entry's insert reaches the server. Writes are sent with the next
// read or with COMMIT (see conn.go), so most entries get their IDs in the commit batch; still, IDs
// follow the order inserts arrived, not the order transactions commit (T1 takes 10, T2 takes 11, T2
// commits first). The claim rule does not
// assume otherwise: an entry is ready when no other unfinished entry that shares its Key or Channel
// is earlier or under a live claim. Hence per lane at most one entry is in flight whatever the
// commit order; an entry of a transaction that committed before another began has the lower ID and
// is visible whenever the later one is, so it goes first (causal order is kept); and only entries of
// overlapping transactions may go in either order, the order of some serial execution of them.
// The lanes of one item (Key "item:N") are stricter: their entries are enqueued under the item's row
// lock, so ID order is commit order. The domain enqueues last, after taking its locks.
//
// ClaimEffects runs under a transaction-scoped advisory lock, so two replicas never both find a
// lane free, and selects with FOR UPDATE SKIP LOCKED, passing over rows that a finish, release or
// attempt mark is changing. A claim is a lease in the row (claimed_by, claimed_until, on the
// database's clock so replicas with skewed clocks agree): a replica that dies releases its claims
// when their leases run out.
//
// # Replicas
//
// SeenEvent is an upsert on seen_events that reports a repeat within the window. Lead holds a
// session-level advisory lock (the two-key form, which no other lock here uses) on a connection of
// its own, checks it every LeaderCheck and cancels the returned context as soon as a check fails;
// the session's idle_session_timeout ends a frozen leader's session on the server. Likewise a
// writer's sessions have an idle_in_transaction_session_timeout, so a replica cut off mid-transaction
// does not keep its row and advisory locks (the claims lock among them) from the others for long.
// Ping upserts one row, so it fails on a standby or a read-only database.
//
// # Migrations
//
// Versioned SQL files in migrations/, embedded and applied by goose in order, one transaction each,
// under a session advisory lock so replicas starting together migrate once. A database migrated by a
// newer workbot is refused (ErrNewerSchema). A released file is never edited: a change is a new file.
package pgstore
