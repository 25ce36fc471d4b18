package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docName is a document named in a source or a page: an upper-case name
// ending in .md ("BENCHMARKS.md", "docs/ARCHITECTURE.md").
var docName = regexp.MustCompile(`\b[A-Z][A-Z_]+\.md\b`)

// Every document the code, the scripts and the pages name is in the
// repository: nothing cites a page only a workspace outside it holds (the
// code once cited a design page the repository lacked; issue #14 item 8).
func TestNamedDocumentsExist(t *testing.T) {
	dir := root(t)
	have := map[string]bool{}
	named := map[string][]string{} // document → files naming it
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && path != dir { // .git, .topscript
				return filepath.SkipDir
			}
			return nil
		}
		have[d.Name()] = true
		switch filepath.Ext(path) {
		case ".go", ".lua", ".md", ".toml", ".txtar", "":
		default:
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		for _, m := range docName.FindAllString(string(data), -1) {
			named[m] = append(named[m], rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(named) == 0 {
		t.Fatal("no document named anywhere: the scan found nothing")
	}
	for doc, files := range named {
		if !have[doc] {
			t.Errorf("%s is named in %s but the repository has no such file", doc, strings.Join(files, ", "))
		}
	}
}
