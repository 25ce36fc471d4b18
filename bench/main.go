// Command bench measures topscript the way operators judge it: the cost of
// one call from Lua against Go and against a bare HTTP floor, call_all's
// concurrency, throttle precision, the batch endpoint, start-up time and
// memory of `topscript run`, streaming top.each over big trade lists, the
// sandbox's own throughput, TMC messages through tmc.listen against a
// bare Go consumer, and the quota pace of a bulk job at gateway latencies
// and fault rates. It starts its own sandboxes and builds the
// topscript binary for the whole-process figures.
//
//	go run ./bench            # full run (about twelve minutes), writes BENCHMARKS.md
//	go run ./bench --quick    # seconds; prints the table only unless --out is given
//
// Every goal is a ratio against something measured in the same run, or a
// figure reported against the goal: nothing here fails a build on speed.
// Use --cpuprofile to profile the in-process sections with pprof.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"
)

func main() {
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr))
}

// realMain runs the command and returns its exit status.
func realMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quick := fs.Bool("quick", false, "fewer iterations and 10,000 trades only: finishes in seconds (CI)")
	out := fs.String("out", "", "write the results into this Markdown `file` (default BENCHMARKS.md for a full run, none with --quick; \"-\" for none)")
	bin := fs.String("topscript", "", "use this topscript `binary` instead of building ./cmd/topscript")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the in-process sections to `file` (go tool pprof)")
	only := fs.String("only", "", "run only the sections whose names contain this `text` (percall, concurrency, batch, throttle, startup, streaming, sandbox, tmc, quota)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./bench [--quick] [--out FILE] [--topscript BIN] [--cpuprofile FILE] [--only SECTION]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg := fullConfig()
	if *quick {
		cfg = quickConfig()
	}
	cfg.binary = *bin
	cfg.only = *only
	path := *out
	if path == "" && !*quick {
		path = "BENCHMARKS.md"
	}
	if path == "-" {
		path = ""
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	start := time.Now()
	rep, err := run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	rep.elapsed = time.Since(start)
	rep.writeText(stdout)
	if path != "" {
		if err := rep.writeMarkdownFile(path); err != nil {
			fmt.Fprintf(stderr, "bench: %v\n", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", path)
	}
	return 0
}
