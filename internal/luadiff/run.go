package luadiff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ChunkName is the name both interpreters give the program: error
// positions read "prog.lua:LINE:".
const ChunkName = "prog.lua"

// DefaultTimeout is how long one program may run on either side before it
// counts as hung. Generated programs finish in milliseconds; the margin is
// for a machine busy with other work (a second was not always enough for
// lua5.1 to start there).
const DefaultTimeout = 5 * time.Second

// Outcome is what one run of a program did.
type Outcome struct {
	Stdout string
	// Failed is set when the chunk raised an error (or did not compile:
	// then Syntax is set too). Pos is the error's "file:line" ("" when
	// the message carries none), Msg the message after it.
	Failed bool
	Syntax bool
	Pos    string
	Msg    string
	// Hung is set when the run did not end within the time limit.
	Hung bool
	// Crash is a failure of the host itself (a Go panic, an internal
	// error of the VM): never acceptable, whatever the reference did.
	Crash string
}

// String describes the outcome in a line or two, for reports.
func (o Outcome) String() string {
	var b strings.Builder
	out := o.Stdout
	if len(out) > 400 {
		out = out[:200] + "[...]" + out[len(out)-200:]
	}
	fmt.Fprintf(&b, "stdout %q", out)
	switch {
	case o.Crash != "":
		fmt.Fprintf(&b, "; crash: %s", o.Crash)
	case o.Hung:
		b.WriteString("; hung")
	case o.Syntax:
		fmt.Fprintf(&b, "; syntax error %s: %s", o.Pos, o.Msg)
	case o.Failed:
		fmt.Fprintf(&b, "; error %s: %s", o.Pos, o.Msg)
	}
	return b.String()
}

// MaxOutput bounds the output kept of one run; a program that writes more
// is cut there (on both sides alike).
const MaxOutput = 256 << 10

// CappedBuffer keeps the first MaxOutput bytes written to it and discards
// the rest (reporting them written, so the writer carries on).
type CappedBuffer struct {
	b   bytes.Buffer
	cut bool
}

func (c *CappedBuffer) Write(p []byte) (int, error) {
	if room := MaxOutput - c.b.Len(); room < len(p) {
		c.b.Write(p[:max(room, 0)])
		c.cut = true
		return len(p), nil
	}
	return c.b.Write(p)
}

// String returns what was kept, marked when the rest was cut.
func (c *CappedBuffer) String() string {
	if c.cut {
		return c.b.String() + "[output cut]"
	}
	return c.b.String()
}

// Runner runs a program's source and reports its outcome.
type Runner func(ctx context.Context, src string) Outcome

// refDriver loads the program from stdin under ChunkName, runs it and
// reports an error on stderr after a \1-delimited tag.
const refDriver = `local src = io.stdin:read("*a")
local f, err = loadstring(src, "@` + ChunkName + `")
if not f then io.stderr:write("\1SYNTAX\1", tostring(err)) os.exit(2) end
local ok, e = pcall(f)
io.stdout:flush()
if not ok then io.stderr:write("\1ERROR\1", tostring(e)) os.exit(1) end
os.exit(0)
`

// ReferencePath finds the reference interpreter, lua5.1, on PATH.
func ReferencePath() (string, error) {
	p, err := exec.LookPath("lua5.1")
	if err != nil {
		return "", errors.New("luadiff: the reference interpreter lua5.1 is not installed (apt-get install lua5.1)")
	}
	return p, nil
}

// Reference returns a Runner executing programs with the lua5.1 binary at
// path, each in a process of its own, killed after timeout.
func Reference(path string, timeout time.Duration) Runner {
	return func(ctx context.Context, src string) Outcome {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, path, "-e", refDriver)
		cmd.Stdin = strings.NewReader(src)
		var stdout, stderr CappedBuffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		o := Outcome{Stdout: stdout.String()}
		if ctx.Err() != nil {
			o.Hung = true
			return o
		}
		tag, msg, found := strings.Cut(strings.TrimPrefix(stderr.String(), "\x01"), "\x01")
		switch {
		case found && tag == "SYNTAX":
			o.Failed, o.Syntax = true, true
			o.Pos, o.Msg = SplitPosition(msg)
		case found && tag == "ERROR":
			o.Failed = true
			o.Pos, o.Msg = SplitPosition(msg)
		case err != nil:
			o.Crash = fmt.Sprintf("lua5.1: %v: %s", err, stderr.String())
		}
		return o
	}
}

var posRE = regexp.MustCompile(`^([^:\s]+):(\d+): `)

// SplitPosition splits "file:line: msg" into "file:line" and msg; a
// message without a position comes back whole with an empty position.
func SplitPosition(s string) (pos, msg string) {
	m := posRE.FindStringSubmatch(s)
	if m == nil {
		return "", s
	}
	if _, err := strconv.Atoi(m[2]); err != nil {
		return "", s
	}
	return m[1] + ":" + m[2], s[len(m[0]):]
}

// A Divergence is a difference between the reference's outcome and the
// target's that no rule (see Rules) explains.
type Divergence struct {
	Class string // "stdout", "error", "hang", "crash", "syntax"
	Ref   Outcome
	Got   Outcome
}

func (d *Divergence) Error() string {
	return fmt.Sprintf("%s divergence:\n  lua5.1:    %s\n  topscript: %s", d.Class, d.Ref, d.Got)
}

// Rule names a normalisation the comparison applies. Every difference
// Compare tolerates is one of these; anything else is a divergence.
type Rule struct {
	Name string
	Doc  string
}

// Rules are the deliberate differences the comparison tolerates, by name.
// (The generator's own exclusions, constructs it never emits, are listed
// in the package documentation.)
var Rules = []Rule{
	{"vm-message", "The text of an error the VM or a library function raises (attempt to index a nil value, bad argument...) differs between implementations: when the reference's message carries no generator marker (!n!), only that both failed, and where, is compared."},
	{"engine-adds-position", "topscript reports where an error was raised even when the error value carries no position (error(msg, 0), error(table)): when the reference's message has no position, the target's position is not compared."},
	{"address", "Addresses in 'table: 0x...' and 'function: 0x...' differ from run to run: they are replaced by ADDR on both sides."},
}

var addrRE = regexp.MustCompile(`0x[0-9a-fA-F]+`)

var markerRE = regexp.MustCompile(`!\d+!`)

// Compare reports how got differs from ref, or nil when they agree (up
// to Rules).
func Compare(ref, got Outcome) *Divergence {
	div := func(class string) *Divergence { return &Divergence{Class: class, Ref: ref, Got: got} }
	switch {
	case got.Crash != "" || strings.HasPrefix(got.Msg, "internal error"):
		return div("crash")
	case ref.Hung || got.Hung:
		// Both cut off by the time limit: what each wrote until then
		// depends on its speed.
		if ref.Hung && got.Hung {
			return nil
		}
		return div("hang")
	case ref.Stdout != got.Stdout:
		return div("stdout")
	case ref.Syntax != got.Syntax:
		return div("syntax")
	case ref.Failed != got.Failed:
		return div("error")
	case !ref.Failed:
		return nil
	case ref.Syntax:
		// Both refused the chunk; gopher-lua's parser words its errors
		// its own way (vm-message) but must agree on the line.
		if ref.Pos != got.Pos {
			return div("syntax")
		}
		return nil
	}
	if ref.Pos != "" && ref.Pos != got.Pos { // engine-adds-position otherwise
		return div("error")
	}
	if markerRE.MatchString(ref.Msg) { // vm-message otherwise
		if addrRE.ReplaceAllString(ref.Msg, "ADDR") != addrRE.ReplaceAllString(got.Msg, "ADDR") {
			return div("error")
		}
	}
	return nil
}
