package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/topscript/topscript/config"
)

// errHelp asks for a command's help (-h, --help).
var errHelp = errors.New("help requested")

// flagSet is a command's flags and its help text.
type flagSet struct {
	*flag.FlagSet
	cmd *command
}

func newFlagSet(c *command) *flagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &flagSet{FlagSet: fs, cmd: c}
}

// parse reads flags anywhere among args ("--" ends them) and returns the
// other arguments in order. With passAfterFirst, once the first positional
// argument is seen, arguments that are not this command's flags are
// positional too instead of errors: `run` hands them to the script.
func (fs *flagSet) parse(args []string, passAfterFirst bool) ([]string, error) {
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(pos, args[i+1:]...), nil
		}
		if len(a) < 2 || a[0] != '-' || isNumber(a) {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		passing := passAfterFirst && len(pos) > 0
		if name == "h" || name == "help" {
			if passing {
				pos = append(pos, a)
				continue
			}
			return nil, errHelp
		}
		f := fs.Lookup(name)
		if f == nil {
			if passing {
				pos = append(pos, a)
				continue
			}
			return nil, usageErrorf(fs.cmd.name, "unknown flag %s", a)
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
			if !hasValue {
				if i+1 >= len(args) {
					return nil, usageErrorf(fs.cmd.name, "flag %s needs a value", a)
				}
				i++
				value = args[i]
			}
		} else if !hasValue {
			value = "true"
		}
		if err := fs.Set(name, value); err != nil {
			return nil, usageErrorf(fs.cmd.name, "bad value %q for flag -%s: %v", value, name, unwrapFlagErr(err))
		}
	}
	return pos, nil
}

func unwrapFlagErr(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

func isNumber(s string) bool {
	if len(s) < 2 || s[0] != '-' {
		return false
	}
	for _, c := range s[1:] {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// help writes the command's usage, flags and long text.
func (fs *flagSet) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: topscript %s\n\n%s\n", fs.cmd.usage, fs.cmd.short)
	if fs.cmd.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(fs.cmd.long))
	}
	var n int
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fs.VisitAll(func(f *flag.Flag) {
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		arg, usage := flag.UnquoteUsage(f)
		left := dash + f.Name
		if arg != "" {
			left += " " + arg
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", left, usage, def)
	})
	tw.Flush()
}

// parseOrHelp parses args; on -h it prints the help to stdout and returns
// an error that exits 0.
func (fs *flagSet) parseOrHelp(st *State, args []string, passAfterFirst bool) ([]string, error) {
	pos, err := fs.parse(args, passAfterFirst)
	if errors.Is(err, errHelp) {
		fs.help(st.Stdout)
		return nil, &exitError{code: ExitOK}
	}
	return pos, err
}

// configFlags are the flags naming the configuration, registered the same
// way by every command that reads one: --config and --profile.
type configFlags struct {
	Config  string // --config
	Profile string // --profile
}

func (o *configFlags) register(fs *flagSet) {
	fs.StringVar(&o.Config, "config", "", "configuration `file` (default ./topscript.toml, else $XDG_CONFIG_HOME/topscript/topscript.toml)")
	fs.StringVar(&o.Profile, "profile", "", "profile `name` in the configuration (default: its profile key, else \"default\")")
}

// load loads the configuration the flags name; without credentials is for
// --sandbox, which brings its own. Errors are configuration errors (exit 2).
func (o *configFlags) load(st *State, noCredentials bool) (*config.File, error) {
	// ./topscript.toml is looked up in the working directory, and named
	// relative to it in messages.
	f, err := config.LoadOptions(config.Options{
		Path:          o.Config,
		Profile:       o.Profile,
		Env:           st.getenv,
		NoCredentials: noCredentials,
	})
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

func (o *logFlags) register(fs *flagSet) {
	fs.StringVar(&o.LogFormat, "log-format", "text", "log records on stderr as `text` or json")
	fs.BoolVar(&o.Verbose, "v", false, "log at debug level (each call, retry and wait)")
}

// logger builds the slog logger on stderr: text or JSON records, at info
// level or debug with -v. A bad --log-format is a usage error of cmd.
func (o *logFlags) logger(st *State, cmd string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if o.Verbose {
		opts.Level = slog.LevelDebug
	}
	switch o.LogFormat {
	case "text", "":
		return slog.New(slog.NewTextHandler(st.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(st.Stderr, opts)), nil
	}
	return nil, usageErrorf(cmd, "--log-format %q: want text or json", o.LogFormat)
}
