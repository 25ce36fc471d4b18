// Command gencatalog writes catalog.bin, the compiled-in catalog, from
// data/ (the project's copy of the platform's API model) and apis.toml (the
// hand facts). `go generate ./top/catalog` runs it in top/catalog.
package main

import (
	"fmt"
	"os"

	"github.com/topscript/topscript/top/catalog/internal/build"
)

// Output is the file the catalog package embeds.
const Output = "catalog.bin"

func main() {
	b, st, err := build.Build(build.Default)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gencatalog:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(Output, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gencatalog:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "gencatalog: %s: %d bytes, %d methods (%d in the model, %d only in apis.toml, %d with hand facts), %d unmapped titles, %d response structs\n",
		Output, len(b), st.Methods, st.InModel, st.HandOnly, st.Curated, st.Unmapped, st.Structs)
}
