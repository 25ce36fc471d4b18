package build

import "testing"

// A broken apis.toml is reported, not panicked on.
func TestParseHandRefuses(t *testing.T) {
	for _, src := range []string{
		"[[api]]\nmethod = \"a.b.get\"\naccess = \"read\"\nidempotent = true\nbogus = 1\n",
		"[[api]]\nmethod = \"a.b.get\"\naccess = \"sometimes\"\n",
		"[[api]]\nmethod = \"a.b.get\"\naccess = \"read\"\n", // a read must be idempotent
		"[[api]]\nmethod = \"a.b.set\"\naccess = \"write\"\n[[api]]\nmethod = \"a.b.set\"\naccess = \"write\"\n",
		"[[api]]\nmethod = \"a.b.set\"\naccess = \"write\"\nsession = \"maybe\"\n",
		"[[api]]\nmethod = \"a.b.set\"\naccess = \"write\"\nparams = [{ name = \"x\" }]\n",
		"[[api]]\nmethod = \"a.b.set\"\naccess = \"write\"\nparams = [{ name = \"x\", type = \"String\" }, { name = \"x\", type = \"String\" }]\n",
		"[[api]]\nmethod = \"a.b.get\"\naccess = \"read\"\nidempotent = true\n[api.paging]\ntotal = \"n\"\n",
		"[[api]]\nmethod = \"a.b.get\"\naccess = \"read\"\nidempotent = true\n[api.paging]\npage = \"p\"\nmax_span_seconds = 5\n",
		"[[unmapped]]\ngroup = \"x\"\n",
		"[[api]\n",
	} {
		if _, err := ParseHand(src); err == nil {
			t.Errorf("ParseHand(%q) succeeded", src)
		}
	}
	h, err := ParseHand("[[api]]\nmethod = \"a.b.get\"\naccess = \"read\"\nidempotent = true\n[api.paging]\npage = \"page_no\"\nsize = \"page_size\"\n")
	if err != nil || len(h.API) != 1 || h.API[0].Paging == nil || h.API[0].Paging.Size != "page_size" {
		t.Errorf("ParseHand: %+v, %v", h, err)
	}
}
