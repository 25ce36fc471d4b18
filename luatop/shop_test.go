package luatop_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/internal/syncbuf"
	"github.com/topscript/topscript/luatop"
	"github.com/topscript/topscript/sandbox"
)

// A run for a shop sees it as top.shop; without one top.shop is nil. A
// job's report path goes through ReportPath.
func TestTopShopAndReportPath(t *testing.T) {
	_, c := sandboxClient(t, sandbox.Options{})
	dir := t.TempDir()
	script := filepath.Join(dir, "s.lua")
	os.WriteFile(script, []byte(`
local job = require("job")
print(top.shop and (top.shop.name .. "|" .. top.shop.nick .. "|" .. top.shop.user_id) or "no shop")
if top.shop then
  job.run{name = "t", rows = {{k = "1"}}, key = function(r) return r.k end,
    call = function(r) return "taobao.time.get", {} end, report = arg[1]}
end
`), 0o644)
	run := func(o engine.Options) string {
		t.Helper()
		var out syncbuf.Buffer
		o.Client, o.Stdout, o.Stderr = c, &out, &out
		e, err := engine.New(o)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if err := e.RunFile(context.Background(), script, []string{filepath.Join(dir, "r.csv")}); err != nil {
			t.Fatalf("%v\n%s", err, out.String())
		}
		return strings.TrimSpace(strings.SplitN(out.String(), "\n", 2)[0])
	}
	if got := run(engine.Options{}); got != "no shop" {
		t.Errorf("without a shop: %q", got)
	}
	got := run(engine.Options{
		Shop:       &luatop.Shop{Name: "北京店", Nick: "topscript沙箱旗舰店", UserID: "2206571234567"},
		ReportPath: func(p string) string { return strings.TrimSuffix(p, ".csv") + ".北京店.csv" },
	})
	if got != "北京店|topscript沙箱旗舰店|2206571234567" {
		t.Errorf("top.shop: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "r.北京店.csv")); err != nil {
		t.Errorf("the mapped report: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "r.csv")); err == nil {
		t.Error("the report was written where the script named it")
	}
}
