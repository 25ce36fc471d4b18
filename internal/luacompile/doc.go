// Package luacompile compiles Lua 5.1 source for gopher-lua (v1.1.2, the
// newest served), rewriting first the parsed shapes gopher-lua's compiler
// gets wrong, so that scripts run as Lua 5.1 says. Every shape was found
// by differential testing against lua5.1 (internal/luadiff); each has a
// unit test here (rewrite_test.go: the shape right through Compile, and
// wrong through gopher-lua's compiler alone).
//
// Compile(name, src) parses, rewrites and compiles; Rewrite is the rewrite
// alone. A chunk that does not compile is an *Error naming the chunk and
// line, the end of the input included (gopher-lua reports no line there).
// No panic of the parser or the compiler escapes.
//
// The project cannot change gopher-lua, so it rewrites: each rewrite is a
// semantics-preserving change of the AST that steers the compiler off a
// miscompiled path. No shape needed refusing at load time, and none a
// fork (a fork of the compiler would be one of the whole VM package: its
// types are internal).
//
//   - R1, constant conditions: `if`, `while` and `repeat` conditions, and
//     the left operand of and/or, that are literal constants are folded
//     (if false then A else B end becomes do B end; while false loops go;
//     false and x is false, nil or x is (x)). They compile to a jump first,
//     which R2 must keep out of loop heads.
//   - R2, a loop body never starts with a jump: gopher-lua's
//     jump-to-jump optimisation follows a loop's back edge into the jump
//     it lands on and, when that jump was already patched, reads its
//     distance as a label: the loop jumps anywhere. That is issue #19's
//     `for i=1,2 do for r in f() do break end end` ("attempt to call a
//     non-function object", a hang in a while, an index-out-of-range
//     panic in a function) and yuin/gopher-lua#540. A body that would
//     start with a jump (break, do break end, a break-first loop) gets a
//     `local (nop)` first.
//   - R3, generic-for explists: gopher-lua registers the loop's hidden
//     locals before compiling the explist, so a call in the first
//     register (require("csv").rows(p), f().g(), f()()) reports no
//     register used and the next operand overwrites it; and it adjusts the
//     explist to the number of names instead of to three, so `for x in f`
//     and `for k, v in next, t` start from a stale control value
//     (yuin/gopher-lua#514). Such explists are evaluated into locals just
//     before the loop: do local (iter f), (iter s), (iter c) = explist for
//     ... in (iter f), (iter s), (iter c) do ... end end. One call of a
//     name or field path (pairs(t), csv.rows(p), top.each(m, {...}),
//     obj:items()) stays as written.
//   - R4, break closes what it leaves: gopher-lua's break closes upvalues
//     only when the loop's own block holds a captured local; a local of an
//     if or do block inside the loop, captured before the break, stays
//     open and the closure later reads whatever takes its register. A dead
//     closure over a local of the loop's block, just before the break,
//     makes the compiler emit the close.
//   - R5, `local f = function ... f ... end`: gopher-lua compiles it as
//     `local function f`, so the inner f is the new local instead of the
//     outer one (a wrapper `local print = function(...) print(...) end`
//     calls itself). A second value, nil, takes it off that path.
//   - R6, multiple assignment: gopher-lua compiles each value straight
//     into a local target before the later values are evaluated, and
//     reads table targets' locals at the end: a, b = b, a left both equal.
//     Assignments where a later value, a call, or a table target could see
//     an assigned local evaluate their tables, keys and values into locals
//     first, then assign.
//
// Cost: the scripts in scripts/examples compile to the same bytecode with
// and without the rewrite (TestExamplesCompileUnchanged), so they run
// exactly as before; the rewrite takes about 3% of their compile time
// (BenchmarkRewrite). A rewritten shape costs at most a few instructions
// once per loop or statement (R3: three moves before the loop, R6: one
// move per value), a no-op local in loops whose body starts by leaving
// (R2), and, in the loops R4 changes, the close gopher-lua then emits at
// the end of each iteration.
package luacompile
