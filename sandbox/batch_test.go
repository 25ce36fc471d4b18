package sandbox

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/topscript/topscript/toptime"
)

func batchRequest(s *Server, lines []string, public string, sep string, extra map[string]string) *http.Request {
	q := map[string]string{
		"app_key": s.opts.AppKey, "timestamp": toptime.Format(testNow), "v": "2.0",
		"format": "json", "sign_method": "hmac", "session": s.opts.Session,
	}
	for k, v := range extra {
		q[k] = v
	}
	if sep == "" {
		sep = DefaultBatchSeparator
	}
	body := strings.Join(lines, sep)
	if public != "" {
		body = "#PUBLIC#" + public + sep + body
	}
	q["sign"], _ = computeSign(q, nil, []byte(body), s.opts.AppSecret, "hmac")
	r := httptest.NewRequest(http.MethodPost, "/router/batch?"+form(q), strings.NewReader(body))
	r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	if sep != DefaultBatchSeparator {
		r.Header.Set("top-api-separator", sep)
	}
	return r
}

func TestBatch(t *testing.T) {
	s := newTestServer(t, Options{})
	it := s.st.items[0]
	id := strconv.FormatInt(it.numIID, 10)
	lines := []string{
		"method=taobao.item.seller.get&fields=num_iid&num_iid=" + id,
		"method=taobao.item.sku.price.update&num_iid=" + id + "&properties=" + url.QueryEscape(it.skus[0].props) + "&price=9.99",
		"method=taobao.no.such",
		"method=taobao.time.get",
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, batchRequest(s, lines, "", "", nil))
	parts := strings.Split(w.Body.String(), DefaultBatchSeparator)
	if len(parts) != 4 {
		t.Fatalf("%d parts: %s", len(parts), w.Body)
	}
	if num(path(decode(t, []byte(parts[0])), "item_seller_get_response", "item", "num_iid")) != id {
		t.Errorf("part 0: %s", parts[0])
	}
	mustOK(t, decode(t, []byte(parts[1])), "item_sku_price_update_response")
	wantCode(t, decode(t, []byte(parts[2])), "22", "")
	mustOK(t, decode(t, []byte(parts[3])), "time_get_response")
	if it := s.st.items[0]; it.skus[0].price != 999 {
		t.Error("batch write not applied")
	}
	if st := s.Stats(); st.Requests != 1 || st.Calls["taobao.item.seller.get"] != 1 || st.Writes["taobao.item.sku.price.update"][id+":"+it.skus[0].props] != 1 {
		t.Errorf("%+v", st)
	}

	// Custom separator, #PUBLIC# shared params, simplify.
	w = httptest.NewRecorder()
	s.ServeHTTP(w, batchRequest(s, []string{"num_iid=" + id, "num_iid=" + strconv.FormatInt(s.st.items[1].numIID, 10)},
		"method=taobao.item.seller.get&fields=title", "\n##\n", map[string]string{"simplify": "true"}))
	parts = strings.Split(w.Body.String(), "\n##\n")
	if len(parts) != 2 || path(decode(t, []byte(parts[1])), "item", "title") == nil {
		t.Errorf("public/separator: %s", w.Body)
	}

	// A bad sign, too many sub-requests, an empty batch.
	r := batchRequest(s, lines, "", "", nil)
	r.Body = http.NoBody
	w = httptest.NewRecorder()
	s.ServeHTTP(w, r)
	wantCode(t, decode(t, w.Body.Bytes()), "25", "")
	many := make([]string, MaxBatch+1)
	for i := range many {
		many[i] = "method=taobao.time.get"
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, batchRequest(s, many, "", "", nil))
	e := wantCode(t, decode(t, w.Body.Bytes()), "41", "isv.batch-limit-exceeded")
	if !strings.Contains(e["sub_msg"].(string), "at most 50") {
		t.Error(e)
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, batchRequest(s, nil, "", "", nil))
	wantCode(t, decode(t, w.Body.Bytes()), "40", "")
}
