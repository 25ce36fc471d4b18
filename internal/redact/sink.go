package redact

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// The sinks: what hides known secrets in output as it leaves the process.
// A Writer hides them in a byte stream (a script's standard output and
// error); a Handler in log records, whatever attribute carries them.

// Writer hides r's words in what is written through it, by value, even
// when a secret arrives split across writes: the end of a write that may
// begin a secret is held back until the next write shows whether it does,
// or until Flush. It is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	r    Redactor
	held string
}

// NewWriter returns a Writer over w hiding r's words.
func NewWriter(w io.Writer, r Redactor) *Writer { return &Writer{w: w, r: r} }

// Write writes p with the known words hidden. It reports len(p) written
// when the underlying write succeeds.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held == "" && !w.r.hidesBytes(p) && w.r.partial(p) == 0 {
		// Nothing to hide or to hold back: the bytes as they are.
		if _, err := w.w.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	text := w.r.Words(w.held + string(p))
	keep := w.r.partial([]byte(text))
	w.held = text[len(text)-keep:]
	if _, err := io.WriteString(w.w, text[:len(text)-keep]); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what is held back.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held == "" {
		return nil
	}
	_, err := io.WriteString(w.w, w.held)
	w.held = ""
	return err
}

// hidesBytes is Hides for bytes.
func (r Redactor) hidesBytes(p []byte) bool {
	for _, w := range r.words {
		if bytes.Contains(p, []byte(w)) {
			return true
		}
	}
	return false
}

// partial returns the length of the longest end of p that is the start
// of a known word (and not the whole word).
func (r Redactor) partial(p []byte) int {
	best := 0
	for _, w := range r.words {
		// Where the word's first byte occurs among p's last len(w)-1 bytes.
		from := max(len(p)-(len(w)-1), 0)
		tail := p[from:]
		for i := bytes.IndexByte(tail, w[0]); i >= 0; {
			if k := len(tail) - i; k > best && strings.HasPrefix(w, string(tail[i:])) {
				best = k
				break
			}
			next := bytes.IndexByte(tail[i+1:], w[0])
			if next < 0 {
				break
			}
			i += 1 + next
		}
	}
	return best
}

// Handler returns an slog.Handler over h that hides r's words and the
// values of secret parameters (Text) in every record: its message, its
// attributes' keys and values (strings, errors, JSON values, anything
// printed with fmt), in groups too.
func Handler(h slog.Handler, r Redactor) slog.Handler {
	if !r.Active() {
		return h
	}
	return &handler{h: h, r: r}
}

type handler struct {
	h slog.Handler
	r Redactor
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Text(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	hidden := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		hidden[i] = h.attr(a)
	}
	return &handler{h: h.h.WithAttrs(hidden), r: h.r}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(h.r.Text(name)), r: h.r}
}

// attr hides what a might show.
func (h *handler) attr(a slog.Attr) slog.Attr {
	a.Key = h.r.Text(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(h.r.Text(v.String()))
	case slog.KindGroup:
		group := v.Group()
		hidden := make([]slog.Attr, len(group))
		for i, g := range group {
			hidden[i] = h.attr(g)
		}
		a.Value = slog.GroupValue(hidden...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			a.Value = slog.StringValue(h.r.Text(x.Error()))
		case json.Marshaler:
			if b, err := x.MarshalJSON(); err == nil {
				if t := h.r.Text(string(b)); t != string(b) {
					a.Value = slog.AnyValue(rawJSON(t))
				}
			}
		default:
			if s := fmt.Sprint(x); h.r.Text(s) != s {
				a.Value = slog.StringValue(h.r.Text(s))
			}
		}
	default:
		a.Value = v
	}
	return a
}

// rawJSON is JSON text a record carries as is: embedded by the JSON
// handler, printed as text by the text handler.
type rawJSON string

func (j rawJSON) MarshalJSON() ([]byte, error) { return []byte(j), nil }
func (j rawJSON) MarshalText() ([]byte, error) { return []byte(j), nil }
