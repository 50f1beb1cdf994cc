package storage

import (
	"fmt"
	"time"

	"workbot/domain"
)

// Record versions. A new version is needed only for a change an older reader must not misread
// (a field changing meaning); adding a field at the end keeps the version.
const (
	itemRecordV1    byte = 1
	handoffRecordV1 byte = 1
	personRecordV1  byte = 1
)

// itemRecord is an item as stored. It mirrors domain.Item on purpose, field by field, so a rename in
// domain cannot silently change what is on disk: the encoding below names every field's position.
type itemRecord struct {
	ID             uint64
	Key            string
	Title          string
	Details        string
	Kind           string
	Requester      string
	Team           string
	Value          int
	Urgency        int
	Size           int
	Due            domain.Date
	Stage          string
	Assignee       string
	BlockedReason  string
	BlockedAt      time.Time
	DependsOn      []domain.ItemID
	DependsSince   time.Time
	Pin            int
	Triaged        bool
	Resolution     string
	DuplicateOf    uint64
	PendingHandoff uint64
	NudgedAt       time.Time
	SnoozedUntil   time.Time
	CreatedAt      time.Time
	StageEnteredAt time.Time
	LastActivityAt time.Time
	DoneAt         time.Time
	UpdatedAt      time.Time
	Version        uint64
	// Appended fields.
	SourceConversation string
	SourceMessage      string
	SourceThread       string
	Followers          []string
}

func itemToRecord(it domain.Item) itemRecord {
	return itemRecord{
		ID: uint64(it.ID), Key: it.Key, Title: it.Title, Details: it.Details, Kind: it.Kind,
		Requester: string(it.Requester), Team: string(it.Team),
		Value: it.Value, Urgency: it.Urgency, Size: it.Size, Due: it.Due,
		Stage: string(it.Stage), Assignee: string(it.Assignee),
		BlockedReason: it.BlockedReason, BlockedAt: it.BlockedAt,
		DependsOn: it.DependsOn, DependsSince: it.DependsSince,
		Pin: it.Pin, Triaged: it.Triaged, Resolution: string(it.Resolution),
		DuplicateOf: uint64(it.DuplicateOf), PendingHandoff: uint64(it.PendingHandoff),
		NudgedAt: it.NudgedAt, SnoozedUntil: it.SnoozedUntil,
		CreatedAt: it.CreatedAt, StageEnteredAt: it.StageEnteredAt, LastActivityAt: it.LastActivityAt,
		DoneAt: it.DoneAt, UpdatedAt: it.UpdatedAt, Version: it.Version,
		SourceConversation: it.Source.Conversation, SourceMessage: it.Source.Message, SourceThread: it.Source.Thread,
		Followers: usersToStrings(it.Followers),
	}
}

func usersToStrings(us []domain.UserID) []string {
	if len(us) == 0 {
		return nil
	}
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = string(u)
	}
	return out
}

func stringsToUsers(ss []string) []domain.UserID {
	if len(ss) == 0 {
		return nil
	}
	out := make([]domain.UserID, len(ss))
	for i, s := range ss {
		out[i] = domain.UserID(s)
	}
	return out
}

func (r itemRecord) toDomain() domain.Item {
	return domain.Item{
		ID: domain.ItemID(r.ID), Key: r.Key, Title: r.Title, Details: r.Details, Kind: r.Kind,
		Requester: domain.UserID(r.Requester), Team: domain.TeamID(r.Team),
		Value: r.Value, Urgency: r.Urgency, Size: r.Size, Due: r.Due,
		Stage: domain.StageID(r.Stage), Assignee: domain.UserID(r.Assignee),
		BlockedReason: r.BlockedReason, BlockedAt: r.BlockedAt,
		DependsOn: r.DependsOn, DependsSince: r.DependsSince,
		Pin: r.Pin, Triaged: r.Triaged, Resolution: domain.Resolution(r.Resolution),
		DuplicateOf: domain.ItemID(r.DuplicateOf), PendingHandoff: domain.HandoffID(r.PendingHandoff),
		NudgedAt: r.NudgedAt, SnoozedUntil: r.SnoozedUntil,
		CreatedAt: r.CreatedAt, StageEnteredAt: r.StageEnteredAt, LastActivityAt: r.LastActivityAt,
		DoneAt: r.DoneAt, UpdatedAt: r.UpdatedAt, Version: r.Version,
		Source:    domain.Source{Conversation: r.SourceConversation, Message: r.SourceMessage, Thread: r.SourceThread},
		Followers: stringsToUsers(r.Followers),
	}
}

// open mirrors domain.Item.Open on the record, so index maintenance needs no conversion.
func (r itemRecord) open() bool { return r.Resolution == "" }

// encode writes the fields in the order documented in doc.go. Never reorder; only append.
func (r itemRecord) encode() []byte {
	e := newEncoder(64 + len(r.Title) + len(r.Details) + len(r.BlockedReason))
	e.uvarint(r.ID)
	e.str(r.Key)
	e.str(r.Title)
	e.str(r.Details)
	e.str(r.Kind)
	e.str(r.Requester)
	e.str(r.Team)
	e.varint(int64(r.Value))
	e.varint(int64(r.Urgency))
	e.varint(int64(r.Size))
	e.date(r.Due)
	e.str(r.Stage)
	e.str(r.Assignee)
	e.str(r.BlockedReason)
	e.timestamp(r.BlockedAt)
	e.ids(r.DependsOn)
	e.timestamp(r.DependsSince)
	e.varint(int64(r.Pin))
	e.boolean(r.Triaged)
	e.str(r.Resolution)
	e.uvarint(r.DuplicateOf)
	e.uvarint(r.PendingHandoff)
	e.timestamp(r.NudgedAt)
	e.timestamp(r.SnoozedUntil)
	e.timestamp(r.CreatedAt)
	e.timestamp(r.StageEnteredAt)
	e.timestamp(r.LastActivityAt)
	e.timestamp(r.DoneAt)
	e.timestamp(r.UpdatedAt)
	e.uvarint(r.Version)
	e.str(r.SourceConversation)
	e.str(r.SourceMessage)
	e.str(r.SourceThread)
	e.strs(r.Followers)
	return e.finish(itemRecordV1)
}

// decodeItem reads the fields in encode's order. It sits on the digest's hot path (every open item),
// so it makes one allocation for all strings and none for the decoder.
func decodeItem(b []byte) (itemRecord, error) {
	var r itemRecord
	var d decoder
	d.init(b)
	if d.err == nil && d.version != itemRecordV1 {
		return itemRecord{}, fmt.Errorf("%w: item record version %d is not supported", errCorrupt, d.version)
	}
	r.ID = d.uvarint()
	r.Key = d.str()
	r.Title = d.str()
	r.Details = d.str()
	r.Kind = d.str()
	r.Requester = d.str()
	r.Team = d.str()
	r.Value = d.int()
	r.Urgency = d.int()
	r.Size = d.int()
	r.Due = d.date()
	r.Stage = d.str()
	r.Assignee = d.str()
	r.BlockedReason = d.str()
	r.BlockedAt = d.timestamp()
	r.DependsOn = d.ids()
	r.DependsSince = d.timestamp()
	r.Pin = d.int()
	r.Triaged = d.boolean()
	r.Resolution = d.str()
	r.DuplicateOf = d.uvarint()
	r.PendingHandoff = d.uvarint()
	r.NudgedAt = d.timestamp()
	r.SnoozedUntil = d.timestamp()
	r.CreatedAt = d.timestamp()
	r.StageEnteredAt = d.timestamp()
	r.LastActivityAt = d.timestamp()
	r.DoneAt = d.timestamp()
	r.UpdatedAt = d.timestamp()
	r.Version = d.uvarint()
	r.SourceConversation = d.str()
	r.SourceMessage = d.str()
	r.SourceThread = d.str()
	r.Followers = d.strs()
	if d.err != nil {
		return itemRecord{}, fmt.Errorf("item: %w", d.err)
	}
	return r, nil
}

type handoffRecord struct {
	ID          uint64
	ItemID      uint64
	From        string
	To          string
	ToTeam      string
	NoteDone    string
	NoteNext    string
	NoteLinks   string
	NextStage   string
	Status      string
	RequestedBy string
	RequestedAt time.Time
	ApprovedBy  string
	ApprovedAt  time.Time
	DecidedBy   string
	DecidedAt   time.Time
	Reason      string
	EscalatedAt time.Time
}

func handoffToRecord(h domain.Handoff) handoffRecord {
	return handoffRecord{
		ID: uint64(h.ID), ItemID: uint64(h.ItemID), From: string(h.From), To: string(h.To),
		ToTeam: string(h.ToTeam), NoteDone: h.Note.Done, NoteNext: h.Note.Next, NoteLinks: h.Note.Links,
		NextStage: string(h.NextStage), Status: string(h.Status),
		RequestedBy: string(h.RequestedBy), RequestedAt: h.RequestedAt,
		ApprovedBy: string(h.ApprovedBy), ApprovedAt: h.ApprovedAt,
		DecidedBy: string(h.DecidedBy), DecidedAt: h.DecidedAt,
		Reason: h.Reason, EscalatedAt: h.EscalatedAt,
	}
}

func (r handoffRecord) toDomain() domain.Handoff {
	return domain.Handoff{
		ID: domain.HandoffID(r.ID), ItemID: domain.ItemID(r.ItemID), From: domain.UserID(r.From),
		To: domain.UserID(r.To), ToTeam: domain.TeamID(r.ToTeam),
		Note:      domain.HandoffNote{Done: r.NoteDone, Next: r.NoteNext, Links: r.NoteLinks},
		NextStage: domain.StageID(r.NextStage), Status: domain.HandoffStatus(r.Status),
		RequestedBy: domain.UserID(r.RequestedBy), RequestedAt: r.RequestedAt,
		ApprovedBy: domain.UserID(r.ApprovedBy), ApprovedAt: r.ApprovedAt,
		DecidedBy: domain.UserID(r.DecidedBy), DecidedAt: r.DecidedAt,
		Reason: r.Reason, EscalatedAt: r.EscalatedAt,
	}
}

// pending mirrors domain.HandoffStatus.Decided: anything not final is waiting on someone.
func (r handoffRecord) pending() bool { return !domain.HandoffStatus(r.Status).Decided() }

func (r handoffRecord) encode() []byte {
	e := newEncoder(64 + len(r.NoteDone) + len(r.NoteNext) + len(r.NoteLinks) + len(r.Reason))
	e.uvarint(r.ID)
	e.uvarint(r.ItemID)
	e.str(r.From)
	e.str(r.To)
	e.str(r.ToTeam)
	e.str(r.NoteDone)
	e.str(r.NoteNext)
	e.str(r.NoteLinks)
	e.str(r.NextStage)
	e.str(r.Status)
	e.str(r.RequestedBy)
	e.timestamp(r.RequestedAt)
	e.str(r.ApprovedBy)
	e.timestamp(r.ApprovedAt)
	e.str(r.DecidedBy)
	e.timestamp(r.DecidedAt)
	e.str(r.Reason)
	e.timestamp(r.EscalatedAt)
	return e.finish(handoffRecordV1)
}

func decodeHandoff(b []byte) (handoffRecord, error) {
	var d decoder
	d.init(b)
	if d.err == nil && d.version != handoffRecordV1 {
		return handoffRecord{}, fmt.Errorf("%w: handoff record version %d is not supported", errCorrupt, d.version)
	}
	r := handoffRecord{
		ID: d.uvarint(), ItemID: d.uvarint(), From: d.str(), To: d.str(), ToTeam: d.str(),
		NoteDone: d.str(), NoteNext: d.str(), NoteLinks: d.str(), NextStage: d.str(), Status: d.str(),
		RequestedBy: d.str(), RequestedAt: d.timestamp(), ApprovedBy: d.str(), ApprovedAt: d.timestamp(),
		DecidedBy: d.str(), DecidedAt: d.timestamp(), Reason: d.str(), EscalatedAt: d.timestamp(),
	}
	if d.err != nil {
		return handoffRecord{}, fmt.Errorf("handoff: %w", d.err)
	}
	return r, nil
}

type personRecord struct {
	ID                string
	Team              string
	Capacity          int
	CapacitySet       bool
	AwayUntil         domain.Date
	NudgesOff         bool
	PersonalDigestOff bool
	UpdatedAt         time.Time
}

func personToRecord(p domain.Person) personRecord {
	return personRecord{
		ID: string(p.ID), Team: string(p.Team), Capacity: p.Capacity, CapacitySet: p.CapacitySet,
		AwayUntil: p.AwayUntil, NudgesOff: p.NudgesOff, PersonalDigestOff: p.PersonalDigestOff,
		UpdatedAt: p.UpdatedAt,
	}
}

func (r personRecord) toDomain() domain.Person {
	return domain.Person{
		ID: domain.UserID(r.ID), Team: domain.TeamID(r.Team), Capacity: r.Capacity,
		CapacitySet: r.CapacitySet, AwayUntil: r.AwayUntil, NudgesOff: r.NudgesOff,
		PersonalDigestOff: r.PersonalDigestOff, UpdatedAt: r.UpdatedAt,
	}
}

func (r personRecord) encode() []byte {
	e := newEncoder(48)
	e.str(r.ID)
	e.str(r.Team)
	e.varint(int64(r.Capacity))
	e.boolean(r.CapacitySet)
	e.date(r.AwayUntil)
	e.boolean(r.NudgesOff)
	e.boolean(r.PersonalDigestOff)
	e.timestamp(r.UpdatedAt)
	return e.finish(personRecordV1)
}

func decodePerson(b []byte) (personRecord, error) {
	var d decoder
	d.init(b)
	if d.err == nil && d.version != personRecordV1 {
		return personRecord{}, fmt.Errorf("%w: person record version %d is not supported", errCorrupt, d.version)
	}
	r := personRecord{
		ID: d.str(), Team: d.str(), Capacity: d.int(), CapacitySet: d.boolean(), AwayUntil: d.date(),
		NudgesOff: d.boolean(), PersonalDigestOff: d.boolean(), UpdatedAt: d.timestamp(),
	}
	if d.err != nil {
		return personRecord{}, fmt.Errorf("person: %w", d.err)
	}
	return r, nil
}

type changeRecord struct {
	Field  string
	Before string
	After  string
}

type eventRecord struct {
	Seq     uint64
	At      time.Time
	Actor   string
	Type    string
	ItemID  uint64
	Subject string
	Handoff uint64
	Changes []changeRecord
	Note    string
}

func eventToRecord(ev domain.Event) eventRecord {
	r := eventRecord{
		Seq: ev.Seq, At: ev.At, Actor: string(ev.Actor), Type: string(ev.Type), ItemID: uint64(ev.ItemID),
		Subject: string(ev.Subject), Handoff: uint64(ev.Handoff), Note: ev.Note,
	}
	if len(ev.Changes) > 0 {
		r.Changes = make([]changeRecord, len(ev.Changes))
		for i, c := range ev.Changes {
			r.Changes[i] = changeRecord{Field: c.Field, Before: c.Before, After: c.After}
		}
	}
	return r
}

func (r eventRecord) toDomain() domain.Event {
	ev := domain.Event{
		Seq: r.Seq, At: r.At, Actor: domain.UserID(r.Actor), Type: domain.EventType(r.Type),
		ItemID: domain.ItemID(r.ItemID), Subject: domain.UserID(r.Subject),
		Handoff: domain.HandoffID(r.Handoff), Note: r.Note,
	}
	if len(r.Changes) > 0 {
		ev.Changes = make([]domain.Change, len(r.Changes))
		for i, c := range r.Changes {
			ev.Changes[i] = domain.Change{Field: c.Field, Before: c.Before, After: c.After}
		}
	}
	return ev
}
