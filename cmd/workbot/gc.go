package main

import (
	"os"
	"runtime"
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

// procsPerCPU: with one P per core, an envelope that arrives while every P runs a handler (rendering
// a lead's App Home, a digest) waits for one of them to block or be preempted, up to Go's 10 ms time
// slice, before the socket reader can ack it. With twice as many Ps as cores, the reader gets a P at
// once and its thread is scheduled by the kernel, which favours a thread that mostly sleeps. The load
// test's slash-command ack p99 went from 6.5–7.9 ms to 3.1–3.4 ms (docs/benchmarks.md). GOMAXPROCS in
// the environment overrides it; the default already follows a container's CPU limit.
const procsPerCPU = 2

// tuneRuntime applies both to the workbot process. main calls it rather than an init function, so the
// package's test binaries, which hold the local Slack and load generators with heaps of their own,
// keep Go's defaults: under the bot's 120 MiB limit a benchmark's generator spent most of its CPU
// collecting, and its second run measured that.
func tuneRuntime() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(defaultGCPercent)
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(procsPerCPU * runtime.GOMAXPROCS(0))
	}
}
