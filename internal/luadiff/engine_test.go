package luadiff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/topscript/topscript/engine"
)

// runEngine is the target: the program run by topscript's engine as
// `topscript run` runs a script (the same libraries, the same compile
// path), with a fresh engine per program.
func runEngine(ctx context.Context, src string) (o Outcome) {
	var out CappedBuffer
	defer func() {
		if r := recover(); r != nil {
			o.Stdout = out.String()
			o.Crash = fmt.Sprintf("Go panic reached the host: %v", r)
		}
	}()
	eng, err := engine.New(engine.Options{
		Stdout:   &out,
		Stderr:   io.Discard,
		Stdin:    strings.NewReader(""),
		Progress: io.Discard,
		Modules:  []string{}, // programs use only the Lua libraries
	})
	if err != nil {
		return Outcome{Crash: err.Error()}
	}
	defer eng.Close()
	err = eng.RunString(ctx, ChunkName, src)
	o.Stdout = out.String()
	if err == nil {
		return o
	}
	var se *engine.ScriptError
	if !errors.As(err, &se) {
		o.Crash = "not a ScriptError: " + err.Error()
		return o
	}
	if errors.Is(se, context.DeadlineExceeded) {
		o.Hung = true
		return o
	}
	o.Failed, o.Syntax, o.Msg = true, se.Syntax, se.Msg
	if se.File != "" && se.Line > 0 {
		o.Pos = se.File + ":" + strconv.Itoa(se.Line)
	}
	return o
}
