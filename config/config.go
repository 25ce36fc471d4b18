// Package config loads topscript.toml: the client profile (credentials,
// gateway, signing), throttle, retry and closure-window settings, the state
// backend and the schedule. Every error names the file, the line and the key,
// as "topscript.toml:12: profiles.default.timeout: bad duration "30x"".
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/BurntSushi/toml"

	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/notify"
	"github.com/topscript/topscript/state"
	"github.com/topscript/topscript/tmc"
	"github.com/topscript/topscript/top"
)

// FileName is the name the configuration file is looked up by.
const FileName = "topscript.toml"

// Environment variables that override the selected profile's credentials.
const (
	EnvAppKey    = "TOPSCRIPT_APP_KEY"
	EnvAppSecret = "TOPSCRIPT_APP_SECRET"
	EnvSession   = "TOPSCRIPT_SESSION"
)

// DefaultProfile is the profile used when neither --profile nor the file's
// top-level profile key names one.
const DefaultProfile = "default"

// Schedule is one [[schedule]] entry.
type Schedule struct {
	Name   string
	Cron   string // 5 fields, 6 with seconds, or a descriptor such as "@every 30s"
	Script string
	Args   []string
	Line   int // line of its [[schedule]] header, for messages
	// Index is its position among the entries, from 1 (schedule[Index]);
	// ScriptLine the line of its script key.
	Index, ScriptLine int
	// Shops are the authorised shops it runs for, once each (shop = "A",
	// shops = ["A", "B"]); AllShops runs it for every one (shops = "all").
	Shops    []string
	AllShops bool
}

// AllShops is the shops value of a [[schedule]] entry that runs for every
// authorised shop.
const AllShops = "all"

// The ways a profile's oauth_exchange exchanges and refreshes tokens.
const (
	ExchangeTokenURL = "token_url" // POST the platform's token URL (the default)
	ExchangeGateway  = "gateway"   // taobao.top.auth.token.create / refresh through the gateway
)

// Shops are the selected profile's shop settings.
type Shops struct {
	// Shop is the authorised shop the profile runs for ("" none: its
	// session, if any).
	Shop string
	// OAuthURL serves the authorize page and the token URL ("": the
	// gateway's, oauth.EndpointFor).
	OAuthURL string
	// Exchange is ExchangeTokenURL ("" too) or ExchangeGateway.
	Exchange string
}

// CheckScripts reports every [[schedule]] entry whose script is not a file
// (a relative path is read from the working directory, where the scheduler
// runs it) as a configuration error naming file, line and key: an entry
// that would fail at each tick is refused at once, by `config check` and by
// `schedule`.
func (f *File) CheckScripts() error {
	var errs Errors
	for _, s := range f.Schedules {
		reason := ""
		switch fi, err := os.Stat(s.Script); {
		case errors.Is(err, fs.ErrNotExist):
			reason = "no such file"
		case err != nil:
			reason = err.Error()
		case fi.IsDir():
			reason = "a directory, not a file"
		case !fi.Mode().IsRegular():
			reason = "not a regular file (a device, a named pipe or a socket)"
		default:
			continue
		}
		where := ""
		if !filepath.IsAbs(s.Script) {
			if wd, err := os.Getwd(); err == nil {
				where = ", relative to the working directory " + wd
			}
		}
		errs = append(errs, &Error{File: f.Path, Line: s.ScriptLine, Key: fmt.Sprintf("schedule[%d].script", s.Index),
			Reason: fmt.Sprintf("%s: %s (schedule %q%s)", s.Script, reason, s.Name, where)})
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// File is a loaded configuration: the effective settings after defaults,
// ${VAR} expansion and environment overrides. Its String method redacts
// secrets, so printing a File is safe.
type File struct {
	// Path is the file the settings came from, as found; "" when no file
	// was found and everything is a default.
	Path string
	// Profile is the selected profile; "" when the file has none.
	Profile string
	// Profiles lists every profile the file defines, sorted.
	Profiles []string
	// Client is the selected profile over top.DefaultConfig, with the
	// throttle, retry and closure settings.
	Client top.Config
	// TMCURL is the selected profile's tmc_url, the message channel's
	// endpoint tmc.listen connects to (default tmc.DefaultURL).
	TMCURL string
	// State is the [state] table with defaults filled in, as state.Open
	// takes it.
	State state.Config
	// Schedules are the [[schedule]] entries in file order.
	Schedules []Schedule
	// MemoryLimit is the top-level memory_limit in bytes: 0 when the file
	// does not set it (the engine's default applies), -1 for "off".
	MemoryLimit int64
	// Shops are the selected profile's shop keys (shop, oauth_url,
	// oauth_exchange).
	Shops Shops
	// Notify are the [[notify]] targets of alerts, in file order.
	Notify []notify.Config
	// Overridden lists the environment variables that replaced a profile
	// credential (TOPSCRIPT_APP_KEY, ...), in that order.
	Overridden []string
}

// Options says where to look and what to apply. The zero value looks up the
// file from the process's working directory and environment.
type Options struct {
	// Path is an explicit file (--config); "" looks one up.
	Path string
	// Profile selects a profile (--profile); "" uses the file's profile key,
	// else "default".
	Profile string
	// Env reads environment variables; nil means os.Getenv. An empty value
	// counts as unset.
	Env func(string) string
	// Dir is the directory ./topscript.toml is looked for in; "" is the
	// working directory.
	Dir string
	// NoCredentials leaves app_key, app_secret and session empty and
	// unexpanded, ignoring the TOPSCRIPT_* overrides too: the caller brings
	// its own (as --sandbox does).
	NoCredentials bool
	// NoSecrets leaves app_secret and session empty and unexpanded (their
	// TOPSCRIPT_* overrides too) but reads app_key: for commands that only
	// read the state backend under the app's name (runs), so that an
	// operator without the secrets in the environment can read the history.
	NoSecrets bool
}

// Load finds and loads the configuration: path if not "" (--config), else
// the lookup of Locate. profile selects a profile ("" = the file's default).
// With no file found it returns the defaults (plus environment overrides).
// env is nil for os.Getenv.
func Load(path, profile string, env func(string) string) (*File, error) {
	return LoadOptions(Options{Path: path, Profile: profile, Env: env})
}

// LoadOptions is Load with every option.
func LoadOptions(o Options) (*File, error) {
	if o.Env == nil {
		o.Env = os.Getenv
	}
	path := o.Path
	if path == "" {
		var err error
		if path, err = Locate(o.Dir, o.Env); err != nil {
			return nil, err
		}
	}
	if path == "" {
		if o.Profile != "" {
			return nil, fmt.Errorf("--profile %s: no configuration file (looked for %s)", o.Profile, strings.Join(lookupPlaces(o.Dir, o.Env), ", "))
		}
		f := defaults()
		if !o.NoCredentials {
			f.override(o.Env, o.NoSecrets)
		}
		return f, nil
	}
	src, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, fmt.Errorf("%s: %v", path, unwrapPathError(err))
	}
	return parse(path, string(src), o)
}

// Parse loads a configuration from src as if read from the file named path
// (which is only used in messages and File.Path).
func Parse(path, src string, o Options) (*File, error) {
	if o.Env == nil {
		o.Env = os.Getenv
	}
	return parse(path, src, o)
}

func defaults() *File {
	return &File{
		Client: top.DefaultConfig(),
		TMCURL: tmc.DefaultURL,
		State:  state.Config{Backend: state.KindFile, Path: state.DefaultPath},
	}
}

// override applies the TOPSCRIPT_* credential variables.
func (f *File) override(env func(string) string, noSecrets bool) {
	for _, o := range []struct {
		name   string
		dst    *string
		secret bool
	}{
		{EnvAppKey, &f.Client.AppKey, false},
		{EnvAppSecret, &f.Client.AppSecret, true},
		{EnvSession, &f.Client.Session, true},
	} {
		if o.secret && noSecrets {
			continue
		}
		if v := env(o.name); v != "" {
			*o.dst = v
			f.Overridden = append(f.Overridden, o.name)
		}
	}
}

// Locate returns the configuration file to use when --config is not given:
// ./topscript.toml in dir ("" = working directory), else
// $XDG_CONFIG_HOME/topscript/topscript.toml (XDG_CONFIG_HOME defaulting to
// $HOME/.config). It returns "" and no error when neither exists.
func Locate(dir string, env func(string) string) (string, error) {
	if env == nil {
		env = os.Getenv
	}
	for i, p := range lookupPlaces(dir, env) {
		st, err := os.Stat(p)
		switch {
		case err == nil && st.IsDir():
			return "", fmt.Errorf("%s: is a directory", p)
		case err == nil:
			if i == 0 && dir == "" {
				return FileName, nil // as the user would type it
			}
			return p, nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("%s: %v", p, unwrapPathError(err))
		}
	}
	return "", nil
}

// lookupPlaces lists the files Locate tries, in order.
func lookupPlaces(dir string, env func(string) string) []string {
	places := []string{filepath.Join(dir, FileName)}
	if dir == "" {
		places[0] = "./" + FileName
	}
	base := env("XDG_CONFIG_HOME")
	if base == "" {
		if home := env("HOME"); home != "" {
			base = filepath.Join(home, ".config")
		}
	}
	if base != "" {
		places = append(places, filepath.Join(base, "topscript", FileName))
	}
	return places
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Error is one configuration error. Its text is "file:line: key: reason";
// the line is left out when unknown and the key when the error is about the
// whole file.
type Error struct {
	File   string
	Line   int
	Key    string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Errors is every error found in one file, in line order. Its text has one
// error a line.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// parse decodes src and builds the File, collecting every error.
func parse(path, src string, o Options) (*File, error) {
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		return nil, syntaxError(path, err)
	}
	d := &decoder{file: path, lines: scanLines(src), env: o.Env}
	f := d.decode(raw, o)
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		if len(d.errs) == 1 {
			return nil, d.errs[0]
		}
		return nil, d.errs
	}
	f.Path = path
	return f, nil
}

// syntaxError turns a TOML parse error into an *Error at its line.
func syntaxError(path string, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{File: path, Reason: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	reason := pe.Message
	if pe.Usage != "" {
		// The first sentence of the usage text is the useful part.
		u := strings.TrimSpace(pe.Usage)
		if i := strings.Index(u, "\n"); i > 0 {
			u = u[:i]
		}
		reason += " (" + strings.TrimSuffix(u, ":") + ")"
	}
	if secretKey(pe.LastKey) {
		// The parser quotes the text it choked on: it may be the secret.
		reason = quoted().ReplaceAllString(reason, redact.Mark)
	}
	return &Error{File: path, Line: pe.Position.Line, Key: pe.LastKey, Reason: "syntax error: " + reason}
}

// quoted matches a quoted fragment of a parser message. It is compiled on
// first use, not at start-up.
var quoted = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'[^']*'`)
})

// secretKey reports whether a key holds a secret: a profile's app_secret
// or session, or the Redis URL (which may carry a password).
func secretKey(key string) bool {
	for _, k := range []string{"app_secret", "session", "redis_url"} {
		if key == k || strings.HasSuffix(key, "."+k) {
			return true
		}
	}
	return false
}
