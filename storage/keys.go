package storage

import (
	"bytes"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. They are part of the file format: never rename one without a migration.
var (
	bucketMeta           = []byte("meta")
	bucketItems          = []byte("items")
	bucketOpen           = []byte("idx_open")
	bucketByAssignee     = []byte("idx_assignee")
	bucketByStage        = []byte("idx_stage")
	bucketByRequester    = []byte("idx_requester")
	bucketHandoffs       = []byte("handoffs")
	bucketHandoffPending = []byte("idx_handoff_pending")
	bucketPeople         = []byte("people")
	bucketEvents         = []byte("events")
	bucketEventsByTime   = []byte("events_by_time")
	bucketEventsByItem   = []byte("events_by_item")
	bucketKV             = []byte("kv")
	bucketOutbox         = []byte("outbox")
	bucketOutboxPending  = []byte("outbox_pending")
	keySchemaVersion     = []byte("schema_version")
)

// currentBuckets are the top-level buckets of the current schema.
var currentBuckets = [][]byte{
	bucketMeta, bucketItems, bucketOpen, bucketByAssignee, bucketByStage, bucketByRequester,
	bucketHandoffs, bucketHandoffPending, bucketPeople, bucketKV, bucketOutbox, bucketOutboxPending,
	bucketAggOpen, bucketClosed, bucketAggEvents, bucketEventLog, bucketEventByItem, bucketDict, bucketDictIDs, bucketRank,
}

// fillPercent is how full bbolt fills a bucket's pages before it splits them (it must be set on every
// write transaction's bucket handle). bbolt's default, half, suits keys that land anywhere. Buckets
// whose new keys arrive at their end would stay half empty for ever at that setting: the log and the
// indexes by time keep a little room for a key that arrives slightly out of order; items, references
// and outbox entries keep more, since their values grow after they are written.
func fillPercent(name []byte) float64 {
	switch string(name) {
	case string(bucketEventLog), string(bucketClosed), string(bucketAggEvents), string(bucketDictIDs):
		return appendFill
	case string(bucketItems), string(bucketEventByItem), string(bucketOutbox), string(bucketOutboxPending):
		// outbox_pending: entries are appended in key order and leave in roughly the same order.
		return 0.9
	}
	return bolt.DefaultFillPercent
}

const (
	keyLen = 8 // a big-endian uint64 sequence number
	// maxIndexedLen bounds user, stage and KV names so they fit bbolt's key limit with room to spare.
	maxIndexedLen = 1024
)

func seqKey(n uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, keyLen), n)
}

func keySeq(k []byte) (uint64, bool) {
	if len(k) != keyLen {
		return 0, false
	}
	return binary.BigEndian.Uint64(k), true
}

// groupPrefix starts a composite index key: uvarint(len(s)) then s. The length makes the prefix of one
// value never a prefix of another ("U1" vs "U12"), so a prefix scan finds exactly one group.
func groupPrefix(s string) []byte {
	p := make([]byte, 0, binary.MaxVarintLen64+len(s)+keyLen)
	p = binary.AppendUvarint(p, uint64(len(s)))
	return append(p, s...)
}

// groupKey is groupPrefix(s) followed by the big-endian sequence number.
func groupKey(s string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(groupPrefix(s), seq)
}

// splitGroupKey undoes groupKey; ok is false for a key that is not shaped like one.
func splitGroupKey(k []byte) (group string, seq uint64, ok bool) {
	n, w := binary.Uvarint(k)
	if w <= 0 || uint64(len(k)-w) != n+uint64(keyLen) {
		return "", 0, false
	}
	return string(k[w : w+int(n)]), binary.BigEndian.Uint64(k[w+int(n):]), true
}

// timeKeyPrefix orders times as unsigned big-endian bytes: flipping the sign bit of the Unix
// nanoseconds makes negative times sort before positive ones. The zero time sorts first of all.
func timeKeyPrefix(t time.Time) []byte {
	var v uint64
	if !t.IsZero() {
		v = uint64(t.UnixNano()) ^ (1 << 63)
	}
	return binary.BigEndian.AppendUint64(make([]byte, 0, 2*keyLen), v)
}

func eventTimeKey(at time.Time, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(timeKeyPrefix(at), seq)
}

func hasPrefix(k, prefix []byte) bool { return k != nil && bytes.HasPrefix(k, prefix) }
