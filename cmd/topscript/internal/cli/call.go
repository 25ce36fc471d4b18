package cli

import (
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

	"github.com/topscript/topscript/top"
)

const callLong = `
Parameters are name=value pairs, sent as strings. name=@path uploads the
file at path (a multipart file part); name=@- uploads standard input;
name=@@text sends "@text" as it is.

The result payload is printed as indented JSON with sorted keys and exact
integers. A TOP error is printed as one line on stderr, with exit status 1.

Examples:
  topscript call taobao.time.get --sandbox
  topscript call taobao.item.seller.get num_iid=520000000001 fields=num_iid,title,sku --sandbox
  topscript call taobao.picture.upload picture_category_id=0 img=@photo.jpg image_input_title=photo.jpg`

// callOptions are the flags and arguments of `call`.
type callOptions struct {
	clientOptions
	Method string
	Params []string // name=value
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
	o.register(c.Flags())
	return c
}

func runCall(ctx context.Context, st *State, o *callOptions) error {
	params, err := callParams(st.Stdin, o.Params)
	if err != nil {
		return err
	}

	ctx, stop := st.Interruptible(ctx)
	defer stop()
	logger := slog.New(slog.NewTextHandler(st.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := o.connect(st, logger, false)
	if err != nil {
		return err
	}
	defer s.Close()

	resp, err := s.client.Call(ctx, o.Method, params, nil)
	if errors.Is(context.Cause(ctx), ErrInterrupted) {
		return &exitError{code: ExitInterrupted, msg: "topscript: interrupted", err: context.Cause(ctx)}
	}
	var te *top.Error
	if errors.As(err, &te) {
		return &exitError{code: ExitScript, msg: te.Error(), err: err}
	}
	if err != nil {
		return err
	}
	return writeJSON(st.Stdout, resp.Payload)
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
	if v == nil {
		v = map[string]any{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
