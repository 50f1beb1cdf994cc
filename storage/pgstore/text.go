package pgstore

import (
	"encoding/binary"
	"hash/fnv"

	"workbot/domain"
	"workbot/storage/textindex"
)

// The message a request came from, and the text index of open items: the same rules as the bbolt
// store (storage/source.go, storage/textidx.go), on tables from migration 00002.

// ItemBySource implements domain.ReadTx.
func (t *txn) ItemBySource(key string) (domain.ItemID, bool, error) {
	if key == "" {
		return 0, false, nil
	}
	rows, err := t.query("item by source", "SELECT id FROM items WHERE source_key = $1", key)
	if err != nil {
		return 0, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return 0, false, t.fail("item by source", rows.Err())
	}
	var id int64
	if err := rows.Scan(&id); err != nil {
		return 0, false, t.fail("item by source", err)
	}
	return domain.ItemID(id), true, nil
}

// sourceArg is the item's source key for its column, NULL without one.
func sourceArg(it domain.Item) any {
	if it.Source.IsZero() {
		return nil
	}
	return it.Source.Key()
}

// State implements domain.Tx: the adapters' state in this same transaction.
func (t *txn) State() domain.StateTx { return stateTx{t: t} }

func textFingerprint(title, details string) []byte {
	h := fnv.New64a()
	h.Write([]byte(title))
	h.Write([]byte{0})
	h.Write([]byte(details))
	return binary.BigEndian.AppendUint64(nil, h.Sum64())
}

// indexText keeps the item's postings in line with it, in the writes of PutItem: an open item whose
// text changed gets its postings replaced; a closed one loses them. Whether the text changed is
// decided by the database (the stored fingerprint), so no read is needed before the write.
func (t *txn) indexText(it domain.Item) {
	id := int64(it.ID)
	if !it.Open() {
		t.later("DELETE FROM text_postings WHERE item_id = $1", id)
		t.later("DELETE FROM text_docs WHERE item_id = $1", id)
		return
	}
	doc := textindex.Analyze(it.Title, it.Details)
	fp := textFingerprint(it.Title, it.Details)
	terms := make([]string, len(doc.Terms))
	tfs := make([]int32, len(doc.Terms))
	for i, tf := range doc.Terms {
		terms[i], tfs[i] = tf.Term, int32(tf.TF)
	}
	same := "EXISTS (SELECT 1 FROM text_docs WHERE item_id = $1 AND fingerprint = $2 AND analyzer = $3)"
	t.later("DELETE FROM text_postings WHERE item_id = $1 AND NOT "+same, id, fp, textindex.AnalyzerVersion)
	t.later(`INSERT INTO text_postings (term, item_id, tf, len)
		SELECT term, $1, tf, $5 FROM unnest($4::text[], $6::int[]) AS p(term, tf) WHERE NOT `+same,
		id, fp, textindex.AnalyzerVersion, terms, int32(doc.Len), tfs)
	t.later(`INSERT INTO text_docs (item_id, fingerprint, len, analyzer) VALUES ($1, $2, $3, $4)
		ON CONFLICT (item_id) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, len = EXCLUDED.len, analyzer = EXCLUDED.analyzer
		WHERE text_docs.fingerprint <> EXCLUDED.fingerprint OR text_docs.analyzer <> EXCLUDED.analyzer`,
		id, fp, int32(doc.Len), textindex.AnalyzerVersion)
}

// maxQueryText bounds the bytes of text SimilarOpenItems analyses, as in the bbolt store.
const maxQueryText = 16 << 10

// SimilarOpenItems implements domain.ReadTx with the same analysis and scoring as the bbolt store.
func (t *txn) SimilarOpenItems(text string, except domain.ItemID, limit int) ([]domain.Match, error) {
	if len(text) > maxQueryText {
		text = text[:maxQueryText]
	}
	q := textindex.AnalyzeQuery(text)
	if limit <= 0 || len(q.Terms) == 0 {
		return nil, nil
	}
	src := &textSource{t: t, df: map[string]uint64{}, lookups: map[textKey]textindex.Posting{}}
	terms := make([]string, len(q.Terms))
	for i, tf := range q.Terms {
		terms[i] = tf.Term
	}
	// One round trip for every term's document frequency, which Search asks first.
	rows, err := t.query("text frequencies", "SELECT term, count(*) FROM text_postings WHERE term = ANY($1) GROUP BY term", terms)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var term string
		var n int64
		if err := rows.Scan(&term, &n); err != nil {
			rows.Close()
			return nil, t.fail("text frequencies", err)
		}
		src.df[term] = uint64(n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, t.fail("text frequencies", err)
	}
	hits, err := textindex.Search(src, q, uint64(except), limit, textindex.DefaultParams)
	if err != nil || len(hits) == 0 {
		return nil, err
	}
	out := make([]domain.Match, len(hits))
	for i, h := range hits {
		out[i] = domain.Match{Item: domain.ItemID(h.Doc), Score: h.Score}
	}
	return out, nil
}

// textSource is textindex.Source over the text tables, inside one transaction.
type textSource struct {
	t       *txn
	df      map[string]uint64
	lookups map[textKey]textindex.Posting
}

type textKey struct {
	term string
	doc  uint64
}

func (s *textSource) Stats() (uint64, uint64, error) {
	rows, err := s.t.query("text stats", "SELECT count(*), coalesce(sum(len), 0) FROM text_docs")
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	var n, total int64
	if rows.Next() {
		if err := rows.Scan(&n, &total); err != nil {
			return 0, 0, s.t.fail("text stats", err)
		}
	}
	return uint64(n), uint64(total), s.t.fail("text stats", rows.Err())
}

func (s *textSource) DocFreq(term string) (uint64, error) { return s.df[term], nil }

func (s *textSource) Postings(term string, fn func(textindex.Posting) bool) error {
	rows, err := s.t.query("text postings", "SELECT item_id, tf, len FROM text_postings WHERE term = $1 ORDER BY item_id", term)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var tf, n int32
		if err := rows.Scan(&id, &tf, &n); err != nil {
			return s.t.fail("text postings", err)
		}
		if !fn(textindex.Posting{Doc: uint64(id), TF: uint32(tf), Len: uint32(n)}) {
			return nil
		}
	}
	return s.t.fail("text postings", rows.Err())
}

func (s *textSource) Lookup(term string, doc uint64) (textindex.Posting, bool, error) {
	k := textKey{term, doc}
	if p, ok := s.lookups[k]; ok {
		return p, p.Doc != 0, nil
	}
	rows, err := s.t.query("text lookup", "SELECT tf, len FROM text_postings WHERE term = $1 AND item_id = $2", term, int64(doc))
	if err != nil {
		return textindex.Posting{}, false, err
	}
	defer rows.Close()
	var p textindex.Posting
	if rows.Next() {
		var tf, n int32
		if err := rows.Scan(&tf, &n); err != nil {
			return textindex.Posting{}, false, s.t.fail("text lookup", err)
		}
		p = textindex.Posting{Doc: doc, TF: uint32(tf), Len: uint32(n)}
	}
	s.lookups[k] = p
	return p, p.Doc != 0, s.t.fail("text lookup", rows.Err())
}
