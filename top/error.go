package top

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kind classifies an Error by what the caller can do about it.
type Kind string

// Error kinds.
const (
	KindFlowControl    Kind = "flow_control"    // code 7 and other limits
	KindISP            Kind = "isp"             // the platform's fault; retried
	KindISV            Kind = "isv"             // the caller's fault; never retried
	KindAuth           Kind = "auth"            // session, app key, signature, permissions
	KindInvalid        Kind = "invalid"         // bad method or parameters (gateway or catalog)
	KindTransport      Kind = "transport"       // network, HTTP status, malformed body
	KindClosed         Kind = "closed"          // inside a closure window with action "fail"
	KindUnknownOutcome Kind = "unknown_outcome" // a write that may have reached the gateway
)

// Error is the one error type of the client. Match it with errors.As.
// It never holds the app secret, the session or the sign.
type Error struct {
	Code       int
	Msg        string
	SubCode    string
	SubMsg     string
	RequestID  string
	Method     string
	Kind       Kind
	RetryAfter time.Duration // flow control: how long the ban lasts
	Err        error         // underlying cause (transport), if any
}

// Error renders the error on one line:
//
//	taobao.item.sku.price.update: 15 Remote service error; isv.item-not-exist: 商品不存在 (request_id 4jkl5mhpc274)
//
// Errors made by the client itself (transport, closure, validation) have
// no code: "taobao.trades.sold.get: connection refused".
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	var b strings.Builder
	if e.Method != "" {
		b.WriteString(e.Method)
		b.WriteString(": ")
	}
	head := oneLine(e.Msg)
	if e.Code != 0 {
		b.WriteString(strconv.Itoa(e.Code))
		if head != "" {
			b.WriteByte(' ')
		}
	}
	if head == "" && e.Code == 0 {
		if e.Kind != "" {
			head = string(e.Kind) + " error"
		} else {
			head = "error"
		}
	}
	b.WriteString(head)
	if e.SubCode != "" || e.SubMsg != "" {
		b.WriteString("; ")
		b.WriteString(oneLine(e.SubCode))
		if e.SubCode != "" && e.SubMsg != "" {
			b.WriteString(": ")
		}
		b.WriteString(oneLine(e.SubMsg))
	}
	if e.RequestID != "" {
		b.WriteString(" (request_id ")
		b.WriteString(oneLine(e.RequestID))
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns the underlying cause (a transport error, a context error),
// if any.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Err
}

// KindOf returns the Kind of err when it is (or wraps) an *Error, "" otherwise.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// oneLine folds line breaks and tabs into spaces.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// SubCodeBase is the part of a sub_code before its first ':'. Real traffic
// carries suffixed forms of the documented codes
// ("isv.item-not-exist:invalid-numIid-or-iid",
// "isv.invalid-parameter:sku-properties"); the client classifies by this
// base and by the family before the first '.' ("isp", "isv"), never by the
// whole string.
func SubCodeBase(subCode string) string {
	if i := strings.IndexByte(subCode, ':'); i >= 0 {
		return subCode[:i]
	}
	return subCode
}

// SubCodeFamily is the family of a sub_code: the part before its first '.'
// ("isp", "isv", "accesscontrol"), "" when it has none.
func SubCodeFamily(subCode string) string {
	if i := strings.IndexByte(SubCodeBase(subCode), '.'); i >= 0 {
		return subCode[:i]
	}
	return ""
}

// HasSubCode reports whether e's sub_code is base, bare or with a suffix
// (":..."): e.HasSubCode("isv.item-not-exist") holds for
// "isv.item-not-exist:invalid-numIid-or-iid-tmall".
func (e *Error) HasSubCode(base string) bool {
	return e != nil && SubCodeBase(e.SubCode) == base
}

// classify maps a gateway code and sub_code to a Kind, by the sub_code's
// family and base (SubCodeBase), never by its whole text.
func classify(code int, subCode string) Kind {
	family, base := SubCodeFamily(subCode), SubCodeBase(subCode)
	switch {
	case code == 4 || code == 5 || code == 6 || code == 7 || code == 8,
		family == "accesscontrol",
		base == "isp.call-limited":
		return KindFlowControl
	case code >= 11 && code <= 13, code >= 24 && code <= 29, code == 53:
		return KindAuth
	case code == 3, code == 9, code >= 21 && code <= 23, code >= 30 && code <= 34, code >= 40 && code <= 43:
		return KindInvalid
	case family == "isp", code == 10:
		return KindISP
	case family == "isv":
		return KindISV
	case strings.Contains(subCode, "sessionkey"), strings.Contains(subCode, "session-"):
		return KindAuth
	}
	return KindISV
}

// The ban regexps compile on first use, not at every start of the program.
var (
	banRe   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?i)(\d+)\s*more\s*seconds?`) })
	banReZh = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(\d+)\s*秒`) })
)

// banSeconds parses "This ban will last for N more seconds" (or "N秒").
func banSeconds(s string) (time.Duration, bool) {
	m := banRe().FindStringSubmatch(s)
	if m == nil {
		m = banReZh().FindStringSubmatch(s)
	}
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n < 0 || n > 100*365*24*3600 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}
