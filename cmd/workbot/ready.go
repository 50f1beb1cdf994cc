package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// ready asks a running workbot's /readyz and exits 0 when it answers 200: a health check for
// containers, whose images hold the binary and nothing else (no curl, no shell). It reads ops_addr as
// run does (config file, WORKBOT_OPS_ADDR, --ops-addr); a listener on every interface is asked on
// loopback.
func (c *cli) ready(args []string) int {
	var f runtimeFlags
	fs := c.flags("ready")
	fs.StringVar(&f.config, "config", "", "YAML config file (default $WORKBOT_CONFIG)")
	fs.StringVar(&f.opsAddr, "ops-addr", "", "the running workbot's ops listener (default $WORKBOT_OPS_ADDR, ops_addr or "+DefaultOpsAddr+")")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if code := parse(fs, args); code >= 0 {
		return code
	}
	cfg, err := c.loadConfig(f)
	if err != nil {
		return c.fail(exitUsage, err)
	}
	if cfg.OpsAddr == "off" {
		return c.fail(exitUsage, errors.New("ops_addr is off: there is no /readyz to ask"))
	}
	host, port, err := net.SplitHostPort(cfg.OpsAddr)
	if err != nil {
		return c.fail(exitUsage, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/readyz")
	if err != nil {
		return c.fail(exitFailure, fmt.Errorf("not ready: %w", err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	reason := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return c.fail(exitFailure, fmt.Errorf("not ready (%d): %s", resp.StatusCode, reason))
	}
	fmt.Fprintln(c.stdout, reason)
	return exitOK
}
