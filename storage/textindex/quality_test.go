package textindex

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"

	"workbot/storage/textindex/quality"
)

// The targets of the duplicate-detection issue. The metrics are defined in testdata/README.md.
const (
	targetPrecision = 0.8
	targetRecall    = 0.8
)

func loadSet(t testing.TB) *quality.Set {
	t.Helper()
	set, err := quality.Load(quality.Path())
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// memSearch indexes the whole set in memory with the given analysis and answers with Search, leaving
// the query's own item out as the bot leaves out the item being triaged.
func memSearch(set *quality.Set, titleWeight int, synonyms bool, p Params) quality.Search {
	idx := NewMemIndex()
	ids := map[string]uint64{}
	for i, it := range set.Items {
		idx.Put(uint64(i+1), analyzeWith(it.Title, it.Details, titleWeight, synonyms))
		ids[it.ID] = uint64(i + 1)
	}
	return func(q quality.Item, limit int) ([]string, error) {
		// The query is the request's text as one, as the bot sends it (see AnalyzeQuery).
		query := analyzeWith("", q.Title+"\n"+q.Details, titleWeight, synonyms)
		hits, err := Search(idx, query, ids[q.ID], limit, p)
		out := make([]string, len(hits))
		for i, h := range hits {
			out[i] = set.Items[h.Doc-1].ID
		}
		return out, err
	}
}

func TestLabelledSetIsLargeEnough(t *testing.T) {
	set := loadSet(t)
	if n := set.DuplicatePairs() + set.NearMissPairs(); n < 150 {
		t.Errorf("%d labelled pairs, want at least 150", n)
	}
	if n := set.DuplicatePairs(); n < 100 {
		t.Errorf("%d duplicate pairs, want at least 100", n)
	}
	if n := set.Distractors(); n < 200 {
		t.Errorf("%d distractors, want at least 200", n)
	}
	t.Logf("%d items: %d duplicate pairs, %d near-miss pairs, %d items without a duplicate",
		len(set.Items), set.DuplicatePairs(), set.NearMissPairs(), set.Distractors())
}

// TestQuality holds the shipped analysis and parameters to the targets. storage runs the same
// evaluation through bbolt (TestSimilarOpenItemsQuality); this one is the quick loop for tuning.
func TestQuality(t *testing.T) {
	set := loadSet(t)
	r, err := quality.Evaluate(set, 3, memSearch(set, TitleWeight, true, DefaultParams))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if r.Precision() < targetPrecision || r.Recall() < targetRecall {
		t.Errorf("precision@3 %.3f, recall@3 %.3f; want both at least %.1f", r.Precision(), r.Recall(), targetPrecision)
	}
}

var sweep = flag.Bool("sweep", false, "run TestQualitySweep (about 20 s): go test ./storage/textindex -run Sweep -v -args -sweep")

// TestQualitySweep prints how precision and recall move with the threshold, the relative cut, the
// title weight and the synonym table, and how trigram similarity compares: the evidence behind the
// constants. Run with -v to see the tables.
func TestQualitySweep(t *testing.T) {
	if !*sweep {
		t.Skip("a table for people, not a check; pass -args -sweep")
	}
	set := loadSet(t)
	var b strings.Builder
	thresholds := []float64{0.14, 0.16, 0.18, 0.2, 0.22, 0.24, 0.26, 0.28, 0.3, 0.35, 0.4}
	fmt.Fprintf(&b, "BM25 (precision@3 / recall@3 / strict precision) by threshold\n%-26s", "")
	for _, th := range thresholds {
		fmt.Fprintf(&b, " %14.2f", th)
	}
	b.WriteString("\n")
	for _, tw := range []int{1, 2} {
		for _, syn := range []bool{false, true} {
			for _, rc := range []float64{0, 0.7, 0.8} {
				fmt.Fprintf(&b, "title×%d syn=%-5v cut=%.1f  ", tw, syn, rc)
				for _, th := range thresholds {
					p := DefaultParams
					p.Threshold, p.RelativeCut = th, rc
					r, err := quality.Evaluate(set, 3, memSearch(set, tw, syn, p))
					if err != nil {
						t.Fatal(err)
					}
					fmt.Fprintf(&b, " %.2f/%.2f/%.2f", r.Precision(), r.Recall(), r.StrictPrecision())
				}
				b.WriteString("\n")
			}
		}
	}
	fmt.Fprintf(&b, "trigram Jaccard of lower-cased title+details\n")
	for _, rc := range []float64{0, 0.8} {
		fmt.Fprintf(&b, "cut=%.1f ", rc)
		for _, th := range []float64{0.1, 0.12, 0.14, 0.16, 0.18, 0.2, 0.25, 0.3} {
			r, err := quality.Evaluate(set, 3, trigramSearch(set, th, rc))
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, " %.2f:%.2f/%.2f/%.2f", th, r.Precision(), r.Recall(), r.StrictPrecision())
		}
		b.WriteString("\n")
	}
	t.Log("\n" + b.String())
}

// trigramSearch is the alternative the issue named: Jaccard similarity of the sets of character
// trigrams, by brute force over the set.
func trigramSearch(set *quality.Set, threshold, cut float64) quality.Search {
	grams := make([]map[string]bool, len(set.Items))
	for i, it := range set.Items {
		grams[i] = trigrams(it.Title + " " + it.Details)
	}
	return func(q quality.Item, limit int) ([]string, error) {
		qg := trigrams(q.Title + " " + q.Details)
		type hit struct {
			id string
			s  float64
		}
		var hits []hit
		for i, g := range grams {
			if set.Items[i].ID == q.ID {
				continue
			}
			inter := 0
			for k := range qg {
				if g[k] {
					inter++
				}
			}
			s := float64(inter) / float64(len(qg)+len(g)-inter)
			if s >= threshold {
				hits = append(hits, hit{set.Items[i].ID, s})
			}
		}
		slices.SortFunc(hits, func(a, b hit) int {
			switch {
			case a.s > b.s:
				return -1
			case a.s < b.s:
				return 1
			}
			return strings.Compare(a.id, b.id)
		})
		var out []string
		for _, h := range hits {
			if len(out) == limit || h.s < cut*hits[0].s {
				break
			}
			out = append(out, h.id)
		}
		return out, nil
	}
}

func trigrams(s string) map[string]bool {
	words := splitWords(s)
	out := map[string]bool{}
	for _, w := range words {
		w = " " + w + " "
		r := []rune(w)
		for i := 0; i+3 <= len(r); i++ {
			out[string(r[i:i+3])] = true
		}
	}
	return out
}
