// Package luadiff is topscript's differential tester: it generates Lua
// 5.1 programs, runs each under topscript's engine and under the
// reference interpreter lua5.1 (Debian's package), and reports where they
// differ: output, error (both must fail; where, and with what message when
// the program raised it), or hang (a time limit on both). It found the
// shapes internal/luacompile rewrites and the library functions
// internal/lua51lib replaces; every divergence it found is kept,
// minimised, in testdata/divergences as a regression case.
//
// Generate(seed, size) makes a program, deterministically; Reference runs
// lua5.1; Compare applies the rules below; Minimise shrinks a program
// while a divergence persists; LoadCorpus reads the cases. The tests run
// the engine as `topscript run` does (engine_test.go):
//
//	go test ./internal/luadiff                              # 3000 programs, the corpus
//	LUADIFF_N=100000 go test ./internal/luadiff -run Differential -timeout 60m
//	LUADIFF_SEED=500000 LUADIFF_RECORD=/tmp/new go test ./internal/luadiff -run Differential
//	go test ./internal/luadiff -run '^$' -fuzz FuzzDifferential -fuzztime 10m
//
// # Deliberate differences
//
// topscript is not lua5.1 in a few ways, on purpose or because
// gopher-lua's VM cannot be changed from outside. Each is excluded by
// name, either by a rule of Compare (a normalisation both sides get) or
// by the generator never emitting the construct. Nothing else is
// tolerated.
//
// Rules of Compare (see Rules):
//
//   - vm-message: the wording of errors the VM or a library function
//     raises ("attempt to index a nil value" in Lua 5.1, "attempt to index
//     a non-table object(nil) with key 'x'" in gopher-lua) is not compared
//     when the message carries no generator marker (!n!); that both
//     failed, and at which line, is.
//   - engine-adds-position: topscript reports where an error was raised
//     even when the error value has no position (error(msg, 0),
//     error(table)); the position is then not compared.
//   - address: "table: 0x..." addresses are replaced by ADDR.
//
// Constructs the generator does not emit:
//
//   - number-format: numbers other than integers of moderate size.
//     gopher-lua formats numbers its own way (1/3 is 0.3333333333333333,
//     not 0.33333333333333; 1e15 is 1000000000000000, not 1e+15; -0 is 0;
//     inf is +Inf), in print, tostring, .. and string.format("%s").
//     Generated numbers are non-negative integers below 10007 (every
//     assignment is taken modulo it), never -0; division appears only
//     inside math.floor.
//   - pairs-order: the order pairs visits string keys. A loop over a
//     table with string keys only adds to an accumulator.
//   - border: # of a table with holes (and ipairs, table.insert,
//     table.remove, table.sort, unpack, which use it): any border is
//     valid Lua 5.1. Generated tables have no holes.
//   - assignment-order: which value wins in a, a = 1, 2 is unspecified.
//     Targets of a multiple assignment are distinct.
//   - os-io: topscript's os and io are the engine's own (containment: no
//     exec, no files outside what the script opens, streams of the host).
//     Programs use print and io.write only; no os function, no files.
//   - undefined-behaviour: math.random, os.time and os.clock, the garbage
//     collector (collectgarbage, weak tables, __gc), the debug library
//     (absent in topscript), string.dump, getfenv/setfenv, newproxy, the
//     vararg function's arg table (LUA_COMPAT_VARARG), goto and other
//     syntax after 5.1, patterns beyond the generator's set (%b, %f, back
//     references).
//   - stack-depth: calls nested deeper than about 250 frames. The engine
//     keeps gopher-lua's default fixed call stack of 256 frames (f(300) of
//     a recursive f fails with "stack overflow"); Lua 5.1 goes to about
//     16000. Both fail with a clear error. Generated recursion is a few
//     levels deep.
//   - handler-timing: xpcall's handler runs after the error unwound the
//     function (lua51lib), not at the raise; only a traceback (the debug
//     library) could tell.
//   - tail-call-levels: error(msg, level) with a level past a frame that
//     made tail calls gets no position (gopher-lua cannot tell how many
//     calls a tail call replaced; Lua 5.1 counts them).
//
// Generated programs always finish under lua5.1 (loops are bounded by
// counters, recursion by depth, work by a cost budget); TestDifferential
// fails if lua5.1 ever times out on one.
package luadiff
