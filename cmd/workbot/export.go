package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"workbot/domain"
)

// exportedItem is the stable export shape of an item. It is separate from domain.Item so that renaming
// a domain field does not change what spreadsheets and scripts read.
type exportedItem struct {
	Key            string   `json:"key"`
	Title          string   `json:"title"`
	Kind           string   `json:"kind"`
	Stage          string   `json:"stage"`
	Assignee       string   `json:"assignee"`
	Requester      string   `json:"requester"`
	Team           string   `json:"team"`
	Value          int      `json:"value"`
	Urgency        int      `json:"urgency"`
	Size           int      `json:"size"`
	Due            string   `json:"due"`
	Pin            int      `json:"pin"`
	Triaged        bool     `json:"triaged"`
	Resolution     string   `json:"resolution"`
	BlockedReason  string   `json:"blocked_reason"`
	DependsOn      []string `json:"depends_on"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
	StageEnteredAt string   `json:"stage_entered_at"`
	LastActivityAt string   `json:"last_activity_at"`
	DoneAt         string   `json:"done_at"`
	Details        string   `json:"details"`
}

var itemCSVHeader = []string{
	"key", "title", "kind", "stage", "assignee", "requester", "team", "value", "urgency", "size", "due", "pin",
	"triaged", "resolution", "blocked_reason", "depends_on", "created_at", "updated_at", "stage_entered_at",
	"last_activity_at", "done_at", "details",
}

func (e exportedItem) csvRow() []string {
	return []string{
		e.Key, e.Title, e.Kind, e.Stage, e.Assignee, e.Requester, e.Team, strconv.Itoa(e.Value),
		strconv.Itoa(e.Urgency), strconv.Itoa(e.Size), e.Due, strconv.Itoa(e.Pin), strconv.FormatBool(e.Triaged),
		e.Resolution, e.BlockedReason, strings.Join(e.DependsOn, " "), e.CreatedAt, e.UpdatedAt,
		e.StageEnteredAt, e.LastActivityAt, e.DoneAt, e.Details,
	}
}

// timestamp is RFC 3339 in UTC, or "" for an unset time, so empty cells stay empty.
func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func exportItem(it domain.Item) exportedItem {
	// Dependencies are stored as IDs; show them as keys with the item's own prefix, which is what people
	// saw when they were added.
	prefix := "W"
	if i := strings.LastIndexByte(it.Key, '-'); i > 0 {
		prefix = it.Key[:i]
	}
	deps := make([]string, 0, len(it.DependsOn))
	for _, id := range it.DependsOn {
		deps = append(deps, domain.FormatKey(prefix, id))
	}
	return exportedItem{
		Key: it.Key, Title: it.Title, Kind: it.Kind, Stage: string(it.Stage), Assignee: string(it.Assignee),
		Requester: string(it.Requester), Team: string(it.Team), Value: it.Value, Urgency: it.Urgency,
		Size: it.Size, Due: it.Due.String(), Pin: it.Pin, Triaged: it.Triaged, Resolution: string(it.Resolution),
		BlockedReason: it.BlockedReason, DependsOn: deps, CreatedAt: timestamp(it.CreatedAt),
		UpdatedAt: timestamp(it.UpdatedAt), StageEnteredAt: timestamp(it.StageEnteredAt),
		LastActivityAt: timestamp(it.LastActivityAt), DoneAt: timestamp(it.DoneAt), Details: it.Details,
	}
}

type exportedChange struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

type exportedEvent struct {
	Seq     uint64           `json:"seq"`
	At      string           `json:"at"`
	Actor   string           `json:"actor"`
	Type    string           `json:"type"`
	ItemID  uint64           `json:"item_id,omitempty"`
	Subject string           `json:"subject,omitempty"`
	Handoff uint64           `json:"handoff_id,omitempty"`
	Changes []exportedChange `json:"changes"`
	Note    string           `json:"note,omitempty"`
}

func exportEvent(e domain.Event) exportedEvent {
	changes := make([]exportedChange, 0, len(e.Changes))
	for _, ch := range e.Changes {
		changes = append(changes, exportedChange(ch))
	}
	return exportedEvent{
		Seq: e.Seq, At: timestamp(e.At), Actor: string(e.Actor), Type: string(e.Type), ItemID: uint64(e.ItemID),
		Subject: string(e.Subject), Handoff: uint64(e.Handoff), Changes: changes, Note: e.Note,
	}
}

func (c *cli) export(args []string) int {
	fs := c.flags("export")
	db := fs.String("db", "", "database file or postgres:// URL to read (default $WORKBOT_DB); a file must not be held by a running workbot")
	format := fs.String("format", "json", "items as json (an array) or csv")
	events := fs.Bool("events", false, "export the audit events as JSON lines instead of the items")
	out := fs.String("out", "", "write to this file (mode 0600) instead of standard output")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	path, err := c.dbPath(*db)
	if err != nil {
		return c.fail(exitUsage, err)
	}
	if *format != "json" && *format != "csv" {
		return c.fail(exitUsage, fmt.Errorf("--format %q is not json or csv", *format))
	}
	if *events && *format != "json" {
		return c.fail(exitUsage, errors.New("--events writes JSON lines; --format csv applies to items only"))
	}
	src, err := openForRead(context.Background(), path)
	if err != nil {
		return c.fail(exitFailure, err)
	}
	defer src.Close()
	src = c.exportProgress(src, *events)

	w := c.stdout
	var file *os.File
	if *out != "" {
		file, err = os.OpenFile(*out, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
		if err != nil {
			return c.fail(exitFailure, err)
		}
		w = file
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	defer c.finishProgress(src)
	switch {
	case *events:
		err = writeEvents(bw, src)
	case *format == "csv":
		err = writeItemsCSV(bw, src)
	default:
		err = writeItemsJSON(bw, src)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return c.fail(exitFailure, fmt.Errorf("export: %w", err))
	}
	return exitOK
}

// writeItemsJSON streams the array so that a large history is never held in memory at once.
func writeItemsJSON(w io.Writer, src exporter) error {
	if _, err := io.WriteString(w, "["); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	first := true
	err := src.ExportItems(func(it domain.Item) error {
		sep := ",\n"
		if first {
			sep, first = "\n", false
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		return enc.Encode(exportItem(it))
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "]\n")
	return err
}

func writeItemsCSV(w io.Writer, src exporter) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(itemCSVHeader); err != nil {
		return err
	}
	err := src.ExportItems(func(it domain.Item) error {
		return cw.Write(sanitizeCSV(exportItem(it).csvRow()))
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// sanitizeCSV defuses formula injection: titles come from anyone in Slack, and a spreadsheet would
// run a cell starting with = + - or @ as a formula.
func sanitizeCSV(row []string) []string {
	for i, v := range row {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
			row[i] = "'" + v
		}
	}
	return row
}

func writeEvents(w io.Writer, src exporter) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return src.ExportEvents(func(e domain.Event) error { return enc.Encode(exportEvent(e)) })
}
