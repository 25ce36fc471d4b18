package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

var configCommand = &command{
	name:  "config",
	usage: "config check",
	short: "Validate the configuration and print the effective settings",
	long:  configLong,
	run:   runConfig,
}

const configLong = `
config check loads the configuration as run would (the lookup order, the
profile, ${VAR} expansion and the TOPSCRIPT_APP_KEY, TOPSCRIPT_APP_SECRET and
TOPSCRIPT_SESSION overrides) and prints the effective settings. The app
secret, the session and any Redis password are shown as "[REDACTED]". Every
error is printed as "file:line: key: reason", with exit status 2.`

// configOptions are the flags of `config check`.
type configOptions struct {
	configFlags
}

func runConfig(_ context.Context, st *State, c *command, args []string) error {
	var o configOptions
	fs := newFlagSet(c)
	o.register(fs)
	pos, err := fs.parseOrHelp(st, args, false)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usageErrorf("config", "missing subcommand: check")
	case pos[0] != "check":
		return usageErrorf("config", "unknown subcommand %q: want check", pos[0])
	case len(pos) > 1:
		return usageErrorf("config", "unexpected argument %q", pos[1])
	}
	f, err := o.load(st, false)
	if err != nil {
		return err
	}
	fmt.Fprint(st.Stdout, f.Redacted())
	return nil
}

var versionCommand = &command{
	name:  "version",
	usage: "version",
	short: "Print the version",
	run:   runVersion,
}

func runVersion(_ context.Context, st *State, c *command, args []string) error {
	fs := newFlagSet(c)
	pos, err := fs.parseOrHelp(st, args, false)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("version", "unexpected argument %q", pos[0])
	}
	v := st.Version
	if v == "" || v == "dev" {
		// A `go install module@version` build knows its module version.
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	if v == "" {
		v = "dev"
	}
	fmt.Fprintf(st.Stdout, "topscript %s (%s %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
