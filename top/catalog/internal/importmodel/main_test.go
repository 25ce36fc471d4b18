package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/topscript/topscript/top/catalog/internal/model"
)

// The copy holds facts only: names, types, limits, the facts mined from the
// description texts, and none of their sentences.
func TestImportWritesFactsOnly(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "model.jsonl")
	lines := []string{
		`{"method":"分销API","doc_id":1,"title":null,"category":"fenxiao","params":[],"response":[]}`,
		`{"method":"taobao.b.get","doc_id":2,"title":"查询当前卖家的东西","category":"fenxiao","desc":"搜索当前会话用户的数据，说明文字","params":[` +
			`{"name":"page_size","type":"Number","desc":"每页条数。默认值:40;最大值:100"},` +
			`{"name":"q","type":"String","required":true,"max_length":30,"desc":"关键词，一句说明"},` +
			`{"name":"o","type":"Obj","desc":"对象","fields":[{"name":"x","type":null,"desc":"成员"}]}],` +
			`"response":[{"name":"items","type":"Item []","desc":"列表","fields":[{"name":"id","type":"Number","desc":"编号"}]}]}`,
		`{"method":"taobao.a.set","doc_id":3,"title":"设置","category":"x","params":[],"response":[]}`,
	}
	if err := os.WriteFile(src, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := run(src, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.methods != 2 || st.categories != 1 || st.params != 4 || st.mined != 1 {
		t.Errorf("stats %+v", st)
	}
	out, err := os.ReadFile(filepath.Join(dir, model.MethodsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, sentence := range []string{"说明", "成员", "编号", "列表", "关键词", "每页条数"} {
		if strings.Contains(string(out), sentence) {
			t.Errorf("the copy holds doc text %q:\n%s", sentence, out)
		}
	}
	ms, err := model.ReadMethods(strings.NewReader(string(out)), "out")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Method != "taobao.a.set" || ms[1].Method != "taobao.b.get" {
		t.Fatalf("methods %+v", ms)
	}
	b := ms[1]
	if b.Session != "required" || b.Title != "查询当前卖家的东西" || b.DocID != 2 {
		t.Errorf("method %+v", b)
	}
	ps := b.Params[0]
	if ps.Doc == nil || ps.Doc.Default != "40" || ps.Doc.Max == nil || *ps.Doc.Max != 100 {
		t.Errorf("page_size %+v", ps)
	}
	if q := b.Params[1]; !q.Required || q.MaxLength != 30 || q.Doc != nil {
		t.Errorf("q %+v", q)
	}
	if o := b.Params[2]; len(o.Fields) != 1 || o.Fields[0].Type != "Json" {
		t.Errorf("o %+v", o)
	}
	if r := b.Response[0]; r.Type != "Item[]" || len(r.Fields) != 1 || r.Fields[0].Type != "Number" {
		t.Errorf("response %+v", b.Response)
	}
	cats, err := os.ReadFile(filepath.Join(dir, model.CategoriesFile))
	if err != nil || string(cats) != "code\tname\tdoc_id\nfenxiao\t分销API\t1\n" {
		t.Errorf("categories %q, %v", cats, err)
	}
	if _, err := run(filepath.Join(dir, "missing.jsonl"), dir); err == nil {
		t.Error("a missing model imported")
	}
}
