package top

import (
	"math/rand/v2"
	"net/url"
	"testing"
)

// The form body is byte for byte what url.Values.Encode writes.
func TestAppendFormMatchesURLValues(t *testing.T) {
	for c := 0; c < 256; c++ {
		s := "a" + string(rune(c)) + string([]byte{byte(c)}) + "z"
		if got, want := string(appendQueryEscape(nil, s)), url.QueryEscape(s); got != want {
			t.Fatalf("byte %#x: %q, want %q", c, got, want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 500; n++ {
		m := map[string]string{}
		for i := r.IntN(12); i >= 0; i-- {
			m[randText(r)] = randText(r)
		}
		v := url.Values{}
		for k, s := range m {
			v.Set(k, s)
		}
		if got, want := string(appendForm(nil, mapParams(m))), v.Encode(); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", m, got, want)
		}
		body, ctype, err := encodeBody(m, nil)
		if err != nil || string(body) != v.Encode() || ctype != formContentType {
			t.Fatalf("encodeBody: %q %q %v", body, ctype, err)
		}
	}
}

// A pooled signer signs as Sign does, for every method, again and again.
func TestSignerMatchesSign(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, m := range []SignMethod{SignMD5, SignHMAC, SignHMACSHA256} {
		s := newSigner("the-secret", m)
		for n := 0; n < 50; n++ {
			p := map[string]string{}
			for i := r.IntN(10); i >= 0; i-- {
				p[randText(r)] = randText(r)
			}
			p["sign"] = "ignored"
			want, err := Sign(p, "the-secret", m)
			if err != nil {
				t.Fatal(err)
			}
			if got := s.sign(mapParams(p), nil); got != want {
				t.Fatalf("%s: signer %s, Sign %s", m, got, want)
			}
		}
	}
}

func randText(r *rand.Rand) string {
	const alphabet = "abcXYZ019-_.~ +&=%/?#中文\x00\x7f"
	b := make([]rune, r.IntN(8))
	ar := []rune(alphabet)
	for i := range b {
		b[i] = ar[r.IntN(len(ar))]
	}
	return string(b)
}

// The system parameters are written in one place (sysParams); the names
// callers may not use (systemParams) cover every one of them.
func TestSystemParamsReserved(t *testing.T) {
	c := newTestClient(t, testConfig("http://127.0.0.1:1/"))
	got := map[string]bool{}
	for _, p := range c.sysParams(nil, "a-session", true) {
		got[p.name] = true
		if !systemParams[p.name] {
			t.Errorf("system parameter %q is not reserved", p.name)
		}
	}
	for name := range systemParams {
		if !got[name] && name != "method" && name != "sign" {
			t.Errorf("reserved name %q is no system parameter", name)
		}
	}
	if len(got) != 8 {
		t.Errorf("sysParams wrote %d names: %v", len(got), got)
	}
}
