package domain

import (
	"math"
	"slices"
	"sort"
)

// IsLead reports whether user is a global lead or a lead of team (team may be empty).
func (p *Policy) IsLead(user UserID, team TeamID) bool {
	if user == "" {
		return false
	}
	if slices.Contains(p.Leads, user) {
		return true
	}
	for _, t := range p.Teams {
		if t.ID == team && team != "" && slices.Contains(t.Leads, user) {
			return true
		}
	}
	return false
}

// IsAnyLead reports whether user leads anything: globally or any team.
func (p *Policy) IsAnyLead(user UserID) bool {
	if slices.Contains(p.Leads, user) {
		return true
	}
	for _, t := range p.Teams {
		if slices.Contains(t.Leads, user) {
			return true
		}
	}
	return false
}

// TeamOf returns the team a person belongs to: the stored person's team if set, else the first
// configured team listing them as a member or lead, else "".
func (p *Policy) TeamOf(person Person) TeamID {
	if person.Team != "" {
		return person.Team
	}
	for _, t := range p.Teams {
		if slices.Contains(t.Members, person.ID) || slices.Contains(t.Leads, person.ID) {
			return t.ID
		}
	}
	return ""
}

// Team returns the configured team and true, or false if no team has that ID.
func (p *Policy) Team(id TeamID) (Team, bool) {
	for _, t := range p.Teams {
		if t.ID == id {
			return t, true
		}
	}
	return Team{}, false
}

// Stage returns the stage and true, or false if the workflow has no such stage.
func (w *Workflow) Stage(id StageID) (Stage, bool) {
	for _, s := range w.Stages {
		if s.ID == id {
			return s, true
		}
	}
	return Stage{}, false
}

// EffectiveCapacity is the person's weekly points on day today: 0 while away, else their own capacity
// if set, else the default.
func (p *Policy) EffectiveCapacity(person Person, today Date) int {
	if !person.AwayUntil.IsZero() && !person.AwayUntil.Before(today) {
		return 0
	}
	if person.CapacitySet {
		return person.Capacity
	}
	return p.DefaultCapacity
}

// LoadOf computes one person's load from their open assigned items.
func (p *Policy) LoadOf(person Person, assigned []Item, today Date) PersonLoad {
	var w Workload
	for _, it := range assigned {
		if it.Open() && it.Assignee == person.ID {
			w.Points += it.Size
			w.Items++
		}
	}
	return p.LoadWith(person, w, today)
}

// LoadWith is one person's load from their workload (ReadTx.Workload): LoadOf without the items.
func (p *Policy) LoadWith(person Person, w Workload, today Date) PersonLoad {
	pl := PersonLoad{Person: person, Capacity: p.EffectiveCapacity(person, today), Load: w.Points, Items: w.Items}
	pl.Utilisation = utilisation(pl.Load, pl.Capacity)
	pl.Overloaded = pl.Load > 0 && pl.Utilisation > p.OverloadRatio
	return pl
}

func utilisation(load, capacity int) float64 {
	switch {
	case capacity > 0:
		return float64(load) / float64(capacity)
	case load > 0:
		return math.Inf(1)
	default:
		return 0
	}
}

// WithExtra returns the load as it would be with extra more points assigned.
func (p *Policy) WithExtra(pl PersonLoad, extra int) PersonLoad {
	pl.Load += extra
	pl.Items++
	pl.Utilisation = utilisation(pl.Load, pl.Capacity)
	pl.Overloaded = pl.Load > 0 && pl.Utilisation > p.OverloadRatio
	return pl
}

// ComputeLoads returns the load of every person who is stored or has open assigned work, sorted by
// descending utilisation, then by user ID so the order is deterministic.
func (p *Policy) ComputeLoads(people []Person, open []Item, today Date) []PersonLoad {
	work := map[UserID]Workload{}
	for _, it := range open {
		if !it.Open() || it.Assignee == "" {
			continue
		}
		w := work[it.Assignee]
		w.Points += it.Size
		w.Items++
		work[it.Assignee] = w
	}
	return p.LoadsFrom(people, work, today)
}

// LoadsFrom is ComputeLoads from workloads (ReadTx.Workloads) instead of the open items: the same
// people, loads and order.
func (p *Policy) LoadsFrom(people []Person, work map[UserID]Workload, today Date) []PersonLoad {
	out := make([]PersonLoad, 0, max(len(people), len(work)))
	stored := make(map[UserID]bool, len(people))
	for _, person := range people {
		if stored[person.ID] {
			continue
		}
		stored[person.ID] = true
		out = append(out, p.LoadWith(person, work[person.ID], today))
	}
	for user, w := range work {
		if !stored[user] && user != "" && w.Items > 0 {
			out = append(out, p.LoadWith(Person{ID: user}, w, today))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Utilisation != out[j].Utilisation {
			return out[i].Utilisation > out[j].Utilisation
		}
		return out[i].Person.ID < out[j].Person.ID
	})
	return out
}
