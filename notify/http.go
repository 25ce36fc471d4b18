package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/topscript/topscript/toptime"
)

// DingTalk sends to a DingTalk group robot (自定义机器人) through its
// webhook. With a Secret (the robot's 加签 setting) each call is signed:
// timestamp and sign query parameters, see DingTalkSign.
type DingTalk struct {
	URL       string // https://oapi.dingtalk.com/robot/send?access_token=...
	Secret    string // "SEC..."; "" when the robot checks keywords or IPs instead
	Text      bool   // plain text messages instead of Markdown
	AtMobiles []string
	AtAll     bool
	Client    *http.Client     // nil: a client without a timeout of its own (each send has one)
	Now       func() time.Time // nil: time.Now; the signature's timestamp
}

// DingTalkSign is the sign of a robot call at timestamp ms (milliseconds
// since the epoch): the HMAC-SHA256 of "ms\nsecret" keyed by secret, in
// base64. It goes into the URL query-escaped.
func DingTalkSign(ms int64, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ms, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Send posts e. The robot answers HTTP 200 with an errcode; anything but
// errcode 0 is an error naming it (310000: a bad signature or a missing
// keyword; 130101: more than 20 messages a minute).
func (d *DingTalk) Send(ctx context.Context, e Event) error {
	u := d.URL
	if d.Secret != "" {
		now := time.Now
		if d.Now != nil {
			now = d.Now
		}
		ms := now().UnixMilli()
		u = addQuery(u, "timestamp", strconv.FormatInt(ms, 10), "sign", DingTalkSign(ms, d.Secret))
	}
	type at struct {
		AtMobiles []string `json:"atMobiles,omitempty"`
		IsAtAll   bool     `json:"isAtAll,omitempty"`
	}
	mentions := ""
	for _, m := range d.AtMobiles {
		mentions += " @" + m // the robot only notifies members named in the text
	}
	var msg any
	if d.Text {
		msg = struct {
			MsgType string            `json:"msgtype"`
			Text    map[string]string `json:"text"`
			At      at                `json:"at"`
		}{"text", map[string]string{"content": e.Text() + mentions}, at{d.AtMobiles, d.AtAll}}
	} else {
		msg = struct {
			MsgType  string            `json:"msgtype"`
			Markdown map[string]string `json:"markdown"`
			At       at                `json:"at"`
		}{"markdown", map[string]string{"title": e.Title(), "text": e.Markdown() + mentions}, at{d.AtMobiles, d.AtAll}}
	}
	return postRobot(ctx, d.Client, u, msg)
}

// WeCom sends to a WeCom (企业微信) group robot through its webhook.
type WeCom struct {
	URL       string // https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...
	Text      bool   // plain text messages instead of Markdown
	AtMobiles []string
	Client    *http.Client
}

// Send posts e; errcode 0 is success, anything else an error naming it.
func (w *WeCom) Send(ctx context.Context, e Event) error {
	var msg any
	if w.Text {
		msg = map[string]any{"msgtype": "text", "text": map[string]any{"content": e.Text(), "mentioned_mobile_list": w.AtMobiles}}
	} else {
		content := e.Markdown()
		for _, m := range w.AtMobiles {
			content += " <@" + m + ">"
		}
		msg = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": content}}
	}
	return postRobot(ctx, w.Client, w.URL, msg)
}

// postRobot posts msg as JSON and reads the robots' {"errcode":0} answer.
func postRobot(ctx context.Context, c *http.Client, u string, msg any) error {
	req, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	body, status, err := postJSON(ctx, c, u, req, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", status, clip(body))
	}
	var ans struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.ErrCode == nil {
		return fmt.Errorf("unexpected answer: %s", clip(body))
	}
	if *ans.ErrCode != 0 {
		return fmt.Errorf("errcode %d: %s", *ans.ErrCode, ans.ErrMsg)
	}
	return nil
}

// Webhook posts each alert as JSON (a Payload) to a URL of the operator's
// own. With a Secret the body is signed: X-Topscript-Signature:
// sha256=<hex HMAC-SHA256 of the body keyed by Secret>. Any 2xx answer is
// success.
type Webhook struct {
	URL     string
	Secret  string
	Headers map[string]string
	Client  *http.Client
}

// Payload is the JSON a Webhook posts.
type Payload struct {
	Kind    Kind    `json:"kind"`
	Title   string  `json:"title"`
	Subject string  `json:"subject,omitempty"`
	Summary string  `json:"summary,omitempty"`
	Fields  []Field `json:"fields,omitempty"`
	Time    string  `json:"time,omitempty"` // RFC 3339, GMT+8
	Text    string  `json:"text"`           // the whole alert as plain text
}

// SignatureHeader carries a Webhook's body signature.
const SignatureHeader = "X-Topscript-Signature"

// WebhookSignature is the SignatureHeader value for body.
func WebhookSignature(body []byte, secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + fmt.Sprintf("%x", m.Sum(nil))
}

// Send posts e.
func (h *Webhook) Send(ctx context.Context, e Event) error {
	p := Payload{Kind: e.Kind, Title: e.Title(), Subject: e.Subject, Summary: e.Summary, Fields: e.Fields, Text: e.Text()}
	if !e.Time.IsZero() {
		p.Time = e.Time.In(toptime.Zone).Format(time.RFC3339)
	}
	req, err := json.Marshal(p)
	if err != nil {
		return err
	}
	headers := map[string]string{}
	for k, v := range h.Headers {
		headers[k] = v
	}
	if h.Secret != "" {
		headers[SignatureHeader] = WebhookSignature(req, h.Secret)
	}
	body, status, err := postJSON(ctx, h.Client, h.URL, req, headers)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return fmt.Errorf("HTTP %d: %s", status, clip(body))
	}
	return nil
}

// postJSON posts a JSON body with headers and returns the answer's body
// (up to 64 KiB) and status.
func postJSON(ctx context.Context, c *http.Client, u string, body []byte, headers map[string]string) ([]byte, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "topscript")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	ans, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("reading the answer: %v", err)
	}
	return ans, resp.StatusCode, nil
}

// addQuery appends query parameters (name, value pairs) to u.
func addQuery(u string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	sep := "?"
	if pu, err := url.Parse(u); err == nil && pu.RawQuery != "" {
		sep = "&"
	}
	return u + sep + q.Encode()
}

// clip shortens an answer quoted in an error.
func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}
