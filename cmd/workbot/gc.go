package main

import (
	"os"
	"runtime/debug"
)

// The bot keeps little live state (a few megabytes) but allocates a lot per request: every envelope,
// Block Kit answer and outbox delivery is JSON. With Go's default GOGC=100 the heap goal is then a
// few megabytes, and under load the collector runs fifty times a second; each cycle stops the world
// briefly, and on a busy two-core machine those stops are what an ack waits behind. A higher GOGC
// lets the heap grow to a few tens of megabytes between cycles, and the memory limit keeps a digest
// of a large org (whose live heap is tens of megabytes) from growing the heap by that factor too.
// GOGC or GOMEMLIMIT in the environment override both.
const (
	defaultGCPercent   = 300
	defaultMemoryLimit = 120 << 20
)

func init() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(defaultGCPercent)
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
