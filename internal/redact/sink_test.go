package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A secret split across writes is hidden all the same; text that only
// starts like one comes out at Flush.
func TestWriterHidesSplitSecrets(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, New("S3CR3T-abc", "SESS-xyz"))
	for _, p := range []string{"a S3C", "R3T-a", "bc b SE", "SS-xyz\n", "ends with S3CR"} {
		if n, err := w.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("Write(%q) = %d, %v", p, n, err)
		}
	}
	if got := out.String(); got != "a [REDACTED] b [REDACTED]\nends with " {
		t.Errorf("before Flush: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "a [REDACTED] b [REDACTED]\nends with S3CR" {
		t.Errorf("after Flush: %q", got)
	}
	// By value only: a parameter named like a secret is the script's own text.
	out.Reset()
	w.Write([]byte("session=abc\n"))
	if out.String() != "session=abc\n" {
		t.Errorf("%q", out.String())
	}
}

// A Handler hides secrets in the message, in string, error, JSON and
// other values, in keys and in groups, for the text and JSON handlers.
func TestHandlerHidesSecrets(t *testing.T) {
	r := New("S3CR3T-abc", `SESS-"xyz"`)
	for _, format := range []string{"text", "json"} {
		var out bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&out, nil)
		if format == "json" {
			h = slog.NewJSONHandler(&out, nil)
		}
		log := slog.New(Handler(h, r)).With("pre", "S3CR3T-abc").WithGroup("g")
		log.Info("msg S3CR3T-abc",
			"s", `SESS-"xyz"`,
			"err", errors.New("failed with S3CR3T-abc"),
			"json", rawJSON(`{"k":"SESS-\"xyz\"","session":"other"}`),
			"any", []string{"S3CR3T-abc"},
			"S3CR3T-abc", 1,
			slog.Group("inner", "x", "S3CR3T-abc"),
			"n", 42)
		got := out.String()
		for _, bad := range []string{"S3CR3T", "xyz", "other"} {
			if strings.Contains(got, bad) {
				t.Errorf("%s: %q shows %q", format, got, bad)
			}
		}
		if !strings.Contains(got, "42") || strings.Count(got, Mark) < 8 {
			t.Errorf("%s: %q", format, got)
		}
	}
}

// BenchmarkWriter reports what hiding two secrets costs a stream of
// CSV-like lines (the Writer over a buffer) against the buffer alone, in
// one run.
func BenchmarkWriter(b *testing.B) {
	line := []byte("342161316540874753,taobao.item.sku.price.update,ok,,,4jkl5mhpc274,129.00\n")
	r := New("S3CR3T-abc0123456789abcdef012345", "6100e23657fb0b2d0c78sess10n")
	var hidden, plain time.Duration
	var buf bytes.Buffer
	for i := 0; i < b.N; i++ {
		buf.Reset()
		w := NewWriter(&buf, r)
		start := time.Now()
		for j := 0; j < 1000; j++ {
			w.Write(line)
		}
		w.Flush()
		hidden += time.Since(start)
		buf.Reset()
		start = time.Now()
		for j := 0; j < 1000; j++ {
			buf.Write(line)
		}
		plain += time.Since(start)
	}
	b.ReportMetric(float64(hidden)/float64(plain), "redacted/plain")
	b.ReportMetric(float64(hidden)/float64(b.N*1000), "ns/line")
}
