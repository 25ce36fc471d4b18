package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/topscript/topscript/sandbox"
)

// child is one finished run of the topscript binary.
type child struct {
	wall   time.Duration // from start to exit, as the caller sees it
	rss    int64         // peak resident set size, bytes
	stdout string
}

// runTopscript runs `topscript run --config cfgPath script` in dir with a
// clean environment (no TOPSCRIPT_* overrides, HOME and XDG_CONFIG_HOME in
// dir) through the spawn helper, which measures its wall time (start to
// exit) and peak RSS.
func runTopscript(ctx context.Context, e *env, dir, cfgPath, script string) (child, error) {
	bin, err := e.topscript(ctx)
	if err != nil {
		return child{}, err
	}
	spawn, err := e.spawner(ctx)
	if err != nil {
		return child{}, err
	}
	report := filepath.Join(dir, "spawn.report")
	_ = os.Remove(report)
	cmd := exec.CommandContext(ctx, spawn, report, bin, "run", "--config", cfgPath, script)
	cmd.Dir = dir
	env := []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "TOPSCRIPT_") || k == "HOME" || k == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return child{}, fmt.Errorf("topscript run %s: %v\n%s", filepath.Base(script), err, stderr.String())
	}
	rep, err := os.ReadFile(report)
	if err != nil {
		return child{}, err
	}
	var wallNS, rss int64
	if _, err := fmt.Sscan(string(rep), &wallNS, &rss); err != nil {
		return child{}, fmt.Errorf("spawn report %q: %v", rep, err)
	}
	return child{wall: time.Duration(wallNS), rss: rss, stdout: stdout.String()}, nil
}

// writeConfig writes a topscript.toml pointing at s with its credentials.
func writeConfig(dir, name string, s *sandbox.Server) (string, error) {
	p := filepath.Join(dir, name)
	body := fmt.Sprintf(`profile = "bench"

[profiles.bench]
app_key    = %q
app_secret = %q
session    = %q
gateway    = %q
`, sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession, s.URL())
	return p, os.WriteFile(p, []byte(body), 0o600)
}

// writeScript writes a Lua script into dir.
func writeScript(dir, name, src string) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, []byte(src), 0o644)
}

func median[T int64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// startup measures whole-process wall time and peak RSS of `topscript run`
// on an empty script and on a one-call script.
func startup(ctx context.Context, cfg config, e *env) (*section, error) {
	sec := &section{title: "Start-up (`topscript run`, whole process)"}
	dir, err := e.tempDir()
	if err != nil {
		return nil, err
	}
	s, err := sandbox.StartLocal(sandbox.Options{})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	cfgPath, err := writeConfig(dir, "startup.toml", s)
	if err != nil {
		return nil, err
	}
	empty, err := writeScript(dir, "empty.lua", "")
	if err != nil {
		return nil, err
	}
	one, err := writeScript(dir, "one_call.lua", `top.call("taobao.time.get")`+"\n")
	if err != nil {
		return nil, err
	}
	scripts := []string{empty, one}
	walls := make([][]time.Duration, len(scripts))
	rss := make([][]int64, len(scripts))
	for i, sc := range scripts { // warm the page cache
		if _, err := runTopscript(ctx, e, dir, cfgPath, sc); err != nil {
			return nil, fmt.Errorf("warm-up %d: %w", i, err)
		}
	}
	for r := 0; r < cfg.startupRuns; r++ {
		for i, sc := range scripts {
			ch, err := runTopscript(ctx, e, dir, cfgPath, sc)
			if err != nil {
				return nil, err
			}
			walls[i] = append(walls[i], ch.wall)
			rss[i] = append(rss[i], ch.rss)
		}
	}
	w0, r0 := median(walls[0]), median(rss[0])
	sec.goal("empty script: wall time (median)", ms(w0), "< 20 ms", w0 < 20*time.Millisecond)
	sec.goal("empty script: peak RSS (median)", mb(r0), "< 30 MB", r0 > 0 && r0 < 30<<20)
	sec.add("one-call script (taobao.time.get): wall time (median)", ms(median(walls[1])))
	sec.add("one-call script: peak RSS (median)", mb(median(rss[1])))
	sec.note("Median of %d runs each (min %s / %s), from start to exit as seen by a small parent (bench/spawn), peak RSS from the child's rusage. The config file names a sandbox gateway served by the bench process.",
		cfg.startupRuns, ms(slices.Min(walls[0])), ms(slices.Min(walls[1])))
	return sec, nil
}

// streamScript walks every trade of the last three months (every type
// listed) with top.each and prints the count.
var streamScript = `local n = 0
for t in top.each("taobao.trades.sold.get",
		{fields = "tid,status,type,payment,created,modified,buyer_nick,orders", type = "` + strings.Join(sandbox.TradeTypes(), ",") + `"},
		{page_size = 100, use_has_next = true}) do
	n = n + 1
end
print(n)
`

// streaming runs top.each over cfg.streamSizes trades in a child process
// and reports items/s and peak RSS, which should stay flat as the list grows.
func streaming(ctx context.Context, cfg config, e *env) (*section, error) {
	sec := &section{title: "Streaming (top.each over taobao.trades.sold.get, page_size 100, in `topscript run`)"}
	dir, err := e.tempDir()
	if err != nil {
		return nil, err
	}
	script, err := writeScript(dir, "stream.lua", streamScript)
	if err != nil {
		return nil, err
	}
	var rssBySize []int64
	for _, n := range cfg.streamSizes {
		s, err := sandbox.StartLocal(sandbox.Options{Trades: n})
		if err != nil {
			return nil, err
		}
		cfgPath, err := writeConfig(dir, fmt.Sprintf("stream%d.toml", n), s)
		if err != nil {
			s.Close()
			return nil, err
		}
		ch, err := runTopscript(ctx, e, dir, cfgPath, script)
		s.Close()
		if err != nil {
			return nil, err
		}
		got, err := strconv.Atoi(strings.TrimSpace(ch.stdout))
		if err != nil {
			return nil, fmt.Errorf("stream of %d trades printed %q", n, ch.stdout)
		}
		if got != n {
			return nil, fmt.Errorf("stream of %d trades yielded %d", n, got)
		}
		sec.add(fmt.Sprintf("%d trades: items/s", n), perSec(float64(n)/ch.wall.Seconds()))
		sec.add(fmt.Sprintf("%d trades: peak RSS", n), mb(ch.rss))
		rssBySize = append(rssBySize, ch.rss)
	}
	if len(rssBySize) >= 2 {
		first, last := rssBySize[0], rssBySize[len(rssBySize)-1]
		r := float64(last) / float64(first)
		sec.goal(fmt.Sprintf("peak RSS %d / %d trades", cfg.streamSizes[len(cfg.streamSizes)-1], cfg.streamSizes[0]), ratio(r), "≤ 1.50", r <= 1.5)
	} else {
		sec.add("peak RSS ratio", "n/a (one size in this mode)")
	}
	sec.note("items/s is whole-process (start-up included) with the sandbox in the bench process sharing the CPUs.")
	return sec, nil
}
