package main

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"workbot/domain"
)

const fullConfig = `
intake_channel: C0INTAKE
leadership_channels: [C0LEADS, C0CTO]
leads: [U0LEAD]
key_prefix: OPS
teams:
  - {id: platform, name: Platform, leads: [U0PL], members: [U0A, U0B]}
calendar: {working_days: [mon, tue, wed, thu, friday], holidays: [2026-12-25], timezone: Europe/Berlin}
workflow:
  stages:
    - {id: intake, name: Intake, stall_after: 1d}
    - {id: in_progress, name: In progress, stall_after: 72h, wip_limit: 8}
    - {id: done, name: Done, terminal: true}
capacity: {default_points: 12, overload_ratio: 1.2}
digest: {schedule: "0 9 * * 1-5", timezone: America/New_York, top: 5, grace: 90m, personal_schedule: "off"}
handoff: {escalate_after: 1d12h, approval: cross_team}
blocked_stall_after: 2d
nudge_ratio: 0.5
due_soon_days: 5
`

func TestFullConfigBuildsPolicy(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if p.KeyPrefix != "OPS" || len(p.Leads) != 1 || p.Leads[0] != "U0LEAD" {
		t.Errorf("prefix/leads: %q %v", p.KeyPrefix, p.Leads)
	}
	if len(p.Teams) != 1 || p.Teams[0].ID != "platform" || len(p.Teams[0].Members) != 2 {
		t.Errorf("teams: %+v", p.Teams)
	}
	if p.Calendar.Location.String() != "Europe/Berlin" || !p.Calendar.WorkingDays[time.Friday] || p.Calendar.WorkingDays[time.Saturday] {
		t.Errorf("calendar: %+v", p.Calendar)
	}
	if !p.Calendar.Holidays[domain.Date{Year: 2026, Month: 12, Day: 25}] {
		t.Error("holiday missing")
	}
	w := p.Workflow
	if len(w.Stages) != 3 || w.Stages[0].StallAfter != 24*time.Hour || w.Stages[1].WIPLimit != 8 {
		t.Errorf("stages: %+v", w.Stages)
	}
	if w.Initial != "intake" || w.Start != "in_progress" || w.Done != "done" || w.Rejected != "done" || w.Triaged != "in_progress" {
		t.Errorf("roles: %+v", w)
	}
	if !w.CanMove("intake", "in_progress") || !w.CanMove("in_progress", "done") || !w.CanMove("in_progress", "intake") || w.CanMove("intake", "done") {
		t.Errorf("derived transitions: %v", w.Transitions)
	}
	if p.DefaultCapacity != 12 || p.OverloadRatio != 1.2 || p.HandoffEscalateAfter != 36*time.Hour || p.HandoffApproval != domain.ApprovalCrossTeam {
		t.Errorf("capacity/handoff: %+v", p)
	}
	if p.BlockedStallAfter != 48*time.Hour || p.NudgeRatio != 0.5 || p.DueSoonDays != 5 {
		t.Errorf("thresholds: %+v", p)
	}
	if cfg.Digest.Top != 5 || time.Duration(cfg.Digest.Grace) != 90*time.Minute || cfg.PersonalDigestEnabled() {
		t.Errorf("digest: %+v", cfg.Digest)
	}
	if loc, err := cfg.DigestLocation(); err != nil || loc.String() != "America/New_York" {
		t.Errorf("digest location %v %v", loc, err)
	}
}

func TestEmptyConfigIsTheDefaultPolicy(t *testing.T) {
	for _, src := range []string{"", "# nothing\n", "---\n"} {
		cfg, err := ParseConfig(strings.NewReader(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		got, err := cfg.Policy()
		if err != nil {
			t.Fatal(err)
		}
		want := domain.DefaultPolicy()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: policy\n%+v\nwant\n%+v", src, got, want)
		}
		if cfg.Digest.Schedule != "0 9 * * 1-5" || cfg.Digest.PersonalSchedule != "30 8 * * 1-5" || time.Duration(cfg.Digest.Grace) != 2*time.Hour || cfg.DBPath != DefaultDBPath {
			t.Errorf("defaults: %+v", cfg)
		}
	}
}

func TestDefaultStageIDsKeepDefaultTransitions(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(`
workflow:
  stages:
    - {id: intake, name: Inbox, stall_after: 4h}
    - {id: todo, name: To do}
    - {id: in_progress, name: Doing, wip_limit: 3}
    - {id: review, name: Review}
    - {id: testing, name: QA}
    - {id: done, name: Done, terminal: true}
    - {id: rejected, name: Won't do, terminal: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Policy()
	if err != nil {
		t.Fatal(err)
	}
	if !p.Workflow.CanMove("review", "in_progress") || !p.Workflow.CanMove("testing", "done") || p.Workflow.Triaged != "todo" {
		t.Errorf("default transitions not kept: %+v", p.Workflow)
	}
	if p.Workflow.Stages[2].WIPLimit != 3 || p.Workflow.Stages[2].Name != "Doing" {
		t.Errorf("stage overrides lost: %+v", p.Workflow.Stages[2])
	}
}

func TestCustomWorkflowWithExplicitTransitions(t *testing.T) {
	cfg, err := ParseConfig(strings.NewReader(`
workflow:
  stages:
    - {id: new}
    - {id: doing}
    - {id: shipped, terminal: true}
    - {id: dropped, terminal: true}
  transitions:
    new: [doing, dropped]
    doing: [shipped, dropped, new]
  triaged: new
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cfg.Policy()
	if err != nil {
		t.Fatal(err)
	}
	w := p.Workflow
	if w.Initial != "new" || w.Start != "doing" || w.Done != "shipped" || w.Rejected != "dropped" || w.Triaged != "new" {
		t.Errorf("roles: %+v", w)
	}
	if !w.CanMove("doing", "new") || w.CanMove("new", "shipped") {
		t.Errorf("transitions: %v", w.Transitions)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90m": 90 * time.Minute, "24h": 24 * time.Hour, "3d": 72 * time.Hour, "1d12h": 36 * time.Hour, "0": 0, " 2d ": 48 * time.Hour,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "soon", "3 days", "-1h", "d", "1.5d", "99999999999999d", "1d-2h"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

// TestBadValues covers every key with a bad value: each must be refused with a message naming the key.
func TestBadValues(t *testing.T) {
	cases := []struct {
		yaml string
		want string
	}{
		{"foo: 1", "config: foo: unknown key (line 1)"},
		{"intake_channel: C1\n\n\n\n\n\nfoo: bar", "config: foo: unknown key (line 7)"},
		{"calendar: {timezone: UTC, holiday: [2026-01-01]}", "config: calendar.holiday: unknown key"},
		{"workflow: {stages: [{id: a, stall: 1h}]}", "config: workflow.stages[0].stall: unknown key"},
		{"teams: [{id: x, lead: [U1]}]", "config: teams[0].lead: unknown key"},
		{"intake_channel: [C1]", "config: intake_channel:"},
		{"leadership_channels: C1", "config: leadership_channels: want a list"},
		{"leadership_channels: ['']", "config: leadership_channels[0]: empty channel ID"},
		{"leads: ['']", "config: leads[0]: empty user ID"},
		{"leads: {a: b}", "config: leads: want a list"},
		{"key_prefix: 'W-X'", "config: key_prefix:"},
		{"key_prefix: ''", "config: key_prefix:"},
		{"teams: [{name: nameless}]", "config: teams[0].id: a team needs an id"},
		{"teams: [{id: a}, {id: a}]", "config: teams[1].id: duplicate team"},
		{"teams: [{id: a, members: ['']}]", "config: teams[0].members[0]: empty user ID"},
		{"teams: [{id: a, leads: ['']}]", "config: teams[0].leads[0]: empty user ID"},
		{"calendar: {timezone: Mars/Base}", `config: calendar.timezone: unknown time zone "Mars/Base"`},
		{"calendar: {timezone: ''}", `config: calendar.timezone: unknown time zone ""`},
		{"calendar: {working_days: [mon, funday]}", `config: calendar.working_days[1]: "funday" is not a weekday`},
		{"calendar: {working_days: []}", "config: calendar.working_days: at least one working day"},
		{"calendar: {holidays: [christmas]}", `config: calendar.holidays[0]: "christmas" is not a date`},
		{"calendar: {holidays: [2026-02-30]}", `config: calendar.holidays[0]:`},
		{"workflow: {stages: [{id: a}, {id: a}, {id: d, terminal: true}]}", "config: workflow.stages[1].id: duplicate stage"},
		{"workflow: {stages: [{id: a, stall_after: forever}, {id: d, terminal: true}]}", "config: workflow.stages[0].stall_after:"},
		{"workflow: {stages: [{id: a, wip_limit: -1}, {id: d, terminal: true}]}", "config: workflow.stages[0].wip_limit: must not be negative"},
		{"workflow: {stages: [{id: a, wip_limit: many}, {id: d, terminal: true}]}", `config: workflow.stages[0].wip_limit: "many" is not a whole number`},
		{"workflow: {stages: [{id: a, terminal: maybe}, {id: d, terminal: true}]}", "config: workflow.stages[0].terminal:"},
		{"workflow: {stages: [{id: a}]}", "config: workflow.done: required"},
		{"workflow: {transitions: {intake: [nowhere]}}", `config: workflow.transitions.intake[0]: unknown stage "nowhere"`},
		{"workflow: {transitions: {intake: todo}}", "config: workflow.transitions.intake: want a list"},
		{"workflow: {start: done}", `config: workflow.start: stage "done" must not be terminal`},
		{"workflow: {initial: nope}", `config: workflow.initial: unknown stage "nope"`},
		{"workflow: {done: todo}", `config: workflow.done: stage "todo" must be terminal`},
		{"workflow: {rejected: intake}", `config: workflow.rejected: stage "intake" must be terminal`},
		{"workflow: {triaged: rejected}", `config: workflow.triaged: stage "rejected" must not be terminal`},
		{"capacity: {default_points: -1}", "config: capacity.default_points: must be between 0"},
		{"capacity: {default_points: ten}", `config: capacity.default_points: "ten" is not a whole number`},
		{"capacity: {overload_ratio: 0}", "config: capacity.overload_ratio: must be greater than 0"},
		{"capacity: {overload_ratio: high}", `config: capacity.overload_ratio: "high" is not a number`},
		{"digest: {schedule: 'every morning'}", `config: digest.schedule: "every morning" is not a cron spec`},
		{"digest: {schedule: '0 25 * * *'}", "config: digest.schedule:"},
		{"digest: {timezone: Nowhere/City}", `config: digest.timezone: unknown time zone "Nowhere/City"`},
		{"digest: {top: 0}", "config: digest.top: must be between 1 and 50"},
		{"digest: {grace: later}", "config: digest.grace:"},
		{"digest: {personal_schedule: '61 8 * * *'}", "config: digest.personal_schedule:"},
		{"backup: {schedule: 'nightly'}", `config: backup.schedule: "nightly" is not a cron spec`},
		{"backup: {dir: ''}", "config: backup.dir: required when backup.schedule is set"},
		{"backup: {keep: 0}", "config: backup.keep: must be between 1 and 1000"},
		{"backup: {retention: 3}", "config: backup.retention: unknown key"},
		{"handoff: {escalate_after: -1h}", "config: handoff.escalate_after:"},
		{"handoff: {approval: sometimes}", `config: handoff.approval: "sometimes" is not one of never, cross_team, always`},
		{"blocked_stall_after: 2 days", "config: blocked_stall_after:"},
		{"nudge_ratio: 1.5", "config: nudge_ratio: must be between 0 and 1"},
		{"due_soon_days: -2", "config: due_soon_days: must not be negative"},
		{"due_soon_days: soon", `config: due_soon_days: "soon" is not a whole number`},
		{"leads: &x [*x]", "config: leads[0]:"},
		{"- just\n- a list", "config: the top level: want a mapping"},
		{"key: [unclosed", "config: "},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			cfg, err := ParseConfig(strings.NewReader(tc.yaml))
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil {
				t.Fatalf("%q was accepted", tc.yaml)
			}
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Errorf("code %q, want %q", domain.ErrorCode(err), domain.EINVALID)
			}
			if msg := domain.ErrorMessage(err); !strings.Contains(msg, tc.want) {
				t.Errorf("%q:\n got %q\nwant it to contain %q", tc.yaml, msg, tc.want)
			}
		})
	}
}

func TestBadEnvironment(t *testing.T) {
	cases := map[string]struct {
		env  env
		want string
	}{
		"bot token kind":     {env{"SLACK_BOT_TOKEN": "xapp-1-wrong"}, "SLACK_BOT_TOKEN: must be a bot token starting with xoxb-"},
		"app token kind":     {env{"SLACK_APP_TOKEN": "xoxb-wrong"}, "SLACK_APP_TOKEN: must be an app-level token starting with xapp-"},
		"api url":            {env{"SLACK_API_URL": "ftp://slack"}, "SLACK_API_URL:"},
		"relative url":       {env{"SLACK_API_URL": "/api/"}, "SLACK_API_URL:"},
		"log level":          {env{"WORKBOT_LOG_LEVEL": "loud"}, "WORKBOT_LOG_LEVEL:"},
		"log format":         {env{"WORKBOT_LOG_FORMAT": "xml"}, `WORKBOT_LOG_FORMAT: "xml" is not json or console`},
		"defaults are valid": {env{}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.ApplyEnv(tc.env.get)
			err := cfg.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("defaults refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(domain.ErrorMessage(err), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestAPIURLGetsTrailingSlash(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ApplyEnv(env{"SLACK_API_URL": "http://127.0.0.1:9999/api"}.get)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.APIURL != "http://127.0.0.1:9999/api/" {
		t.Errorf("APIURL = %q", cfg.APIURL)
	}
}

func TestLoadConfigNamesTheFile(t *testing.T) {
	_, err := LoadConfig(writeConfig(t, "nope: 1\n"))
	if err == nil || !strings.Contains(domain.ErrorMessage(err), "workbot.yaml: nope: unknown key") {
		t.Errorf("LoadConfig unknown key: %v", err)
	}
	if _, err := LoadConfig("/nonexistent/workbot.yaml"); err == nil || !strings.Contains(err.Error(), "/nonexistent/workbot.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(fullConfig)
	f.Add("workflow: {stages: [{id: a}]}")
	f.Add("calendar: &a {timezone: UTC}\ndigest: *a")
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := ParseConfig(strings.NewReader(src))
		if err != nil {
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("parse error not EINVALID: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil && domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("validate error not EINVALID: %v", err)
		}
	})
}

// TestREADMEExampleConfigIsValid keeps the documented full example working.
func TestREADMEExampleConfigIsValid(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "Full example:\n\n```yaml\n")
	if !ok {
		t.Fatal("README has no full example config")
	}
	example, _, _ := strings.Cut(rest, "```")
	cfg, err := ParseConfig(strings.NewReader(example))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Backup.Keep != 14 || cfg.Handoff.Approval != "cross_team" || len(cfg.Teams) != 1 {
		t.Errorf("example parsed as %+v", cfg)
	}
}
