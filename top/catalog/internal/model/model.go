// Package model is the format of the project's own copy of the platform's
// API model (top/catalog/data): what internal/importmodel writes and
// internal/build reads.
//
// data/model.jsonl holds one method a line, sorted by method:
//
//	{"method":"taobao.item.sku.price.update","doc_id":10928,"title":"更新商品SKU的价格",
//	 "category":"tbitem","session":"required",
//	 "params":[{"name":"num_iid","type":"Number","required":true},
//	           {"name":"item_price","type":"Price","doc":{"decimal":true}}, ...],
//	 "response":[{"name":"sku","type":"Sku","fields":[{"name":"sku_id","type":"Number"}, ...]}]}
//
// Parameter keys: required, max_list, max_length, min, max are the platform's
// structured limits; doc holds what its description text states (default,
// enum, min, max, min_length, max_length, max_list, list: takes
// comma-joined values, decimal: a Number that is money); fields are the
// members of a structured (JSON) parameter. session is what the method's
// title and description say of a session ("required", "none"; absent when
// they say nothing). data/categories.tsv maps a category code to its name
// and doc id.
package model

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// File names under the data directory.
const (
	MethodsFile    = "model.jsonl"
	CategoriesFile = "categories.tsv"
)

// Method is one method of the model.
type Method struct {
	Method   string  `json:"method"`
	DocID    int     `json:"doc_id,omitempty"`
	Title    string  `json:"title,omitempty"`
	Category string  `json:"category,omitempty"`
	Session  string  `json:"session,omitempty"`
	Params   []Param `json:"params,omitempty"`
	Response []Field `json:"response,omitempty"`
}

// Param is one request parameter.
type Param struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Required  bool      `json:"required,omitempty"`
	MaxList   int       `json:"max_list,omitempty"`
	MaxLength int       `json:"max_length,omitempty"`
	Min       *float64  `json:"min,omitempty"`
	Max       *float64  `json:"max,omitempty"`
	Doc       *DocFacts `json:"doc,omitempty"`
	Fields    []Param   `json:"fields,omitempty"`
}

// DocFacts are the facts a parameter's description states.
type DocFacts struct {
	Default   string   `json:"default,omitempty"`
	Enum      []string `json:"enum,omitempty"`
	Min       *float64 `json:"min,omitempty"`
	Max       *float64 `json:"max,omitempty"`
	MinLength int      `json:"min_length,omitempty"`
	MaxLength int      `json:"max_length,omitempty"`
	MaxList   int      `json:"max_list,omitempty"`
	List      bool     `json:"list,omitempty"`
	Decimal   bool     `json:"decimal,omitempty"`
}

// Field is one response field; Fields are the members of a struct.
type Field struct {
	Name   string  `json:"name"`
	Type   string  `json:"type"`
	Fields []Field `json:"fields,omitempty"`
}

// Category is one API category.
type Category struct {
	Code  string
	Name  string
	DocID int
}

// WriteMethods writes ms as JSON lines.
func WriteMethods(w io.Writer, ms []Method) error {
	for i := range ms {
		b, err := json.Marshal(&ms[i])
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}

// ReadMethods reads what WriteMethods wrote; name is used in errors.
func ReadMethods(r io.Reader, name string) ([]Method, error) {
	var out []Method
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		if len(sc.Bytes()) == 0 {
			continue
		}
		var m Method
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		if m.Method == "" {
			return nil, fmt.Errorf("%s:%d: no method", name, line)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// WriteCategories writes cs as "code<TAB>name<TAB>doc_id" lines under a
// header line.
func WriteCategories(w io.Writer, cs []Category) error {
	if _, err := io.WriteString(w, "code\tname\tdoc_id\n"); err != nil {
		return err
	}
	for _, c := range cs {
		if strings.ContainsAny(c.Code+c.Name, "\t\n") {
			return fmt.Errorf("category %q: tab or line break in its code or name", c.Code)
		}
		if _, err := fmt.Fprintf(w, "%s\t%s\t%d\n", c.Code, c.Name, c.DocID); err != nil {
			return err
		}
	}
	return nil
}

// ReadCategories reads what WriteCategories wrote; name is used in errors.
func ReadCategories(r io.Reader, name string) ([]Category, error) {
	var out []Category
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		if line == 1 {
			continue
		}
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("%s:%d: want 3 tab-separated fields, got %d", name, line, len(f))
		}
		id, err := strconv.Atoi(f[2])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: doc_id %q: %v", name, line, f[2], err)
		}
		out = append(out, Category{Code: f[0], Name: f[1], DocID: id})
	}
	return out, sc.Err()
}
