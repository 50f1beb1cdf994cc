package pgstore

import (
	"encoding/json"
	"reflect"
	"testing"

	"workbot/domain"
)

func TestParseChangesMatchesEncodingJSON(t *testing.T) {
	for _, raw := range []string{
		`[]`, ` [ ] `,
		`[{"after": "done", "field": "stage", "before": "in_progress"}]`,
		`[{"after": "", "field": "title", "before": ""}, {"after": "U1", "field": "assignee", "before": ""}]`,
		`[{"after": "say \"hi\" \\ \u00fc \n", "field": "note", "before": "ü ✓"}]`,
		`[{"field":"x","before":"y","after":"z"}]`,
	} {
		got, ok := parseChanges([]byte(raw))
		if !ok {
			t.Errorf("parseChanges(%s) refused", raw)
			continue
		}
		var in []changeJSON
		if err := json.Unmarshal([]byte(raw), &in); err != nil {
			t.Fatal(err)
		}
		var want []domain.Change
		for _, c := range in {
			want = append(want, domain.Change(c))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parseChanges(%s) = %#v, want %#v", raw, got, want)
		}
	}
	for _, raw := range []string{`{}`, `[1]`, `[{"field": 1}]`, `[{"other": "x"}]`, `[{"field": "x"}`, `[{"field": "x"}] x`, `["a"]`} {
		if _, ok := parseChanges([]byte(raw)); ok {
			t.Errorf("parseChanges(%s) accepted malformed input", raw)
		}
	}
}
