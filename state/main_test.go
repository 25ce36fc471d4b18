package state

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Environment of a re-executed test binary acting as a helper process.
const helperEnv = "TOPSCRIPT_STATE_HELPER"

// redisURL is the URL of the redis-server started by TestMain ("" when
// redis-server is not installed).
var (
	redisURL     string
	redisMissing string
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(m.Run())
	}
	stop := startRedis()
	code := m.Run()
	stop()
	os.Exit(code)
}

func startRedis() func() {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		redisMissing = "redis-server is not installed (apt-get install -y redis-server); skipping Redis tests"
		return func() {}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		redisMissing = "no free loopback port: " + err.Error()
		return func() {}
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, _ := os.MkdirTemp("", "topscript-redis-")
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		redisMissing = "cannot start redis-server: " + err.Error()
		return func() {}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			fmt.Fprintf(c, "PING\r\n")
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				break
			}
		}
		if time.Now().After(deadline) {
			redisMissing = "redis-server did not start on " + addr
			cmd.Process.Kill()
			cmd.Wait()
			return func() {}
		}
		time.Sleep(50 * time.Millisecond)
	}
	redisURL = "redis://" + addr + "/0"
	return func() {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(dir)
	}
}

func needRedis(t *testing.T) string {
	t.Helper()
	if redisURL == "" {
		t.Skip(redisMissing)
	}
	return redisURL
}

// helper starts this test binary as a helper process running mode and
// returns it with a reader on its stdout.
func helper(t *testing.T, mode string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

// TestHelperProcess is not a test: it is the body of helper processes.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process only")
	}
	ctx := context.Background()
	kind, arg, _ := strings.Cut(mode, "|")
	switch kind {
	case "setmany": // write batches in a loop, reporting each completed one
		path, ns, _ := strings.Cut(arg, "|")
		s, err := OpenFile(path, FileOptions{})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		for i := 0; ; i++ {
			kv := map[string][]byte{}
			for j := 0; j < 10; j++ {
				kv[fmt.Sprintf("b%06d-%d", i, j)] = []byte(fmt.Sprint(i))
			}
			kv["last"] = []byte(fmt.Sprint(i))
			if err := s.SetMany(ctx, ns, kv); err != nil {
				fmt.Println("error", err)
				os.Exit(1)
			}
			fmt.Println("done", i)
		}
	case "filelock":
		dir, name, _ := strings.Cut(arg, "|")
		if _, err := NewFileLocker(dir).Acquire(ctx, name, 0); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
	case "redislock":
		url, name, _ := strings.Cut(arg, "|")
		s, err := OpenRedis(ctx, url, "test")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		if _, err := s.Locker().Acquire(ctx, name, 600*time.Millisecond); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
	}
	os.Exit(0)
}

// waitLine reads lines from sc until one has prefix want.
func waitLine(t *testing.T, sc *bufio.Scanner, want string) string {
	t.Helper()
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), want) {
			return sc.Text()
		}
		if strings.HasPrefix(sc.Text(), "error") {
			t.Fatalf("helper: %s", sc.Text())
		}
	}
	t.Fatalf("helper exited before printing %q", want)
	return ""
}
