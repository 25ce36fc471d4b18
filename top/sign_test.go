package top

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

// Vectors from the protocol reference (secret = "secret").
func TestSignVectors(t *testing.T) {
	base := func() map[string]string {
		return map[string]string{
			"method": "taobao.item.seller.get", "app_key": "12345678", "session": "test",
			"timestamp": "2020-01-01 12:00:00", "format": "json", "v": "2.0",
		}
	}
	trades := func() map[string]string {
		return map[string]string{
			"method": "taobao.trades.sold.get", "app_key": "12345678", "session": "test",
			"timestamp": "2020-01-01 12:00:00", "format": "json", "v": "2.0",
			"fields": "tid,status", "buyer_nick": "张三", "simplify": "true",
		}
	}
	cases := []struct {
		params func() map[string]string
		m      SignMethod
		want   string
	}{
		{base, SignMD5, "A599E42DFE311554D1F1922126AC87E5"},
		{base, SignHMAC, "5C7B008810D0A3E416820839E3EF5434"},
		{base, SignHMACSHA256, "C59642E8789B0C6086E944BE83EEAD14702857718D4F521A715F2EAB7F0E6A81"},
		{trades, SignMD5, "5925AC9758E8CDA0F719138F82BA5413"},
		{trades, SignHMAC, "1BC093CC66D2478250D29AC18024BB4C"},
		{trades, SignHMACSHA256, "8947FF1A31B7BBE45DC0059678E21E7FCDA65993188F045129669C4932A00C10"},
	}
	for _, tc := range cases {
		p := tc.params()
		p["sign_method"] = string(tc.m)
		got, err := Sign(p, "secret", tc.m)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s %s: got %s want %s", p["method"], tc.m, got, tc.want)
		}
		// sign itself and empty values are not signed.
		p["sign"] = "WHATEVER"
		p["empty"] = ""
		if again, _ := Sign(p, "secret", tc.m); again != tc.want {
			t.Errorf("%s %s: sign/empty params changed the signature", p["method"], tc.m)
		}
	}
	if _, err := Sign(map[string]string{}, "s", "sha1"); err == nil {
		t.Error("unknown sign method accepted")
	}
}

// The client signs the GMT+8 time of its clock, under any host zone
// (time.Local overridden; no goroutines run meanwhile).
func TestClientTimestampUnderOtherZones(t *testing.T) {
	for _, zone := range []string{"UTC", "America/New_York"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Skipf("zone %s: %v", zone, err)
		}
		clk := newFakeClock(time.Date(2020, 1, 1, 4, 0, 0, 0, time.UTC).In(loc))
		c := newTestClient(t, testConfig("http://127.0.0.1:1/router/rest"), WithClock(clk))
		cl, err := c.prepare("taobao.time.get", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		old := time.Local
		time.Local = loc
		p, err := c.signedParams(cl)
		time.Local = old
		if err != nil {
			t.Fatal(err)
		}
		if p["timestamp"] != "2020-01-01 12:00:00" {
			t.Errorf("zone %s: timestamp %q", zone, p["timestamp"])
		}
	}
}

// The same through a real request in a process whose TZ is UTC, then
// America/New_York, with the wall clock.
func TestClientTimestampHostTZ(t *testing.T) {
	if os.Getenv("TOP_TZ_CHILD") == "1" {
		g := newGW(t, func(_ int64, p map[string]string, w http.ResponseWriter, _ *http.Request) {
			okBody(w, `{"ts":"`+p["timestamp"]+`"}`)
		})
		c := newTestClient(t, testConfig(g.srv.URL))
		before := time.Now().In(toptime.Zone)
		r, err := c.Call(context.Background(), "taobao.time.get", nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := time.ParseInLocation(toptime.Layout, r.Payload["ts"].(string), toptime.Zone)
		if err != nil || got.Before(before.Truncate(time.Second)) || got.Sub(before) > 5*time.Second {
			t.Fatalf("TZ=%s: sent %v, GMT+8 now %v", os.Getenv("TZ"), r.Payload["ts"], before)
		}
		return
	}
	if testing.Short() {
		t.Skip("subprocess")
	}
	for _, tz := range []string{"UTC", "America/New_York"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestClientTimestampHostTZ$", "-test.count=1")
		cmd.Env = append(os.Environ(), "TOP_TZ_CHILD=1", "TZ="+tz)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("TZ=%s: %v\n%s", tz, err, out)
		}
	}
}

// Each sign method is sent and verified; system params are all there.
func TestSystemParams(t *testing.T) {
	g := newGW(t, func(_ int64, _ map[string]string, w http.ResponseWriter, _ *http.Request) {
		okBody(w, `{"time_get_response":{"time":"x","request_id":"r1"}}`)
	})
	for _, m := range []SignMethod{SignMD5, SignHMAC, SignHMACSHA256} {
		cfg := testConfig(g.srv.URL)
		cfg.SignMethod = m
		cfg.Simplify = false
		c := newTestClient(t, cfg)
		if _, err := c.Call(context.Background(), "taobao.time.get", Params{"x": 1}, &CallOptions{Session: "other-session", Retries: -1, SkipValidation: true}); err != nil { // x is not the API's
			t.Fatal(err)
		}
		p := g.lastParams()
		want := map[string]string{"method": "taobao.time.get", "app_key": testKey, "session": "other-session",
			"format": "json", "v": "2.0", "sign_method": string(m), "partner_id": "topscript", "x": "1"}
		for k, v := range want {
			if p[k] != v {
				t.Errorf("%s: param %s = %q, want %q", m, k, p[k], v)
			}
		}
		if _, ok := p["simplify"]; ok {
			t.Errorf("simplify sent though off")
		}
		if len(p["timestamp"]) != len(toptime.Layout) {
			t.Errorf("timestamp %q", p["timestamp"])
		}
	}
	c := newTestClient(t, testConfig(g.srv.URL))
	if _, err := c.Call(context.Background(), "taobao.time.get", nil, nil); err != nil {
		t.Fatal(err)
	}
	if p := g.lastParams(); p["simplify"] != "true" || p["session"] != testSession {
		t.Errorf("simplify/session: %v", p)
	}
	off := false
	if _, err := c.Call(context.Background(), "taobao.time.get", nil, &CallOptions{Simplify: &off, Retries: -1}); err != nil {
		t.Fatal(err)
	}
	if _, ok := g.lastParams()["simplify"]; ok {
		t.Error("CallOptions.Simplify=false ignored")
	}
}
