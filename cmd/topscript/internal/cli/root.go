package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The command tree is github.com/spf13/cobra's: parsing (flags before or
// after the arguments, "--" ending them), help, "did you mean" for a
// mistyped command and shell completion. Each command is built by a
// newXxxCmd function over the one State and fills its own options struct;
// the help text is rendered here (renderHelp) in topscript's own format.

// annotation keys of the commands.
const (
	// annScriptArgs marks a command whose arguments after the first go to
	// a script (run): its unknown-flag error says where they go instead.
	annScriptArgs = "topscript/script-args"
	// annSynopsis is the command's line in the root help, when it differs
	// from its Use (a command with subcommands).
	annSynopsis = "topscript/synopsis"
)

func init() {
	// The root help lists the commands in the order they are added.
	cobra.EnableCommandSorting = false
}

// newRoot builds the command tree over st: the commands given, or all of
// topscript's.
func newRoot(st *State, cmds ...*cobra.Command) *cobra.Command {
	var version bool
	root := &cobra.Command{
		Use:           "topscript",
		Short:         "topscript runs Lua automation scripts against the Taobao Open Platform (TOP).",
		SilenceErrors: true,
		SilenceUsage:  true,
		// Arguments that name no command: "did you mean".
		Args: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q", args[0])
			if s := c.SuggestionsFor(args[0]); len(s) > 0 {
				msg += fmt.Sprintf(" (did you mean %s?)", quoteOr(s))
			}
			return usageErrorf("", "%s", msg)
		},
		RunE: func(c *cobra.Command, args []string) error {
			if version {
				return runVersion(st)
			}
			writeRootHelp(st.Stderr, c)
			return &exitError{code: ExitUsage}
		},
		CompletionOptions:          cobra.CompletionOptions{DisableDefaultCmd: true},
		SuggestionsMinimumDistance: 2,
	}
	root.Flags().BoolVar(&version, "version", false, "print the version")
	root.SetIn(st.Stdin)
	root.SetOut(st.Stdout)
	root.SetErr(st.Stderr)
	root.SetFlagErrorFunc(flagError)
	root.SetHelpFunc(func(c *cobra.Command, _ []string) { renderHelp(st.Stdout, c) })
	root.SetHelpCommand(newHelpCmd(st))
	if len(cmds) == 0 {
		cmds = []*cobra.Command{
			newRunCmd(st, nil), newReplCmd(st, nil), newCallCmd(st, nil), newSandboxCmd(st, nil),
			newScheduleCmd(st, nil), newAPICmd(st), newConfigCmd(st, nil), newAuthCmd(st), newRunsCmd(st), newJobCmd(st),
			newVersionCmd(st),
			newCompletionCmd(st),
		}
	}
	root.AddCommand(cmds...)
	return root
}

// execute runs args on root under ctx and returns the error that ended
// the command (nil on success, an *exitError for every exit code but 1).
func execute(ctx context.Context, root *cobra.Command, args []string) error {
	if args == nil {
		args = []string{} // cobra reads os.Args for a nil slice
	}
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// quoteOr writes names as `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
func quoteOr(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// newHelpCmd is `topscript help [COMMAND...]`: the help of topscript or of
// a command, on standard output.
func newHelpCmd(st *State) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "Show the help of topscript or of a command",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, sub := range c.Root().Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			if len(args) == 0 {
				writeRootHelp(st.Stdout, root)
				return nil
			}
			target, _, err := root.Find(args)
			if err != nil || target == root {
				msg := fmt.Sprintf("unknown command %q", args[0])
				if s := root.SuggestionsFor(args[0]); len(s) > 0 {
					msg += fmt.Sprintf(" (did you mean %s?)", quoteOr(s))
				}
				return usageErrorf("help", "%s", msg)
			}
			renderHelp(st.Stdout, target)
			return nil
		},
	}
}

// writeRootHelp writes topscript's help: the commands and the exit codes.
func writeRootHelp(w io.Writer, root *cobra.Command) {
	fmt.Fprintf(w, "%s\n\nUsage:\n", root.Short)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.Name() == "help" {
			continue
		}
		syn := c.Use
		if s := c.Annotations[annSynopsis]; s != "" {
			syn = s
		}
		fmt.Fprintf(tw, "  topscript %s\t%s\n", syn, c.Short)
	}
	tw.Flush()
	fmt.Fprint(w, `
Run "topscript COMMAND -h" for a command's flags, "topscript completion -h"
to set up Tab completion in your shell.

Exit codes: 0 ok, 1 script error, 2 usage or configuration error,
3 a job finished with failed rows, 4 lock held, 130 interrupted.
`)
}

// renderHelp writes a command's help: its synopsis, what it does, its
// subcommands and its flags.
func renderHelp(w io.Writer, c *cobra.Command) {
	if !c.HasParent() {
		writeRootHelp(w, c)
		return
	}
	use := c.Use
	if s := c.Annotations[annSynopsis]; s != "" {
		use = s
	}
	fmt.Fprintf(w, "Usage: %s %s\n\n%s\n", c.Parent().CommandPath(), use, c.Short)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
	}
	if subs := availableCommands(c); len(subs) > 0 {
		fmt.Fprint(w, "\nCommands:\n")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, s := range subs {
			fmt.Fprintf(tw, "  %s %s\t%s\n", c.CommandPath(), s.Use, s.Short)
		}
		tw.Flush()
	}
	var flags []*pflag.Flag
	seen := map[string]bool{}
	for _, fs := range []*pflag.FlagSet{c.LocalFlags(), c.InheritedFlags()} {
		fs.VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && !f.Hidden && !seen[f.Name] {
				seen[f.Name] = true
				flags = append(flags, f)
			}
		})
	}
	if len(flags) == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range flags {
		arg, usage := pflag.UnquoteUsage(f)
		left := "--" + f.Name
		if f.Shorthand != "" {
			left = "-" + f.Shorthand + ", " + left
		}
		if arg != "" && arg != "bool" {
			left += " " + arg
		}
		def := ""
		switch f.DefValue {
		case "", "false", "0", "0s", "[]":
		default:
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", left, usage, def)
	}
	tw.Flush()
}

func availableCommands(c *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			out = append(out, s)
		}
	}
	return out
}

// noArgs is the Args of a command that takes none: a usage error naming
// the first one given.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf(commandName(c), "unexpected argument %q", args[0])
	}
	return nil
}

// argsFrom is the Args of a command that takes from min to max
// arguments: a usage error saying what is missing (missing: "NAME (...)"),
// or naming the first one too many.
func argsFrom(min, max int, missing string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return usageErrorf(commandName(c), "missing %s", missing)
		case len(args) > max:
			return usageErrorf(commandName(c), "unexpected argument %q", args[max])
		}
		return nil
	}
}

// subcommandError is the usage error of a command that only groups
// subcommands (api, config) run with none or an unknown one.
func subcommandError(c *cobra.Command, args []string) error {
	if c.SuggestionsMinimumDistance <= 0 {
		c.SuggestionsMinimumDistance = 2
	}
	var names []string
	for _, s := range availableCommands(c) {
		names = append(names, s.Name())
	}
	want := strings.Join(names, " or ")
	if len(args) == 0 {
		return usageErrorf(commandName(c), "missing subcommand: %s", want)
	}
	msg := fmt.Sprintf("unknown subcommand %q: want %s", args[0], want)
	if s := c.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", quoteOr(s))
	}
	return usageErrorf(commandName(c), "%s", msg)
}

// commandName is c's name for messages: "run", "api show", "" for the root.
func commandName(c *cobra.Command) string {
	if c == nil || !c.HasParent() {
		return ""
	}
	return strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
}
