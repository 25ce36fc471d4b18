package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// config sizes a run.
type config struct {
	mode string // "full", "quick" or "test"

	// per-call cost
	perCallN      int // calls per variant per round
	perCallRounds int

	// concurrency
	latency     time.Duration
	concLevels  []int
	concWaves   int // calls = concurrency × waves
	batchCalls  int // calls of the batch comparison
	batchSizes  []int
	batchConc   int
	throttleN   int
	throttleQPS float64

	// whole process
	startupRuns int
	streamSizes []int

	// sandbox throughput
	rpsDuration time.Duration
	rpsConc     int

	// TMC messages
	tmcMessages      int           // backlog drained per round by the empty handler
	tmcCallMessages  int           // ... by the handler that calls
	tmcRounds        int           // rounds per side
	tmcCallLatency   time.Duration // the gateway's latency for the handler's call
	tmcCallConc      int           // handlers of the calling variant
	tmcLatencyEvents int           // events timed one at a time

	// quota pace (quota.go): a price job per latency × isp fault rate
	quotaQPS       float64 // the client's throttle (the sandbox allows 10% more)
	quotaLatencies []time.Duration
	quotaISP       []float64
	quotaSeconds   time.Duration // of calls at quotaQPS per cell
	quotaBigRows   int           // a big job besides (0: none)...
	quotaBigQPS    float64       // ...at this rate, against 100 ms

	binary string // prebuilt topscript; "" builds one
	only   string // run only sections whose name contains this
}

func fullConfig() config {
	return config{
		mode:          "full",
		perCallN:      1000,
		perCallRounds: 7,
		latency:       20 * time.Millisecond,
		concLevels:    []int{1, 4, 16, 64},
		concWaves:     12,
		batchCalls:    1000,
		batchSizes:    []int{1, 10, 50},
		batchConc:     4,
		throttleN:     500,
		throttleQPS:   100,
		startupRuns:   15,
		streamSizes:   []int{10_000, 100_000},
		rpsDuration:   3 * time.Second,
		rpsConc:       16,

		tmcMessages:      20000,
		tmcCallMessages:  2000,
		tmcRounds:        5,
		tmcCallLatency:   5 * time.Millisecond,
		tmcCallConc:      8,
		tmcLatencyEvents: 300,

		quotaQPS:       40,
		quotaLatencies: []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond},
		quotaISP:       []float64{0, 0.05, 0.10},
		quotaSeconds:   600 * time.Second,
		quotaBigRows:   50_000,
		quotaBigQPS:    200,
	}
}

func quickConfig() config {
	return config{
		mode:          "quick",
		perCallN:      300,
		perCallRounds: 3,
		latency:       20 * time.Millisecond,
		concLevels:    []int{1, 4, 16, 64},
		concWaves:     4,
		batchCalls:    200,
		batchSizes:    []int{1, 10, 50},
		batchConc:     4,
		throttleN:     200,
		throttleQPS:   100,
		startupRuns:   3,
		streamSizes:   []int{10_000},
		rpsDuration:   500 * time.Millisecond,
		rpsConc:       16,

		tmcMessages:      5000,
		tmcCallMessages:  500,
		tmcRounds:        1,
		tmcCallLatency:   5 * time.Millisecond,
		tmcCallConc:      8,
		tmcLatencyEvents: 100,

		quotaQPS:       40,
		quotaLatencies: []time.Duration{20 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond},
		quotaISP:       []float64{0, 0.05, 0.10},
		quotaSeconds:   20 * time.Second,
	}
}

// testConfig is the quick mode's code path with tiny counts, for go test.
func testConfig() config {
	return config{
		mode:          "test",
		perCallN:      20,
		perCallRounds: 6, // best of 6: one preempted round on a loaded machine must not make a ratio look broken
		latency:       5 * time.Millisecond,
		concLevels:    []int{1, 4, 16, 64},
		concWaves:     1,
		batchCalls:    40,
		batchSizes:    []int{1, 10},
		batchConc:     2,
		throttleN:     20,
		throttleQPS:   100,
		startupRuns:   1,
		streamSizes:   []int{500},
		rpsDuration:   100 * time.Millisecond,
		rpsConc:       4,

		tmcMessages:      200,
		tmcCallMessages:  100,
		tmcRounds:        1,
		tmcCallLatency:   time.Millisecond,
		tmcCallConc:      4,
		tmcLatencyEvents: 10,

		quotaQPS:       40,
		quotaLatencies: []time.Duration{20 * time.Millisecond, 250 * time.Millisecond},
		quotaISP:       []float64{0, 0.05},
		quotaSeconds:   1500 * time.Millisecond,
	}
}

// run runs every section (or those cfg.only selects) and returns the report.
func run(ctx context.Context, cfg config, progress io.Writer) (*report, error) {
	rep := &report{mode: cfg.mode, machine: describeMachine()}
	type step struct {
		name string
		fn   func(context.Context, config, *env) (*section, error)
	}
	steps := []step{
		{"percall", perCall},
		{"concurrency", concurrency},
		{"batch", batch},
		{"throttle", throttlePrecision},
		{"startup", startup},
		{"streaming", streaming},
		{"sandbox", sandboxRPS},
		{"tmc", tmcBench},
		{"quota", quotaPace},
	}
	e := &env{cfg: cfg}
	defer e.close()
	for _, st := range steps {
		if cfg.only != "" && !strings.Contains(st.name, cfg.only) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "bench: %s...\n", st.name)
		t0 := time.Now()
		sec, err := st.fn(ctx, cfg, e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.name, err)
		}
		sec.name = st.name
		sec.took = time.Since(t0)
		rep.sections = append(rep.sections, sec)
	}
	return rep, nil
}
