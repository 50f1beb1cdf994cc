package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"workbot/domain"
)

// Config is everything workbot reads at start-up: the YAML file (keys as in product.md), then the
// environment, then flags. Secrets (the Slack tokens) come only from the environment, so they never
// end up in a shell history or a process list.
type Config struct {
	IntakeChannel      string         `yaml:"intake_channel"`
	LeadershipChannels []string       `yaml:"leadership_channels"`
	Leads              []string       `yaml:"leads"`
	KeyPrefix          string         `yaml:"key_prefix"`
	Teams              []TeamConfig   `yaml:"teams"`
	Calendar           CalendarConfig `yaml:"calendar"`
	Workflow           WorkflowConfig `yaml:"workflow"`
	Capacity           CapacityConfig `yaml:"capacity"`
	Digest             DigestConfig   `yaml:"digest"`
	Handoff            HandoffConfig  `yaml:"handoff"`
	Backup             BackupConfig   `yaml:"backup"`
	BlockedStallAfter  Duration       `yaml:"blocked_stall_after"`
	NudgeRatio         float64        `yaml:"nudge_ratio"`
	DueSoonDays        int            `yaml:"due_soon_days"`
	// IntakeReaction is an emoji name (no colons) that files the message it is added to as a request;
	// empty turns reaction intake off. IntakeReactionChannels limits it to those channels (empty: any
	// channel workbot is in).
	IntakeReaction         string   `yaml:"intake_reaction"`
	IntakeReactionChannels []string `yaml:"intake_reaction_channels"`
	// NotifySourceThread posts a request's key, and later its triage, assignment and outcome, in the
	// thread of the message it was filed from.
	NotifySourceThread bool `yaml:"notify_source_thread"`
	// OpsAddr is where run serves /metrics, /healthz and /readyz; "off" serves nothing.
	OpsAddr string `yaml:"ops_addr"`

	// From the environment and flags only.
	ConfigPath string `yaml:"-"`
	DBPath     string `yaml:"-"`
	LogLevel   string `yaml:"-"`
	LogFormat  string `yaml:"-"`
	BotToken   string `yaml:"-"`
	AppToken   string `yaml:"-"`
	APIURL     string `yaml:"-"`
}

// TeamConfig is one entry of teams.
type TeamConfig struct {
	ID      string   `yaml:"id"`
	Name    string   `yaml:"name"`
	Leads   []string `yaml:"leads"`
	Members []string `yaml:"members"`
}

// CalendarConfig says which days count as working time.
type CalendarConfig struct {
	WorkingDays []string `yaml:"working_days"`
	Holidays    []string `yaml:"holidays"`
	Timezone    string   `yaml:"timezone"`
}

// StageConfig is one workflow stage.
type StageConfig struct {
	ID         string   `yaml:"id"`
	Name       string   `yaml:"name"`
	StallAfter Duration `yaml:"stall_after"`
	WIPLimit   int      `yaml:"wip_limit"`
	Terminal   bool     `yaml:"terminal"`
}

// WorkflowConfig overrides the default workflow. Empty Stages keeps the default stages. Empty
// Transitions derives them (see defaultTransitions); empty role stages are derived too (see roles).
type WorkflowConfig struct {
	Stages      []StageConfig       `yaml:"stages"`
	Transitions map[string][]string `yaml:"transitions"`
	Initial     string              `yaml:"initial"`
	Start       string              `yaml:"start"`
	Done        string              `yaml:"done"`
	Rejected    string              `yaml:"rejected"`
	Triaged     string              `yaml:"triaged"`
}

// CapacityConfig sets the default weekly points and when someone counts as overloaded.
type CapacityConfig struct {
	DefaultPoints int     `yaml:"default_points"`
	OverloadRatio float64 `yaml:"overload_ratio"`
}

// DigestConfig schedules the leadership digest and the personal daily DM.
type DigestConfig struct {
	Schedule         string   `yaml:"schedule"`
	Timezone         string   `yaml:"timezone"` // "" means the calendar's time zone
	Top              int      `yaml:"top"`
	Grace            Duration `yaml:"grace"`
	PersonalSchedule string   `yaml:"personal_schedule"` // "" or "off" disables the personal DM
}

// BackupConfig schedules hot backups taken by the running bot. The bot holds the database's lock, so
// `workbot backup` cannot read the file while it runs; these backups can.
type BackupConfig struct {
	Schedule string `yaml:"schedule"` // "" or "off" disables them
	Dir      string `yaml:"dir"`
	Keep     int    `yaml:"keep"`
}

// BackupsEnabled reports whether scheduled backups are on.
func (c *Config) BackupsEnabled() bool {
	s := strings.TrimSpace(c.Backup.Schedule)
	return s != "" && s != "off"
}

// HandoffConfig sets escalation and approval of handoffs.
type HandoffConfig struct {
	EscalateAfter Duration `yaml:"escalate_after"`
	Approval      string   `yaml:"approval"`
}

// Duration reads Go durations ("90m", "24h") and whole or mixed days ("3d", "1d12h"), because
// thresholds are naturally said in days.
type Duration time.Duration

var daysPrefix = regexp.MustCompile(`^(\d+)d`)

// ParseDuration parses Go duration syntax plus a leading day count.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var total time.Duration
	if m := daysPrefix.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 100000 {
			return 0, fmt.Errorf("%q is too long", s)
		}
		total = time.Duration(days) * 24 * time.Hour
		s = s[len(m[0]):]
		if s == "" {
			return total, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration like \"90m\", \"24h\" or \"3d\"")
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	return total + d, nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("want a duration like \"90m\", \"24h\" or \"3d\"")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("%q: %w", n.Value, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the Go syntax back.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// DefaultAPIURL is Slack's Web API base.
const DefaultAPIURL = "https://slack.com/api/"

// DefaultDBPath is where run keeps its database unless told otherwise.
const DefaultDBPath = "./workbot.db"

// DefaultConfig is the configuration when no file is given.
// emojiName is what Slack allows in a custom emoji's name, and covers the standard ones.
var emojiName = regexp.MustCompile(`^[a-z0-9_+'-]{1,100}$`)

func DefaultConfig() *Config {
	p := domain.DefaultPolicy()
	return &Config{
		KeyPrefix: p.KeyPrefix,
		Calendar: CalendarConfig{
			WorkingDays: []string{"mon", "tue", "wed", "thu", "fri"},
			Timezone:    "UTC",
		},
		Capacity: CapacityConfig{DefaultPoints: p.DefaultCapacity, OverloadRatio: p.OverloadRatio},
		Digest: DigestConfig{
			Schedule:         "0 9 * * 1-5",
			Top:              10,
			Grace:            Duration(2 * time.Hour),
			PersonalSchedule: "30 8 * * 1-5",
		},
		Handoff:            HandoffConfig{EscalateAfter: Duration(p.HandoffEscalateAfter), Approval: string(p.HandoffApproval)},
		Backup:             BackupConfig{Schedule: "0 3 * * *", Dir: "backups", Keep: 7},
		BlockedStallAfter:  Duration(p.BlockedStallAfter),
		NudgeRatio:         p.NudgeRatio,
		DueSoonDays:        p.DueSoonDays,
		NotifySourceThread: true,
		OpsAddr:            DefaultOpsAddr,
		DBPath:             DefaultDBPath,
		LogLevel:           "info",
		LogFormat:          "json",
		APIURL:             DefaultAPIURL,
	}
}

func configError(field, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if field != "" {
		msg = field + ": " + msg
	}
	return &domain.Error{Code: domain.EINVALID, Field: field, Message: "config: " + msg}
}

// ParseConfig reads YAML over the defaults. Unknown keys and values of the wrong type are refused with
// the key path ("config: calendar.foo: unknown key (line 7)").
func ParseConfig(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, configError("", "read: %v", err)
	}
	if len(data) > 1<<20 {
		return nil, configError("", "file is larger than 1 MiB")
	}
	cfg := DefaultConfig()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, configError("", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if doc.Kind == 0 || len(doc.Content) == 0 || doc.Content[0].Tag == "!!null" {
		return cfg, nil // an empty file means all defaults
	}
	// Walk first so the error can name the key; yaml's own errors only give a line number.
	if err := checkNode(doc.Content[0], reflect.TypeFor[Config](), ""); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return nil, configError("", "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return cfg, nil
}

// checkNode checks n against the Go type t: every mapping key must be a known yaml field, and every
// leaf must decode. The first problem is returned with its key path.
func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Tag == "!!null" {
		return nil // leaves the default in place
	}
	where := func() string {
		if path == "" {
			return "the top level"
		}
		return path
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		return decodeLeaf(n, t, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return configError(where(), "want a mapping of keys (line %d)", n.Line)
		}
		fields := map[string]reflect.Type{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				fields[name] = f.Type
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				return configError(join(path, key), "unknown key (line %d)", n.Content[i].Line)
			}
			if err := checkNode(n.Content[i+1], ft, join(path, key)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return configError(where(), "want a list (line %d)", n.Line)
		}
		for i, c := range n.Content {
			if err := checkNode(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return configError(where(), "want a mapping (line %d)", n.Line)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := checkNode(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
		return nil
	default:
		return decodeLeaf(n, t, path)
	}
}

func decodeLeaf(n *yaml.Node, t reflect.Type, path string) error {
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		// yaml's type errors look like "unmarshal errors:\n  line 3: cannot unmarshal !!str `x` into int".
		if strings.HasPrefix(msg, "unmarshal errors:") {
			msg = fmt.Sprintf("%q is not %s (line %d)", n.Value, kindName(t), n.Line)
		}
		return configError(path, "%s", msg)
	}
	return nil
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return "a " + t.String()
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// LoadConfig reads the file at path, or returns the defaults when path is "".
func LoadConfig(path string) (*Config, error) {
	if path == "" {
		return DefaultConfig(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, configError("", "%v", err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f)
	if err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			de.Message = strings.Replace(de.Message, "config: ", "config "+path+": ", 1)
		}
		return nil, err
	}
	cfg.ConfigPath = path
	return cfg, nil
}

// ApplyEnv overrides the config from the environment. getenv is os.Getenv outside tests.
func (c *Config) ApplyEnv(getenv func(string) string) {
	set := func(dst *string, name string) {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			*dst = v
		}
	}
	set(&c.DBPath, "WORKBOT_DB")
	set(&c.OpsAddr, "WORKBOT_OPS_ADDR")
	set(&c.LogLevel, "WORKBOT_LOG_LEVEL")
	set(&c.LogFormat, "WORKBOT_LOG_FORMAT")
	set(&c.BotToken, "SLACK_BOT_TOKEN")
	set(&c.AppToken, "SLACK_APP_TOKEN")
	set(&c.APIURL, "SLACK_API_URL")
}

// Validate checks everything that does not need Slack: the policy, schedules, time zones, logging,
// the API URL and the shape of any tokens given. Whether tokens are present is checked by run alone,
// since export, backup and check need none.
func (c *Config) Validate() error {
	if _, err := c.Policy(); err != nil {
		return err
	}
	if c.Digest.Timezone != "" {
		if _, err := time.LoadLocation(c.Digest.Timezone); err != nil {
			return configError("digest.timezone", "unknown time zone %q", c.Digest.Timezone)
		}
	}
	if _, err := cron.ParseStandard(c.Digest.Schedule); err != nil {
		return configError("digest.schedule", "%q is not a cron spec like \"0 9 * * 1-5\": %v", c.Digest.Schedule, err)
	}
	if c.PersonalDigestEnabled() {
		if _, err := cron.ParseStandard(c.Digest.PersonalSchedule); err != nil {
			return configError("digest.personal_schedule", "%q is not a cron spec like \"30 8 * * 1-5\" (or \"off\"): %v", c.Digest.PersonalSchedule, err)
		}
	}
	if c.Digest.Top < 1 || c.Digest.Top > 50 {
		return configError("digest.top", "must be between 1 and 50")
	}
	if c.Digest.Grace < 0 {
		return configError("digest.grace", "must not be negative")
	}
	if c.BackupsEnabled() {
		if _, err := cron.ParseStandard(c.Backup.Schedule); err != nil {
			return configError("backup.schedule", "%q is not a cron spec like \"0 3 * * *\" (or \"off\"): %v", c.Backup.Schedule, err)
		}
		if strings.TrimSpace(c.Backup.Dir) == "" {
			return configError("backup.dir", "required when backup.schedule is set")
		}
		if c.Backup.Keep < 1 || c.Backup.Keep > 1000 {
			return configError("backup.keep", "must be between 1 and 1000")
		}
	}
	for i, ch := range c.LeadershipChannels {
		if strings.TrimSpace(ch) == "" {
			return configError(fmt.Sprintf("leadership_channels[%d]", i), "empty channel ID")
		}
	}
	if a := c.OpsAddr; a != "off" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return configError("ops_addr", "%q is not host:port (like 127.0.0.1:9464) or off", a)
		}
	}
	if r := c.IntakeReaction; r != "" && !emojiName.MatchString(r) {
		hint := ""
		if strings.Contains(r, ":") {
			hint = " (write it without colons, e.g. ticket)"
		}
		return configError("intake_reaction", "%q is not an emoji name%s", r, hint)
	}
	for i, ch := range c.IntakeReactionChannels {
		if strings.TrimSpace(ch) == "" {
			return configError(fmt.Sprintf("intake_reaction_channels[%d]", i), "empty channel ID")
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return configError("WORKBOT_LOG_LEVEL", "%v", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "console" {
		return configError("WORKBOT_LOG_FORMAT", "%q is not json or console", c.LogFormat)
	}
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return configError("SLACK_API_URL", "%q is not an http(s) URL", c.APIURL)
	}
	if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/" // slack-go appends method names directly
	}
	if c.BotToken != "" && !strings.HasPrefix(c.BotToken, "xoxb-") {
		return configError("SLACK_BOT_TOKEN", "must be a bot token starting with xoxb- (OAuth & Permissions page of your Slack app)")
	}
	if c.AppToken != "" && !strings.HasPrefix(c.AppToken, "xapp-") {
		return configError("SLACK_APP_TOKEN", "must be an app-level token starting with xapp- (Basic Information page of your Slack app)")
	}
	return nil
}

// PersonalDigestEnabled reports whether the personal daily DM is scheduled at all.
func (c *Config) PersonalDigestEnabled() bool {
	s := strings.TrimSpace(c.Digest.PersonalSchedule)
	return s != "" && s != "off"
}

// DigestLocation is the time zone of the digest schedules: digest.timezone, else calendar.timezone.
func (c *Config) DigestLocation() (*time.Location, error) {
	name, field := c.Digest.Timezone, "digest.timezone"
	if name == "" {
		name, field = c.Calendar.Timezone, "calendar.timezone"
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, configError(field, "unknown time zone %q", name)
	}
	return loc, nil
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

func parseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) < 3 {
		return 0, false
	}
	d, ok := weekdays[s[:3]]
	if !ok || (len(s) > 3 && !strings.HasPrefix(strings.ToLower(d.String()), s)) {
		return 0, false
	}
	return d, true
}

// Policy builds the domain policy and validates it. Errors name the config key.
func (c *Config) Policy() (*domain.Policy, error) {
	p := domain.DefaultPolicy()
	p.KeyPrefix = c.KeyPrefix
	p.Leads = userIDs(c.Leads)
	for _, t := range c.Teams {
		p.Teams = append(p.Teams, domain.Team{ID: domain.TeamID(t.ID), Name: t.Name, Leads: userIDs(t.Leads), Members: userIDs(t.Members)})
	}

	loc, err := time.LoadLocation(c.Calendar.Timezone)
	if err != nil || c.Calendar.Timezone == "" {
		return nil, configError("calendar.timezone", "unknown time zone %q", c.Calendar.Timezone)
	}
	var days [7]bool
	for i, s := range c.Calendar.WorkingDays {
		d, ok := parseWeekday(s)
		if !ok {
			return nil, configError(fmt.Sprintf("calendar.working_days[%d]", i), "%q is not a weekday like mon or monday", s)
		}
		days[d] = true
	}
	holidays := map[domain.Date]bool{}
	for i, s := range c.Calendar.Holidays {
		d, err := domain.ParseDate(s)
		if err != nil {
			return nil, configError(fmt.Sprintf("calendar.holidays[%d]", i), "%q is not a date like 2026-12-25", s)
		}
		holidays[d] = true
	}
	p.Calendar = domain.Calendar{WorkingDays: days, Holidays: holidays, Location: loc}

	p.Workflow = c.workflow()
	p.DefaultCapacity = c.Capacity.DefaultPoints
	p.OverloadRatio = c.Capacity.OverloadRatio
	p.HandoffEscalateAfter = time.Duration(c.Handoff.EscalateAfter)
	p.HandoffApproval = domain.ApprovalPolicy(c.Handoff.Approval)
	p.BlockedStallAfter = time.Duration(c.BlockedStallAfter)
	p.NudgeRatio = c.NudgeRatio
	p.DueSoonDays = c.DueSoonDays
	if err := p.Validate(); err != nil {
		return nil, configError("", "%s", domain.ErrorMessage(err))
	}
	return p, nil
}

func userIDs(ss []string) []domain.UserID {
	if len(ss) == 0 {
		return nil
	}
	out := make([]domain.UserID, 0, len(ss))
	for _, s := range ss {
		out = append(out, domain.UserID(strings.TrimSpace(s)))
	}
	return out
}

// workflow builds the domain workflow. Without stages it is domain.DefaultWorkflow (with any role or
// transition overrides). With stages whose IDs are exactly the default ones, the default transitions
// apply; otherwise see defaultTransitions.
func (c *Config) workflow() domain.Workflow {
	wc := c.Workflow
	w := domain.DefaultWorkflow()
	if len(wc.Stages) > 0 {
		w.Stages = make([]domain.Stage, 0, len(wc.Stages))
		for _, s := range wc.Stages {
			w.Stages = append(w.Stages, domain.Stage{
				ID: domain.StageID(s.ID), Name: s.Name, StallAfter: time.Duration(s.StallAfter),
				WIPLimit: s.WIPLimit, Terminal: s.Terminal,
			})
		}
		if !sameStageIDs(w.Stages, domain.DefaultWorkflow().Stages) {
			w.Initial, w.Triaged, w.Start, w.Done, w.Rejected = roles(w.Stages)
			w.Transitions = nil
		}
	}
	for _, r := range []struct {
		dst *domain.StageID
		v   string
	}{{&w.Initial, wc.Initial}, {&w.Start, wc.Start}, {&w.Done, wc.Done}, {&w.Rejected, wc.Rejected}, {&w.Triaged, wc.Triaged}} {
		if r.v != "" {
			*r.dst = domain.StageID(r.v)
		}
	}
	switch {
	case len(wc.Transitions) > 0:
		w.Transitions = map[domain.StageID][]domain.StageID{}
		for from, tos := range wc.Transitions {
			for _, to := range tos {
				w.Transitions[domain.StageID(from)] = append(w.Transitions[domain.StageID(from)], domain.StageID(to))
			}
		}
	case w.Transitions == nil:
		w.Transitions = defaultTransitions(w)
	}
	return w
}

func sameStageIDs(a, b []domain.Stage) bool {
	if len(a) != len(b) {
		return false
	}
	ids := map[domain.StageID]bool{}
	for _, s := range b {
		ids[s.ID] = true
	}
	for _, s := range a {
		if !ids[s.ID] {
			return false
		}
	}
	return true
}

// roles picks the role stages of a custom workflow: initial is the first stage; done is the terminal
// stage "done" or else the first terminal one; rejected is the terminal stage "rejected", else another
// terminal stage, else done; start is "in_progress" or else the second open stage; triaged is "todo"
// or else the open stage after initial.
func roles(stages []domain.Stage) (initial, triaged, start, done, rejected domain.StageID) {
	var open, terminal []domain.StageID
	for _, s := range stages {
		if s.Terminal {
			terminal = append(terminal, s.ID)
		} else {
			open = append(open, s.ID)
		}
	}
	pick := func(want domain.StageID, among []domain.StageID, fallback domain.StageID) domain.StageID {
		for _, id := range among {
			if id == want {
				return id
			}
		}
		return fallback
	}
	nth := func(list []domain.StageID, i int) domain.StageID {
		if i < len(list) {
			return list[i]
		}
		if len(list) > 0 {
			return list[len(list)-1]
		}
		return ""
	}
	initial = stages[0].ID
	done = pick(domain.StageDone, terminal, nth(terminal, 0))
	rejected = pick(domain.StageRejected, terminal, done)
	if rejected == done {
		for _, id := range terminal {
			if id != done {
				rejected = id
				break
			}
		}
	}
	triaged = pick(domain.StageTodo, open, nth(open, 1))
	start = pick(domain.StageInProgress, open, nth(open, 1))
	return
}

// defaultTransitions is a linear workflow: each open stage moves forward to the next open stage (the
// last open stage to Done), back to the previous open stage, and any open stage may be rejected.
func defaultTransitions(w domain.Workflow) map[domain.StageID][]domain.StageID {
	var open []domain.StageID
	for _, s := range w.Stages {
		if !s.Terminal {
			open = append(open, s.ID)
		}
	}
	t := map[domain.StageID][]domain.StageID{}
	for i, id := range open {
		if i+1 < len(open) {
			t[id] = append(t[id], open[i+1])
		} else if w.Done != "" {
			t[id] = append(t[id], w.Done)
		}
		if i > 0 {
			t[id] = append(t[id], open[i-1])
		}
		if w.Rejected != "" && w.Rejected != w.Done {
			t[id] = append(t[id], w.Rejected)
		}
	}
	return t
}
