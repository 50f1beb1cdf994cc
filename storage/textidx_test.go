package storage

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"workbot/domain"
	"workbot/storage/textindex"
	"workbot/storage/textindex/quality"
)

func openItem(title, details string) domain.Item {
	return domain.Item{Title: title, Details: details, Requester: "UREQ", Stage: domain.StageIntake,
		Value: 3, Urgency: 3, Size: 3, CreatedAt: baseTime, UpdatedAt: baseTime}
}

func similar(t *testing.T, db *DB, text string, except domain.ItemID) []domain.ItemID {
	t.Helper()
	var ids []domain.ItemID
	mustView(t, db, func(tx domain.ReadTx) error {
		ms, err := tx.SimilarOpenItems(text, except, 3)
		for _, m := range ms {
			if m.Score <= 0 {
				t.Errorf("match %+v has no score", m)
			}
			ids = append(ids, m.Item)
		}
		return err
	})
	return ids
}

// termCount counts one bucket's keys, to see what the index holds.
func termCount(t *testing.T, db *DB, bucket []byte) int {
	t.Helper()
	n := 0
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucket).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSimilarOpenItemsFindsTheDuplicate(t *testing.T) {
	db := openTestDB(t)
	var vpn, printer domain.ItemID
	mustUpdate(t, db, func(tx domain.Tx) error {
		var err error
		if vpn, err = createItem(tx, openItem("VPN is down for everyone", "Nobody in Lisbon can reach the vpn-eu-1 gateway since 10:40.")); err != nil {
			return err
		}
		if printer, err = createItem(tx, openItem("Printer on floor 2 jams", "The HP next to the kitchen jams on every page.")); err != nil {
			return err
		}
		_, err = createItem(tx, openItem("Reset my VPN password", "I forgot it over the holidays."))
		return err
	})
	if got := similar(t, db, "Company VPN outage? The EU gateway vpn-eu-1 is dead, nobody can connect", 0); len(got) == 0 || got[0] != vpn {
		t.Errorf("similar to a VPN outage = %v, want item %d first", got, vpn)
	}
	if got := similar(t, db, "Second floor printer jams constantly", 0); !slices.Equal(got, []domain.ItemID{printer}) {
		t.Errorf("similar to a printer jam = %v, want [%d]", got, printer)
	}
	// An item looking for its own duplicates does not find itself.
	if got := similar(t, db, "Printer on floor 2 jams\nThe HP next to the kitchen jams on every page.", printer); slices.Contains(got, printer) {
		t.Errorf("except %d still returned it: %v", printer, got)
	}
	if got := similar(t, db, "Order a standing desk", 0); len(got) != 0 {
		t.Errorf("similar to an unrelated request = %v, want nothing", got)
	}
	if got := similar(t, db, "", 0); len(got) != 0 {
		t.Errorf("similar to no text = %v", got)
	}
}

// The index follows the item through PutItem: new text replaces old terms, other changes leave it
// alone, closing removes it and reopening brings it back.
func TestTextIndexFollowsTheItem(t *testing.T) {
	db := openTestDB(t)
	var id domain.ItemID
	mustUpdate(t, db, func(tx domain.Tx) error {
		var err error
		id, err = createItem(tx, openItem("Kubernetes namespace for search", "staging and production"))
		return err
	})
	put := func(change func(*domain.Item)) {
		mustUpdate(t, db, func(tx domain.Tx) error {
			it, err := tx.Item(id)
			if err != nil {
				return err
			}
			change(&it)
			return tx.PutItem(it)
		})
	}
	if got := similar(t, db, "kubernetes namespace", 0); !slices.Equal(got, []domain.ItemID{id}) {
		t.Fatalf("after create: %v", got)
	}
	before := termCount(t, db, bucketTerms)

	put(func(it *domain.Item) { it.Stage, it.Assignee = domain.StageInProgress, "UDEV" })
	if n := termCount(t, db, bucketTerms); n != before {
		t.Errorf("a stage change moved the postings: %d → %d", before, n)
	}

	put(func(it *domain.Item) { it.Title = "Grafana dashboard for checkout latency" })
	if got := similar(t, db, "grafana checkout dashboard", 0); !slices.Equal(got, []domain.ItemID{id}) {
		t.Errorf("after a new title: %v", got)
	}
	if got := similar(t, db, "kubernetes namespace for search", 0); len(got) != 0 {
		t.Errorf("the old title still matches: %v", got)
	}

	put(func(it *domain.Item) { it.Stage, it.Resolution = domain.StageDone, domain.ResolutionDone })
	if got := similar(t, db, "grafana checkout dashboard", 0); len(got) != 0 {
		t.Errorf("a closed item matches: %v", got)
	}
	for _, b := range textBuckets[:3] {
		if n := termCount(t, db, b); n != 0 {
			t.Errorf("after the only item closed, %s holds %d keys", b, n)
		}
	}

	put(func(it *domain.Item) { it.Stage, it.Resolution = domain.StageTodo, domain.ResolutionNone })
	if got := similar(t, db, "grafana checkout dashboard", 0); !slices.Equal(got, []domain.ItemID{id}) {
		t.Errorf("after reopening: %v", got)
	}
}

// The index is written in the item's transaction: a transaction that fails leaves neither.
func TestTextIndexCommitsWithTheItem(t *testing.T) {
	db := openTestDB(t)
	boom := errors.New("boom")
	err := db.Update(context.Background(), func(tx domain.Tx) error {
		if _, err := createItem(tx, openItem("Order YubiKeys for the platform team", "8 keys")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	for _, b := range textBuckets[:3] {
		if n := termCount(t, db, b); n != 0 {
			t.Errorf("a rolled-back item left %d keys in %s", n, b)
		}
	}
}

// Closed history costs the index nothing: only open items have postings, and a query reads only those.
func TestClosedItemsHaveNoPostings(t *testing.T) {
	db := openTestDB(t)
	mustUpdate(t, db, func(tx domain.Tx) error {
		for i := range 200 {
			it := openItem("Printer jam on floor 2", "tray 2 again")
			if i > 0 {
				it.Stage, it.Resolution = domain.StageDone, domain.ResolutionDone
			}
			if _, err := createItem(tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	if n, want := termCount(t, db, bucketTermDocs), 1; n != want {
		t.Errorf("idx_term_docs has %d entries, want %d (the one open item)", n, want)
	}
	if got := similar(t, db, "printer jam floor 2", 0); !slices.Equal(got, []domain.ItemID{1}) {
		t.Errorf("similar = %v, want only the open item 1", got)
	}
}

// TestSimilarOpenItemsQuality runs the labelled set through bbolt, as the bot will: every request is
// stored as an open item with PutItem, then asked for with its title and details as one text.
func TestSimilarOpenItemsQuality(t *testing.T) {
	set, err := quality.Load(quality.Path())
	if err != nil {
		t.Fatal(err)
	}
	db := openTestDB(t)
	ids := map[string]domain.ItemID{}
	byID := map[domain.ItemID]string{}
	mustUpdate(t, db, func(tx domain.Tx) error {
		for _, it := range set.Items {
			id, err := createItem(tx, openItem(it.Title, it.Details))
			if err != nil {
				return err
			}
			ids[it.ID], byID[id] = id, it.ID
		}
		return nil
	})
	r, err := quality.Evaluate(set, 3, func(q quality.Item, limit int) ([]string, error) {
		var out []string
		err := db.View(context.Background(), func(tx domain.ReadTx) error {
			ms, err := tx.SimilarOpenItems(q.Title+"\n"+q.Details, ids[q.ID], limit)
			for _, m := range ms {
				out = append(out, byID[m.Item])
			}
			return err
		})
		return out, err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
	if r.Precision() < 0.8 || r.Recall() < 0.8 {
		t.Errorf("precision@3 %.3f, recall@3 %.3f; want both at least 0.8", r.Precision(), r.Recall())
	}
}

// Check finds every kind of disagreement between the text index and the open items.
func TestCheckFindsTextIndexProblems(t *testing.T) {
	for _, c := range []struct {
		name, want string
		damage     func(tx *bolt.Tx) error
	}{
		{"missing entry", "missing from idx_term_docs", func(tx *bolt.Tx) error {
			return tx.Bucket(bucketTermDocs).Delete(seqKey(1))
		}},
		{"missing posting", `idx_terms/"printer"/1 is missing`, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketTerms).Delete(groupKey("printer", 1))
		}},
		{"stray posting", `item 1 does not hold the term`, func(tx *bolt.Tx) error {
			if err := tx.Bucket(bucketTerms).Put(groupKey("zebra", 1), encodePosting(1, 9)); err != nil {
				return err
			}
			return tx.Bucket(bucketTermDF).Put([]byte("zebra"), []byte{1})
		}},
		{"posting of a closed item", "lists an item that is not open", func(tx *bolt.Tx) error {
			v := tx.Bucket(bucketTermDocs).Get(seqKey(1))
			return tx.Bucket(bucketTermDocs).Put(seqKey(2), append([]byte{}, v...))
		}},
		{"wrong df", `idx_term_df/"printer" is 5`, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketTermDF).Put([]byte("printer"), []byte{5})
		}},
		{"wrong counters", "idx_term_stats/docs is 7", func(tx *bolt.Tx) error {
			ix, _ := openTextIndex(tx)
			return ix.setStat(keyStatDocs, 7)
		}},
		{"stale text", "built from another title or details", func(tx *bolt.Tx) error {
			r, _ := decodeItem(tx.Bucket(bucketItems).Get(seqKey(1)))
			r.Title = "Something else entirely"
			v := r.encode()
			if err := tx.Bucket(bucketItems).Put(seqKey(1), v); err != nil {
				return err
			}
			return tx.Bucket(bucketOpen).Put(seqKey(1), v)
		}},
		{"other analyzer", "the index needs a rebuild", func(tx *bolt.Tx) error {
			ix, _ := openTextIndex(tx)
			return ix.setStat(keyStatAnalyzer, textindex.AnalyzerVersion+1)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "w.db")
			db, err := Open(path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			mustUpdate(t, db, func(tx domain.Tx) error {
				if _, err := createItem(tx, openItem("Printer jam on floor 2", "tray 2")); err != nil {
					return err
				}
				closed := openItem("Printer toner empty", "")
				closed.Stage, closed.Resolution = domain.StageDone, domain.ResolutionDone
				_, err := createItem(tx, closed)
				return err
			})
			if err := db.CheckConsistency(); err != nil {
				t.Fatalf("before the damage: %v", err)
			}
			if err := db.bolt.Update(c.damage); err != nil {
				t.Fatal(err)
			}
			db.Close()
			err = Check(path)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check = %v, want a problem containing %q", err, c.want)
			}
		})
	}
}

// A file at version 3 gets its text index built from the open items it already has.
func TestMigration4BuildsTheTextIndex(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.db")
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTo(bdb, 3); err != nil {
		t.Fatal(err)
	}
	if err := bdb.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTerms) != nil {
			t.Error("idx_terms exists at version 3")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Write version-3 items the way a version-3 workbot did: records and their old indexes only.
	if err := bdb.Update(func(tx *bolt.Tx) error {
		for id, text := range []string{"", "Wifi drops on the third floor", "Wifi password for guests", "Wifi drops in room 3.04"} {
			if id == 0 {
				continue
			}
			it := openItem(text, "")
			it.ID = domain.ItemID(id)
			if id == 2 {
				it.Stage, it.Resolution = domain.StageDone, domain.ResolutionDone
			}
			rec := itemToRecord(it)
			v := rec.encode()
			if err := tx.Bucket(bucketItems).Put(seqKey(rec.ID), v); err != nil {
				return err
			}
			if err := tx.Bucket(bucketByRequester).Put(groupKey(rec.Requester, rec.ID), nil); err != nil {
				return err
			}
			if rec.open() {
				for _, kv := range [][2][]byte{
					{bucketOpen, seqKey(rec.ID)}, {bucketByAssignee, groupKey(rec.Assignee, rec.ID)}, {bucketByStage, groupKey(rec.Stage, rec.ID)},
				} {
					val := []byte(nil)
					if string(kv[0]) == string(bucketOpen) {
						val = v
					}
					if err := tx.Bucket(kv[0]).Put(kv[1], val); err != nil {
						return err
					}
				}
			}
		}
		return tx.Bucket(bucketItems).SetSequence(3)
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()

	db := openAt(t, path) // migrates; its cleanup runs CheckConsistency
	if got := similar(t, db, "wifi keeps dropping on floor 3", 0); len(got) == 0 || got[0] != 1 {
		t.Errorf("after migration: %v, want item 1 first", got)
	}
	if got := similar(t, db, "guest wifi password", 0); slices.Contains(got, 2) {
		t.Errorf("closed item 2 is indexed: %v", got)
	}
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		if v, err := readSchemaVersion(tx); v != SchemaVersion || err != nil {
			t.Errorf("schema version %d, %v; want %d", v, err, SchemaVersion)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// The migration's bulk load must write exactly what PutItem writes item by item.
func TestMigration4MatchesPutItem(t *testing.T) {
	g := requestGen{r: rand.New(rand.NewPCG(3, 4))}
	var items []domain.Item
	for id := 1; id <= 500; id++ {
		it := openItem(g.next())
		it.ID = domain.ItemID(id)
		if id%3 == 0 {
			it.Stage, it.Resolution = domain.StageDone, domain.ResolutionDone
		}
		items = append(items, it)
	}
	viaPut := openTestDB(t)
	mustUpdate(t, viaPut, func(tx domain.Tx) error {
		for _, it := range items {
			if err := tx.PutItem(it); err != nil {
				return err
			}
		}
		return nil
	})
	viaMigration := openTestDB(t)
	// Store the same items, then drop the index and rebuild it as migration 4 does.
	mustUpdate(t, viaMigration, func(tx domain.Tx) error {
		for _, it := range items {
			if err := tx.PutItem(it); err != nil {
				return err
			}
		}
		return nil
	})
	if err := viaMigration.bolt.Update(func(tx *bolt.Tx) error {
		for _, b := range textBuckets {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return migrateTextIndex(tx)
	}); err != nil {
		t.Fatal(err)
	}
	for _, b := range textBuckets {
		if a, m := dumpBucket(t, viaPut, b), dumpBucket(t, viaMigration, b); !slices.Equal(a, m) {
			t.Errorf("%s: PutItem wrote %d keys, the migration %d, and they differ", b, len(a), len(m))
		}
	}
}

func dumpBucket(t *testing.T, db *DB, name []byte) []string {
	t.Helper()
	var out []string
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		return tx.Bucket(name).ForEach(func(k, v []byte) error {
			out = append(out, string(k)+"="+string(v))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
