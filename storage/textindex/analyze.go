// Package textindex turns request text into index terms and ranks documents with BM25. It is pure:
// the postings live wherever a Source keeps them (bbolt in storage, memory in tests), so the same
// scoring runs in the quality evaluation and in the bot.
//
// # Analysis
//
// Text is lower-cased and split into words at every character that is not a letter or a digit
// (apostrophes are dropped instead, so "can't" is "cant"). Each word is normalised through a small
// table of IT spellings and abbreviations ("pwd" → password, "k8s" → kubernetes), stemmed with
// Snowball's English (Porter2) stemmer, and short phrases of stems are joined into one term ("log in",
// "sign on" → login; "wi fi" → wifi; "on call" → oncall). Stop words, request filler ("please",
// "need", "unable") and single letters are dropped afterwards, so that phrases built from them
// still match. Words longer than MaxTermLen bytes (pasted hashes, base64) are dropped: they never
// match anything and would only bloat the index.
//
// A document is its title and its details; title words count TitleWeight times, because a title is
// the requester's own summary and the details often wander into context.
//
// Changing anything here changes which terms a stored index holds: bump AnalyzerVersion, and add a
// storage migration that rebuilds the index.
package textindex

import (
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// AnalyzerVersion names the analysis rules. Storage records it with the index and Check compares it,
// so an index built by other rules is reported rather than silently queried with mismatched terms.
const AnalyzerVersion = 1

// MaxTermLen bounds a term in bytes, well under bbolt's key limit.
const MaxTermLen = 40

// TitleWeight is how many times a title word counts against one word of the details.
const TitleWeight = 2

// TermFreq is one term of a document with its (title-weighted) frequency.
type TermFreq struct {
	Term string
	TF   uint32
}

// Doc is an analysed document: its distinct terms in byte order and its length (the sum of TF).
type Doc struct {
	Terms []TermFreq
	Len   uint32
}

// Analyze turns an item's title and details into a Doc.
func Analyze(title, details string) Doc {
	return analyzeWith(title, details, TitleWeight, true)
}

// AnalyzeQuery turns search text (a title, or a title and details typed as one) into a Doc. Its
// words count once each, like a document's details.
func AnalyzeQuery(text string) Doc {
	return analyzeWith("", text, TitleWeight, true)
}

// analyzeWith lets the quality tests measure what the title weight and the synonym table are worth.
func analyzeWith(title, details string, titleWeight int, synonyms bool) Doc {
	counts := map[string]uint32{}
	for _, t := range Tokens(title, synonyms) {
		counts[t] += uint32(titleWeight)
	}
	for _, t := range Tokens(details, synonyms) {
		counts[t]++
	}
	d := Doc{Terms: make([]TermFreq, 0, len(counts))}
	for t, n := range counts {
		d.Terms = append(d.Terms, TermFreq{t, n})
		d.Len += n
	}
	slices.SortFunc(d.Terms, func(a, b TermFreq) int { return strings.Compare(a.Term, b.Term) })
	return d
}

// word is a token on its way to becoming a term: stop words are kept until phrases are joined.
type word struct {
	stem string
	stop bool
}

// Tokens returns the terms of s in order, with repeats. synonyms turns the semantic table on; the
// spelling normalisation always applies.
func Tokens(s string, synonyms bool) []string {
	var words []word
	for _, raw := range splitWords(s) {
		if len(raw) > MaxTermLen {
			continue
		}
		if n, ok := normalise[raw]; ok {
			raw = n
		}
		stem := raw
		if !isDigits(raw) {
			stem = stems.of(raw)
		}
		if synonyms {
			if s, ok := synonymOf[stem]; ok {
				stem = s
			}
		}
		words = append(words, word{stem: stem, stop: stopWords[raw]})
	}
	out := make([]string, 0, len(words))
	for i := 0; i < len(words); {
		if term, n := matchPhrase(words[i:]); n > 0 {
			out = append(out, term)
			i += n
			continue
		}
		w := words[i]
		i++
		// A lone letter is noise ("e" of "e mail" that no phrase took); a lone digit is a floor, a
		// room or a version.
		if w.stop || (len(w.stem) < 2 && !isDigits(w.stem)) {
			continue
		}
		out = append(out, w.stem)
	}
	return out
}

// splitWords lower-cases s and cuts it at every rune that is neither a letter nor a digit, dropping
// apostrophes inside words.
func splitWords(s string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for _, r := range s {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case r == '\'' || r == '’':
			// "can't" → "cant", "user's" → "users": the stop list and the stemmer handle the rest.
		default:
			flush()
		}
	}
	flush()
	return out
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// matchPhrase returns the term for the longest phrase that starts words, and how many words it used.
func matchPhrase(words []word) (string, int) {
	for n := min(maxPhrase, len(words)); n >= 2; n-- {
		var key strings.Builder
		for i, w := range words[:n] {
			if i > 0 {
				key.WriteByte(' ')
			}
			key.WriteString(w.stem)
		}
		if t, ok := phrases[key.String()]; ok {
			return t, n
		}
	}
	return "", 0
}

// stemCache remembers stems: the Porter2 stemmer is most of the cost of indexing an item, which
// happens inside the item's write transaction, and requests reuse a small vocabulary. The cache is
// emptied when it grows past its bound, so unusual text cannot make it grow without end.
type stemCache struct {
	mu sync.RWMutex
	m  map[string]string
}

const maxCachedStems = 50_000

var stems = &stemCache{m: map[string]string{}}

func (c *stemCache) of(word string) string {
	c.mu.RLock()
	s, ok := c.m[word]
	c.mu.RUnlock()
	if ok {
		return s
	}
	s = english.Stem(word, true)
	c.mu.Lock()
	if len(c.m) >= maxCachedStems {
		c.m = map[string]string{}
	}
	c.m[word] = s
	c.mu.Unlock()
	return s
}
