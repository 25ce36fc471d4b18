// Command topscript runs Lua automation scripts against the Taobao Open
// Platform: `topscript run SCRIPT`, an interactive `topscript repl`, one-off
// `topscript call METHOD k=v`, a local `topscript sandbox` gateway, the API
// catalog (`topscript api`) and `topscript config check`. Run
// `topscript help` for the commands and their flags.
package main

import (
	"os"

	"github.com/topscript/topscript/cmd/topscript/internal/cli"
)

// version is set at build time:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/topscript
var version = "dev"

func main() {
	os.Exit(cli.Main(cli.OS(version)))
}
