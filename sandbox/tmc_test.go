package sandbox

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/toptime"
)

func consume(t *testing.T, s *Server, args map[string]string) []map[string]any {
	t.Helper()
	r := mustOK(t, doCall(t, s, "taobao.tmc.messages.consume", args), "tmc_messages_consume_response")
	var out []map[string]any
	list, _ := path(r, "messages", "tmc_message").([]any)
	for _, x := range list {
		out = append(out, x.(map[string]any))
	}
	return out
}

func TestTMCUserPermitGetCancel(t *testing.T) {
	s := newTestServer(t, Options{})
	get := map[string]string{"fields": "user_nick,user_id,topics,group_name,is_valid", "nick": sellerNick}
	wantCode(t, doCall(t, s, "taobao.tmc.user.get", get), "15", "isv.user-not-exist")
	s.Churn(5)
	if st := s.TMCStats(); st.Published != 0 {
		t.Fatalf("messages published for a shop that never permitted: %+v", st)
	}

	wantCode(t, doCall(t, s, "taobao.tmc.user.permit", map[string]string{"topics": "taobao_trade_TradeCreate,no_such_topic"}), "15", "isv.invalid-parameter")
	r := mustOK(t, doCall(t, s, "taobao.tmc.user.permit", map[string]string{"topics": "taobao_trade_TradeCreate"}), "tmc_user_permit_response")
	if r["is_success"] != true {
		t.Fatalf("permit: %v", r)
	}
	u := mustOK(t, doCall(t, s, "taobao.tmc.user.get", get), "tmc_user_get_response")["tmc_user"].(map[string]any)
	if u["user_nick"] != sellerNick || num(u["user_id"]) != "2206571234567" || u["group_name"] != "default" || u["is_valid"] != true {
		t.Fatalf("user.get: %v", u)
	}
	if topics, _ := path(u, "topics", "string").([]any); len(topics) != 1 || topics[0] != "taobao_trade_TradeCreate" {
		t.Fatalf("topics: %v", u["topics"])
	}
	cs := s.Churn(60)
	created := 0
	for _, c := range cs {
		if c.Event == "created" {
			created++
		}
	}
	if st := s.TMCStats(); st.Published != int64(created) || created == 0 {
		t.Fatalf("published %d, want the %d TradeCreate messages only", st.Published, created)
	}

	// Omitted topics: all of them.
	doCall(t, s, "taobao.tmc.user.permit", nil)
	u = mustOK(t, doCall(t, s, "taobao.tmc.user.get", get), "tmc_user_get_response")["tmc_user"].(map[string]any)
	if topics, _ := path(u, "topics", "string").([]any); len(topics) != len(tmcTopics) {
		t.Fatalf("topics after a permit without topics: %v", u["topics"])
	}

	c := mustOK(t, doCall(t, s, "taobao.tmc.user.cancel", map[string]string{"nick": sellerNick}), "tmc_user_cancel_response")
	if c["is_success"] != true {
		t.Fatalf("cancel: %v", c)
	}
	c = mustOK(t, doCall(t, s, "taobao.tmc.user.cancel", map[string]string{"nick": sellerNick}), "tmc_user_cancel_response")
	if c["is_success"] != false {
		t.Fatalf("cancel of a user not subscribed: %v, want is_success false", c)
	}
	wantCode(t, doCall(t, s, "taobao.tmc.user.get", get), "15", "isv.user-not-exist")
	wantCode(t, doCall(t, s, "taobao.tmc.user.get", map[string]string{"fields": "user_nick"}), "40", "")
}

func TestTMCConsumeConfirmRedeliver(t *testing.T) {
	s := newTestServer(t, Options{TMC: TMCOptions{Redeliver: 50 * time.Millisecond}})
	s.Permit(nil)
	s.Churn(30)
	pub := s.TMCStats().Published
	wantCode(t, doCall(t, s, "taobao.tmc.messages.consume", map[string]string{"quantity": "5"}), "41", "")
	wantCode(t, doCall(t, s, "taobao.tmc.messages.consume", map[string]string{"quantity": "201"}), "41", "")
	wantCode(t, doCall(t, s, "taobao.tmc.messages.consume", map[string]string{"group_name": "nosuch"}), "15", "isv.group-not-exist")

	first := consume(t, s, map[string]string{"quantity": "10"})
	if len(first) != 10 {
		t.Fatalf("consumed %d, want 10", len(first))
	}
	m := first[0]
	if id := num(m["id"]); len(id) != 19 || !strings.HasPrefix(m["topic"].(string), "taobao_") || m["user_nick"] != sellerNick || num(m["user_id"]) != "2206571234567" {
		t.Fatalf("message %v", m)
	}
	var content map[string]any
	if err := json.Unmarshal([]byte(m["content"].(string)), &content); err != nil {
		t.Fatalf("content: %v", err)
	}
	ids := make([]string, len(first))
	for i, m := range first {
		ids[i] = num(m["id"])
	}
	r := mustOK(t, doCall(t, s, "taobao.tmc.messages.confirm", map[string]string{"s_message_ids": strings.Join(ids, ",")}), "tmc_messages_confirm_response")
	if r["is_success"] != true {
		t.Fatalf("confirm: %v", r)
	}
	// The read pointer moved on: the next consume has the others, which,
	// left unconfirmed, come back after the timeout.
	rest := consume(t, s, map[string]string{"quantity": "200"})
	if int64(len(rest)) != pub-10 {
		t.Fatalf("second consume: %d, want %d", len(rest), pub-10)
	}
	for _, m := range rest {
		for _, id := range ids {
			if num(m["id"]) == id {
				t.Fatalf("confirmed message %s came back", id)
			}
		}
	}
	if again := consume(t, s, nil); len(again) != 0 {
		t.Fatalf("%d messages before the timeout", len(again))
	}
	deadline := time.Now().Add(5 * time.Second)
	var again []map[string]any
	for len(again) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		again = consume(t, s, map[string]string{"quantity": "200"})
	}
	if len(again) != len(rest) {
		t.Fatalf("redelivered %d, want the %d unconfirmed", len(again), len(rest))
	}
	st := s.TMCStats()
	if st.Confirmed != 10 || st.Redelivered != int64(len(rest)) || st.Unconfirmed != int(pub-10) {
		t.Fatalf("stats %+v", st)
	}
}

func TestTMCGroupAdd(t *testing.T) {
	s := newTestServer(t, Options{})
	add := func(group, nicks string) map[string]any {
		return doCall(t, s, "taobao.tmc.group.add", map[string]string{"group_name": group, "nicks": nicks})
	}
	wantCode(t, add("orders", sellerNick), "15", "isv.user-not-exist") // not permitted yet
	s.Permit(nil)
	wantCode(t, add("default_orders", sellerNick), "15", "isv.invalid-parameter")
	wantCode(t, add(strings.Repeat("g", 33), sellerNick), "41", "")
	r := mustOK(t, add("orders", sellerNick), "tmc_group_add_response")
	if r["group_name"] != "orders" || r["created"] != testNow.Format(toptime.Layout) {
		t.Fatalf("group.add: %v", r)
	}
	u := mustOK(t, doCall(t, s, "taobao.tmc.user.get", map[string]string{"fields": "group_name", "nick": sellerNick}), "tmc_user_get_response")
	if path(u, "tmc_user", "group_name") != "orders" {
		t.Fatalf("user.get: %v", u)
	}
	s.Churn(5)
	if n := len(consume(t, s, nil)); n != 0 {
		t.Fatalf("the default group got %d messages of a shop routed to orders", n)
	}
	if n := len(consume(t, s, map[string]string{"group_name": "orders"})); n == 0 {
		t.Fatal("the orders group got nothing")
	}
}

// Writes through the gateway publish item messages.
func TestTMCItemMessages(t *testing.T) {
	s := newTestServer(t, Options{})
	s.Permit(nil)
	it := s.st.items[0]
	doCall(t, s, "taobao.item.sku.price.update", map[string]string{"num_iid": strconv.FormatInt(it.numIID, 10), "properties": it.skus[0].props, "price": "19.90"})
	doCall(t, s, "taobao.skus.quantity.update", map[string]string{"num_iid": strconv.FormatInt(it.numIID, 10), "skuid_quantities": strconv.FormatInt(it.skus[0].id, 10) + ":5"})
	fx := s.st.fx[0]
	doCall(t, s, "tmall.supplychain.channel.product.downshelf", map[string]string{"product_id": strconv.FormatInt(fx.pid, 10)})
	msgs := consume(t, s, nil)
	want := []struct{ topic, content string }{
		{"taobao_item_ItemUpdate", `{"nick":"` + sellerNick + `","num_iid":` + strconv.FormatInt(it.numIID, 10) + `,"changed_fields":"price"}`},
		{"taobao_item_ItemUpdate", `{"nick":"` + sellerNick + `","num_iid":` + strconv.FormatInt(it.numIID, 10) + `,"changed_fields":"num"}`},
		{"taobao_item_ItemDownshelf", `{"nick":"` + sellerNick + `","num_iid":` + strconv.FormatInt(fx.itemID, 10) + `}`},
	}
	if len(msgs) != len(want) {
		t.Fatalf("%d messages: %v", len(msgs), msgs)
	}
	for i, w := range want {
		if msgs[i]["topic"] != w.topic || msgs[i]["content"] != w.content {
			t.Errorf("message %d: %v %v, want %s %s", i, msgs[i]["topic"], msgs[i]["content"], w.topic, w.content)
		}
	}
}

func TestTMCAdmin(t *testing.T) {
	s := newTestServer(t, Options{})
	s.Permit(nil)
	s.Churn(3)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/_sandbox/tmc", nil))
	var st TMCStats
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Published == 0 || st.Unconfirmed != int(st.Published) || len(st.UnconfirmedIDs) != st.Unconfirmed {
		t.Fatalf("GET /_sandbox/tmc: %v %s", err, w.Body)
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/_sandbox/tmc/drop", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"dropped":0`) {
		t.Fatalf("POST /_sandbox/tmc/drop: %d %s", w.Code, w.Body)
	}
	if _, err := New(Options{TMC: TMCOptions{Duplicates: 2}}); err == nil {
		t.Fatal("a duplicates probability of 2 is accepted")
	}
}

// A group's queue is bounded: with no consumer the oldest messages expire.
func TestTMCBacklogBound(t *testing.T) {
	s := newTestServer(t, Options{})
	s.tmc.maxBacklog = 20
	s.Permit(nil)
	s.Churn(50)
	st := s.TMCStats()
	if st.Unconfirmed != 20 || st.Expired != st.Published-20 {
		t.Fatalf("stats %+v, want 20 kept and the rest expired", st)
	}
	msgs := consume(t, s, map[string]string{"quantity": "200"})
	if len(msgs) != 20 || num(msgs[19]["id"]) != strconv.FormatInt(tmcIDBase+st.Published, 10) {
		t.Fatalf("consumed %d, last %v: want the newest 20", len(msgs), msgs[len(msgs)-1]["id"])
	}
}
