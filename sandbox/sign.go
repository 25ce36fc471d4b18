package sandbox

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sort"
	"strings"
)

// Sign methods the gateway verifies.
const (
	signMD5        = "md5"
	signHMAC       = "hmac"
	signHMACSHA256 = "hmac-sha256"
)

// computeSign signs params the way the gateway verifies them: every param
// received except "sign" and file parts (skip), sorted by name, name and
// value concatenated, then extra (the raw body of a batch call) appended,
// then digested per method and hex-encoded in upper case. ok is false for an
// unknown method.
//
// The one rule (a choice: the platform does not document it): the gateway
// signs exactly what it receives. A parameter sent with an empty value
// ("k=", as the official Python SDK sends it) is in the signed text as "k";
// one sent as " " as "k ". The Java and PHP SDKs, and topscript, do not
// send empty (or, Java and topscript, whitespace-only) values at all, so
// they sign nothing for them either.
func computeSign(params map[string]string, skip map[string]bool, extra []byte, secret, method string) (sig string, ok bool) {
	keys := make([]string, 0, len(params))
	n := 0
	for k, v := range params {
		if k == "sign" || skip[k] {
			continue
		}
		keys = append(keys, k)
		n += len(k) + len(v)
	}
	sort.Strings(keys)

	var h hash.Hash
	switch method {
	case signMD5:
		h = md5.New()
		h.Write([]byte(secret))
	case signHMAC:
		h = hmac.New(md5.New, []byte(secret))
	case signHMACSHA256:
		h = hmac.New(sha256.New, []byte(secret))
	default:
		return "", false
	}
	buf := make([]byte, 0, n+len(extra))
	for _, k := range keys {
		buf = append(buf, k...)
		buf = append(buf, params[k]...)
	}
	buf = append(buf, extra...)
	h.Write(buf)
	if method == signMD5 {
		h.Write([]byte(secret))
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), true
}
