package stdlib

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/numtext"
)

// The state module keeps a script's own data between runs:
//
//	local st = state.open("order_sync")
//	local cursor = st:get("cursor", "2024-11-11 00:00:00")   -- default when unset
//	st:set("cursor", "2024-11-11 00:30:00")
//	st:has("cursor")  --> true
//	st:delete("cursor")
//	for _, k in ipairs(st:keys()) do ... end                   -- sorted
//
// A store is a namespace of the host's state.Store: the embedded bbolt file
// of [state] (.topscript/state.db by default) or Redis with backend =
// "redis"; without a configured store (embedding, tests) it lives in memory
// for the life of the engine. Keys are non-empty strings (numbers are
// converted). Values are strings, numbers, booleans or tables, stored as
// JSON, so integers beyond ±2^53 read back as strings of their exact digits,
// like every other big id in topscript. Setting nil deletes the key. Every
// set is one durable write: after a crash (kill -9) a value is either the
// old one or the new one.
//
// The state module works under --dry-run too: it is the script's own data,
// not the platform's. Only job.run checkpoints are skipped under dry-run.
//
// Job checkpoints live in the namespace "job:<name>": state.open("job:bulk_price")
// lists and deletes them (job.reset does the same).

const stateStoreType = "state.store"

// stateStore is the userdata behind a store opened with state.open.
type stateStore struct {
	env *Env
	ns  string
}

func openState(env *Env) lua.LGFunction {
	return func(L *lua.LState) int {
		mt := L.NewTypeMetatable(stateStoreType)
		mt.RawSetString("__index", L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{
			"get":    stateGet,
			"set":    stateSet,
			"has":    stateHas,
			"delete": stateDelete,
			"keys":   stateKeys,
		}))
		mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
			s := checkStateStore(L, "tostring")
			L.Push(lua.LString("state.store(" + s.ns + ")"))
			return 1
		}))
		newModule(L, map[string]lua.LGFunction{
			"open": func(L *lua.LState) int {
				name, ok := L.Get(1).(lua.LString)
				if !ok || name == "" {
					L.RaiseError("state.open: the store name must be a non-empty string, got %s", Describe(L.Get(1)))
				}
				ud := L.NewUserData()
				ud.Value = &stateStore{env: env, ns: string(name)}
				L.SetMetatable(ud, L.GetTypeMetatable(stateStoreType))
				L.Push(ud)
				return 1
			},
		})
		return 1
	}
}

// Describe names a value's type for messages ("no value" for nil).
func Describe(v lua.LValue) string {
	if v == lua.LNil {
		return "no value"
	}
	return v.Type().String()
}

func checkStateStore(L *lua.LState, method string) *stateStore {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if s, ok := ud.Value.(*stateStore); ok {
			return s
		}
	}
	L.RaiseError("state: %s must be called as store:%s(...)", method, method)
	return nil
}

// stateKey reads argument 2 as a key: a non-empty string or a number.
func stateKey(L *lua.LState, method string) string {
	switch k := L.Get(2).(type) {
	case lua.LString:
		if k != "" {
			return string(k)
		}
	case lua.LNumber:
		return numberString(k)
	}
	L.RaiseError("state: %s: the key must be a non-empty string or a number, got %s", method, Describe(L.Get(2)))
	return ""
}

// numberString writes a number by the one number rule (internal/numtext).
func numberString(n lua.LNumber) string { return numtext.Format(float64(n)) }

func (s *stateStore) fail(L *lua.LState, method string, err error) {
	L.RaiseError("state: %s %s: %v", s.ns, method, err)
}

// get is store:get(key[, default]) → the value, or default (nil) when unset.
func stateGet(L *lua.LState) int {
	s := checkStateStore(L, "get")
	key := stateKey(L, "get")
	raw, ok, err := s.env.store().Get(s.env.context(L), s.ns, key)
	if err != nil {
		s.fail(L, "get", err)
	}
	if !ok {
		L.Push(L.Get(3))
		return 1
	}
	v, err := DecodeJSON(L, string(raw))
	if err != nil {
		// Written by something else than the state module: hand it back as is.
		L.Push(lua.LString(raw))
		return 1
	}
	L.Push(v)
	return 1
}

// set is store:set(key, value); a nil value deletes the key.
func stateSet(L *lua.LState) int {
	s := checkStateStore(L, "set")
	key := stateKey(L, "set")
	v := L.Get(3)
	if v == lua.LNil {
		if err := s.env.store().Delete(s.env.context(L), s.ns, key); err != nil {
			s.fail(L, "delete", err)
		}
		return 0
	}
	switch v.(type) {
	case lua.LString, lua.LNumber, lua.LBool, *lua.LTable:
	default:
		L.RaiseError("state: set %q: a %s cannot be stored (use strings, numbers, booleans or tables)", key, v.Type())
	}
	enc, err := EncodeJSON(v, "")
	if err != nil {
		L.RaiseError("state: set %q: %v", key, err)
	}
	if err := s.env.store().Set(s.env.context(L), s.ns, key, []byte(enc)); err != nil {
		s.fail(L, "set", err)
	}
	return 0
}

// has is store:has(key) → boolean.
func stateHas(L *lua.LState) int {
	s := checkStateStore(L, "has")
	key := stateKey(L, "has")
	_, ok, err := s.env.store().Get(s.env.context(L), s.ns, key)
	if err != nil {
		s.fail(L, "has", err)
	}
	L.Push(lua.LBool(ok))
	return 1
}

// delete is store:delete(key); deleting a missing key is not an error.
func stateDelete(L *lua.LState) int {
	s := checkStateStore(L, "delete")
	key := stateKey(L, "delete")
	if err := s.env.store().Delete(s.env.context(L), s.ns, key); err != nil {
		s.fail(L, "delete", err)
	}
	return 0
}

// keys is store:keys() → sorted array of keys.
func stateKeys(L *lua.LState) int {
	s := checkStateStore(L, "keys")
	keys, err := s.env.store().Keys(s.env.context(L), s.ns)
	if err != nil {
		s.fail(L, "keys", err)
	}
	t := L.CreateTable(len(keys), 0)
	for i, k := range keys {
		t.RawSetInt(i+1, lua.LString(k))
	}
	L.Push(MarkArray(L, t))
	return 1
}
