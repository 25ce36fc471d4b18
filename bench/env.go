package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/topscript/topscript/engine"
	"github.com/topscript/topscript/sandbox"
	"github.com/topscript/topscript/top"
	"github.com/topscript/topscript/toptime"
)

// env holds what sections share: a temporary directory and the topscript
// binary built into it.
type env struct {
	cfg    config
	dir    string
	binary string
	spawn  string
}

// tempDir returns the run's temporary directory, creating it.
func (e *env) tempDir() (string, error) {
	if e.dir == "" {
		d, err := os.MkdirTemp("", "topscript-bench-")
		if err != nil {
			return "", err
		}
		e.dir = d
	}
	return e.dir, nil
}

func (e *env) close() {
	if e.dir != "" {
		_ = os.RemoveAll(e.dir)
	}
}

// topscript returns the binary to run: cfg.binary, else ./cmd/topscript
// built once into the temporary directory.
func (e *env) topscript(ctx context.Context) (string, error) {
	if e.cfg.binary != "" {
		return e.cfg.binary, nil
	}
	if e.binary == "" {
		bin, err := e.build(ctx, "topscript", "./cmd/topscript")
		if err != nil {
			return "", err
		}
		e.binary = bin
	}
	return e.binary, nil
}

// spawner returns the spawn helper (bench/spawn) built once into the
// temporary directory: whole-process figures are taken through it.
func (e *env) spawner(ctx context.Context) (string, error) {
	if e.spawn == "" {
		bin, err := e.build(ctx, "spawn", "./bench/spawn")
		if err != nil {
			return "", err
		}
		e.spawn = bin
	}
	return e.spawn, nil
}

// build compiles the main-module package pkg into the temporary directory
// as name and returns the binary's path.
func (e *env) build(ctx context.Context, name, pkg string) (string, error) {
	dir, err := e.tempDir()
	if err != nil {
		return "", err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s: %v\n%s", pkg, err, stderr.String())
	}
	return bin, nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run the bench from inside the topscript module")
	}
	return filepath.Dir(gomod), nil
}

// clientConfig points a client at s with its credentials.
func clientConfig(s *sandbox.Server) top.Config {
	cfg := top.DefaultConfig()
	cfg.Gateway = s.URL()
	cfg.AppKey, cfg.AppSecret, cfg.Session = sandbox.DefaultAppKey, sandbox.DefaultAppSecret, sandbox.DefaultSession
	cfg.Timeout = 30 * time.Second
	return cfg
}

// newEngine is a Lua engine over c whose output is discarded.
func newEngine(c *top.Client) (*engine.Engine, error) {
	return engine.New(engine.Options{Client: c, Stdout: io.Discard, Stderr: io.Discard})
}

// anItem returns the num_iid of one of the sandbox's items.
func anItem(ctx context.Context, c *top.Client) (json.Number, error) {
	r, err := c.Call(ctx, "taobao.items.onsale.get", top.Params{"fields": "num_iid", "page_size": 1}, nil)
	if err != nil {
		return "", err
	}
	items, _, _ := top.FindList(r.Payload, "items")
	if len(items) == 0 {
		return "", fmt.Errorf("the sandbox has no items on sale")
	}
	m, _ := items[0].(map[string]any)
	id, ok := m["num_iid"].(json.Number)
	if !ok {
		return "", fmt.Errorf("item without num_iid")
	}
	return id, nil
}

// code7 counts the sandbox's code-7 answers.
func code7(st sandbox.Stats) int64 {
	var n int64
	for k, v := range st.Errors {
		if k == "7" || strings.HasPrefix(k, "7/") {
			n += v
		}
	}
	return n
}

// floor is the cheapest client that still talks TOP: it signs
// (hmac-sha256) and posts the params, and reads the answer without
// decoding it. It is the floor per-call cost is compared against.
type floor struct {
	http    *http.Client
	url     string
	key     []byte
	appKey  string
	session string
}

func newFloor(s *sandbox.Server) *floor {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	return &floor{
		http:    &http.Client{Transport: tr},
		url:     s.URL(),
		key:     []byte(sandbox.DefaultAppSecret),
		appKey:  sandbox.DefaultAppKey,
		session: sandbox.DefaultSession,
	}
}

// call signs and posts one call and reads its answer; it reports an
// error_response or a non-200 status as an error.
func (f *floor) call(ctx context.Context, method string, params map[string]string) error {
	p := make(map[string]string, len(params)+9)
	for k, v := range params {
		p[k] = v
	}
	p["method"] = method
	p["app_key"] = f.appKey
	p["session"] = f.session
	p["timestamp"] = toptime.Format(time.Now())
	p["format"] = "json"
	p["v"] = "2.0"
	p["sign_method"] = "hmac-sha256"
	p["simplify"] = "true"
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := hmac.New(sha256.New, f.key)
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte(p[k]))
	}
	p["sign"] = strings.ToUpper(hex.EncodeToString(h.Sum(nil)))
	form := make(url.Values, len(p))
	for k, v := range p {
		form[k] = []string{v}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.url, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	resp, err := f.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte(`"error_response"`)) {
		return fmt.Errorf("%s: HTTP %d: %.200s", method, resp.StatusCode, body)
	}
	return nil
}
