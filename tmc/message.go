package tmc

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/topscript/topscript/tmc/wire"
)

// Message is one message of the channel.
type Message struct {
	ID        int64     // exact (often beyond 2^53)
	Topic     string    // e.g. "taobao_trade_TradeBuyerPay"
	Content   string    // JSON text, decompressed when it came gzip-compressed
	Time      time.Time // publish time
	OutTime   time.Time // zero when absent
	Publisher string    // the publishing app key
	Nick      string    // the shop's nick
	UserID    int64     // the shop's user id, exact
	DataID    string
	// Key names the object the message is about, as the Java SDK keys its
	// duplicate check: "trade_<tid>" for taobao_trade_*, "item_<num_iid>"
	// for taobao_item_*, "refund_<refund_id>" for taobao_refund_*; "" when
	// the topic is of another family or the content lacks the field.
	Key string
	// lane orders handler runs: "trade_<tid>" for any content with a tid
	// (trade and refund messages about one trade share it), else Key.
	lane string
}

// maxContent bounds decompressed content.
const maxContent = 16 << 20

// cst is GMT+8, the platform's zone for times written as text.
var cst = time.FixedZone("CST", 8*3600)

// errNotMessage marks a SEND frame that carries no message (no id).
var errNotMessage = errors.New("not a message")

// parseMessage reads a pushed SEND frame.
func parseMessage(f *wire.Frame) (*Message, error) {
	idv, ok := f.Get("id")
	if !ok {
		return nil, errNotMessage
	}
	m := &Message{Topic: f.Text("topic"), Nick: f.Text("nick"), Publisher: f.Text("publisher"), DataID: f.Text("dataid")}
	if m.ID, ok = idv.Integer(); !ok {
		return nil, fmt.Errorf("message id %q is not an integer", f.Text("id"))
	}
	if v, present := f.Get("userid"); present {
		if m.UserID, ok = v.Integer(); !ok {
			return m, fmt.Errorf("message %d: userid is not an integer", m.ID)
		}
	}
	m.Time = headerTime(f, "time")
	m.OutTime = headerTime(f, "outtime")
	if v, present := f.Get("content"); present {
		switch v.Format {
		case wire.String:
			m.Content = v.Str
		case wire.ByteArray:
			s, err := gunzip(v.Bytes)
			if err != nil {
				return m, fmt.Errorf("message %d: content: %w", m.ID, err)
			}
			m.Content = s
		case wire.Void:
		default:
			return m, fmt.Errorf("message %d: content has value format %d, want a string or a byte array", m.ID, v.Format)
		}
	}
	m.Key, m.lane = objectKeys(m.Topic, m.Content)
	return m, nil
}

// headerTime reads a Date, an integer of milliseconds, or a
// "yyyy-MM-dd HH:mm:ss" (GMT+8) string; zero when absent or unreadable.
func headerTime(f *wire.Frame, key string) time.Time {
	v, ok := f.Get(key)
	if !ok {
		return time.Time{}
	}
	if ms, ok := v.Integer(); ok {
		return time.UnixMilli(ms)
	}
	if v.Format == wire.String {
		if t, err := time.ParseInLocation("2006-01-02 15:04:05", v.Str, cst); err == nil {
			return t
		}
	}
	return time.Time{}
}

func gunzip(b []byte) (string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	defer zr.Close()
	out, err := io.ReadAll(io.LimitReader(zr, maxContent+1))
	if err != nil {
		return "", err
	}
	if len(out) > maxContent {
		return "", fmt.Errorf("over %d bytes decompressed", maxContent)
	}
	return string(out), nil
}

// keyFields maps a topic family to the content field and key prefix of its
// object (the Java SDK's duplicate keys).
var keyFields = []struct{ topicPrefix, field, keyPrefix string }{
	{"taobao_trade_", "tid", "trade_"},
	{"taobao_item_", "num_iid", "item_"},
	{"taobao_refund_", "refund_id", "refund_"},
}

// objectKeys returns the Message.Key of a topic and content, and its lane.
func objectKeys(topic, content string) (key, lane string) {
	for _, k := range keyFields {
		if !strings.HasPrefix(topic, k.topicPrefix) {
			continue
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal([]byte(content), &fields) != nil {
			return "", ""
		}
		key = idField(fields, k.field, k.keyPrefix)
		lane = idField(fields, "tid", "trade_")
		if lane == "" {
			lane = key
		}
		return key, lane
	}
	return "", ""
}

// idField is prefix + the digits of fields[name] ("" when absent).
func idField(fields map[string]json.RawMessage, name, prefix string) string {
	raw := strings.Trim(string(bytes.TrimSpace(fields[name])), `"`)
	if raw == "" || raw == "null" {
		return ""
	}
	return prefix + raw
}

// maxReason is the platform's limit on a failure reason, in characters.
const maxReason = 128

// reason cuts an error text to maxReason characters.
func reason(err error) string {
	s := strings.TrimSpace(err.Error())
	if s == "" {
		s = "handler failed"
	}
	r := []rune(s)
	if len(r) > maxReason {
		r = append(r[:maxReason-1], '…')
	}
	return string(r)
}
