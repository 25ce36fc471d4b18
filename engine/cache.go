package engine

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	lua "github.com/yuin/gopher-lua"

	"github.com/topscript/topscript/internal/luacompile"
)

// The compiled-chunk cache. A *lua.FunctionProto is immutable once built
// and may be shared by any number of Lua states, so the cache is
// process-wide: a scheduler running the same script every minute, or the
// REPL re-evaluating a line, parses it once.
//
// Files are keyed by absolute path, size and modification time; strings by
// chunk name and a SHA-256 of the source.

const maxCached = 512

var chunkCache = struct {
	sync.Mutex
	m    map[string]*lua.FunctionProto
	hits int // read by the tests
}{m: map[string]*lua.FunctionProto{}}

func cacheGet(key string) *lua.FunctionProto {
	chunkCache.Lock()
	defer chunkCache.Unlock()
	p := chunkCache.m[key]
	if p != nil {
		chunkCache.hits++
	}
	return p
}

func cachePut(key string, p *lua.FunctionProto) {
	chunkCache.Lock()
	defer chunkCache.Unlock()
	if len(chunkCache.m) >= maxCached {
		clear(chunkCache.m)
	}
	chunkCache.m[key] = p
}

// compile parses and compiles src as chunk name, through luacompile:
// gopher-lua's compiler with the shapes it gets wrong rewritten first.
func compile(name, src string) (*lua.FunctionProto, error) {
	proto, err := luacompile.Compile(name, src)
	if err != nil {
		return nil, syntaxError(name, err)
	}
	return proto, nil
}

// compileString compiles src as chunk name, through the cache.
func compileString(name, src string) (*lua.FunctionProto, error) {
	sum := sha256.Sum256([]byte(src))
	key := "s\x00" + name + "\x00" + string(sum[:])
	if p := cacheGet(key); p != nil {
		return p, nil
	}
	p, err := compile(name, src)
	if err != nil {
		return nil, err
	}
	cachePut(key, p)
	return p, nil
}

// compileFile compiles the file at path (named path in positions), through
// the cache. A first line starting with '#' (a shebang) is ignored.
func compileFile(path string) (*lua.FunctionProto, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, &ScriptError{File: path, Msg: "cannot open script: " + pathErr(err), Err: err}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	key := "f\x00" + abs + "\x00" + path + "\x00" + strconv.FormatInt(st.Size(), 10) + "\x00" + strconv.FormatInt(st.ModTime().UnixNano(), 10)
	if p := cacheGet(key); p != nil {
		return p, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &ScriptError{File: path, Msg: "cannot open script: " + pathErr(err), Err: err}
	}
	src := string(b)
	src = strings.TrimPrefix(src, "\ufeff")
	if strings.HasPrefix(src, "#") {
		// Keep the newline so line numbers stay right.
		if i := strings.IndexByte(src, '\n'); i >= 0 {
			src = src[i:]
		} else {
			src = ""
		}
	}
	p, err := compile(path, src)
	if err != nil {
		return nil, err
	}
	cachePut(key, p)
	return p, nil
}

func pathErr(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}
