package luadiff

import (
	"context"
	"errors"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// runPlain runs a program on gopher-lua as it comes (its own compiler and
// libraries, print and io.write captured): what topscript did before
// internal/luacompile and internal/lua51lib. Every corpus case must
// diverge here, and the generator must find divergences here; that is
// what shows the tester can see the bugs it is meant to catch.
func runPlain(ctx context.Context, src string) (o Outcome) {
	var out CappedBuffer
	defer func() {
		if r := recover(); r != nil {
			o.Stdout = out.String()
			o.Crash = fmt.Sprintf("Go panic: %v", r)
		}
	}()
	chunk, err := parse.Parse(strings.NewReader(src), ChunkName)
	if err != nil {
		return Outcome{Failed: true, Syntax: true, Msg: err.Error()}
	}
	proto, err := lua.Compile(chunk, ChunkName)
	if err != nil {
		return Outcome{Failed: true, Syntax: true, Msg: err.Error()}
	}
	L := lua.NewState()
	defer L.Close()
	write := func(sep string) lua.LGFunction {
		return func(L *lua.LState) int {
			for i := 1; i <= L.GetTop(); i++ {
				if i > 1 {
					out.Write([]byte(sep))
				}
				out.Write([]byte(L.ToStringMeta(L.Get(i)).String()))
			}
			return 0
		}
	}
	printFn := write("\t")
	L.SetGlobal("print", L.NewFunction(func(L *lua.LState) int {
		printFn(L)
		out.Write([]byte("\n"))
		return 0
	}))
	if iot, ok := L.GetGlobal("io").(*lua.LTable); ok {
		iot.RawSetString("write", L.NewFunction(write("")))
	}
	L.SetContext(ctx)
	L.Push(L.NewFunctionFromProto(proto))
	err = L.PCall(0, 0, nil)
	o.Stdout = out.String()
	if err == nil {
		return o
	}
	if ctx.Err() != nil {
		o.Hung = true
		return o
	}
	o.Failed = true
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if ae.Type == lua.ApiErrorPanic {
			o.Crash = lua.LVAsString(ae.Object)
			return o
		}
		o.Pos, o.Msg = SplitPosition(L.ToStringMeta(ae.Object).String())
		return o
	}
	o.Msg = err.Error()
	return o
}
