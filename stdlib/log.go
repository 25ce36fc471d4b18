package stdlib

import (
	"log/slog"
	"math"
	"sort"

	lua "github.com/yuin/gopher-lua"
)

// The log module writes structured records through the host's slog logger
// (text or JSON, as the host chose):
//
//	log.info("synced", {trades = 120, since = "2024-11-11 00:00:00"})
//
// Fields become attributes in key order. Tables are logged as JSON-shaped
// values, anything else unloggable by its tostring.

func openLog(env *Env) lua.LGFunction {
	return func(L *lua.LState) int {
		logAt := func(level slog.Level) lua.LGFunction {
			return func(L *lua.LState) int {
				msg := L.ToStringMeta(L.Get(1)).String()
				if L.Get(1) == lua.LNil {
					msg = ""
				}
				var attrs []slog.Attr
				switch f := L.Get(2).(type) {
				case *lua.LTable:
					attrs = logAttrs(L, f)
				case *lua.LNilType:
				default:
					L.ArgError(2, "fields must be a table")
				}
				env.logger().LogAttrs(env.context(L), level, msg, attrs...)
				return 0
			}
		}
		newModule(L, map[string]lua.LGFunction{
			"debug": logAt(slog.LevelDebug),
			"info":  logAt(slog.LevelInfo),
			"warn":  logAt(slog.LevelWarn),
			"error": logAt(slog.LevelError),
		})
		return 1
	}
}

// logAttrs turns a fields table into attributes sorted by key.
func logAttrs(L *lua.LState, t *lua.LTable) []slog.Attr {
	var attrs []slog.Attr
	t.ForEach(func(k, v lua.LValue) {
		attrs = append(attrs, slog.Attr{Key: L.ToStringMeta(k).String(), Value: logValue(L, v)})
	})
	sort.SliceStable(attrs, func(i, j int) bool { return attrs[i].Key < attrs[j].Key })
	return attrs
}

// logValue converts one field value.
func logValue(L *lua.LState, v lua.LValue) slog.Value {
	switch v := v.(type) {
	case lua.LString:
		return slog.StringValue(string(v))
	case lua.LBool:
		return slog.BoolValue(bool(v))
	case lua.LNumber:
		f := float64(v)
		if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return slog.Int64Value(int64(f))
		}
		return slog.Float64Value(f)
	case *lua.LNilType:
		return slog.AnyValue(nil)
	case *lua.LTable:
		if L.GetMetaField(v, "__tostring") != lua.LNil {
			break // e.g. a TOP error: its one-line form
		}
		if s, err := EncodeJSON(v, ""); err == nil {
			return slog.AnyValue(jsonText(s))
		}
	}
	return slog.StringValue(L.ToStringMeta(v).String())
}

// jsonText is a table already encoded as JSON: the JSON handler embeds it
// as is, the text handler prints it as a (quoted) string.
type jsonText string

// MarshalJSON returns the JSON text unchanged.
func (j jsonText) MarshalJSON() ([]byte, error) { return []byte(j), nil }

// MarshalText returns the JSON text, for the text handler.
func (j jsonText) MarshalText() ([]byte, error) { return []byte(j), nil }
