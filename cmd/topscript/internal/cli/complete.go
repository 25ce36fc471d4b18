package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/top/catalog"
)

// Shell completion (`topscript completion SHELL`): cobra completes the
// commands and flags; these complete what only topscript knows, the TOP
// method names of the catalog and a method's parameters.

// newCompletionCmd is `topscript completion bash|zsh|fish|powershell`.
func newCompletionCmd(st *State) *cobra.Command {
	shells := []string{"bash", "zsh", "fish", "powershell"}
	return &cobra.Command{
		Use:   "completion SHELL",
		Short: "Print the Tab completion script for bash, zsh, fish or powershell",
		Long: `
The script completes commands, flags, TOP method names (after call and
api show) and a method's parameters (call METHOD <Tab>). Load it:

  bash:        source <(topscript completion bash)      # e.g. in ~/.bashrc
  zsh:         source <(topscript completion zsh)       # compinit must be loaded
  fish:        topscript completion fish | source
  powershell:  topscript completion powershell | Out-String | Invoke-Expression`,
		Annotations: map[string]string{annSynopsis: "completion bash|zsh|fish|powershell"},
		ValidArgs:   shells,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("completion", "want one shell: %s", strings.Join(shells, ", "))
			}
			root, out := c.Root(), st.Stdout
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return usageErrorf("completion", "unknown shell %q: want %s", args[0], strings.Join(shells, ", "))
		},
	}
}

// mostCompletions bounds a completion list: a shell shows a few hundred
// candidates at most usefully, and the catalog holds thousands.
const mostCompletions = 500

// completeMethods returns the catalog's methods starting with prefix.
func completeMethods(prefix string) []string {
	var out []string
	for _, m := range catalog.Names() { // sorted
		if strings.HasPrefix(m, prefix) {
			out = append(out, m)
			if len(out) == mostCompletions {
				break
			}
		}
	}
	return out
}

// completeMethodArg completes the first argument with a method name.
func completeMethodArg(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return completeMethods(toComplete), cobra.ShellCompDirectiveNoFileComp
}

// completeCall completes `call`'s arguments: the method, then its
// parameters as name= (those not given yet; required ones first).
func completeCall(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return completeMethods(toComplete), cobra.ShellCompDirectiveNoFileComp
	}
	if strings.Contains(toComplete, "=") {
		// A value: name=@path uploads a file, so complete paths after @.
		if _, v, _ := strings.Cut(toComplete, "="); strings.HasPrefix(v, "@") {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return paramCompletions(args[0], args[1:], toComplete), cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
}

// paramCompletions lists method's parameters starting with prefix, as
// "name=" with a description, leaving out those in given (name=value).
func paramCompletions(method string, given []string, prefix string) []string {
	a, ok := catalog.Lookup(method)
	if !ok {
		return nil
	}
	have := map[string]bool{}
	for _, g := range given {
		name, _, _ := strings.Cut(g, "=")
		have[name] = true
	}
	params := append([]catalog.Param(nil), a.Params...)
	sort.SliceStable(params, func(i, j int) bool { return params[i].Required && !params[j].Required })
	var out []string
	for _, p := range params {
		if have[p.Name] || strings.Contains(p.Name, ".") || !strings.HasPrefix(p.Name, prefix) {
			continue
		}
		desc := p.Type
		if p.Required {
			desc += ", required"
		}
		out = append(out, fmt.Sprintf("%s=\t%s", p.Name, desc))
	}
	return out
}
