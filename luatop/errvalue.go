package luatop

import (
	"strconv"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/top"
)

// The TOP error value: the table top.call raises, top.try returns and
// job.run hands to on_result, with the fields code, msg, sub_code, sub_msg,
// request_id, method, kind and retry_after (seconds, flow control), whose
// tostring is the one-line text of (*top.Error).Error().

// topErrorType names the shared metatable of TOP error values.
const topErrorType = "top.error"

// topErrorMarker is the metatable field that identifies a TOP error value.
const topErrorMarker = "__toperror"

// topErrorCause is the metatable field of a value whose *top.Error had a Go
// cause (Err): a userdata holding it, so that the host gets the same cause
// back from TopErrorFrom (errors.Is(err, ErrNoClient) works through Lua).
const topErrorCause = "__cause"

// TopErrorMeta returns the state's shared metatable of TOP error values:
// __tostring gives the one-line text of (*top.Error).Error(), built from
// the table's current fields.
func TopErrorMeta(L *lua.LState) *lua.LTable {
	mt := L.NewTypeMetatable(topErrorType)
	if mt.RawGetString(topErrorMarker) == lua.LNil {
		mt.RawSetString(topErrorMarker, lua.LTrue)
		mt.RawSetString("__name", lua.LString(topErrorType))
		mt.RawSetString("__tostring", L.NewFunction(topErrorString))
	}
	return mt
}

func topErrorString(L *lua.LState) int {
	te, _ := TopErrorFrom(L.Get(1))
	if te == nil {
		L.Push(lua.LString("top error"))
		return 1
	}
	L.Push(lua.LString(te.Error()))
	return 1
}

// TopErrorValue builds the Lua error value of a TOP error: a table with
// code, msg, sub_code, sub_msg, request_id, method, kind and retry_after
// (seconds; only when set), whose tostring is e.Error(). A cause (e.Err)
// rides along out of sight, for TopErrorFrom.
func TopErrorValue(L *lua.LState, e *top.Error) *lua.LTable {
	t := L.CreateTable(0, 8)
	t.RawSetString("code", lua.LNumber(e.Code))
	if e.Msg != "" {
		t.RawSetString("msg", lua.LString(e.Msg))
	}
	if e.SubCode != "" {
		t.RawSetString("sub_code", lua.LString(e.SubCode))
	}
	if e.SubMsg != "" {
		t.RawSetString("sub_msg", lua.LString(e.SubMsg))
	}
	if e.RequestID != "" {
		t.RawSetString("request_id", lua.LString(e.RequestID))
	}
	if e.Method != "" {
		t.RawSetString("method", lua.LString(e.Method))
	}
	if e.Kind != "" {
		t.RawSetString("kind", lua.LString(e.Kind))
	}
	if e.RetryAfter > 0 {
		t.RawSetString("retry_after", lua.LNumber(e.RetryAfter.Seconds()))
	}
	shared := TopErrorMeta(L)
	if e.Err == nil {
		t.Metatable = shared
		return t
	}
	// A metatable of its own, holding the cause: errors are rare, and the
	// table's fields stay what scripts see.
	mt := L.CreateTable(0, 4)
	shared.ForEach(func(k, v lua.LValue) { mt.RawSet(k, v) })
	cause := L.NewUserData()
	cause.Value = e.Err
	mt.RawSetString(topErrorCause, cause)
	t.Metatable = mt
	return t
}

// TopErrorFrom rebuilds a *top.Error from a TOP error value, reading its
// current fields (and its cause, when it had one). It reports false for
// any other value.
func TopErrorFrom(v lua.LValue) (*top.Error, bool) {
	t, ok := v.(*lua.LTable)
	if !ok {
		return nil, false
	}
	mt, ok := t.Metatable.(*lua.LTable)
	if !ok || mt.RawGetString(topErrorMarker) != lua.LTrue {
		return nil, false
	}
	str := func(k string) string {
		switch x := t.RawGetString(k).(type) {
		case lua.LString:
			return string(x)
		case lua.LNumber:
			return numtext.Format(float64(x))
		}
		return ""
	}
	e := &top.Error{
		Msg:       str("msg"),
		SubCode:   str("sub_code"),
		SubMsg:    str("sub_msg"),
		RequestID: str("request_id"),
		Method:    str("method"),
		Kind:      top.Kind(str("kind")),
	}
	switch c := t.RawGetString("code").(type) {
	case lua.LNumber:
		e.Code = int(c)
	case lua.LString:
		e.Code, _ = strconv.Atoi(string(c))
	}
	if ra, ok := t.RawGetString("retry_after").(lua.LNumber); ok && ra > 0 {
		e.RetryAfter = time.Duration(float64(ra) * float64(time.Second))
	}
	if ud, ok := mt.RawGetString(topErrorCause).(*lua.LUserData); ok {
		e.Err, _ = ud.Value.(error)
	}
	return e, true
}
