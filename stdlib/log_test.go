package stdlib

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestLogJSON(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	L := newState(t, &Env{Logger: logger})
	run(t, L, `
		log.info("synced", {trades = 120, since = "2024-11-11", ok = true, rate = 1.5, ids = {1, 2}})
		log.debug("dbg")
		log.warn("careful", {z = 1, a = 2})
		log.error("failed", {err = setmetatable({}, {__tostring = function() return "boom" end})})
	`)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("want 4 records, got %d:\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "synced" || rec["level"] != "INFO" || rec["trades"] != 120.0 || rec["since"] != "2024-11-11" ||
		rec["ok"] != true || rec["rate"] != 1.5 {
		t.Fatalf("record: %v", rec)
	}
	if ids, ok := rec["ids"].([]any); !ok || len(ids) != 2 {
		t.Fatalf("ids: %#v", rec["ids"])
	}
	if !strings.Contains(lines[1], `"level":"DEBUG"`) || !strings.Contains(lines[3], `"err":"boom"`) {
		t.Fatalf("records: %s", buf.String())
	}
	// Fields come sorted.
	if strings.Index(lines[2], `"a":2`) > strings.Index(lines[2], `"z":1`) {
		t.Fatalf("fields not sorted: %s", lines[2])
	}
}

func TestLogText(t *testing.T) {
	var buf bytes.Buffer
	L := newState(t, &Env{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	run(t, L, `log.info("hello", {b = "x y", a = 1, t = {k = "v"}}); log.debug("hidden")`)
	got := buf.String()
	if !strings.Contains(got, `msg=hello a=1 b="x y" t="{\"k\":\"v\"}"`) || strings.Contains(got, "hidden") {
		t.Fatalf("text log: %s", got)
	}
	wantError(t, L, `log.info("x", 5)`, "fields must be a table")
}
