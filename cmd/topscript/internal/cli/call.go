package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/topscript/topscript/internal/numtext"
	"github.com/topscript/topscript/internal/redact"
	"github.com/topscript/topscript/top"
)

const callLong = `
Parameters are name=value pairs, sent as strings. name=@path uploads the
file at path (a multipart file part); name=@- uploads standard input;
name=@@text sends "@text" as it is. They are checked against the catalog
before anything is sent (topscript api show METHOD lists them).

The result payload is printed as indented JSON with sorted keys. Integers
beyond 2^53 (19-digit trade and order ids) are printed as JSON strings of
their exact digits, as Lua sees them: tools that read JSON numbers as
doubles (jq 1.6, JavaScript) would change their last digits. --raw prints
the gateway's body exactly as it came, bare numbers and all.

--paginate walks every page (as top.each does: page_no/page_size, has_next
or total_results) and prints the list's items as JSON lines, one compact
object per line, ready for jq or a loader; with --raw, each page's body on
a line of its own.

--dry-run sends reads as usual; a write is checked as it would be sent
(a bad parameter fails as the real call would, exit 1), logged and not
sent, and {"dry_run": true} is printed.

A TOP error is printed as one line on stderr, with exit status 1.

Examples:
  topscript call taobao.time.get --sandbox
  topscript call taobao.item.seller.get num_iid=600000153551 fields=num_iid,title,sku --sandbox
  topscript call taobao.trades.sold.get fields=tid,status page_size=1 --sandbox
  topscript call --paginate taobao.trades.sold.get fields=tid,status use_has_next=true page_size=100 --sandbox
  topscript call --dry-run taobao.item.sku.price.update num_iid=600000153551 properties="1627207:28320;20509:28315" price=59.90 --sandbox
  topscript call taobao.picture.upload picture_category_id=0 img=@photo.jpg image_input_title=photo.jpg`

// callOptions are the flags and arguments of `call`.
type callOptions struct {
	clientOptions
	logFlags
	Paginate bool
	DryRun   bool
	Raw      bool
	Method   string
	Params   []string // name=value
}

// newCallCmd is `topscript call`. runF, when not nil, runs instead of the
// command.
func newCallCmd(st *State, runF func(context.Context, *callOptions) error) *cobra.Command {
	o := &callOptions{}
	c := &cobra.Command{
		Use:               "call METHOD [k=v ...]",
		Short:             "Call one TOP API and print the result as JSON",
		Long:              callLong,
		ValidArgsFunction: completeCall,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("call", "missing METHOD")
			}
			o.Method, o.Params = args[0], args[1:]
			if runF != nil {
				return runF(c.Context(), o)
			}
			return runCall(c.Context(), st, o)
		},
	}
	fs := c.Flags()
	o.clientOptions.register(fs)
	o.logFlags.register(fs)
	fs.BoolVar(&o.Paginate, "paginate", false, "fetch every page and print the list's items as JSON lines")
	fs.BoolVar(&o.DryRun, "dry-run", false, "check a write and log it instead of sending it; reads are sent")
	fs.BoolVar(&o.Raw, "raw", false, "print the gateway's response body exactly as it came")
	completeLogFormat(c)
	return c
}

func runCall(ctx context.Context, st *State, o *callOptions) error {
	logger, err := o.logger(st, "call")
	if err != nil {
		return err
	}
	params, err := callParams(st.Stdin, o.Params)
	if err != nil {
		return err
	}

	ctx, stop := st.Interruptible(ctx)
	defer stop()
	s, err := o.connect(st, logger, false)
	if err != nil {
		return err
	}
	defer s.Close()

	hide := redact.NewWriter(st.Stdout, redact.New(s.secrets...)) // an answer echoing a secret does not show it
	defer hide.Flush()
	out := bufio.NewWriter(hide)
	defer out.Flush()
	switch {
	case o.DryRun && s.client.IsWrite(o.Method):
		err = dryRunCall(s.client, s.log, o.Method, params)
		if err == nil {
			err = writeJSON(out, map[string]any{"dry_run": true})
		}
	case o.Paginate:
		err = paginate(ctx, s.client, out, o.Method, params, o.Raw)
	default:
		var resp *top.Response
		resp, err = s.client.Call(ctx, o.Method, params, nil)
		if err == nil {
			if o.Raw {
				_, err = out.Write(resp.Body)
			} else {
				err = writeJSON(out, safeNumbers(resp.Payload))
			}
		}
	}
	if errors.Is(context.Cause(ctx), ErrInterrupted) {
		return &exitError{code: ExitInterrupted, msg: "topscript: interrupted", err: context.Cause(ctx)}
	}
	var te *top.Error
	if errors.As(err, &te) {
		return &exitError{code: ExitScript, msg: te.Error(), err: err}
	}
	return err
}

// dryRunCall checks a write as the real call would (Client.Validate:
// nothing is sent) and logs it with its parameters, secrets redacted.
func dryRunCall(c *top.Client, logger *slog.Logger, method string, params top.Params) error {
	if err := c.Validate(method, params, nil); err != nil {
		return err
	}
	logger.Info("dry-run: would call "+method, "method", method, "params", c.Redact(top.FormatParams(params)))
	return nil
}

// paginate walks every page of method and writes the list's items as JSON
// lines (raw: each page's body on a line).
func paginate(ctx context.Context, c *top.Client, w io.Writer, method string, params top.Params, raw bool) error {
	p := c.Pages(ctx, method, params, top.PageOptions{})
	for {
		resp, ok, err := p.Next(ctx)
		if err != nil || !ok {
			return err
		}
		if raw {
			if _, err := w.Write(append(bytes.TrimRight(resp.Body, "\r\n"), '\n')); err != nil {
				return err
			}
			continue
		}
		for _, item := range p.Items(resp) {
			if err := writeJSONLine(w, safeNumbers(item)); err != nil {
				return err
			}
		}
	}
}

// callParams turns name=value arguments into call parameters.
func callParams(stdin io.Reader, args []string) (top.Params, error) {
	params := top.Params{}
	stdinUsed := false
	for _, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, usageErrorf("call", "parameter %q: want name=value", a)
		}
		if _, dup := params[name]; dup {
			return nil, usageErrorf("call", "parameter %s given twice", name)
		}
		switch {
		case strings.HasPrefix(value, "@@"):
			params[name] = value[1:]
		case value == "@-":
			if stdinUsed {
				return nil, usageErrorf("call", "parameter %s: standard input is already uploaded", name)
			}
			stdinUsed = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				return nil, fmt.Errorf("reading standard input for %s: %w", name, err)
			}
			params[name] = top.File{Name: name, Data: data}
		case strings.HasPrefix(value, "@"):
			path := value[1:]
			if path == "" {
				return nil, usageErrorf("call", "parameter %s: @ needs a file path", name)
			}
			if fi, err := os.Stat(path); err != nil {
				return nil, usageErrorf("call", "parameter %s: cannot read %s: %v", name, path, errors.Unwrap(err))
			} else if fi.IsDir() {
				return nil, usageErrorf("call", "parameter %s: %s is a directory", name, path)
			}
			params[name] = top.File{Name: filepath.Base(path), Path: path}
		default:
			params[name] = value
		}
	}
	return params, nil
}

// writeJSON prints v as indented JSON: sorted keys, exact numbers
// (json.Number), no HTML escaping.
func writeJSON(w io.Writer, v any) error {
	return encodeJSON(w, v, "  ")
}

// writeJSONLine prints v as one line of compact JSON (JSON lines).
func writeJSONLine(w io.Writer, v any) error {
	return encodeJSON(w, v, "")
}

func encodeJSON(w io.Writer, v any, indent string) error {
	if v == nil {
		v = map[string]any{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", indent)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// safeNumbers returns v with every integer beyond 2^53 (a json.Number,
// numtext.IntBeyondFloat) turned into a string of its digits, as the Lua
// side holds them: what jq 1.6 or JavaScript read stays exact. Maps and
// slices are rewritten in place.
func safeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if numtext.IntBeyondFloat(string(x)) {
			return string(x)
		}
	case map[string]any:
		for k, e := range x {
			x[k] = safeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = safeNumbers(e)
		}
	}
	return v
}
