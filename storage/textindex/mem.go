package textindex

import (
	"slices"
)

// MemIndex is a Source in memory, for tests and the quality evaluation. Not safe for concurrent use.
type MemIndex struct {
	postings map[string][]Posting // in Doc order
	docs     map[uint64]Doc
	totalLen uint64
}

// NewMemIndex returns an empty index.
func NewMemIndex() *MemIndex {
	return &MemIndex{postings: map[string][]Posting{}, docs: map[uint64]Doc{}}
}

// Put indexes d as doc, replacing what doc held before.
func (m *MemIndex) Put(doc uint64, d Doc) {
	m.Remove(doc)
	m.docs[doc] = d
	m.totalLen += uint64(d.Len)
	for _, t := range d.Terms {
		ps := m.postings[t.Term]
		i, _ := slices.BinarySearchFunc(ps, doc, func(p Posting, doc uint64) int { return cmpU64(p.Doc, doc) })
		m.postings[t.Term] = slices.Insert(ps, i, Posting{Doc: doc, TF: t.TF, Len: d.Len})
	}
}

// Remove drops doc; a doc that is not indexed is ignored.
func (m *MemIndex) Remove(doc uint64) {
	d, ok := m.docs[doc]
	if !ok {
		return
	}
	delete(m.docs, doc)
	m.totalLen -= uint64(d.Len)
	for _, t := range d.Terms {
		ps := m.postings[t.Term]
		if i, ok := slices.BinarySearchFunc(ps, doc, func(p Posting, doc uint64) int { return cmpU64(p.Doc, doc) }); ok {
			ps = slices.Delete(ps, i, i+1)
		}
		if len(ps) == 0 {
			delete(m.postings, t.Term)
		} else {
			m.postings[t.Term] = ps
		}
	}
}

func (m *MemIndex) Stats() (uint64, uint64, error) { return uint64(len(m.docs)), m.totalLen, nil }

func (m *MemIndex) DocFreq(term string) (uint64, error) { return uint64(len(m.postings[term])), nil }

func (m *MemIndex) Postings(term string, fn func(Posting) bool) error {
	for _, p := range m.postings[term] {
		if !fn(p) {
			return nil
		}
	}
	return nil
}

func (m *MemIndex) Lookup(term string, doc uint64) (Posting, bool, error) {
	ps := m.postings[term]
	i, ok := slices.BinarySearchFunc(ps, doc, func(p Posting, doc uint64) int { return cmpU64(p.Doc, doc) })
	if !ok {
		return Posting{}, false, nil
	}
	return ps[i], true, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
