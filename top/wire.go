package top

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"hash"
	"slices"
	"sort"
	"strings"
	"sync"
)

// This file is the per-attempt wire work of a call, kept cheap because it
// runs on every call: the signature (one concatenation, one keyed digest
// reused from a pool) and the form body (written straight from the sorted
// names, byte for byte what url.Values.Encode writes).

// signer signs with one secret and method, reusing keyed digests: an HMAC
// keyed once and Reset between uses gives the same sums as a fresh one.
type signer struct {
	secret string
	method SignMethod
	pool   sync.Pool // *signState
}

type signState struct {
	h   hash.Hash
	buf []byte
}

func newSigner(secret string, m SignMethod) *signer {
	return &signer{secret: secret, method: m}
}

// newHash returns the digest of m, keyed with secret for the HMACs; nil
// for an unknown method.
func newHash(secret string, m SignMethod) hash.Hash {
	switch m {
	case SignMD5:
		return md5.New()
	case SignHMAC:
		return hmac.New(md5.New, []byte(secret))
	case SignHMACSHA256:
		return hmac.New(sha256.New, []byte(secret))
	}
	return nil
}

// param is one request parameter, name and encoded value.
type param struct{ name, value string }

// sortParams sorts ps by name, in byte order.
func sortParams(ps []param) {
	slices.SortFunc(ps, func(a, b param) int { return strings.Compare(a.name, b.name) })
}

// pairsMap returns ps as a map.
func pairsMap(ps []param) map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.name] = p.value
	}
	return m
}

// mapParams returns m's params sorted by name.
func mapParams(m map[string]string) []param {
	ps := make([]param, 0, len(m))
	for k, v := range m {
		ps = append(ps, param{k, v})
	}
	sortParams(ps)
	return ps
}

// sign computes the signature of ps (sorted by name; "sign" and empty
// values are skipped, as Sign does), with body appended.
func (s *signer) sign(ps []param, body []byte) string {
	st, _ := s.pool.Get().(*signState)
	if st == nil {
		st = &signState{h: newHash(s.secret, s.method), buf: make([]byte, 0, 512)}
	}
	st.h.Reset()
	st.buf = appendSignText(st.buf[:0], ps, body, s.secret, s.method)
	st.h.Write(st.buf)
	var sum [sha256.Size]byte
	out := upperHex(st.h.Sum(sum[:0]))
	if cap(st.buf) <= 64<<10 {
		s.pool.Put(st)
	}
	return out
}

// appendSignText appends the text that is digested: for md5 the secret
// around the sorted name+value pairs, for the HMACs the pairs alone; then
// body.
func appendSignText(b []byte, ps []param, body []byte, secret string, m SignMethod) []byte {
	if m == SignMD5 {
		b = append(b, secret...)
	}
	for _, p := range ps {
		if p.name == "sign" || p.value == "" {
			continue
		}
		b = append(b, p.name...)
		b = append(b, p.value...)
	}
	b = append(b, body...)
	if m == SignMD5 {
		b = append(b, secret...)
	}
	return b
}

// upperHex is strings.ToUpper(hex.EncodeToString(b)) in one allocation.
func upperHex(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i] = digits[c>>4]
		out[2*i+1] = digits[c&0x0f]
	}
	return string(out)
}

// sortedNames returns the names of m in byte order.
func sortedNames(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// appendForm appends the urlencoded form of ps (sorted by name): what
// url.Values.Encode writes for one value per name.
func appendForm(b []byte, ps []param) []byte {
	for i, p := range ps {
		if i > 0 {
			b = append(b, '&')
		}
		b = appendQueryEscape(b, p.name)
		b = append(b, '=')
		b = appendQueryEscape(b, p.value)
	}
	return b
}

// formLen estimates the encoded size of ps, for one allocation.
func formLen(ps []param) int {
	n := 0
	for _, p := range ps {
		n += len(p.name) + len(p.value) + 2
	}
	return n + n/4
}

// appendQueryEscape appends url.QueryEscape(s): letters, digits and
// "-_.~" as they are, space as '+', every other byte as %XX (upper case).
func appendQueryEscape(b []byte, s string) []byte {
	const digits = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreservedQuery(c) {
			continue
		}
		b = append(b, s[start:i]...)
		if c == ' ' {
			b = append(b, '+')
		} else {
			b = append(b, '%', digits[c>>4], digits[c&0x0f])
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

func unreservedQuery(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}
