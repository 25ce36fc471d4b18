// Command importmodel turns the platform's published API model (the
// reference top-api-model.jsonl, one method a line, with the doc pages'
// description texts) into the project's own facts-only copy under
// top/catalog/data: names, types, required flags, structured limits, doc
// ids, titles, categories, response trees, and the facts internal/mine reads
// out of the description texts (defaults, allowed values, maximums, "at most
// N" rules). No description sentence is written.
//
// A developer runs it when the reference model changes, then
// `go generate ./top/catalog`:
//
//	go run ./top/catalog/internal/importmodel -model PATH/top-api-model.jsonl
//
// The build and the tests never read the reference model: they read the copy.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/topscript/topscript/top/catalog/internal/mine"
	"github.com/topscript/topscript/top/catalog/internal/model"
)

func main() {
	modelPath := flag.String("model", "", "the reference API model (top-api-model.jsonl)")
	out := flag.String("out", "top/catalog/data", "the `directory` to write model.jsonl and categories.tsv into")
	flag.Parse()
	if *modelPath == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: go run ./top/catalog/internal/importmodel -model PATH [-out DIR]")
		os.Exit(2)
	}
	st, err := run(*modelPath, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "importmodel:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, st)
}

// source is one line of the reference model.
type source struct {
	Method   string        `json:"method"`
	DocID    int           `json:"doc_id"`
	Title    *string       `json:"title"`
	Category string        `json:"category"`
	Params   []sourceField `json:"params"`
	Response []sourceField `json:"response"`
	Desc     string        `json:"desc"`
}

type sourceField struct {
	Name      string        `json:"name"`
	Type      *string       `json:"type"`
	Required  bool          `json:"required"`
	MaxList   int           `json:"max_list"`
	MaxLength int           `json:"max_length"`
	Min       *float64      `json:"min"`
	Max       *float64      `json:"max"`
	Desc      string        `json:"desc"`
	Fields    []sourceField `json:"fields"`
}

// stats says what one import wrote.
type stats struct {
	methods, categories, params, mined int
	kinds                              map[string]int
}

func (s stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d methods, %d categories, %d parameters, %d with facts from the doc text:", s.methods, s.categories, s.params, s.mined)
	for _, k := range sortedKeys(s.kinds) {
		fmt.Fprintf(&b, " %s %d", k, s.kinds[k])
	}
	return b.String()
}

func run(modelPath, outDir string) (stats, error) {
	st := stats{kinds: map[string]int{}}
	f, err := os.Open(modelPath)
	if err != nil {
		return st, err
	}
	defer f.Close()
	var methods []model.Method
	var cats []model.Category
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		var src source
		if err := json.Unmarshal(sc.Bytes(), &src); err != nil {
			return st, fmt.Errorf("%s:%d: %v", modelPath, line, err)
		}
		if src.Title == nil && len(src.Params) == 0 && len(src.Response) == 0 {
			// A category's own page: its name and doc id, no method.
			cats = append(cats, model.Category{Code: src.Category, Name: src.Method, DocID: src.DocID})
			continue
		}
		m := model.Method{
			Method:   src.Method,
			DocID:    src.DocID,
			Category: src.Category,
			Session:  mine.Session(deref(src.Title), src.Desc),
		}
		if src.Title != nil {
			m.Title = strings.TrimSpace(*src.Title)
		}
		m.Params = params(src.Params, &st)
		m.Response = fields(src.Response)
		methods = append(methods, m)
	}
	if err := sc.Err(); err != nil {
		return st, err
	}
	sort.Slice(methods, func(i, j int) bool { return methods[i].Method < methods[j].Method })
	sort.Slice(cats, func(i, j int) bool { return cats[i].Code < cats[j].Code })
	for i := 1; i < len(methods); i++ {
		if methods[i].Method == methods[i-1].Method {
			return st, fmt.Errorf("%s: listed twice", methods[i].Method)
		}
	}
	st.methods, st.categories = len(methods), len(cats)
	if err := writeFile(filepath.Join(outDir, model.MethodsFile), func(w io.Writer) error {
		return model.WriteMethods(w, methods)
	}); err != nil {
		return st, err
	}
	return st, writeFile(filepath.Join(outDir, model.CategoriesFile), func(w io.Writer) error {
		return model.WriteCategories(w, cats)
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// typeName normalises a type as written on the doc pages ("String []" is
// String[]); a missing type is Json, any JSON value.
func typeName(t *string) string {
	if t == nil || strings.TrimSpace(*t) == "" {
		return "Json"
	}
	return strings.ReplaceAll(*t, " ", "")
}

func params(src []sourceField, st *stats) []model.Param {
	var out []model.Param
	for _, s := range src {
		p := model.Param{
			Name: s.Name, Type: typeName(s.Type), Required: s.Required,
			MaxList: s.MaxList, MaxLength: s.MaxLength, Min: s.Min, Max: s.Max,
		}
		facts := mine.Param(p.Type, s.Desc)
		if !facts.Empty() {
			p.Doc = &model.DocFacts{
				Default: facts.Default, Enum: facts.Enum, Min: facts.Min, Max: facts.Max,
				MinLength: facts.MinLen, MaxLength: facts.MaxLen, MaxList: facts.MaxList,
				List: facts.List, Decimal: facts.Decimal,
			}
			st.mined++
			count(st.kinds, p.Doc)
		}
		p.Fields = params(s.Fields, st)
		st.params++
		out = append(out, p)
	}
	return out
}

func count(k map[string]int, d *model.DocFacts) {
	for name, has := range map[string]bool{
		"default": d.Default != "", "enum": len(d.Enum) > 0, "min": d.Min != nil, "max": d.Max != nil,
		"min_length": d.MinLength > 0, "max_length": d.MaxLength > 0, "max_list": d.MaxList > 0,
		"list": d.List, "decimal": d.Decimal,
	} {
		if has {
			k[name]++
		}
	}
}

func fields(src []sourceField) []model.Field {
	var out []model.Field
	for _, s := range src {
		out = append(out, model.Field{Name: s.Name, Type: typeName(s.Type), Fields: fields(s.Fields)})
	}
	return out
}

// writeFile writes path through a temporary file, so a failed run leaves
// the old copy in place.
func writeFile(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".import-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := errors.Join(bw.Flush(), tmp.Chmod(0o644), tmp.Close()); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
