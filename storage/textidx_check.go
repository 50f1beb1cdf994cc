package storage

import (
	stdmaps "maps"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"workbot/storage/textindex"
)

// checkTextIndex verifies the text index against the open items in both directions: every open item
// has its entry, built from its current text, with every posting in place; every entry, posting and
// document frequency belongs to an open item that wants it; the counters add up.
func checkTextIndex(tx *bolt.Tx, p *problems) {
	ix, err := openTextIndex(tx)
	if err != nil {
		p.addf("%v", err)
		return
	}
	items := tx.Bucket(bucketItems)
	open := tx.Bucket(bucketOpen)
	// Terms are compared with a fresh analysis only when the index was built by today's rules; a
	// different analyzer is one problem, not one per item.
	sameAnalyzer := true
	if v := ix.stat(keyStatAnalyzer); v != textindex.AnalyzerVersion {
		p.addf("idx_term_stats/analyzer is %d, this workbot analyses text with version %d: the index needs a rebuild", v, textindex.AnalyzerVersion)
		sameAnalyzer = false
	}

	var docs, length uint64
	c := open.Cursor()
	for k, v := c.First(); k != nil && !p.full(); k, v = c.Next() {
		id, ok := keySeq(k)
		r, err := decodeItem(v)
		if !ok || err != nil {
			continue // reported with idx_open
		}
		dv := ix.docs.Get(k)
		if dv == nil {
			p.addf("items/%d is open but missing from idx_term_docs", id)
			continue
		}
		d, err := decodeTextDoc(dv)
		if err != nil {
			p.addf("idx_term_docs/%d: %v", id, err)
			continue
		}
		docs++
		length += uint64(d.doc.Len)
		if d.fingerprint != textFingerprint(r.Title, r.Details) {
			p.addf("idx_term_docs/%d was built from another title or details than the item's", id)
		} else if sameAnalyzer && !sameDoc(d.doc, textindex.Analyze(r.Title, r.Details)) {
			p.addf("idx_term_docs/%d does not hold the terms of the item's text", id)
		}
		for _, t := range d.doc.Terms {
			pv := ix.terms.Get(groupKey(t.Term, id))
			if pv == nil {
				p.addf("idx_terms/%q/%d is missing (item %d holds the term)", t.Term, id, id)
				continue
			}
			if tf, l, ok := decodePosting(pv); !ok || tf != t.TF || l != d.doc.Len {
				p.addf("idx_terms/%q/%d is TF %d length %d, the item's entry says %d and %d", t.Term, id, tf, l, t.TF, d.doc.Len)
			}
		}
	}

	dc := ix.docs.Cursor()
	for k, _ := dc.First(); k != nil && !p.full(); k, _ = dc.Next() {
		switch {
		case len(k) != keyLen:
			p.addf("idx_term_docs/%x: malformed key", k)
		case items.Get(k) == nil:
			p.addf("idx_term_docs/%x points to a missing item", k)
		case open.Get(k) == nil:
			p.addf("idx_term_docs/%x lists an item that is not open", k)
		}
	}

	perTerm := map[string]uint64{}
	tc := ix.terms.Cursor()
	for k, v := tc.First(); k != nil && !p.full(); k, v = tc.Next() {
		term, id, ok := splitGroupKey(k)
		if !ok {
			p.addf("idx_terms/%x: malformed key", k)
			continue
		}
		perTerm[term]++
		if _, _, ok := decodePosting(v); !ok {
			p.addf("idx_terms/%q/%d: malformed value %x", term, id, v)
		}
		dv := ix.docs.Get(seqKey(id))
		if dv == nil {
			p.addf("idx_terms/%q/%d points to an item with no idx_term_docs entry", term, id)
			continue
		}
		d, err := decodeTextDoc(dv)
		if err != nil {
			continue // reported with the entry
		}
		if _, found := slices.BinarySearchFunc(d.doc.Terms, term, func(t textindex.TermFreq, s string) int { return strings.Compare(t.Term, s) }); !found {
			p.addf("idx_terms/%q/%d: item %d does not hold the term", term, id, id)
		}
	}

	fc := ix.df.Cursor()
	for k, v := fc.First(); k != nil && !p.full(); k, v = fc.Next() {
		df, ok := decodeCount(v)
		if want := perTerm[string(k)]; !ok || df != want {
			p.addf("idx_term_df/%q is %d, the term has %d postings", k, df, want)
		}
		delete(perTerm, string(k))
	}
	for _, term := range slices.Sorted(stdmaps.Keys(perTerm)) {
		p.addf("idx_term_df/%q is missing; the term has %d postings", term, perTerm[term])
	}

	if p.full() {
		return // the walks stopped early, so the sums are partial
	}
	if n := ix.stat(keyStatDocs); n != docs {
		p.addf("idx_term_stats/docs is %d, %d open items are indexed", n, docs)
	}
	if n := ix.stat(keyStatLength); n != length {
		p.addf("idx_term_stats/length is %d, the indexed lengths add up to %d", n, length)
	}
}

func decodeCount(v []byte) (uint64, bool) {
	r := uvarintReader{b: v}
	n := r.next()
	return n, !r.bad && len(r.b) == 0
}

func sameDoc(a, b textindex.Doc) bool {
	return a.Len == b.Len && slices.Equal(a.Terms, b.Terms)
}
