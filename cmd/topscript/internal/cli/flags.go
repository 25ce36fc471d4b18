package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/topscript/topscript/config"
	"github.com/topscript/topscript/internal/suggest"
)

// flagError turns a flag parsing error of cobra's (pflag's) into a usage
// error of c, exit 2, that names the flag with its double dash and says
// what to do: the flag meant ("did you mean --dry-run?"), that script
// arguments starting with - go after -- (run), the unit a duration needs.
func flagError(c *cobra.Command, err error) error {
	name := commandName(c)
	var (
		ne *pflag.NotExistError
		ve *pflag.ValueRequiredError
		ie *pflag.InvalidValueError
	)
	switch {
	case errors.As(err, &ne):
		given, want := "--"+ne.GetSpecifiedName(), ne.GetSpecifiedName()
		if sh := ne.GetSpecifiedShortnames(); sh != "" {
			// -dry-run or -timeout: a long name with one dash, as Go's flag package takes.
			given, want = "-"+sh, sh
		}
		var hints []string
		if s := closestFlag(c, want); s != "" {
			hints = append(hints, fmt.Sprintf("did you mean %s?", s))
		}
		if c.Annotations[annScriptArgs] != "" {
			hints = append(hints, "script arguments that start with - go after --")
		}
		msg := "unknown flag " + given
		if len(hints) > 0 {
			msg += "\n" + strings.Join(hints, " ")
		}
		return usageErrorf(name, "%s", msg)
	case errors.As(err, &ve):
		return usageErrorf(name, "flag %s needs a value", flagText(ve.GetFlag()))
	case errors.As(err, &ie):
		f := ie.GetFlag()
		reason := errors.Unwrap(err)
		if reason == nil {
			reason = err
		}
		msg := fmt.Sprintf("bad value %q for flag %s: %v", ie.GetValue(), flagText(f), reason)
		if f.Value.Type() == "duration" {
			if _, perr := strconv.ParseFloat(ie.GetValue(), 64); perr == nil {
				msg = fmt.Sprintf("bad value %q for flag %s: a duration needs a unit: %ss", ie.GetValue(), flagText(f), ie.GetValue())
			} else {
				msg += " (a duration is a number and a unit: 300ms, 10s, 5m, 1h)"
			}
		}
		return usageErrorf(name, "%s", msg)
	}
	return usageErrorf(name, "%v", err)
}

// flagText is how a flag is written on the command line: --name.
func flagText(f *pflag.Flag) string {
	if f == nil {
		return "(unknown)"
	}
	return "--" + f.Name
}

// closestFlag returns the long flag of c nearest to name, as it is typed
// ("--dry-run"), or "". One unknown letter is too little to guess from.
func closestFlag(c *cobra.Command, name string) string {
	if len(name) < 2 {
		return ""
	}
	var names []string
	c.Flags().VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	if s := suggest.Closest(name, names); s != "" {
		return "--" + s
	}
	return ""
}

// configFlags are the flags naming the configuration, registered the same
// way by every command that reads one: --config and --profile.
type configFlags struct {
	Config  string // --config
	Profile string // --profile
}

func (o *configFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.Config, "config", "", "configuration `file` (default ./topscript.toml, else $XDG_CONFIG_HOME/topscript/topscript.toml)")
	fs.StringVar(&o.Profile, "profile", "", "profile `name` in the configuration (default: its profile key, else \"default\")")
}

// load loads the configuration the flags name; without credentials is for
// --sandbox, which brings its own. Errors are configuration errors (exit 2).
func (o *configFlags) load(st *State, noCredentials bool) (*config.File, error) {
	return o.loadOptions(st, config.Options{NoCredentials: noCredentials})
}

// loadOptions loads the configuration the flags name with co's other
// options (NoCredentials, NoSecrets).
func (o *configFlags) loadOptions(st *State, co config.Options) (*config.File, error) {
	// ./topscript.toml is looked up in the working directory, and named
	// relative to it in messages.
	co.Path, co.Profile, co.Env = o.Config, o.Profile, st.getenv
	f, err := config.LoadOptions(co)
	if err != nil {
		return nil, configError(err)
	}
	return f, nil
}

// logFlags are the logging flags of run and schedule: --log-format and -v.
type logFlags struct {
	LogFormat string // --log-format: text or json
	Verbose   bool   // -v: debug level
}

func (o *logFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&o.LogFormat, "log-format", "text", "log records on stderr as `text` or json")
	fs.BoolVarP(&o.Verbose, "verbose", "v", false, "log at debug level (each call, retry and wait)")
}

// completeLogFormat completes --log-format.
func completeLogFormat(c *cobra.Command) {
	_ = c.RegisterFlagCompletionFunc("log-format", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
}

// logger builds the slog logger on stderr: text or JSON records, at info
// level or debug with -v. A bad --log-format is a usage error of cmd.
// Under JSON the error that ends the command is a JSON record too (see
// report).
func (o *logFlags) logger(st *State, cmd string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if o.Verbose {
		opts.Level = slog.LevelDebug
	}
	switch o.LogFormat {
	case "text", "":
		return slog.New(slog.NewTextHandler(st.Stderr, opts)), nil
	case "json":
		l := slog.New(slog.NewJSONHandler(st.Stderr, opts))
		st.errLog = l
		return l, nil
	}
	return nil, usageErrorf(cmd, "--log-format %q: want text or json", o.LogFormat)
}
