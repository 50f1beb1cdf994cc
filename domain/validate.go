package domain

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// problems gathers config errors so a bad config is reported in one go rather than one start-up at a time.
type problems []*Error

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, &Error{Code: EINVALID, Field: field, Message: field + ": " + fmt.Sprintf(format, args...)})
}

// err returns nil, the only problem, or one EINVALID error listing them all whose Field is the first.
func (ps problems) err() error {
	switch len(ps) {
	case 0:
		return nil
	case 1:
		return ps[0]
	}
	msgs := make([]string, len(ps))
	for i, p := range ps {
		msgs[i] = p.Message
	}
	return &Error{Code: EINVALID, Field: ps[0].Field, Message: strings.Join(msgs, "; ")}
}

// Validate checks that the workflow can be run: stage IDs are set and unique, transitions name known
// stages and leave no terminal stage, the Initial, Triaged and Start stages are open, the Done and Rejected
// stages are terminal, every open stage is reachable from Initial and can still reach a terminal stage.
// Returns EINVALID whose Field (and message prefix) names the offending key, e.g.
// "workflow.stages[2].id: duplicate stage \"review\"".
func (w Workflow) Validate() error {
	var ps problems
	w.validateInto(&ps)
	return ps.err()
}

func (w Workflow) validateInto(ps *problems) {
	if len(w.Stages) == 0 {
		ps.add("workflow.stages", "at least one stage is required")
		return
	}
	index := map[StageID]int{}
	for i, st := range w.Stages {
		field := fmt.Sprintf("workflow.stages[%d]", i)
		switch {
		case st.ID == "":
			ps.add(field+".id", "a stage needs an id")
		case !validStageID(st.ID):
			ps.add(field+".id", "%q may hold only letters, digits, '_' and '-' (at most 40)", st.ID)
		default:
			if _, dup := index[st.ID]; dup {
				ps.add(field+".id", "duplicate stage %q", st.ID)
			} else {
				index[st.ID] = i
			}
		}
		if st.StallAfter < 0 {
			ps.add(field+".stall_after", "must not be negative")
		}
		if st.WIPLimit < 0 {
			ps.add(field+".wip_limit", "must not be negative")
		}
		switch {
		case !st.Terminal && st.Resolution != ResolutionNone:
			ps.add(field+".resolution", "only a terminal stage has a resolution")
		case st.Terminal && st.Resolution != ResolutionNone && st.Resolution != ResolutionDone && st.Resolution != ResolutionRejected:
			ps.add(field+".resolution", "%q is not done or rejected", st.Resolution)
		}
	}

	froms := make([]StageID, 0, len(w.Transitions))
	for from := range w.Transitions {
		froms = append(froms, from)
	}
	slices.Sort(froms)
	for _, from := range froms {
		field := fmt.Sprintf("workflow.transitions.%s", from)
		i, ok := index[from]
		if !ok {
			ps.add(field, "unknown stage %q", from)
			continue
		}
		if w.Stages[i].Terminal && len(w.Transitions[from]) > 0 {
			ps.add(field, "terminal stage %q cannot have transitions", from)
		}
		for j, to := range w.Transitions[from] {
			if _, ok := index[to]; !ok {
				ps.add(fmt.Sprintf("%s[%d]", field, j), "unknown stage %q", to)
			} else if to == from {
				ps.add(fmt.Sprintf("%s[%d]", field, j), "a stage cannot move to itself")
			}
		}
	}

	roles := []struct {
		field    string
		id       StageID
		terminal bool
	}{
		{"workflow.initial", w.Initial, false},
		{"workflow.triaged", w.Triaged, false},
		{"workflow.start", w.Start, false},
		{"workflow.done", w.Done, true},
		{"workflow.rejected", w.Rejected, true},
	}
	for _, r := range roles {
		i, ok := index[r.id]
		switch {
		case r.id == "":
			ps.add(r.field, "required")
		case !ok:
			ps.add(r.field, "unknown stage %q", r.id)
		case w.Stages[i].Terminal != r.terminal && r.terminal:
			ps.add(r.field, "stage %q must be terminal", r.id)
		case w.Stages[i].Terminal != r.terminal:
			ps.add(r.field, "stage %q must not be terminal", r.id)
		}
	}
	if len(*ps) > 0 {
		return // reachability over a broken graph would only repeat the problems above
	}

	reached := w.reachableFrom(w.Initial)
	for i, st := range w.Stages {
		if !st.Terminal && !reached[st.ID] {
			ps.add(fmt.Sprintf("workflow.stages[%d].id", i), "stage %q cannot be reached from %q", st.ID, w.Initial)
		}
	}
	for i, st := range w.Stages {
		if st.Terminal {
			continue
		}
		ends := false
		for id := range w.reachableFrom(st.ID) {
			if s, _ := w.Stage(id); s.Terminal {
				ends = true
				break
			}
		}
		if !ends {
			ps.add(fmt.Sprintf("workflow.stages[%d].id", i), "stage %q has no way to a terminal stage", st.ID)
		}
	}
}

func (w Workflow) reachableFrom(start StageID) map[StageID]bool {
	seen := map[StageID]bool{start: true}
	queue := []StageID{start}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, next := range w.Transitions[cur] {
			if !seen[next] {
				seen[next] = true
				queue = append(queue, next)
			}
		}
	}
	return seen
}

func validStageID(id StageID) bool {
	if len(id) > 40 {
		return false
	}
	for _, r := range string(id) {
		if !(r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// Validate checks the whole policy, workflow included. Returns EINVALID whose Field (and message prefix)
// names the config key at fault, e.g. "capacity.overload_ratio: must be greater than 0".
func (p *Policy) Validate() error {
	if p == nil {
		return Errorf(EINVALID, "no policy")
	}
	var ps problems
	if p.KeyPrefix == "" || len(p.KeyPrefix) > 10 || strings.ContainsFunc(p.KeyPrefix, func(r rune) bool {
		return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r))
	}) {
		ps.add("key_prefix", "%q must be 1 to 10 ASCII letters or digits", p.KeyPrefix)
	}
	for i, lead := range p.Leads {
		if lead == "" {
			ps.add(fmt.Sprintf("leads[%d]", i), "empty user ID")
		}
	}
	teams := map[TeamID]bool{}
	for i, t := range p.Teams {
		field := fmt.Sprintf("teams[%d]", i)
		switch {
		case t.ID == "":
			ps.add(field+".id", "a team needs an id")
		case teams[t.ID]:
			ps.add(field+".id", "duplicate team %q", t.ID)
		}
		teams[t.ID] = true
		for j, u := range t.Leads {
			if u == "" {
				ps.add(fmt.Sprintf("%s.leads[%d]", field, j), "empty user ID")
			}
		}
		for j, u := range t.Members {
			if u == "" {
				ps.add(fmt.Sprintf("%s.members[%d]", field, j), "empty user ID")
			}
		}
	}
	p.Workflow.validateInto(&ps)

	if p.Calendar.Location == nil {
		ps.add("calendar.timezone", "required")
	}
	if !slices.Contains(p.Calendar.WorkingDays[:], true) {
		ps.add("calendar.working_days", "at least one working day is required")
	}
	if p.DefaultCapacity < 0 || p.DefaultCapacity > MaxCapacity {
		ps.add("capacity.default_points", "must be between 0 and %d", MaxCapacity)
	}
	if !(p.OverloadRatio > 0) || p.OverloadRatio > 100 {
		ps.add("capacity.overload_ratio", "must be greater than 0 (1.0 means full capacity)")
	}
	if p.HandoffEscalateAfter < 0 {
		ps.add("handoff.escalate_after", "must not be negative")
	}
	switch p.HandoffApproval {
	case ApprovalNever, ApprovalCrossTeam, ApprovalAlways:
	default:
		ps.add("handoff.approval", "%q is not one of never, cross_team, always", p.HandoffApproval)
	}
	if p.BlockedStallAfter < 0 {
		ps.add("blocked_stall_after", "must not be negative")
	}
	if !(p.NudgeRatio >= 0 && p.NudgeRatio <= 1) {
		ps.add("nudge_ratio", "must be between 0 and 1")
	}
	if p.DueSoonDays < 0 {
		ps.add("due_soon_days", "must not be negative")
	}
	return ps.err()
}

// MaxCapacity is the most points per week a person's capacity may be set to.
const MaxCapacity = 200

// validateNewItem normalises the intake form (trims text, fills default ratings) and reports every
// problem at once as FieldErrors.
func (p *Policy) validateNewItem(in NewItem, today Date) (NewItem, error) {
	var errs FieldErrors
	in.Title = strings.TrimSpace(in.Title)
	in.Details = strings.TrimSpace(in.Details)
	in.Kind = strings.TrimSpace(in.Kind)
	in.Team = TeamID(strings.TrimSpace(string(in.Team)))
	switch n := utf8.RuneCountInString(in.Title); {
	case n == 0:
		errs = append(errs, FieldError("title", "Give the request a title."))
	case n > MaxTitleLen:
		errs = append(errs, FieldError("title", "The title is %d characters; keep it to %d.", n, MaxTitleLen))
	}
	if n := utf8.RuneCountInString(in.Details); n > MaxDetailsLen {
		errs = append(errs, FieldError("details", "The details are %d characters; keep them to %d.", n, MaxDetailsLen))
	}
	if n := utf8.RuneCountInString(in.Kind); n > MaxKindLen {
		errs = append(errs, FieldError("kind", "The kind is %d characters; keep it to %d.", n, MaxKindLen))
	}
	// With no teams configured the team is free text, so there is nothing to check it against.
	if _, known := p.Team(in.Team); in.Team != "" && len(p.Teams) > 0 && !known {
		errs = append(errs, FieldError("team", "There is no team %q.", truncateForMessage(string(in.Team))))
	}
	var err *Error
	if in.Value, err = rating("value", "Value", in.Value); err != nil {
		errs = append(errs, err)
	}
	if in.Urgency, err = rating("urgency", "Urgency", in.Urgency); err != nil {
		errs = append(errs, err)
	}
	if in.Size, err = size("size", in.Size); err != nil {
		errs = append(errs, err)
	}
	if err := dueDate("due", in.Due, today); err != nil {
		errs = append(errs, err)
	}
	if in.Requester == SystemActor || len(in.Requester) > 40 {
		errs = append(errs, FieldError("requester", "The requester is not a person."))
	}
	src := in.Source
	if len(src.Conversation) > MaxSourceLen || len(src.Message) > MaxSourceLen || len(src.Thread) > MaxSourceLen ||
		(src.Conversation == "") != (src.Message == "") || (src.Thread != "" && src.Message == "") {
		errs = append(errs, FieldError("source", "The source message is not valid."))
	}
	return in, errs.Err()
}

// rating fills 0 with the middle value 3 and refuses anything outside 1..5.
func rating(field, label string, v int) (int, *Error) {
	if v == 0 {
		return 3, nil
	}
	if v < 1 || v > 5 {
		return v, FieldError(field, "%s must be from 1 to 5.", label)
	}
	return v, nil
}

func size(field string, v int) (int, *Error) {
	if v == 0 {
		return 3, nil
	}
	if !slices.Contains(Sizes, v) {
		return v, FieldError(field, "Size must be one of 1, 2, 3, 5, 8 or 13 points.")
	}
	return v, nil
}

// dueDate refuses impossible dates (a Date built by hand may say 31 February) and dates in the past.
func dueDate(field string, d Date, today Date) *Error {
	if d.IsZero() {
		return nil
	}
	if DateOf(d.Start(time.UTC)) != d || d.Year < 2000 || d.Year > 9999 {
		return FieldError(field, "%s is not a real date.", d)
	}
	if d.Before(today) {
		return FieldError(field, "The due date %s is in the past.", d)
	}
	return nil
}

func validReason(field, reason string, required bool) (string, *Error) {
	reason = strings.TrimSpace(reason)
	switch n := utf8.RuneCountInString(reason); {
	case n == 0 && required:
		return "", FieldError(field, "Please give a reason.")
	case n > MaxReasonLen:
		return "", FieldError(field, "The reason is %d characters; keep it to %d.", n, MaxReasonLen)
	}
	return reason, nil
}

// sortedUsers returns the users in a stable order so events and suggestions are deterministic.
func sortedUsers(users map[UserID]bool) []UserID {
	out := make([]UserID, 0, len(users))
	for u := range users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Unwrap exposes each field error, so ErrorCode reports EINVALID and ErrorMessage the first message for
// a FieldErrors as for a single *Error; transports that only know *Error still show something useful.
func (fe FieldErrors) Unwrap() []error {
	out := make([]error, len(fe))
	for i, e := range fe {
		out[i] = e
	}
	return out
}
