package slackfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// stateVersion numbers the format Save writes. Load refuses any other, so
// that a change of format is a clear error rather than a half-read state.
const stateVersion = 1

// savedState is what Save keeps of the Slack side: what a workspace keeps
// across a restart of Slack itself. Sockets, envelopes, acks, triggers,
// response_urls, ephemeral messages, pending uploads and the logs (calls,
// view history) are transient and left out.
type savedState struct {
	Version    int                 `json:"version"`
	TeamID     string              `json:"team_id"`
	AppID      string              `json:"app_id"`
	BotUserID  string              `json:"bot_user_id"`
	Seq        int                 `json:"seq"`
	LastTS     int64               `json:"last_ts_micros"`
	Users      []savedUser         `json:"users"`
	Channels   []savedChannel      `json:"channels"`
	DMs        map[string]string   `json:"dms"`
	Usergroups []savedUsergroup    `json:"usergroups"`
	Views      []savedView         `json:"views"`
	Modals     map[string][]string `json:"modals"` // user -> view ids, root first
	Homes      map[string]string   `json:"homes"`  // user -> view id
}

type savedUser struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	RealName string `json:"real_name"`
	TZ       string `json:"tz"`
	IsBot    bool   `json:"is_bot"`
	Deleted  bool   `json:"deleted"`
}

type savedChannel struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	IsIM      bool           `json:"is_im"`
	IMUser    string         `json:"im_user,omitempty"`
	IsPrivate bool           `json:"is_private"`
	Member    bool           `json:"member"`
	Archived  bool           `json:"archived"`
	Created   int64          `json:"created"`
	Messages  []savedMessage `json:"messages"`
}

type savedMessage struct {
	TS        string          `json:"ts"`
	ThreadTS  string          `json:"thread_ts,omitempty"`
	User      string          `json:"user"`
	BotID     string          `json:"bot_id,omitempty"`
	Text      string          `json:"text"`
	Blocks    json.RawMessage `json:"blocks,omitempty"`
	Files     []savedFile     `json:"files,omitempty"`
	Edited    bool            `json:"edited,omitempty"`
	Edits     int             `json:"edits,omitempty"`
	Metadata  *savedMetadata  `json:"metadata,omitempty"`
	Reactions []savedReaction `json:"reactions,omitempty"`
}

type savedFile struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Title   string `json:"title"`
	AltText string `json:"alt_text,omitempty"`
	Content []byte `json:"content"`
}

type savedMetadata struct {
	EventType    string          `json:"event_type"`
	EventPayload json.RawMessage `json:"event_payload"`
}

type savedReaction struct {
	Name  string   `json:"name"`
	Users []string `json:"users"`
}

type savedUsergroup struct {
	ID     string   `json:"id"`
	Handle string   `json:"handle"`
	Users  []string `json:"users"`
}

type savedView struct {
	ID     string                      `json:"id"`
	User   string                      `json:"user"`
	Type   string                      `json:"type"`
	Hash   string                      `json:"hash"`
	RootID string                      `json:"root_view_id"`
	PrevID string                      `json:"previous_view_id,omitempty"`
	View   json.RawMessage             `json:"view"` // as the app sent it
	Errors map[string]string           `json:"errors,omitempty"`
	Draft  map[string]map[string]Value `json:"draft,omitempty"`
	Open   bool                        `json:"open"`
}

// Save writes the Slack side of the fake as versioned JSON: users,
// channels with their membership and archiving, messages with threads,
// metadata, reactions and files, DMs, user groups, views (App Home and
// open modals, with their ids and hashes) and the counters behind ids and
// timestamps. A fake that Loads it carries on where this one stopped: the
// app can chat.update its old messages and views.update its old views.
func (f *Fake) Save(w io.Writer) error {
	f.mu.Lock()
	st := savedState{
		Version: stateVersion, TeamID: f.opts.TeamID, AppID: f.opts.AppID, BotUserID: f.opts.BotUserID,
		Seq: f.seq, LastTS: f.lastTS, DMs: map[string]string{}, Modals: map[string][]string{}, Homes: map[string]string{},
	}
	for _, id := range f.userOrder {
		u := f.users[id]
		st.Users = append(st.Users, savedUser{ID: u.ID, Name: u.Name, RealName: u.RealName, TZ: u.TZ, IsBot: u.IsBot, Deleted: u.Deleted})
	}
	for _, id := range sortedKeys(f.channels) {
		c := f.channels[id]
		sc := savedChannel{ID: c.id, Name: c.name, IsIM: c.isIM, IMUser: c.imUser, IsPrivate: c.isPrivate,
			Member: c.member, Archived: c.archived, Created: c.created, Messages: []savedMessage{}}
		for _, m := range c.messages {
			sc.Messages = append(sc.Messages, saveMessage(m))
		}
		st.Channels = append(st.Channels, sc)
	}
	for user, id := range f.dms {
		st.DMs[user] = id
	}
	for _, id := range sortedKeys(f.usergroups) {
		g := f.usergroups[id]
		st.Usergroups = append(st.Usergroups, savedUsergroup{ID: g.id, Handle: g.handle, Users: append([]string{}, g.users...)})
	}
	for _, id := range sortedKeys(f.viewByID) {
		vs := f.viewByID[id]
		st.Views = append(st.Views, savedView{ID: vs.id, User: vs.user, Type: vs.typ, Hash: vs.hash, RootID: vs.rootID,
			PrevID: vs.prevID, View: append(json.RawMessage(nil), vs.raw...), Errors: vs.errors, Draft: vs.draft, Open: vs.open})
	}
	for user, stack := range f.modals {
		for _, vs := range stack {
			st.Modals[user] = append(st.Modals[user], vs.id)
		}
	}
	for user, vs := range f.homes {
		st.Homes[user] = vs.id
	}
	data, err := json.MarshalIndent(st, "", "  ")
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("slackfake: encoding state: %w", err)
	}
	if _, err := w.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("slackfake: writing state: %w", err)
	}
	return nil
}

func saveMessage(m *Message) savedMessage {
	sm := savedMessage{TS: m.TS, ThreadTS: m.ThreadTS, User: m.User, BotID: m.BotID, Text: m.Text,
		Blocks: m.Blocks, Edited: m.Edited, Edits: m.Edits}
	for _, fl := range m.Files {
		sm.Files = append(sm.Files, savedFile{ID: fl.ID, Name: fl.Name, Title: fl.Title, AltText: fl.AltText, Content: fl.Content})
	}
	if m.Metadata != nil {
		sm.Metadata = &savedMetadata{EventType: m.Metadata.EventType, EventPayload: m.Metadata.EventPayload}
	}
	for _, r := range m.Reactions {
		sm.Reactions = append(sm.Reactions, savedReaction(r))
	}
	return sm
}

// Load replaces the Slack side of the fake with what Save wrote. The state
// must come from a fake with the same team, app and bot user. Ephemeral
// messages, triggers, response_urls and pending uploads are dropped, as
// they would not outlive Slack; sockets, and the logs (Calls, Acks,
// Envelopes), are left alone.
func (f *Fake) Load(r io.Reader) error {
	var st savedState
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		return fmt.Errorf("slackfake: reading state: %w", err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("slackfake: state version %d, this fake reads version %d", st.Version, stateVersion)
	}
	if st.TeamID != f.opts.TeamID || st.AppID != f.opts.AppID || st.BotUserID != f.opts.BotUserID {
		return fmt.Errorf("slackfake: state of team %s, app %s, bot %s does not fit team %s, app %s, bot %s",
			st.TeamID, st.AppID, st.BotUserID, f.opts.TeamID, f.opts.AppID, f.opts.BotUserID)
	}

	users := map[string]*User{}
	var order []string
	for _, u := range st.Users {
		if u.ID == "" || users[u.ID] != nil {
			return fmt.Errorf("slackfake: state has an empty or repeated user id %q", u.ID)
		}
		users[u.ID] = &User{ID: u.ID, Name: u.Name, RealName: u.RealName, TZ: u.TZ, IsBot: u.IsBot, Deleted: u.Deleted}
		order = append(order, u.ID)
	}
	if users[f.opts.BotUserID] == nil {
		return errors.New("slackfake: state has no bot user")
	}
	channels := map[string]*channel{}
	for _, sc := range st.Channels {
		if sc.ID == "" || channels[sc.ID] != nil {
			return fmt.Errorf("slackfake: state has an empty or repeated channel id %q", sc.ID)
		}
		c := &channel{id: sc.ID, name: sc.Name, isIM: sc.IsIM, imUser: sc.IMUser, isPrivate: sc.IsPrivate,
			member: sc.Member, archived: sc.Archived, created: sc.Created}
		for _, sm := range sc.Messages {
			if _, ok := tsMicros(sm.TS); !ok {
				return fmt.Errorf("slackfake: state has a message in %s with ts %q", sc.ID, sm.TS)
			}
			c.messages = append(c.messages, loadMessage(sc.ID, sm))
		}
		channels[sc.ID] = c
	}
	for user, id := range st.DMs {
		if c := channels[id]; c == nil || !c.isIM {
			return fmt.Errorf("slackfake: state names %s as the DM of %s but has no such DM", id, user)
		}
	}
	groups := map[string]*usergroup{}
	for _, g := range st.Usergroups {
		groups[g.ID] = &usergroup{id: g.ID, handle: g.Handle, users: g.Users}
	}
	views := map[string]*viewState{}
	for _, sv := range st.Views {
		var req map[string]any
		if err := json.Unmarshal(sv.View, &req); err != nil || req == nil {
			return fmt.Errorf("slackfake: state has view %s that is not a JSON object", sv.ID)
		}
		draft := sv.Draft
		if draft == nil {
			draft = map[string]map[string]Value{}
		}
		views[sv.ID] = &viewState{id: sv.ID, user: sv.User, typ: sv.Type, hash: sv.Hash, rootID: sv.RootID,
			prevID: sv.PrevID, req: req, raw: sv.View, errors: sv.Errors, draft: draft, open: sv.Open}
	}
	modals := map[string][]*viewState{}
	for user, ids := range st.Modals {
		for _, id := range ids {
			if views[id] == nil {
				return fmt.Errorf("slackfake: state has modal %s of %s but no such view", id, user)
			}
			modals[user] = append(modals[user], views[id])
		}
	}
	homes := map[string]*viewState{}
	for user, id := range st.Homes {
		if views[id] == nil {
			return fmt.Errorf("slackfake: state has home %s of %s but no such view", id, user)
		}
		homes[user] = views[id]
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.users, f.userOrder, f.channels, f.usergroups = users, order, channels, groups
	f.dms = st.DMs
	if f.dms == nil {
		f.dms = map[string]string{}
	}
	f.viewByID, f.modals, f.homes = views, modals, homes
	f.history = map[string][]ViewEvent{}
	f.ephemerals = nil
	f.triggers = map[string]*trigger{}
	f.responseURLs = map[string]*responseURL{}
	f.uploads = map[string]*upload{}
	// Counters only move forward, so nothing handed out before Load is
	// handed out again.
	f.seq = max(f.seq, st.Seq)
	f.lastTS = max(f.lastTS, st.LastTS)
	f.notifyLocked()
	return nil
}

func loadMessage(channelID string, sm savedMessage) *Message {
	m := &Message{Channel: channelID, TS: sm.TS, ThreadTS: sm.ThreadTS, User: sm.User, BotID: sm.BotID,
		Text: sm.Text, Blocks: sm.Blocks, Edited: sm.Edited, Edits: sm.Edits}
	for _, fl := range sm.Files {
		m.Files = append(m.Files, File{ID: fl.ID, Name: fl.Name, Title: fl.Title, AltText: fl.AltText, Size: len(fl.Content), Content: fl.Content})
	}
	if sm.Metadata != nil {
		m.Metadata = &Metadata{EventType: sm.Metadata.EventType, EventPayload: sm.Metadata.EventPayload}
	}
	for _, r := range sm.Reactions {
		m.Reactions = append(m.Reactions, Reaction(r))
	}
	return m
}

// SaveFile is Save to path, written to a temporary file first and renamed,
// so that a crash leaves the old state or the new, never half of one.
func (f *Fake) SaveFile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("slackfake: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := f.Save(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("slackfake: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("slackfake: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("slackfake: %w", err)
	}
	return nil
}

// LoadFile is Load from path.
func (f *Fake) LoadFile(path string) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("slackfake: %w", err)
	}
	defer file.Close()
	return f.Load(file)
}
