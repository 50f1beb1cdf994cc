package textindex

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// bruteForce scores every document for every query term, the way Search must end up ranking them.
func bruteForce(m *MemIndex, q Doc, except uint64, limit int, p Params) []Hit {
	n, total, _ := m.Stats()
	avg := float64(total) / float64(n)
	var self float64
	idf := map[string]float64{}
	for _, t := range q.Terms {
		df, _ := m.DocFreq(t.Term)
		idf[t.Term] = math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
		self += idf[t.Term] * tfPart(t.TF, q.Len, avg, p)
	}
	var hits []Hit
	for doc, d := range m.docs {
		if doc == except {
			continue
		}
		var s float64
		for _, t := range d.Terms {
			if w, ok := idf[t.Term]; ok {
				s += w * tfPart(t.TF, d.Len, avg, p)
			}
		}
		if s > 0 && s/self >= p.Threshold {
			hits = append(hits, Hit{doc, s / self})
		}
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Doc, b.Doc)
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	for i := range hits {
		if hits[i].Score < p.RelativeCut*hits[0].Score {
			return hits[:i]
		}
	}
	return hits
}

func randomDoc(r *rand.Rand, vocab int) Doc {
	counts := map[string]uint32{}
	for range 2 + r.IntN(20) {
		// Squaring skews the draw towards low numbers: a few common words and a long tail.
		x := r.Float64()
		counts[fmt.Sprintf("w%d", int(x*x*float64(vocab)))] += uint32(1 + r.IntN(2))
	}
	var d Doc
	for t, n := range counts {
		d.Terms = append(d.Terms, TermFreq{t, n})
		d.Len += n
	}
	slices.SortFunc(d.Terms, func(a, b TermFreq) int { return cmp.Compare(a.Term, b.Term) })
	return d
}

// MaxScore must skip work, never change the answer.
func TestSearchMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	m := NewMemIndex()
	for doc := uint64(1); doc <= 400; doc++ {
		m.Put(doc, randomDoc(r, 80))
	}
	for i := range 300 {
		q := randomDoc(r, 80)
		p := Params{K1: K1, B: B, Threshold: []float64{0, 0.1, 0.2, 0.4}[i%4], RelativeCut: []float64{0, 0.8}[i%2]}
		except := uint64(r.IntN(450))
		limit := 1 + i%6
		got, err := Search(m, q, except, limit, p)
		if err != nil {
			t.Fatal(err)
		}
		want := bruteForce(m, q, except, limit, p)
		if len(got) != len(want) {
			t.Fatalf("query %d (%+v): %d hits, brute force %d\n got %v\nwant %v", i, p, len(got), len(want), got, want)
		}
		for j := range got {
			if got[j].Doc != want[j].Doc || math.Abs(got[j].Score-want[j].Score) > 1e-9 {
				t.Fatalf("query %d hit %d = %+v, brute force %+v", i, j, got[j], want[j])
			}
		}
	}
}

// countingSource counts what Search reads, to show that MaxScore skips common terms' postings.
type countingSource struct {
	*MemIndex
	scanned, lookups int
}

func (c *countingSource) Postings(term string, fn func(Posting) bool) error {
	return c.MemIndex.Postings(term, func(p Posting) bool { c.scanned++; return fn(p) })
}

func (c *countingSource) Lookup(term string, doc uint64) (Posting, bool, error) {
	c.lookups++
	return c.MemIndex.Lookup(term, doc)
}

func TestSearchSkipsCommonTermsPostings(t *testing.T) {
	m := NewMemIndex()
	for doc := uint64(1); doc <= 1000; doc++ {
		d := Doc{Terms: []TermFreq{{"common", 1}, {"filler", 1}}, Len: 2}
		if doc%100 == 0 {
			d = Doc{Terms: []TermFreq{{"common", 1}, {"rare", 1}}, Len: 2}
		}
		m.Put(doc, d)
	}
	src := &countingSource{MemIndex: m}
	hits, err := Search(src, Doc{Terms: []TermFreq{{"common", 1}, {"rare", 1}}, Len: 2}, 0, 3, DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 || hits[0].Doc != 100 {
		t.Errorf("hits = %v, want the first three docs with 'rare'", hits)
	}
	// 'rare' has 10 postings; 'common' (1000) is looked up only for those 10.
	if src.scanned != 10 || src.lookups != 10 {
		t.Errorf("scanned %d postings and looked up %d; want 10 and 10", src.scanned, src.lookups)
	}
}

func TestSearchCutsAndLimits(t *testing.T) {
	m := NewMemIndex()
	m.Put(1, Analyze("VPN down for everyone", "The gateway vpn-eu-1 is dead"))
	m.Put(2, Analyze("VPN outage", "Nobody can reach the gateway vpn-eu-1"))
	m.Put(3, Analyze("Printer jam", "Floor 2"))
	q := Analyze("VPN is down", "The vpn-eu-1 gateway does not answer")
	hits, err := Search(m, q, 0, 3, DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].Doc != 1 || slices.ContainsFunc(hits, func(h Hit) bool { return h.Doc == 3 }) {
		t.Errorf("hits = %v, want item 1 first and never the printer", hits)
	}
	if hits, _ := Search(m, q, 1, 3, DefaultParams); len(hits) == 0 || hits[0].Doc != 2 {
		t.Errorf("except 1: hits = %v, want item 2 first", hits)
	}
	if hits, _ := Search(m, q, 0, 0, DefaultParams); hits != nil {
		t.Errorf("limit 0: %v", hits)
	}
	if hits, _ := Search(m, Analyze("", ""), 0, 3, DefaultParams); hits != nil {
		t.Errorf("empty query: %v", hits)
	}
	if hits, _ := Search(NewMemIndex(), q, 0, 3, DefaultParams); hits != nil {
		t.Errorf("empty index: %v", hits)
	}
	if hits, _ := Search(m, Analyze("kubernetes", ""), 0, 3, DefaultParams); len(hits) != 0 {
		t.Errorf("unknown word: %v", hits)
	}
}

// Only the rarest MaxQueryTerms terms of a long query count.
func TestSearchCapsQueryTerms(t *testing.T) {
	m := NewMemIndex()
	var q Doc
	for i := range 40 {
		term := fmt.Sprintf("t%02d", i)
		// t00 is in one document, t39 in forty: the rarest are the lowest.
		for doc := uint64(1); doc <= uint64(i+1); doc++ {
			d := m.docs[doc]
			d.Terms = append(d.Terms, TermFreq{term, 1})
			d.Len++
			m.Put(doc, d)
		}
		q.Terms = append(q.Terms, TermFreq{term, 1})
		q.Len++
	}
	src := &countingSource{MemIndex: m}
	p := DefaultParams
	p.Threshold = 0
	if _, err := Search(src, q, 0, 3, p); err != nil {
		t.Fatal(err)
	}
	// Terms t00..t31 have 1..32 postings: 528 in all. The 8 commonest are never read.
	if src.scanned != 528 {
		t.Errorf("scanned %d postings, want 528 (only the 32 rarest terms)", src.scanned)
	}
}
