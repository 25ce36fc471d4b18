package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Batch calls (/router/batch): system params in the URL; a text/plain body of
// an optional "#PUBLIC#"+urlencoded line of shared params, then one
// urlencoded sub-request per part, parts joined by the separator
// ("\r\n-S-\r\n" unless the top-api-separator header names another). The
// sign covers the sorted URL params followed by the raw body. The answer is
// one envelope per sub-request, joined by the same separator. Latency and
// transport faults (502, drop, truncate) apply to the batch as a whole; bans,
// QPS and isp faults to each sub-request.

// DefaultBatchSeparator joins batch sub-requests and their answers.
const DefaultBatchSeparator = "\r\n-S-\r\n"

// MaxBatch is the largest number of sub-requests in a batch.
const MaxBatch = 50

func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now() // bans and QPS count the sub-requests here (see invoke)
	if !sleep(r.Context(), s.Latency()) {
		return
	}
	reqID := s.requestID()
	q := make(map[string]string, 8)
	parseForm(q, r.URL.RawQuery)
	rd := renderFor(q)
	if r.Method != http.MethodPost {
		s.reply(w, rd, nil, sysErr(9, "Http Action Not Allowed"), reqID, "", faultNone)
		return
	}
	var body []byte
	var err error
	if r.Body != nil {
		body, err = readLimited(r.Body, maxBodyBytes)
	}
	if err != nil {
		s.reply(w, rd, nil, &apiErr{code: 43, msg: "Parameter error", subCode: "isv.invalid-parameter", subMsg: "请求无法解析或过大"}, reqID, "", faultNone)
		return
	}
	now := s.opts.Now()
	if e := s.checkCommon(q, nil, body, now); e != nil {
		s.reply(w, rd, nil, e, reqID, "", faultNone)
		return
	}
	sep := r.Header.Get("top-api-separator")
	if sep == "" {
		sep = DefaultBatchSeparator
	}
	public, lines := splitBatch(body, sep)
	switch {
	case len(lines) == 0:
		s.reply(w, rd, nil, errMissing("method"), reqID, "", faultNone)
		return
	case len(lines) > MaxBatch:
		s.reply(w, rd, nil, &apiErr{code: 41, msg: "Invalid arguments:batch", subCode: "isv.batch-limit-exceeded",
			subMsg: "a batch carries at most " + strconv.Itoa(MaxBatch) + " sub-requests, got " + strconv.Itoa(len(lines))}, reqID, "", faultNone)
		return
	}

	f, _ := s.faults.roll()
	switch f {
	case fault502:
		s.reply(w, rd, nil, nil, reqID, "", f)
		return
	case fault502Applied, faultDrop, faultTruncate: // the sub-requests are applied, then the answer fails
	default:
		f = faultNone
	}

	shared := make(map[string]string, 8)
	parseForm(shared, strings.TrimSpace(public))
	buf := getBuf()
	out := *buf
	for i, line := range lines {
		if i > 0 {
			out = append(out, sep...)
		}
		p := make(map[string]string, len(q)+len(shared)+8)
		parseForm(p, strings.TrimSpace(line))
		for k, v := range shared {
			if _, ok := p[k]; !ok {
				p[k] = v
			}
		}
		for k, v := range q {
			if _, ok := p[k]; !ok || isSystemParam(k) {
				p[k] = v
			}
		}
		subID := reqID
		if i > 0 {
			subID = s.requestID()
		}
		out = s.batchCall(out, rd, p, now, arrived, subID)
	}
	if f == fault502Applied {
		putBuf(buf, out)
		s.reply(w, rd, nil, nil, reqID, "", f)
		return
	}
	s.writeBody(w, rd.contentType(), out, f)
	putBuf(buf, out)
}

// batchCall appends to b the answer of one sub-request.
func (s *Server) batchCall(b []byte, rd render, p map[string]string, now, arrived time.Time, reqID string) []byte {
	method := p["method"]
	if method == "" {
		return s.answer(b, rd, nil, sysErr(21, "Missing method"), reqID, "")
	}
	s.stats.call(method)
	a := apiFor(method)
	if a == nil {
		return s.answer(b, rd, nil, sysErr(22, "Invalid method"), reqID, "")
	}
	payload, e, _ := s.invoke(a, p, nil, now, arrived, false)
	return s.answer(b, rd, payload, e, reqID, a.root)
}

// isSystemParam names the params a batch's URL fixes for every sub-request.
func isSystemParam(k string) bool {
	switch k {
	case "app_key", "sign", "sign_method", "timestamp", "v", "format", "simplify", "partner_id", "target_app_key":
		return true
	}
	return false
}
