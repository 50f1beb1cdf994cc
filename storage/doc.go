// Package storage keeps workbot's state in one bbolt file and implements domain.Store on it.
//
// # Bucket tree
//
// Keys written <seq BE> are uint64 sequence numbers, big-endian so byte order is numeric order.
// <group> in an index key is uvarint(len(s)) followed by s, so one user's prefix is never the
// prefix of another's ("U1" and "U12").
//
//	meta/schema_version                    uint64 BE (see migrations in migrate.go)
//	items/<seq BE>                         itemRecord; bucket sequence = last item ID
//	idx_open/<seq BE>                      itemRecord, a byte-for-byte copy of items/<seq> for open items
//	idx_assignee/<group user><seq BE>      empty; open items only; user "" = unassigned
//	idx_stage/<group stage><seq BE>        empty; open items only
//	idx_requester/<group user><seq BE>     empty; every item, open or closed (schema 2)
//	handoffs/<seq BE>                      handoffRecord; bucket sequence = last handoff ID
//	idx_handoff_pending/<seq BE>           empty; handoffs awaiting approval or a decision
//	people/<user ID>                       personRecord
//	event_log/<time BE><seq BE>            eventRecord v2; append-only; bucket sequence = last Seq (schema 6)
//	event_log_by_item/<item BE><chunk BE4> references to the item's events, up to 64 per key (schema 6)
//	agg_open/<kind><name>                  open items in all, per stage, per team; per assignee points
//	                                       and items (schema 5, aggregates.go)
//	idx_closed/<DoneAt BE><seq BE>         closureRecord of every closed item (schema 5)
//	agg_events/<hour BE><type>             events per hour and type (schema 5)
//	kv/<bucket>/<key>                      raw bytes owned by the bot (message refs, digest slots, markers)
//	outbox_pending/<seq BE>                outboxRecord of an unfinished effect; bucket sequence = last ID
//	outbox/<seq BE>                        outboxRecord of a finished effect, with its result (outbox.go)
//	idx_terms/<group term><seq BE>         uvarint TF, uvarint document length; open items only (schema 4)
//	idx_term_df/<term>                     uvarint: how many open items hold the term (schema 4)
//	idx_term_docs/<seq BE>                 textDoc: the open item's text fingerprint, length and terms (schema 4)
//	idx_term_stats/docs, /length           uint64 BE: open items indexed, the sum of their lengths (schema 4)
//	idx_term_stats/analyzer                uint64 BE: textindex.AnalyzerVersion that built the index
//
// time is UnixNano with the sign bit flipped (0 for the zero time), so byte order is time order.
// Versions 1–5 kept events as events/<seq BE> with the indexes events_by_time/<time><seq> and
// events_by_item/<item><seq>; migration 6 (migrate_events.go) moves them.
//
// idx_open is a covering index: it holds the whole record, not just the key, so reading every open
// item (the digest, App Home) is one sequential scan whose cost does not grow with closed history.
// The price is writing open items twice. The aggregates answer what would otherwise take that scan
// (loads, counts) or a walk over a period's events (flow metrics).
//
// The idx_term* buckets are the BM25 index behind SimilarOpenItems (package textindex does the
// analysis and scoring). A term is a stemmed word of an item's title (counted twice) and details.
// Postings carry the document length, so a query scores them without reading the item; idx_term_docs
// remembers which terms an item contributed, so a change of text or a close removes exactly those.
// Closed items have no entries at all. A change to textindex's analysis needs a migration that
// rebuilds these buckets (migrateTextIndex does it from idx_open).
//
// Every PutItem, PutHandoff and AppendEvent updates the record and its index entries in the same
// transaction; CheckConsistency and Check verify both directions (every record has its entries, every
// entry points to a record that wants it).
// Every PutItem, PutHandoff and AppendEvent updates the record, its index entries and the aggregates
// in the same transaction; CheckConsistency and Check verify both directions (every record has its
// entries, every entry points to a record that wants it) and recount every aggregate.
//
// Buckets whose keys arrive at their end (the log, indexes by time, items, the outbox) fill their
// pages before starting a new one instead of splitting them in half (fillPercent in keys.go): with
// bbolt's default a year of appends leaves every page half empty.
//
// # Record encoding
//
// Records are private types (itemRecord, handoffRecord, personRecord, eventRecord) converted to and
// from domain types, so a rename in domain cannot change the file. They are encoded in a compact
// binary form, because the digest decodes every open item and JSON costs several microseconds per
// record:
//
//	byte     record version (1 for all record types today)
//	uvarint  field count N
//	N fields in a fixed order per type (see the encode methods in records.go):
//	  uint     uvarint                      int      zigzag varint
//	  bool     one byte, 0 or 1             string   uvarint length, then bytes (UTF-8)
//	  time     uvarint: 0 = zero time, else zigzag(UnixNano)+1; decoded in UTC
//	  date     zigzag varint year, uvarint month, uvarint day (zero date = 0,0,0)
//	  []ItemID uvarint count, then uvarint each
//	  changes  uvarint count, then field, before, after as strings
//
// Event records (version 2, eventlog.go) leave out Seq and At, which their key holds, and write the
// event type and changed fields as small codes from fixed, append-only tables.
//
// Fields are only ever appended. A reader fills fields beyond N with zero values (an older record)
// and ignores bytes after the fields it knows (a newer record). A change in a field's meaning needs
// a new record version and a migration.
//
// # Transactions
//
// Update groups concurrent writers into one commit with bbolt's Batch (MaxBatchDelay, 2 ms by
// default), so a function may run more than once; domain.Store allows that. View runs on a snapshot.
// Byte slices from bbolt are copied before they leave a transaction.
package storage
