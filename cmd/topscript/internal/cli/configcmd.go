package cli

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

const configLong = `
config check loads the configuration as run would (the lookup order, the
profile, ${VAR} expansion and the TOPSCRIPT_APP_KEY, TOPSCRIPT_APP_SECRET and
TOPSCRIPT_SESSION overrides) and prints the effective settings. The app
secret, the session and any Redis password are shown as "[REDACTED]". Every
error is printed as "file:line: key: reason", with exit status 2; a
[[schedule]] entry whose script is not a file (relative to the working
directory, where topscript schedule runs it) is one.`

// configOptions are the flags of `config check`.
type configOptions struct {
	configFlags
}

// newConfigCmd is `topscript config` and its subcommand check. runF, when
// not nil, runs instead of `config check`.
func newConfigCmd(st *State, runF func(context.Context, *configOptions) error) *cobra.Command {
	o := &configOptions{}
	c := &cobra.Command{
		Use:         "config",
		Short:       "Validate the configuration and print the effective settings",
		Long:        configLong,
		Annotations: map[string]string{annSynopsis: "config check"},
		RunE: func(c *cobra.Command, args []string) error {
			return subcommandError(c, args)
		},
	}
	// On config itself, so that `config --config F check` reads as well.
	o.register(c.PersistentFlags())
	check := &cobra.Command{
		Use:               "check",
		Short:             "Validate the configuration and print the effective settings",
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(c *cobra.Command, args []string) error {
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runConfigCheck(c.Context(), st, o)
		},
	}
	c.AddCommand(check)
	return c
}

func runConfigCheck(_ context.Context, st *State, o *configOptions) error {
	f, err := o.load(st, false)
	if err != nil {
		return err
	}
	if err := f.CheckScripts(); err != nil {
		return configError(err)
	}
	fmt.Fprint(st.Stdout, f.Redacted())
	return nil
}

// newVersionCmd is `topscript version`.
func newVersionCmd(st *State) *cobra.Command {
	return &cobra.Command{
		Use:               "version",
		Short:             "Print the version",
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(_ *cobra.Command, args []string) error {
			return runVersion(st)
		},
	}
}

// runVersion prints the version (`version`, `--version`).
func runVersion(st *State) error {
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
