package engine

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Options.Secrets are hidden, by value, in every output of the engine; an
// embedding host gets that without the CLI. HideSecretEnv keeps them from
// os.getenv.
func TestSecretsHidden(t *testing.T) {
	const secret, session = "S3CR3T-abc", "SESS-xyz"
	dir := t.TempDir()
	report := filepath.Join(dir, "r.csv")
	book, sheet := filepath.Join(dir, "r.xlsx"), filepath.Join(dir, "w.xlsx")
	var logs bytes.Buffer
	env := map[string]string{"TOP_APP_SECRET": secret, "MY_TOKEN": "x" + session + "x", "TOPSCRIPT_APP_SECRET": "another-one", "HOME": "/h"}
	e, out := newEngine(t, Options{
		Secrets:       []string{secret, session},
		HideSecretEnv: true,
		SecretEnv:     []string{"TOPSCRIPT_APP_SECRET"},
		LookupEnv:     func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Logger:        slog.New(slog.NewJSONHandler(&logs, nil)),
	})
	e.Set("report", report)
	e.Set("book", book)
	e.Set("sheet", sheet)
	err := run(t, e, `
		print(os.getenv("TOP_APP_SECRET"), os.getenv("MY_TOKEN"), os.getenv("TOPSCRIPT_APP_SECRET"), os.getenv("HOME"))
		local s1, s2 = "S3CR3T" .. "-abc", "SESS" .. "-xyz"
		print(s1, s2)
		io.write(s1:sub(1, 2), s1:sub(3), "\n")
		require("log").info(s1, {k = s2})
		require("job").run{name = "j", rows = {{id = s2}}, key = function(r) return r.id end,
			call = function(r) return "taobao.time.get", {} end, report = report}
		require("job").run{name = "j2", rows = {{id = s1}}, key = function(r) return r.id end,
			call = function(r) return "taobao.time.get", {} end, report = book}
		local w = require("xlsx").writer(sheet, {"a", "b"})
		w:write{a = s1, b = "x" .. s2}
		w:close()
		error("failed with " .. s1)`)
	var se *ScriptError
	if !errors.As(err, &se) || se.Error() != "test.lua:14: failed with [REDACTED]" {
		t.Fatalf("err = %v", err)
	}
	b, _ := os.ReadFile(report)
	books := workbookText(t, book) + workbookText(t, sheet)
	all := out.String() + logs.String() + string(b) + books
	for _, bad := range []string{secret, session} {
		if strings.Contains(all, bad) {
			t.Errorf("%q shown:\n%s", bad, all)
		}
	}
	if !strings.HasPrefix(out.String(), "nil\tnil\tnil\t/h\n[REDACTED]\t[REDACTED]\n[REDACTED]\n") {
		t.Errorf("stdout %q", out.String())
	}
	if !strings.Contains(string(b), "[REDACTED]") || !strings.Contains(logs.String(), `"k":"[REDACTED]"`) {
		t.Errorf("report %q, logs %q", b, logs.String())
	}
	if strings.Count(books, "[REDACTED]") < 3 {
		t.Errorf("the workbooks hide no secret:\n%s", books)
	}
	// Without HideSecretEnv os.getenv reads them; what is printed is still hidden.
	e, out = newEngine(t, Options{Secrets: []string{secret}, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err := run(t, e, `local s = os.getenv("TOP_APP_SECRET") print(#s, s)`); err != nil {
		t.Fatal(err)
	}
	if out.String() != "10\t[REDACTED]\n" {
		t.Errorf("stdout %q", out.String())
	}
}

// workbookText is the text of every part of the workbook at path, as its
// zip holds them.
func workbookText(t *testing.T, path string) string {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var all strings.Builder
	for _, f := range z.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(&all, r)
		r.Close()
	}
	return all.String()
}
