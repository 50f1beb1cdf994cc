package main

import (
	"bufio"
	"debug/elf"
	"encoding/json"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// deploy/ is checked without Docker, which the test machines do not have. What is checked: the
// compose file's services and how they are wired (tokens from the environment, one PostgreSQL URL,
// the config mounted where WORKBOT_CONFIG says, the ops listener inside the container, health checks
// on /readyz), that the mounted example config is valid, and that the Dockerfile's build command,
// run here outside Docker, builds a static binary that runs. Not checked: that the base images
// exist, that the image builds, or that the containers start.

const deployDir = "../../deploy"

type composeService struct {
	Image string `yaml:"image"`
	Build struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

var composeVar = regexp.MustCompile(`\$\{(\w+)(?::([-?])([^}]*))?\}`)

// interpolate fills ${VAR}, ${VAR:-default} and ${VAR:?message} as compose does, from vars.
func interpolate(s string, vars map[string]string) string {
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		g := composeVar.FindStringSubmatch(m)
		if v, ok := vars[g[1]]; ok && v != "" {
			return v
		}
		if g[2] == "-" {
			return g[3]
		}
		return ""
	})
}

func TestComposeFile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(deployDir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]composeService `yaml:"services"`
		Volumes  map[string]any            `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("compose.yaml is not YAML: %v", err)
	}
	var names []string
	for name := range doc.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"postgres", "workbot-1", "workbot-2"}) {
		t.Fatalf("services %v, want postgres and two workbot replicas", names)
	}
	pg := doc.Services["postgres"]
	if !strings.HasPrefix(pg.Image, "postgres:") || len(pg.Healthcheck.Test) == 0 {
		t.Errorf("postgres: image %q, health check %v", pg.Image, pg.Healthcheck.Test)
	}
	vars := map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "POSTGRES_PASSWORD": "pw"}
	for _, name := range []string{"workbot-1", "workbot-2"} {
		s := doc.Services[name]
		ctx := filepath.Join(deployDir, s.Build.Context)
		if _, err := os.Stat(filepath.Join(ctx, "go.mod")); err != nil || filepath.Join(ctx, s.Build.Dockerfile) != filepath.Join(deployDir, "Dockerfile") {
			t.Errorf("%s builds %s in %s, want deploy/Dockerfile from the repository root", name, s.Build.Dockerfile, ctx)
		}
		env := s.Environment
		for _, token := range []string{"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"} {
			if !strings.HasPrefix(env[token], "${"+token+":?") {
				t.Errorf("%s: %s = %q, want it from the environment, required", name, token, env[token])
			}
		}
		if !strings.HasPrefix(env["PGPASSWORD"], "${POSTGRES_PASSWORD:?") || pg.Environment["POSTGRES_PASSWORD"] != env["PGPASSWORD"] {
			t.Errorf("%s: PGPASSWORD %q, postgres: POSTGRES_PASSWORD %q", name, env["PGPASSWORD"], pg.Environment["POSTGRES_PASSWORD"])
		}
		u, err := url.Parse(env["WORKBOT_DB"])
		if err != nil || u.Scheme != "postgres" || u.Hostname() != "postgres" || u.Path != "/"+pg.Environment["POSTGRES_DB"] ||
			u.User.Username() != pg.Environment["POSTGRES_USER"] {
			t.Errorf("%s: WORKBOT_DB %q does not name the postgres service's database and user", name, env["WORKBOT_DB"])
		}
		if _, has := u.User.Password(); has {
			t.Errorf("%s: the password is in WORKBOT_DB", name)
		}
		if host, _, err := net.SplitHostPort(env["WORKBOT_OPS_ADDR"]); err != nil || host != "0.0.0.0" {
			t.Errorf("%s: WORKBOT_OPS_ADDR %q, want every interface of the container", name, env["WORKBOT_OPS_ADDR"])
		}
		if !slices.Equal(s.Healthcheck.Test, []string{"CMD", "/workbot", "ready"}) {
			t.Errorf("%s: health check %v", name, s.Healthcheck.Test)
		}
		if s.DependsOn["postgres"].Condition != "service_healthy" {
			t.Errorf("%s starts before PostgreSQL is healthy", name)
		}
		if !slices.Equal(s.Command, []string{"run"}) {
			t.Errorf("%s: command %v", name, s.Command)
		}
		mounted := false
		for _, v := range s.Volumes {
			src, target, _ := strings.Cut(strings.TrimSuffix(interpolate(v, vars), ":ro"), ":")
			if target != env["WORKBOT_CONFIG"] {
				continue
			}
			mounted = true
			cfg, err := LoadConfig(filepath.Join(deployDir, src))
			if err == nil {
				err = cfg.Validate()
			}
			if err != nil || cfg.IntakeChannel == "" {
				t.Errorf("%s mounts %s as its config: %v (intake_channel %q)", name, src, err, cfg.IntakeChannel)
			}
		}
		if !mounted {
			t.Errorf("%s: nothing is mounted at WORKBOT_CONFIG %s", name, env["WORKBOT_CONFIG"])
		}
	}
	if doc.Services["workbot-1"].Image != doc.Services["workbot-2"].Image {
		t.Error("the replicas run different images")
	}
}

// dockerfile reads instructions, joining continued lines and dropping comments.
func dockerfile(t *testing.T) [][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join(deployDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cur += line
		if strings.HasSuffix(cur, "\\") {
			cur = strings.TrimSuffix(cur, "\\") + " "
			continue
		}
		op, args, _ := strings.Cut(cur, " ")
		out = append(out, [2]string{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

func TestDockerfileBuildsTheStaticBinary(t *testing.T) {
	ins := dockerfile(t)
	var froms, builds []string
	var user, entrypoint, health string
	for _, in := range ins {
		switch in[0] {
		case "FROM":
			froms = append(froms, in[1])
		case "RUN":
			if strings.Contains(in[1], "go build") {
				builds = append(builds, in[1])
			}
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entrypoint = in[1]
		case "HEALTHCHECK":
			health = in[1]
		}
	}
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(mod))
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "golang:"+goVersion[1]+" ") || froms[1] != "scratch" {
		t.Errorf("stages %q: want golang:%s to build, then scratch", froms, goVersion[1])
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "0" || u == "root" {
		t.Errorf("USER %q: want a non-root user", user)
	}
	var ep []string
	if json.Unmarshal([]byte(entrypoint), &ep) != nil || !slices.Equal(ep, []string{"/workbot"}) {
		t.Errorf("ENTRYPOINT %s", entrypoint)
	}
	if !strings.HasSuffix(health, `CMD ["/workbot", "ready"]`) {
		t.Errorf("HEALTHCHECK %s", health)
	}
	if len(builds) != 1 {
		t.Fatalf("%d go build steps", len(builds))
	}
	build := builds[0]
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w -X main.version=", "-o /out/workbot", "./cmd/workbot"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build step lacks %q: %s", want, build)
		}
	}
	if testing.Short() {
		return
	}
	// The same command here, from the repository root as the Dockerfile's COPY . . lays it out.
	out := filepath.Join(t.TempDir(), "workbot")
	cmdline := strings.ReplaceAll(strings.ReplaceAll(build, "${VERSION}", "docker-test"), "/out/workbot", out)
	cmd := exec.Command("sh", "-c", cmdline)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, b)
	}
	bin, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%v): scratch has no loader or C library", p.Type)
		}
	}
	if v, err := exec.Command(out, "version").Output(); err != nil || !strings.HasPrefix(string(v), "workbot docker-test ") {
		t.Errorf("version: %q %v", v, err)
	}
}
