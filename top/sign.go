package top

import (
	"fmt"
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
	h := newHash(secret, m)
	if h == nil {
		return "", fmt.Errorf("top: unknown sign method %q (want md5, hmac or hmac-sha256)", string(m))
	}
	h.Write(appendSignText(nil, mapParams(params), body, secret, m))
	return upperHex(h.Sum(nil)), nil
}

// validSignMethod reports whether m is one of the three digests.
func validSignMethod(m SignMethod) bool {
	return m == SignMD5 || m == SignHMAC || m == SignHMACSHA256
}

// Sign signs params with the client's app secret and method m, as Sign
// does, for the protocols beside the gateway that sign the same way (TMC's
// handshake): the secret stays inside the client.
func (c *Client) Sign(params map[string]string, m SignMethod) (string, error) {
	return Sign(params, c.cfg.AppSecret, m)
}
