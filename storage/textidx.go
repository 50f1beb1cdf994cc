package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	stdmaps "maps"
	"slices"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
	"workbot/storage/textindex"
)

// The text index of open items (schema 4): BM25 postings of their titles and details, kept in the
// same transaction as the item by PutItem. Closed items have no entries, so neither its size nor a
// query's cost grows with closed history. See doc.go for the layout.
var (
	bucketTerms     = []byte("idx_terms")
	bucketTermDF    = []byte("idx_term_df")
	bucketTermDocs  = []byte("idx_term_docs")
	bucketTermStats = []byte("idx_term_stats")

	textBuckets = [][]byte{bucketTerms, bucketTermDF, bucketTermDocs, bucketTermStats}

	keyStatDocs     = []byte("docs")
	keyStatLength   = []byte("length")
	keyStatAnalyzer = []byte("analyzer")
)

// textIndex is the index's buckets in one transaction.
type textIndex struct {
	terms, df, docs, stats *bolt.Bucket
}

func openTextIndex(tx *bolt.Tx) (*textIndex, error) {
	ix := &textIndex{
		terms: tx.Bucket(bucketTerms), df: tx.Bucket(bucketTermDF),
		docs: tx.Bucket(bucketTermDocs), stats: tx.Bucket(bucketTermStats),
	}
	if ix.terms == nil || ix.df == nil || ix.docs == nil || ix.stats == nil {
		return nil, fmt.Errorf("storage: the text index buckets are missing; run workbot check")
	}
	return ix, nil
}

// textDoc is an idx_term_docs value: what one open item contributed, so that a change or a close
// removes exactly its old postings, whatever the analyzer would say about the text today.
//
//	8 bytes  FNV-1a 64 of title, 0x00, details: an unchanged text is not analysed again
//	uvarint  length (the sum of the TFs)
//	uvarint  term count N, then N × (uvarint len, term bytes, uvarint TF), in byte order of term
type textDoc struct {
	fingerprint [8]byte
	doc         textindex.Doc
}

func textFingerprint(title, details string) [8]byte {
	h := fnv.New64a()
	h.Write([]byte(title))
	h.Write([]byte{0})
	h.Write([]byte(details))
	var fp [8]byte
	binary.BigEndian.PutUint64(fp[:], h.Sum64())
	return fp
}

func (d textDoc) encode() []byte {
	b := make([]byte, 0, 16+len(d.doc.Terms)*12)
	b = append(b, d.fingerprint[:]...)
	b = binary.AppendUvarint(b, uint64(d.doc.Len))
	b = binary.AppendUvarint(b, uint64(len(d.doc.Terms)))
	for _, t := range d.doc.Terms {
		b = binary.AppendUvarint(b, uint64(len(t.Term)))
		b = append(b, t.Term...)
		b = binary.AppendUvarint(b, uint64(t.TF))
	}
	return b
}

func decodeTextDoc(b []byte) (textDoc, error) {
	var d textDoc
	if len(b) < 8 {
		return d, fmt.Errorf("text doc of %d bytes: %w", len(b), errCorrupt)
	}
	copy(d.fingerprint[:], b)
	r := uvarintReader{b: b[8:]}
	d.doc.Len = uint32(r.next())
	n := r.next()
	if n > uint64(len(r.b)) {
		return d, fmt.Errorf("text doc claims %d terms: %w", n, errCorrupt)
	}
	d.doc.Terms = make([]textindex.TermFreq, 0, n)
	for range n {
		l := r.next()
		if r.bad || l > uint64(len(r.b)) {
			return d, fmt.Errorf("text doc term: %w", errCorrupt)
		}
		term := string(r.b[:l])
		r.b = r.b[l:]
		d.doc.Terms = append(d.doc.Terms, textindex.TermFreq{Term: term, TF: uint32(r.next())})
	}
	if r.bad || len(r.b) != 0 {
		return d, fmt.Errorf("text doc: %w", errCorrupt)
	}
	return d, nil
}

type uvarintReader struct {
	b   []byte
	bad bool
}

func (r *uvarintReader) next() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// posting values are uvarint TF then uvarint document length: a query scores a posting without
// reading the document.
func encodePosting(tf, docLen uint32) []byte {
	b := binary.AppendUvarint(make([]byte, 0, 6), uint64(tf))
	return binary.AppendUvarint(b, uint64(docLen))
}

func decodePosting(v []byte) (tf, docLen uint32, ok bool) {
	r := uvarintReader{b: v}
	tf, docLen = uint32(r.next()), uint32(r.next())
	return tf, docLen, !r.bad && len(r.b) == 0
}

func (ix *textIndex) stat(key []byte) uint64 {
	if v := ix.stats.Get(key); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (ix *textIndex) setStat(key []byte, v uint64) error {
	return ix.stats.Put(key, binary.BigEndian.AppendUint64(nil, v))
}

func (ix *textIndex) addDF(term string, delta int) error {
	var df uint64
	if v := ix.df.Get([]byte(term)); v != nil {
		df, _ = binary.Uvarint(v)
	}
	df = uint64(int64(df) + int64(delta))
	if df == 0 {
		return ix.df.Delete([]byte(term))
	}
	return ix.df.Put([]byte(term), binary.AppendUvarint(nil, df))
}

// put makes the index hold rec's text if rec is open and nothing of it otherwise. It leaves an open
// item whose title and details did not change alone, so most writes (stage moves, assignments) cost
// one lookup here.
func (ix *textIndex) put(rec itemRecord) error {
	key := seqKey(rec.ID)
	prev := ix.docs.Get(key)
	if !rec.open() {
		if prev == nil {
			return nil
		}
		return ix.remove(rec.ID, prev)
	}
	fp := textFingerprint(rec.Title, rec.Details)
	if prev != nil {
		if bytes.Equal(prev[:min(8, len(prev))], fp[:]) {
			return nil
		}
		if err := ix.remove(rec.ID, prev); err != nil {
			return err
		}
	}
	return ix.add(rec.ID, textDoc{fingerprint: fp, doc: textindex.Analyze(rec.Title, rec.Details)})
}

func (ix *textIndex) add(id uint64, d textDoc) error {
	for _, t := range d.doc.Terms {
		if err := ix.terms.Put(groupKey(t.Term, id), encodePosting(t.TF, d.doc.Len)); err != nil {
			return err
		}
		if err := ix.addDF(t.Term, 1); err != nil {
			return err
		}
	}
	if err := ix.docs.Put(seqKey(id), d.encode()); err != nil {
		return err
	}
	if err := ix.setStat(keyStatDocs, ix.stat(keyStatDocs)+1); err != nil {
		return err
	}
	return ix.setStat(keyStatLength, ix.stat(keyStatLength)+uint64(d.doc.Len))
}

func (ix *textIndex) remove(id uint64, prev []byte) error {
	old, err := decodeTextDoc(prev)
	if err != nil {
		return fmt.Errorf("idx_term_docs/%d: %w", id, err)
	}
	for _, t := range old.doc.Terms {
		if err := ix.terms.Delete(groupKey(t.Term, id)); err != nil {
			return err
		}
		if err := ix.addDF(t.Term, -1); err != nil {
			return err
		}
	}
	if err := ix.docs.Delete(seqKey(id)); err != nil {
		return err
	}
	if err := ix.setStat(keyStatDocs, ix.stat(keyStatDocs)-1); err != nil {
		return err
	}
	return ix.setStat(keyStatLength, ix.stat(keyStatLength)-uint64(old.doc.Len))
}

// indexText is PutItem's hook: it brings the text index in line with the item about to be stored.
func (t *txn) indexText(rec itemRecord) error {
	ix, err := openTextIndex(t.btx)
	if err != nil {
		return err
	}
	return ix.put(rec)
}

// The read side: textindex.Source over the buckets.

func (ix *textIndex) Stats() (uint64, uint64, error) {
	return ix.stat(keyStatDocs), ix.stat(keyStatLength), nil
}

func (ix *textIndex) DocFreq(term string) (uint64, error) {
	v := ix.df.Get([]byte(term))
	if v == nil {
		return 0, nil
	}
	df, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, fmt.Errorf("idx_term_df/%q: %w", term, errCorrupt)
	}
	return df, nil
}

func (ix *textIndex) Postings(term string, fn func(textindex.Posting) bool) error {
	prefix := groupPrefix(term)
	c := ix.terms.Cursor()
	for k, v := c.Seek(prefix); hasPrefix(k, prefix); k, v = c.Next() {
		p, err := posting(term, k[len(prefix):], v)
		if err != nil {
			return err
		}
		if !fn(p) {
			return nil
		}
	}
	return nil
}

func (ix *textIndex) Lookup(term string, doc uint64) (textindex.Posting, bool, error) {
	key := groupKey(term, doc)
	v := ix.terms.Get(key)
	if v == nil {
		return textindex.Posting{}, false, nil
	}
	p, err := posting(term, key[len(key)-keyLen:], v)
	return p, err == nil, err
}

func posting(term string, seq, v []byte) (textindex.Posting, error) {
	doc, ok := keySeq(seq)
	tf, docLen, vok := decodePosting(v)
	if !ok || !vok {
		return textindex.Posting{}, fmt.Errorf("idx_terms/%q/%x: %w", term, seq, errCorrupt)
	}
	return textindex.Posting{Doc: doc, TF: tf, Len: docLen}, nil
}

// maxQueryText bounds the bytes of text SimilarOpenItems analyses.
const maxQueryText = 16 << 10

// SimilarOpenItems ranks open items against text with BM25; see domain.ReadTx.
func (t *txn) SimilarOpenItems(text string, except domain.ItemID, limit int) ([]domain.Match, error) {
	ix, err := openTextIndex(t.btx)
	if err != nil {
		return nil, err
	}
	// The intake form caps a title and details at 3,150 characters; anything longer is pasted text
	// whose tail adds nothing but analysis time.
	if len(text) > maxQueryText {
		text = text[:maxQueryText]
	}
	hits, err := textindex.Search(ix, textindex.AnalyzeQuery(text), uint64(except), limit, textindex.DefaultParams)
	if err != nil || len(hits) == 0 {
		return nil, err
	}
	out := make([]domain.Match, len(hits))
	for i, h := range hits {
		out[i] = domain.Match{Item: domain.ItemID(h.Doc), Score: h.Score}
	}
	return out, nil
}

// migrateTextIndex (schema 4) creates the text index and fills it from the open items. It reads
// idx_open, so a long closed history costs it nothing. bbolt splits pages only at commit, so putting
// 100k items' postings one item at a time into a single transaction would insert at random places in
// ever larger nodes; the postings are collected and written in key order instead.
func migrateTextIndex(tx *bolt.Tx) error {
	for _, name := range textBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	ix, err := openTextIndex(tx)
	if err != nil {
		return err
	}
	if err := ix.setStat(keyStatAnalyzer, textindex.AnalyzerVersion); err != nil {
		return err
	}
	type pending struct {
		key        []byte
		tf, docLen uint32
	}
	var postings []pending
	df := map[string]uint64{}
	var docs, length uint64
	err = tx.Bucket(bucketOpen).ForEach(func(k, v []byte) error {
		r, err := decodeItem(v)
		if err != nil {
			return fmt.Errorf("idx_open/%x: %w", k, err)
		}
		d := textDoc{fingerprint: textFingerprint(r.Title, r.Details), doc: textindex.Analyze(r.Title, r.Details)}
		for _, t := range d.doc.Terms {
			postings = append(postings, pending{groupKey(t.Term, r.ID), t.TF, d.doc.Len})
			df[t.Term]++
		}
		docs++
		length += uint64(d.doc.Len)
		return ix.docs.Put(seqKey(r.ID), d.encode()) // idx_open is in ID order already
	})
	if err != nil {
		return err
	}
	slices.SortFunc(postings, func(a, b pending) int { return bytes.Compare(a.key, b.key) })
	for _, p := range postings {
		if err := ix.terms.Put(p.key, encodePosting(p.tf, p.docLen)); err != nil {
			return err
		}
	}
	for _, term := range slices.Sorted(stdmaps.Keys(df)) {
		if err := ix.df.Put([]byte(term), binary.AppendUvarint(nil, df[term])); err != nil {
			return err
		}
	}
	if err := ix.setStat(keyStatDocs, docs); err != nil {
		return err
	}
	return ix.setStat(keyStatLength, length)
}
