package luadiff

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
)

// A Case is one divergence found, minimised: a program and what the
// reference interpreter did with it. Stored as a txtar file:
//
//	comment: what diverged and what fixes it
//	-- prog.lua --      the program
//	-- lua5.1.stdout -- what lua5.1 printed
//	-- lua5.1.error --  (if it failed) "file:line: message", or "message"
//
// The expected outcome is recorded so the case is a regression test even
// where lua5.1 is not installed; where it is, the recording is checked
// against it too.
type Case struct {
	Name    string // file name without .txtar
	Comment string
	Source  string
	Ref     Outcome
}

// LoadCorpus reads every *.txtar case in dir, sorted by name.
func LoadCorpus(dir string) ([]Case, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.txtar"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var cases []Case
	for _, p := range paths {
		c, err := ReadCase(p)
		if err != nil {
			return nil, err
		}
		cases = append(cases, c)
	}
	return cases, nil
}

// ReadCase reads one case file.
func ReadCase(path string) (Case, error) {
	a, err := txtar.ParseFile(path)
	if err != nil {
		return Case{}, err
	}
	c := Case{Name: strings.TrimSuffix(filepath.Base(path), ".txtar"), Comment: string(a.Comment)}
	found := false
	for _, f := range a.Files {
		switch f.Name {
		case ChunkName:
			c.Source, found = string(f.Data), true
		case "lua5.1.stdout":
			c.Ref.Stdout = string(f.Data)
		case "lua5.1.error":
			msg := strings.TrimSuffix(string(f.Data), "\n")
			c.Ref.Failed = true
			c.Ref.Pos, c.Ref.Msg = SplitPosition(msg)
		default:
			return Case{}, fmt.Errorf("%s: unknown section %q (want %s, lua5.1.stdout, lua5.1.error)", path, f.Name, ChunkName)
		}
	}
	if !found {
		return Case{}, fmt.Errorf("%s: no %s section", path, ChunkName)
	}
	return c, nil
}

// Marshal is the case as a txtar file.
func (c Case) Marshal() []byte {
	a := &txtar.Archive{Comment: []byte(c.Comment)}
	if len(a.Comment) > 0 && !bytes.HasSuffix(a.Comment, []byte("\n")) {
		a.Comment = append(a.Comment, '\n')
	}
	a.Files = append(a.Files, txtar.File{Name: ChunkName, Data: []byte(c.Source)})
	a.Files = append(a.Files, txtar.File{Name: "lua5.1.stdout", Data: []byte(c.Ref.Stdout)})
	if c.Ref.Failed {
		msg := c.Ref.Msg
		if c.Ref.Pos != "" {
			msg = c.Ref.Pos + ": " + msg
		}
		a.Files = append(a.Files, txtar.File{Name: "lua5.1.error", Data: []byte(msg + "\n")})
	}
	return txtar.Format(a)
}

// WriteCase writes c to dir/c.Name.txtar.
func WriteCase(dir string, c Case) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, c.Name+".txtar"), c.Marshal(), 0o644)
}
