package stdlib

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
	luar "layeh.com/gopher-luar"

	"github.com/topscript/topscript/internal/numtext"
)

// This file converts between Go data (the shapes encoding/json and the top
// client use) and Lua values. It is on the per-call hot path of top.call, so
// it avoids reflection for the common shapes.
//
// Go → Lua (ToLua):
//
//	nil                     → nil
//	bool, string            → boolean, string
//	ints, uints, floats     → number; integers beyond ±2^53 → string of the exact digits
//	json.Number             → number, except an integer (written without fraction or
//	                          exponent) beyond ±2^53: a string holding the exact digits
//	map[string]any          → table
//	[]any                   → sequence (marked as a JSON array when empty or holding nils)
//	lua.LValue              → itself
//	error                   → its text (package luatop makes TOP errors into error values)
//	anything else           → gopher-luar userdata (host Go values)
//
// Lua → Go (FromLua):
//
//	nil, Null               → nil
//	boolean, string         → bool, string
//	number                  → int64 when integral and within int64, else float64
//	table                   → []any when its keys are exactly 1..n (n ≥ 1), else map[string]any
//	                          (numeric keys become decimal strings); an EMPTY table is an empty
//	                          map[string]any (JSON {}) unless marked with MarkArray.
//	                          MarkArray / MarkObject force the shape.
//	function, userdata, thread, cycles → *ConvertError naming the path
//
// Shape markers are metatables holding the field "__jsontype" ("array" or
// "object"); the json module uses MarkArray/MarkObject for json.array and
// json.object. Any metatable with that field is honoured, so a script may add
// it to its own metatable too.

// maxSafeInt is numtext.MaxExactInt, 2^53: beyond it an integer becomes a
// string of its digits.
const maxSafeInt = numtext.MaxExactInt

// JSONTypeField is the metatable field that marks a table's JSON shape.
const JSONTypeField = "__jsontype"

const (
	regArrayMeta  = "topscript.stdlib.arraymeta"
	regObjectMeta = "topscript.stdlib.objectmeta"
	regNull       = "topscript.stdlib.null"
)

// nullValue is the Go value inside the Null userdata.
type nullValue struct{}

func (nullValue) String() string { return "null" }

// registryGet returns the registry value under key, creating it with mk.
func registryGet(L *lua.LState, key string, mk func() lua.LValue) lua.LValue {
	reg := L.G.Registry
	if v := reg.RawGetString(key); v != lua.LNil {
		return v
	}
	v := mk()
	reg.RawSetString(key, v)
	return v
}

func shapeMeta(L *lua.LState, key, shape string) *lua.LTable {
	return registryGet(L, key, func() lua.LValue {
		mt := L.CreateTable(0, 2)
		mt.RawSetString(JSONTypeField, lua.LString(shape))
		return mt
	}).(*lua.LTable)
}

// ArrayMeta returns the state's shared metatable marking a table as a JSON array.
func ArrayMeta(L *lua.LState) *lua.LTable { return shapeMeta(L, regArrayMeta, "array") }

// ObjectMeta returns the state's shared metatable marking a table as a JSON object.
func ObjectMeta(L *lua.LState) *lua.LTable { return shapeMeta(L, regObjectMeta, "object") }

// MarkArray marks t so that FromLua (and json.encode) treat it as an array,
// even when empty. It replaces any metatable t had.
func MarkArray(L *lua.LState, t *lua.LTable) *lua.LTable {
	t.Metatable = ArrayMeta(L)
	return t
}

// MarkObject marks t so that FromLua (and json.encode) treat it as an
// object, even when its keys are 1..n. It replaces any metatable t had.
func MarkObject(L *lua.LState, t *lua.LTable) *lua.LTable {
	t.Metatable = ObjectMeta(L)
	return t
}

// Shape reports the JSON shape forced on t by a marker metatable:
// "array", "object", or "" when unmarked.
func Shape(t *lua.LTable) string {
	mt, ok := t.Metatable.(*lua.LTable)
	if !ok {
		return ""
	}
	if s, ok := mt.RawGetString(JSONTypeField).(lua.LString); ok {
		return string(s)
	}
	return ""
}

// Null returns the state's JSON null sentinel (a userdata, tostring "null").
// FromLua converts it to Go nil. The json module exposes it as json.null.
func Null(L *lua.LState) lua.LValue {
	return registryGet(L, regNull, func() lua.LValue {
		ud := L.NewUserData()
		ud.Value = nullValue{}
		mt := L.CreateTable(0, 2)
		mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LString("null"))
			return 1
		}))
		mt.RawSetString("__name", lua.LString("null"))
		ud.Metatable = mt
		return ud
	})
}

// IsNull reports whether v is the JSON null sentinel of any state.
func IsNull(v lua.LValue) bool {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return false
	}
	_, ok = ud.Value.(nullValue)
	return ok
}

// ToLua converts a Go value to a Lua value; see the table at the top of
// this file. L must not be nil.
func ToLua(L *lua.LState, v any) lua.LValue {
	switch x := v.(type) {
	case nil:
		return lua.LNil
	case string:
		return lua.LString(x)
	case json.Number:
		return numberToLua(string(x))
	case map[string]any:
		return mapToLua(L, x)
	case []any:
		t := L.CreateTable(len(x), 0)
		if len(x) == 0 {
			t.Metatable = ArrayMeta(L)
			return t
		}
		for i, e := range x {
			if e == nil {
				// A hole would turn the sequence into a map; keep the shape.
				t.Metatable = ArrayMeta(L)
				continue
			}
			t.RawSetInt(i+1, ToLua(L, e))
		}
		return t
	case bool:
		return lua.LBool(x)
	case int64:
		return intToLua(x)
	case int:
		return intToLua(int64(x))
	case float64:
		return lua.LNumber(x)
	case lua.LValue:
		return x
	case int32:
		return lua.LNumber(x)
	case int16:
		return lua.LNumber(x)
	case int8:
		return lua.LNumber(x)
	case uint:
		return uintToLua(uint64(x))
	case uint64:
		return uintToLua(x)
	case uint32:
		return lua.LNumber(x)
	case uint16:
		return lua.LNumber(x)
	case uint8:
		return lua.LNumber(x)
	case float32:
		return lua.LNumber(x)
	case []string:
		t := L.CreateTable(len(x), 0)
		if len(x) == 0 {
			t.Metatable = ArrayMeta(L)
		}
		for i, e := range x {
			t.RawSetInt(i+1, lua.LString(e))
		}
		return t
	case []int64:
		t := L.CreateTable(len(x), 0)
		if len(x) == 0 {
			t.Metatable = ArrayMeta(L)
		}
		for i, e := range x {
			t.RawSetInt(i+1, intToLua(e))
		}
		return t
	case []map[string]any:
		t := L.CreateTable(len(x), 0)
		if len(x) == 0 {
			t.Metatable = ArrayMeta(L)
		}
		for i, e := range x {
			t.RawSetInt(i+1, ToLua(L, e))
		}
		return t
	case map[string]string:
		t := L.CreateTable(0, len(x))
		for k, e := range x {
			t.RawSetString(k, lua.LString(e))
		}
		return t
	case error:
		return lua.LString(x.Error())
	}
	return luar.New(L, v)
}

func intToLua(i int64) lua.LValue {
	if small := smallInts(); i >= 0 && i < int64(len(small)) {
		return small[i]
	}
	if i > maxSafeInt || i < -maxSafeInt {
		return lua.LString(strconv.FormatInt(i, 10))
	}
	return lua.LNumber(i)
}

// smallInts holds boxed small numbers (counts, quantities, flags), so
// converting them allocates nothing. Built on first use: every start of
// the program would pay its thousand allocations otherwise.
var smallInts = sync.OnceValue(func() *[1024]lua.LValue {
	var a [1024]lua.LValue
	for i := range a {
		a[i] = lua.LNumber(i)
	}
	return &a
})

func uintToLua(u uint64) lua.LValue {
	if u > maxSafeInt {
		return lua.LString(strconv.FormatUint(u, 10))
	}
	return lua.LNumber(u)
}

// numberToLua converts the text of a JSON number.
func numberToLua(s string) lua.LValue {
	isInt := true
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '.', 'e', 'E':
			isInt = false
		}
	}
	if isInt {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return intToLua(i)
		}
		return lua.LString(s) // beyond int64: keep the digits
	}
	// Written as a float (fraction or exponent): a float it is. Only
	// out-of-range values (±Inf) keep their text.
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return lua.LString(s)
	}
	return lua.LNumber(f)
}

// ConvertError reports a Lua value that cannot become Go data.
type ConvertError struct {
	Path string // e.g. "params.items[2]"; "" for the root when unnamed
	Type string // Lua type name, e.g. "function", or "cycle"/"key"
	Role string // e.g. "a parameter"; what the value was to become
	msg  string // full reason when not the "a T cannot be R" form
}

// Error returns e.g. "params.items[2]: a function cannot be a parameter".
func (e *ConvertError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	if e.msg != "" {
		b.WriteString(e.msg)
		return b.String()
	}
	b.WriteString("a ")
	b.WriteString(e.Type)
	b.WriteString(" cannot be ")
	b.WriteString(e.Role)
	return b.String()
}

// FromLua converts a Lua value to Go data; see the table at the top of this
// file. Errors are *ConvertError with a path relative to the value (e.g.
// "items[2]").
func FromLua(v lua.LValue) (any, error) {
	return FromLuaAt(v, "", "")
}

// FromLuaAt is FromLua with the root named in error paths (root "params"
// gives "params.items[2]") and the role in messages (role "a parameter"
// gives "a function cannot be a parameter"; "" means "converted to data").
func FromLuaAt(v lua.LValue, root, role string) (any, error) {
	c := converter{}
	out, err := c.conv(v)
	if err != nil {
		if ce, ok := err.(*ConvertError); ok {
			ce.Path = joinPath(root, ce.Path)
			if role == "" {
				role = "converted to data"
			}
			ce.Role = role
		}
		return nil, err
	}
	return out, nil
}

func joinPath(root, rest string) string {
	switch {
	case root == "":
		return strings.TrimPrefix(rest, ".")
	case rest == "":
		return root
	}
	return root + rest
}

// maxDepth bounds nesting so a deep (non-cyclic) structure cannot exhaust the Go stack.
const maxDepth = 200

type converter struct {
	stack []*lua.LTable // tables on the current path, for cycle detection
}

func (c *converter) conv(v lua.LValue) (any, error) {
	switch x := v.(type) {
	case lua.LString:
		return string(x), nil
	case lua.LNumber:
		return numberFromLua(x), nil
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(x), nil
	case *lua.LTable:
		return c.table(x)
	case *lua.LUserData:
		if _, ok := x.Value.(nullValue); ok {
			return nil, nil
		}
		return nil, &ConvertError{Type: "userdata"}
	case *lua.LFunction:
		return nil, &ConvertError{Type: "function"}
	case *lua.LState:
		return nil, &ConvertError{Type: "thread"}
	case *lua.LChannel:
		return nil, &ConvertError{Type: "channel"}
	}
	return nil, &ConvertError{Type: v.Type().String()}
}

func numberFromLua(n lua.LNumber) any {
	f := float64(n)
	if f == math.Trunc(f) && f >= -9.223372036854775e18 && f <= 9.223372036854775e18 {
		return int64(f)
	}
	return f
}

func (c *converter) table(t *lua.LTable) (any, error) {
	for _, s := range c.stack {
		if s == t {
			return nil, &ConvertError{msg: "a table cannot contain itself (cycle)"}
		}
	}
	if len(c.stack) >= maxDepth {
		return nil, &ConvertError{msg: "tables nested too deeply"}
	}
	c.stack = append(c.stack, t)
	defer func() { c.stack = c.stack[:len(c.stack)-1] }()

	shape := ""
	if t.Metatable != lua.LNil {
		shape = Shape(t)
	}
	n := t.MaxN()
	if shape == "array" {
		return c.array(t, n)
	}
	if shape != "object" && n > 0 && isSequence(t, n) {
		return c.array(t, n)
	}
	return c.object(t)
}

// isSequence reports whether t's keys are exactly 1..n.
func isSequence(t *lua.LTable, n int) bool {
	for i := 1; i <= n; i++ {
		if t.RawGetInt(i) == lua.LNil {
			return false
		}
	}
	// Keys at or below n all live in the array part; Next after n skips
	// the (nil) rest of it and reports the first hash key, if any.
	k, _ := t.Next(lua.LNumber(n))
	return k == lua.LNil
}

func (c *converter) array(t *lua.LTable, n int) (any, error) {
	out := make([]any, n)
	for i := 1; i <= n; i++ {
		e, err := c.conv(t.RawGetInt(i))
		if err != nil {
			return nil, prefix(err, "["+strconv.Itoa(i)+"]")
		}
		out[i-1] = e
	}
	return out, nil
}

func (c *converter) object(t *lua.LTable) (any, error) {
	out := make(map[string]any)
	var ferr error
	t.ForEach(func(k, v lua.LValue) {
		if ferr != nil {
			return
		}
		var key string
		switch kk := k.(type) {
		case lua.LString:
			key = string(kk)
		case lua.LNumber:
			key = numberKey(kk)
		default:
			ferr = &ConvertError{msg: "a " + k.Type().String() + " cannot be a key (keys must be strings or numbers)"}
			return
		}
		e, err := c.conv(v)
		if err != nil {
			ferr = prefix(err, keyPath(key))
			return
		}
		out[key] = e
	})
	if ferr != nil {
		return nil, ferr
	}
	return out, nil
}

// numberKey writes a numeric table key by the one number rule.
func numberKey(n lua.LNumber) string { return numtext.Format(float64(n)) }

func prefix(err error, seg string) error {
	if ce, ok := err.(*ConvertError); ok {
		ce.Path = seg + ce.Path
	}
	return err
}

// keyPath renders a map key as a path segment: ".name" for identifiers,
// `["odd key"]` otherwise.
func keyPath(k string) string {
	if isIdent(k) {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// Fast tables.
//
// gopher-lua's RawSetString keeps three structures per table (the string
// map, the key order and a key→index map for next/pairs) and grows the
// latter two one key at a time, boxing every key. Converting a decoded
// response is dominated by that, so mapToLua builds the three structures
// at their final size in one go. It reaches the unexported fields through
// offsets checked once against the exact types gopher-lua v1.1.2 uses;
// should the layout ever differ, fastTables is false and the plain
// RawSetString path runs instead.
var (
	fastTables                  bool
	offStrdict, offKeys, offK2i uintptr
	typStrdict, typKeys, typK2i = reflect.TypeOf(map[string]lua.LValue(nil)), reflect.TypeOf([]lua.LValue(nil)), reflect.TypeOf(map[lua.LValue]int(nil))
)

// checkFastTables sets fastTables, once, before the first conversion.
var checkFastTables = sync.OnceFunc(func() {
	tt := reflect.TypeOf(lua.LTable{})
	f1, ok1 := tt.FieldByName("strdict")
	f2, ok2 := tt.FieldByName("keys")
	f3, ok3 := tt.FieldByName("k2i")
	if !ok1 || !ok2 || !ok3 || f1.Type != typStrdict || f2.Type != typKeys || f3.Type != typK2i {
		return
	}
	offStrdict, offKeys, offK2i = f1.Offset, f2.Offset, f3.Offset
	// Self-check: a table built fast must read and iterate like one built
	// with RawSetString.
	ka, kb := lua.LValue(lua.LString("a")), lua.LValue(lua.LString("b"))
	t := buildFast(map[string]lua.LValue{"a": lua.LNumber(1), "b": lua.LTrue},
		[]lua.LValue{ka, kb}, map[lua.LValue]int{ka: 0, kb: 1})
	n := 0
	for k, v := t.Next(lua.LNil); k != lua.LNil; k, v = t.Next(k) {
		if t.RawGetString(string(k.(lua.LString))) != v {
			return
		}
		n++
	}
	fastTables = n == 2 && t.RawGetString("a") == lua.LNumber(1)
})

// fastBuilds counts the tables buildFast made: the tests read it to prove
// the fast path runs (and that the fallback runs without it).
var fastBuilds atomic.Uint64

// buildFast makes a table whose string part is exactly dict (taken over,
// not copied), with keys in the order next/pairs walk them.
func buildFast(dict map[string]lua.LValue, keys []lua.LValue, k2i map[lua.LValue]int) *lua.LTable {
	fastBuilds.Add(1)
	t := &lua.LTable{Metatable: lua.LNil}
	p := unsafe.Pointer(t)
	*(*map[string]lua.LValue)(unsafe.Add(p, offStrdict)) = dict
	*(*[]lua.LValue)(unsafe.Add(p, offKeys)) = keys
	*(*map[lua.LValue]int)(unsafe.Add(p, offK2i)) = k2i
	return t
}

// mapToLua converts a JSON object; nil values are left out.
func mapToLua(L *lua.LState, m map[string]any) *lua.LTable {
	checkFastTables()
	if !fastTables {
		t := L.CreateTable(0, len(m))
		for k, e := range m {
			if e == nil {
				continue
			}
			t.RawSetString(k, ToLua(L, e))
		}
		return t
	}
	if len(m) == 0 {
		return L.CreateTable(0, 0)
	}
	dict := make(map[string]lua.LValue, len(m))
	keys := make([]lua.LValue, 0, len(m))
	k2i := make(map[lua.LValue]int, len(m))
	for k, e := range m {
		if e == nil {
			continue
		}
		dict[k] = ToLua(L, e)
		lk := internKey(k)
		k2i[lk] = len(keys)
		keys = append(keys, lk)
	}
	return buildFast(dict, keys, k2i)
}

// keyCache holds boxed LString keys: response field names repeat across
// items and calls, and boxing each one is an allocation. It is a
// direct-mapped, lock-free cache (a miss just boxes again); the boxed
// values are immutable, so any Lua state may share them.
var keyCache [1024]atomic.Pointer[cachedKey]

type cachedKey struct {
	s string
	v lua.LValue
}

func internKey(s string) lua.LValue {
	if len(s) > 40 {
		return lua.LString(s)
	}
	// FNV-1a
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	slot := &keyCache[h&uint32(len(keyCache)-1)]
	if e := slot.Load(); e != nil && e.s == s {
		return e.v
	}
	v := lua.LValue(lua.LString(s))
	slot.Store(&cachedKey{s: s, v: v})
	return v
}
