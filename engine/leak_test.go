package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/engine"
)

// A long-lived engine (the REPL, an embedding host) must not keep what a
// script dropped: csv.read's results and unfinished csv.rows iterators
// (with their open files) go when the script lets them go.

// writeBigCSV writes a CSV of n rows of six columns.
func writeBigCSV(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("num_iid,sku_id,properties,price,quantity,title\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "6000001%05d,5000000%06d,1627207:28320;20509:%d,%d.90,%d,商品 %d 白色 M\n", i, i, 28300+i%40, 10+i%90, i%500, i)
	}
	p := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// liveHeap is the live Go heap after a full collection, in MiB.
func liveHeap() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}

// openFiles counts this process's file descriptors open on path
// (/proc/self/fd; -1 where there is no /proc).
func openFiles(path string) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	n := 0
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); err == nil && target == path {
			n++
		}
	}
	return n
}

func leakEngine(t *testing.T, path string) *engine.Engine {
	t.Helper()
	eng, err := engine.New(engine.Options{Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	eng.Set("path", lua.LString(path))
	if err := eng.RunString(context.Background(), "setup.lua", `csv = require("csv")`); err != nil {
		t.Fatal(err)
	}
	eng.Set("live_heap", eng.State().NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(liveHeap()))
		return 1
	}))
	eng.Set("open_files", eng.State().NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(openFiles(path)))
		return 1
	}))
	return eng
}

// 30 × csv.read of a 20,000-row file, each result dropped: after
// collectgarbage() the live heap is what one engine needs, not 30 files'
// worth of tables (551 MiB while a registry side channel pinned them).
func TestCSVReadResultsAreCollected(t *testing.T) {
	const rows, reads, limitMiB = 20000, 30, 50
	path := writeBigCSV(t, rows)
	eng := leakEngine(t, path)
	before := liveHeap()
	err := eng.RunString(context.Background(), "leak.lua", fmt.Sprintf(`
		for i = 1, %d do
			local all = csv.read(path)
			assert(#all == %d)
		end
		collectgarbage()
		during = live_heap()
	`, reads, rows))
	if err != nil {
		t.Fatal(err)
	}
	during := float64(eng.State().GetGlobal("during").(lua.LNumber))
	after := liveHeap()
	t.Logf("live heap: %.1f MiB before, %.1f MiB in the script after collectgarbage(), %.1f MiB after the run", before, during, after)
	if during >= limitMiB || after >= limitMiB {
		t.Errorf("live heap %.1f MiB in the run, %.1f MiB after it: want < %d MiB (csv.read results are kept alive)", during, after, limitMiB)
	}
}

// 500 csv.rows iterators left unfinished: collectgarbage() closes their
// files at once (and the collector alone soon after); the end of the run
// closes those still referenced.
func TestUnfinishedCSVRowsAreClosed(t *testing.T) {
	path := writeBigCSV(t, 100)
	if openFiles(path) < 0 {
		t.Skip("no /proc/self/fd to count open files")
	}
	eng := leakEngine(t, path)
	err := eng.RunString(context.Background(), "rows.lua", `
		for i = 1, 500 do
			local it = csv.rows(path)
			assert(it() ~= nil) -- one row read, the rest left
		end
		collectgarbage()
		after_gc = open_files()
		kept = {}
		for i = 1, 20 do kept[i] = csv.rows(path); kept[i]() end
		while_kept = open_files()
	`)
	if err != nil {
		t.Fatal(err)
	}
	afterGC := int(eng.State().GetGlobal("after_gc").(lua.LNumber))
	whileKept := int(eng.State().GetGlobal("while_kept").(lua.LNumber))
	afterRun := openFiles(path)
	t.Logf("open files on the input: %d after collectgarbage(), %d with 20 iterators kept, %d after the run", afterGC, whileKept, afterRun)
	if afterGC >= 10 {
		t.Errorf("%d files open after collectgarbage(), want < 10", afterGC)
	}
	if whileKept < 20 {
		t.Errorf("%d files open with 20 iterators in use, want ≥ 20 (closed too early?)", whileKept)
	}
	if afterRun != 0 {
		t.Errorf("%d files open after the run ended, want 0", afterRun)
	}
	// An iterator kept past its run says so.
	err = eng.RunString(context.Background(), "again.lua", `kept[1]()`)
	if err == nil || !strings.Contains(err.Error(), "closed when the run that opened it ended") {
		t.Errorf("reading an iterator of an ended run: %v", err)
	}

	// Without collectgarbage() (so without the engine's sweep), the
	// collector's own cycle closes them: runtime.AddCleanup.
	eng.Set("gc_until_below", eng.State().NewFunction(func(L *lua.LState) int {
		want := int(L.CheckNumber(1))
		deadline := time.Now().Add(10 * time.Second)
		for openFiles(path) >= want && time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		L.Push(lua.LNumber(openFiles(path)))
		return 1
	}))
	if err := eng.RunString(context.Background(), "cleanup.lua", `
		for i = 1, 500 do local it = csv.rows(path); it() end
		left = gc_until_below(10)
	`); err != nil {
		t.Fatal(err)
	}
	if left := int(eng.State().GetGlobal("left").(lua.LNumber)); left >= 10 {
		t.Errorf("%d files open after the collector ran, want < 10", left)
	}
}
