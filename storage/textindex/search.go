package textindex

import (
	"cmp"
	"math"
	"slices"
)

// BM25 parameters and the threshold, chosen with the quality test (see docs/benchmarks.md).
const (
	// K1 is how fast a term's repeats stop counting.
	K1 = 1.2
	// B is how much a long document is discounted.
	B = 0.75
	// Threshold is the least normalised score that is shown. Below it, a match is more often a
	// request that shares words with the query than the same request, and showing nothing is better
	// than showing noise.
	Threshold = 0.20
	// RelativeCut drops a match that scores less than this share of the best match. When one
	// request clearly matches, the weaker ones behind it are mostly requests that share its words.
	RelativeCut = 0.8
	// MaxQueryTerms bounds the work of one query: only the query's rarest terms are scored. A long
	// pasted description would otherwise scan the postings of every common word in it.
	MaxQueryTerms = 32
	// Budget bounds the work of one query in postings read, so that a query made only of the
	// commonest words stays within the latency target at 100k open items (see docs/benchmarks.md).
	Budget = 16_000
)

// Posting is one document's entry in a term's posting list. Len is the document's length, kept in
// every posting so scoring never has to look the document up.
type Posting struct {
	Doc uint64
	TF  uint32
	Len uint32
}

// Source is an index's read side: open documents only, in whatever store keeps them.
type Source interface {
	// Stats returns the number of documents and the sum of their lengths.
	Stats() (docs, totalLen uint64, err error)
	// DocFreq returns how many documents hold term.
	DocFreq(term string) (uint64, error)
	// Postings visits term's postings in document order until fn returns false.
	Postings(term string, fn func(Posting) bool) error
	// Lookup returns doc's posting for term, or false if doc does not hold term.
	Lookup(term string, doc uint64) (Posting, bool, error)
}

// Hit is a document and its normalised score.
type Hit struct {
	Doc   uint64
	Score float64
}

// Params are the scoring knobs. Production uses DefaultParams; the quality test sweeps them.
type Params struct {
	K1, B, Threshold, RelativeCut float64
	MaxQueryTerms                 int
	// Budget bounds the postings one query reads (a point lookup counts as lookupCost); 0 means no
	// bound. See Search.
	Budget int
	// QueryTF weighs each query term by its frequency in the query (so title words count double)
	// instead of once.
	QueryTF bool
}

// DefaultParams are the constants above.
var DefaultParams = Params{K1: K1, B: B, Threshold: Threshold, RelativeCut: RelativeCut, MaxQueryTerms: MaxQueryTerms, Budget: Budget}

// Search returns up to limit documents whose normalised score is at least p.Threshold and at least
// p.RelativeCut times the best one's, best first (ties: lower Doc first). The document except is
// left out before either cut, so an indexed item can look for its own duplicates; 0 excludes none.
//
// The normalised score is the document's BM25 score divided by the query's BM25 score against
// itself (as if the query were a document of the index), so a document with the query's exact text
// scores 1 whatever the query's length. That is what makes one threshold work for a two-word title
// and a paragraph alike. As usual in BM25, a term's repeats in the query do not add to a document's
// score; they only shape the self-score.
//
// The work grows with the postings of the query's terms and nothing else. Terms are visited as in
// MaxScore: the common terms whose best possible contributions add up to less than the threshold
// cannot lift a document over it on their own, so their postings are never scanned for new
// documents; they only add to documents that a rarer term found. p.Budget bounds the postings read
// in all; see the loops below for what a query past it gives up.
func Search(src Source, query Doc, except uint64, limit int, p Params) ([]Hit, error) {
	if limit <= 0 || len(query.Terms) == 0 {
		return nil, nil
	}
	n, total, err := src.Stats()
	if err != nil || n == 0 {
		return nil, err
	}
	avgLen := float64(total) / float64(n)

	type qterm struct {
		term    string
		tf      uint32  // in the query
		df      uint64  // documents holding the term
		idf, ub float64 // ub: the most this term can add to any document's score
	}
	terms := make([]qterm, 0, len(query.Terms))
	for _, t := range query.Terms {
		df, err := src.DocFreq(t.Term)
		if err != nil {
			return nil, err
		}
		// Lucene's BM25 idf: never negative, so a term in most documents adds a little, not less than nothing.
		idf := math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
		w := 1.0
		if p.QueryTF {
			w = float64(t.TF)
		}
		terms = append(terms, qterm{term: t.Term, tf: t.TF, df: df, idf: idf * w, ub: idf * w * (p.K1 + 1)})
	}
	// The rarest terms say the most; beyond MaxQueryTerms the rest are dropped, from the query and
	// from its self-score alike.
	slices.SortStableFunc(terms, func(a, b qterm) int { return cmp.Compare(b.idf, a.idf) })
	if p.MaxQueryTerms > 0 && len(terms) > p.MaxQueryTerms {
		terms = terms[:p.MaxQueryTerms]
	}

	// The self-score is what a document with the query's own text would score.
	var self float64
	for _, t := range terms {
		self += t.idf * tfPart(t.tf, query.Len, avgLen, p)
	}
	if self <= 0 {
		return nil, nil
	}
	bar := p.Threshold * self

	// MaxScore: with terms in rising order of ub, the longest prefix whose ubs add up to less than
	// bar is "non-essential": only documents found through the other terms can qualify.
	slices.SortStableFunc(terms, func(a, b qterm) int { return cmp.Compare(a.ub, b.ub) })
	split, sum := 0, 0.0
	for split < len(terms) && sum+terms[split].ub < bar {
		sum += terms[split].ub
		split++
	}
	budget := p.Budget
	if budget <= 0 {
		budget = math.MaxInt
	}

	// The essential terms, rarest first, find the candidates. A term whose postings no longer fit
	// the budget joins the non-essential ones: from there on, terms only add to documents already
	// found.
	var hint uint64
	for _, t := range terms[split:] {
		hint += t.df
	}
	scores := make(map[uint64]float64, min(hint, uint64(budget)))
	for i := len(terms) - 1; i >= split; i-- {
		t := terms[i]
		if t.df > uint64(budget) {
			split = i + 1
			break
		}
		budget -= int(t.df)
		err := src.Postings(t.term, func(ps Posting) bool {
			scores[ps.Doc] += t.idf * tfPart(ps.TF, ps.Len, avgLen, p)
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	delete(scores, except)
	type cand struct {
		doc uint64
		s   float64
	}
	cands := make([]cand, 0, len(scores))
	for doc, s := range scores {
		cands = append(cands, cand{doc, s})
	}
	// In document order, as postings are, so that a term's postings can be merged in.
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Compare(a.doc, b.doc) })

	// The rest, most valuable first, one term at a time: drop the documents that cannot reach bar
	// even with every term left, then add the term to the others, by looking each one up or, when
	// there are many, by merging the term's postings in, whichever reads less. A term that costs
	// more than the budget left is skipped, so an answer past the budget can miss a little of the
	// commonest terms' weight; below it, the answer is exact.
	left := 0.0 // the most the terms before i can still add
	for _, t := range terms[:split] {
		left += t.ub
	}
	for i := split - 1; i >= 0 && len(cands) > 0; i-- {
		t := terms[i]
		left -= t.ub
		cands = slices.DeleteFunc(cands, func(c cand) bool { return c.s+left+t.ub < bar })
		cost := min(t.df, uint64(len(cands))*lookupCost)
		if cost > uint64(budget) {
			continue
		}
		budget -= int(cost)
		if cost < t.df {
			for j := range cands {
				ps, ok, err := src.Lookup(t.term, cands[j].doc)
				if err != nil {
					return nil, err
				}
				if ok {
					cands[j].s += t.idf * tfPart(ps.TF, ps.Len, avgLen, p)
				}
			}
			continue
		}
		j := 0
		err := src.Postings(t.term, func(ps Posting) bool {
			for j < len(cands) && cands[j].doc < ps.Doc {
				j++
			}
			if j == len(cands) {
				return false
			}
			if cands[j].doc == ps.Doc {
				cands[j].s += t.idf * tfPart(ps.TF, ps.Len, avgLen, p)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}

	var hits []Hit
	for _, c := range cands {
		if c.s >= bar {
			hits = append(hits, Hit{Doc: c.doc, Score: c.s / self})
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
			return hits[:i], nil
		}
	}
	return hits, nil
}

// lookupCost is how many postings a cursor walks in the time of one point lookup (a B+tree descent),
// roughly, on bbolt.
const lookupCost = 16

// tfPart is BM25's saturating, length-normalised term frequency.
func tfPart(tf, docLen uint32, avgLen float64, p Params) float64 {
	f := float64(tf)
	return f * (p.K1 + 1) / (f + p.K1*(1-p.B+p.B*float64(docLen)/avgLen))
}
