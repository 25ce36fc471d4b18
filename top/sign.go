package top

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"
	"strings"
)

// Sign computes the TOP signature of params with secret, as the gateway
// verifies it: every param except "sign" and empty values, sorted by name
// in byte order, concatenated as name+value with no separators, digested
// with m and hex-encoded in upper case.
//
//   - SignMD5:        MD5(secret + concatenation + secret)
//   - SignHMAC:       HMAC-MD5(key=secret, concatenation)
//   - SignHMACSHA256: HMAC-SHA256(key=secret, concatenation)
//
// File params are never in params (they travel as multipart parts and are
// not signed). An unknown m is an error.
func Sign(params map[string]string, secret string, m SignMethod) (string, error) {
	return signWithBody(params, nil, secret, m)
}

// signWithBody is Sign with body appended to the concatenation, after the
// sorted params: the signature of a batch call (system params in the URL,
// sub-requests in the raw body).
func signWithBody(params map[string]string, body []byte, secret string, m SignMethod) (string, error) {
	var h hash.Hash
	switch m {
	case SignMD5:
		h = md5.New()
	case SignHMAC:
		h = hmac.New(md5.New, []byte(secret))
	case SignHMACSHA256:
		h = hmac.New(sha256.New, []byte(secret))
	default:
		return "", fmt.Errorf("top: unknown sign method %q (want md5, hmac or hmac-sha256)", string(m))
	}
	keys := make([]string, 0, len(params))
	for k, v := range params {
		if k == "sign" || v == "" {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if m == SignMD5 {
		h.Write([]byte(secret))
	}
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte(params[k]))
	}
	h.Write(body)
	if m == SignMD5 {
		h.Write([]byte(secret))
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), nil
}

// validSignMethod reports whether m is one of the three digests.
func validSignMethod(m SignMethod) bool {
	return m == SignMD5 || m == SignHMAC || m == SignHMACSHA256
}
