package catalog

import (
	"reflect"
	"testing"
)

// Lookup decodes one [[api]] table alone until the whole catalog is parsed:
// every table must decode alone exactly as it does in the whole file.
func TestBlocksDecodeAsTheWholeFile(t *testing.T) {
	bs := scanBlocks(apisTOML)
	if bs == nil {
		t.Fatal("apis.toml is not in the plain shape Lookup scans (one header per line, method = \"...\" in every [[api]]); keep it so, or Lookup parses the whole file")
	}
	ix, err := parse(apisTOML)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != len(ix.byMethod) {
		t.Errorf("scan found %d [[api]] tables, the parse %d", len(bs), len(ix.byMethod))
	}
	for m, want := range ix.byMethod {
		b, ok := bs[m]
		if !ok {
			t.Errorf("%s: not found by the scan", m)
			continue
		}
		if got := decodeBlock(b.src); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded alone\n%#v\nin the whole file\n%#v", m, got, want)
		}
	}
}

func TestScanBlocksRefusesOtherShapes(t *testing.T) {
	for _, src := range []string{
		"[[api]]\nmethod = \"a.b.get\"\n[api.paging]\npage = \"p\"\n", // a sub-table
		"[[api]]\ntitle = \"no method\"\n",
		"[[api]]\nmethod = \"a.b.get\"\n[[api]]\nmethod = \"a.b.get\"\n", // twice
		"[[api]]\nmethod = 'a.b.get'\n",                                  // literal string
	} {
		if bs := scanBlocks(src); bs != nil {
			t.Errorf("%q: scanned as %v", src, bs)
		}
	}
	bs := scanBlocks("# header\n[[api]]\nmethod = \"a.b.get\"\naccess = \"read\"\nidempotent = true\n\n[[unmapped]]\ntitle = \"x\"\n")
	if len(bs) != 1 || bs["a.b.get"] == nil {
		t.Fatalf("scan: %v", bs)
	}
	if a := decodeBlock(bs["a.b.get"].src); a == nil || a.Access != Read {
		t.Errorf("decoded %+v", a)
	}
	if a := decodeBlock("[[api]]\nmethod = \"a.b.get\"\naccess = \"sometimes\"\n"); a != nil {
		t.Errorf("a bad table decoded: %+v", a)
	}
}
