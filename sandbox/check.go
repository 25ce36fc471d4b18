package sandbox

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/topscript/topscript/toptime"
)

// apiErr is an error answer: code, msg and optional sub_code / sub_msg.
type apiErr struct {
	code    int
	msg     string
	subCode string
	subMsg  string
	// statsKey, when set, is the key the answer is counted under in
	// Stats.Errors instead of "<code>/<sub_code>" (an injected fault).
	statsKey string
}

func (e *apiErr) Error() string {
	s := strconv.Itoa(e.code) + " " + e.msg
	if e.subCode != "" {
		s += "; " + e.subCode + ": " + e.subMsg
	}
	return s
}

func sysErr(code int, msg string) *apiErr { return &apiErr{code: code, msg: msg} }

// errMissing is code 40 for a missing required argument.
func errMissing(name string) *apiErr {
	return &apiErr{code: 40, msg: "Missing required arguments:" + name}
}

// errInvalid is code 41 for an argument the gateway rejects (type, range).
func errInvalid(name string) *apiErr {
	return &apiErr{code: 41, msg: "Invalid arguments:" + name}
}

// errBiz is a business error: code 15 with an isv.* sub_code.
func errBiz(subCode, subMsg string) *apiErr {
	return &apiErr{code: 15, msg: "Remote service error", subCode: subCode, subMsg: subMsg}
}

// errIllegal is the seed docs' code 50 isv.invalid-parameter answer.
func errIllegal() *apiErr {
	return &apiErr{code: 50, msg: "Remote service error", subCode: "isv.invalid-parameter", subMsg: "非法参数"}
}

// Limits on what a request may carry.
const (
	maxBodyBytes  = 16 << 20
	maxFileBytes  = 32 << 20
	maxParamCount = 1000
)

var errTooLarge = errors.New("request too large")

// parseRequest merges the query string and the body (urlencoded or
// multipart/form-data) into one param map; the first value of a name wins,
// query string first. File parts are named in files and not in params. It is
// tolerant: undecodable pairs are skipped.
func parseRequest(r *http.Request) (params map[string]string, files map[string]bool, err error) {
	params = make(map[string]string, 16)
	parseForm(params, r.URL.RawQuery)
	if r.Body == nil || (r.Method != http.MethodPost && r.Method != http.MethodPut) {
		return params, nil, nil
	}
	ct := r.Header.Get("Content-Type")
	mt, mp, _ := mime.ParseMediaType(ct)
	switch {
	case ct == "" || mt == "application/x-www-form-urlencoded":
		body, err := readLimited(r.Body, maxBodyBytes)
		if err != nil {
			return params, nil, err
		}
		parseForm(params, string(body))
	case mt == "multipart/form-data" && mp["boundary"] != "":
		files, err = parseMultipart(params, r.Body, mp["boundary"])
		if err != nil {
			return params, files, err
		}
	}
	if len(params) > maxParamCount {
		return params, files, errTooLarge
	}
	return params, files, nil
}

func readLimited(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, errTooLarge
	}
	return b, nil
}

func parseMultipart(params map[string]string, body io.Reader, boundary string) (map[string]bool, error) {
	files := map[string]bool{}
	mr := multipart.NewReader(body, boundary)
	var total int64
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return files, err
		}
		name := part.FormName()
		if part.FileName() != "" {
			n, err := io.Copy(io.Discard, io.LimitReader(part, maxFileBytes+1))
			if err != nil {
				return files, err
			}
			if n > maxFileBytes {
				return files, errTooLarge
			}
			if name != "" {
				files[name] = true
			}
			continue
		}
		v, err := readLimited(part, maxBodyBytes)
		if err != nil {
			return files, err
		}
		total += int64(len(v))
		if total > maxBodyBytes {
			return files, errTooLarge
		}
		if _, dup := params[name]; name != "" && !dup {
			params[name] = string(v)
		}
	}
}

// parseForm adds the pairs of an urlencoded string to params (first wins),
// skipping pairs that do not decode.
func parseForm(params map[string]string, s string) {
	for s != "" {
		var pair string
		pair, s, _ = strings.Cut(s, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := unescape(k)
		v, err2 := unescape(v)
		if err1 != nil || err2 != nil || k == "" {
			continue
		}
		if _, dup := params[k]; !dup {
			params[k] = v
		}
	}
}

func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}

// renderFor reads format and simplify from params. An invalid format is
// reported by checkFormat; its answer is in XML, the default.
func renderFor(p map[string]string) render {
	if p["format"] == "json" {
		return render{format: fmtJSON, simplify: isTrue(p["simplify"])}
	}
	return render{format: fmtXML}
}

func isTrue(s string) bool { return s == "true" || s == "True" || s == "TRUE" || s == "1" }

const maxSkew = 10 * time.Minute

// parseTimestamp accepts "yyyy-MM-dd HH:mm:ss" in GMT+8 or epoch milliseconds.
func parseTimestamp(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if allDigits(s) {
		if len(s) > 15 {
			return time.Time{}, false
		}
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.UnixMilli(ms), true
	}
	t, err := toptime.Parse(s)
	return t, err == nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// checkCommon runs the system checks shared by /router/rest and
// /router/batch, in the gateway's order after the method checks: format (23),
// app key (28, 29), timestamp (30, 31), version (32–34), signature (24, 25).
// extra is the raw batch body appended to the signed string.
func (s *Server) checkCommon(p map[string]string, files map[string]bool, extra []byte, now time.Time) *apiErr {
	if f := p["format"]; f != "" && f != "json" && f != "xml" {
		return sysErr(23, "Invalid format")
	}
	switch ak := p["app_key"]; {
	case ak == "":
		return sysErr(28, "Missing app key")
	case ak != s.opts.AppKey:
		return &apiErr{code: 29, msg: "Invalid app Key", subCode: "isv.appkey-not-exists", subMsg: "appkey不存在"}
	}
	ts, ok := p["timestamp"]
	if !ok || ts == "" {
		return sysErr(30, "Missing timestamp")
	}
	t, ok := parseTimestamp(ts)
	if !ok || t.Sub(now) > maxSkew || now.Sub(t) > maxSkew {
		return sysErr(31, "Invalid timestamp")
	}
	switch v := p["v"]; {
	case v == "":
		return sysErr(32, "Missing version")
	case v == "2.0" || v == "2":
	default:
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return sysErr(34, "Unsupported version")
		}
		return sysErr(33, "Invalid version")
	}
	sig := p["sign"]
	if sig == "" {
		return sysErr(24, "Missing signature")
	}
	sm := p["sign_method"]
	if sm == "" {
		sm = signMD5 // the gateway's historical default
	}
	want, ok := computeSign(p, files, extra, s.opts.AppSecret, sm)
	if !ok || !strings.EqualFold(want, sig) {
		return sysErr(25, "Invalid signature")
	}
	return nil
}

// checkRequired answers 40 for the first missing required argument.
func checkRequired(a *api, p map[string]string, files map[string]bool) *apiErr {
	for _, name := range a.required {
		if p[name] == "" && !files[name] {
			return errMissing(name)
		}
	}
	return nil
}

// splitBatch splits a batch body into its optional #PUBLIC# line and the
// sub-request lines.
func splitBatch(body []byte, sep string) (public string, lines []string) {
	if len(bytes.TrimSpace(body)) == 0 {
		return "", nil
	}
	parts := strings.Split(string(body), sep)
	if strings.HasPrefix(parts[0], "#PUBLIC#") {
		public = strings.TrimPrefix(parts[0], "#PUBLIC#")
		parts = parts[1:]
	}
	return public, parts
}
