// Package quality loads the labelled duplicate-detection set in ../testdata and scores a search
// against it. Tests use it twice: over an in-memory index in textindex (to compare settings) and over
// a real bbolt file in storage (to check what ships). testdata/README.md describes the format and
// the metrics.
package quality

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
)

// Item is one labelled request.
type Item struct {
	ID      string   `json:"id"`
	Dup     string   `json:"dup,omitempty"`  // items sharing Dup are duplicates of each other
	Near    []string `json:"near,omitempty"` // IDs of items that share words but are different requests
	Title   string   `json:"title"`
	Details string   `json:"details"`
}

// Set is the loaded corpus.
type Set struct {
	Items []Item
	index map[string]int
	group map[string][]string // Dup → member IDs
	near  map[string][]string // ID → near-miss IDs, both directions
}

// Path is the corpus file, found relative to this source file so any package's test can load it.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "corpus.jsonl")
}

// Load reads and validates the corpus: IDs unique, every group of at least two, near-miss links
// pointing to existing items outside the item's own group.
func Load(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := &Set{index: map[string]int{}, group: map[string][]string{}, near: map[string][]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		var it Item
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&it); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if it.ID == "" || it.Title == "" {
			return nil, fmt.Errorf("%s:%d: an item needs an id and a title", path, line)
		}
		if _, dup := s.index[it.ID]; dup {
			return nil, fmt.Errorf("%s:%d: id %q appears twice", path, line, it.ID)
		}
		s.index[it.ID] = len(s.Items)
		s.Items = append(s.Items, it)
		if it.Dup != "" {
			s.group[it.Dup] = append(s.group[it.Dup], it.ID)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for g, ids := range s.group {
		if len(ids) < 2 {
			return nil, fmt.Errorf("duplicate group %q has only %v", g, ids)
		}
	}
	for _, it := range s.Items {
		for _, n := range it.Near {
			j, ok := s.index[n]
			if !ok {
				return nil, fmt.Errorf("%s: near-miss %q does not exist", it.ID, n)
			}
			if it.Dup != "" && s.Items[j].Dup == it.Dup {
				return nil, fmt.Errorf("%s: near-miss %q is in its own duplicate group", it.ID, n)
			}
			if !slices.Contains(s.near[it.ID], n) {
				s.near[it.ID] = append(s.near[it.ID], n)
				s.near[n] = append(s.near[n], it.ID)
			}
		}
	}
	return s, nil
}

// Duplicates returns the items labelled as duplicates of id, itself excluded.
func (s *Set) Duplicates(id string) []string {
	it := s.Items[s.index[id]]
	if it.Dup == "" {
		return nil
	}
	var out []string
	for _, m := range s.group[it.Dup] {
		if m != id {
			out = append(out, m)
		}
	}
	return out
}

// DuplicatePairs counts the labelled duplicate pairs: every two items of a group.
func (s *Set) DuplicatePairs() int {
	n := 0
	for _, ids := range s.group {
		n += len(ids) * (len(ids) - 1) / 2
	}
	return n
}

// NearMissPairs counts the labelled near-miss pairs.
func (s *Set) NearMissPairs() int {
	n := 0
	for _, ns := range s.near {
		n += len(ns)
	}
	return n / 2
}

// Distractors counts the items with no duplicate.
func (s *Set) Distractors() int {
	n := 0
	for _, it := range s.Items {
		if it.Dup == "" {
			n++
		}
	}
	return n
}

// Search answers a query with the IDs of up to limit items, best first. The query item is itself
// in the index; Evaluate drops it from the answer, as the bot drops the item being triaged.
type Search func(query Item, limit int) ([]string, error)

// Report holds the metrics of one evaluation at cut-off K.
type Report struct {
	K int
	// Queries is every item of the set; WithDuplicates those that have labelled duplicates.
	Queries, WithDuplicates int
	// Shown is every result shown over all queries; Correct those that are labelled duplicates of
	// their query; Expected is the sum over queries of min(K, number of labelled duplicates).
	Shown, Correct, Expected int
	// ShownForDuplicates is the part of Shown that answered queries with labelled duplicates.
	ShownForDuplicates int
	// NoiseQueries counts queries without duplicates that showed anything, NoiseShown what they showed.
	NoiseQueries, NoiseShown int
	// NearMissShown counts near-miss pairs of which one was shown for the other.
	NearMissShown, NearMissPairs int
}

// Precision is Correct/ShownForDuplicates: of everything shown for queries that have labelled
// duplicates, the share that was one. Showing nothing at all counts as precision 1.
func (r Report) Precision() float64 {
	if r.ShownForDuplicates == 0 {
		return 1
	}
	return float64(r.Correct) / float64(r.ShownForDuplicates)
}

// StrictPrecision is Correct/Shown: of everything shown for any query, including those that have no
// duplicate at all, the share that was a real duplicate.
func (r Report) StrictPrecision() float64 {
	if r.Shown == 0 {
		return 1
	}
	return float64(r.Correct) / float64(r.Shown)
}

// Recall is Correct/Expected: of the duplicates that could have been shown in the top K, the share
// that was.
func (r Report) Recall() float64 {
	if r.Expected == 0 {
		return 1
	}
	return float64(r.Correct) / float64(r.Expected)
}

func (r Report) String() string {
	return fmt.Sprintf("P@%d %.3f (%d/%d)  R@%d %.3f (%d/%d)  P@%d(all) %.3f  noise queries %d/%d  near-misses shown %d/%d",
		r.K, r.Precision(), r.Correct, r.ShownForDuplicates, r.K, r.Recall(), r.Correct, r.Expected, r.K, r.StrictPrecision(),
		r.NoiseQueries, r.Queries-r.WithDuplicates, r.NearMissShown, r.NearMissPairs)
}

// Evaluate runs every item as a query and scores the top k of each answer, the query itself left out.
func Evaluate(s *Set, k int, search Search) (Report, error) {
	r := Report{K: k, Queries: len(s.Items), NearMissPairs: s.NearMissPairs()}
	shownFor := map[string][]string{}
	for _, q := range s.Items {
		got, err := search(q, k+1)
		if err != nil {
			return Report{}, fmt.Errorf("query %s: %w", q.ID, err)
		}
		got = slices.DeleteFunc(slices.Clone(got), func(id string) bool { return id == q.ID })
		if len(got) > k {
			got = got[:k]
		}
		shownFor[q.ID] = got
		dups := s.Duplicates(q.ID)
		r.Shown += len(got)
		if len(dups) > 0 {
			r.WithDuplicates++
			r.Expected += min(k, len(dups))
			r.ShownForDuplicates += len(got)
		} else if len(got) > 0 {
			r.NoiseQueries++
			r.NoiseShown += len(got)
		}
		for _, id := range got {
			if slices.Contains(dups, id) {
				r.Correct++
			}
		}
	}
	for a, ns := range s.near {
		for _, b := range ns {
			if a < b && (slices.Contains(shownFor[a], b) || slices.Contains(shownFor[b], a)) {
				r.NearMissShown++
			}
		}
	}
	return r, nil
}
