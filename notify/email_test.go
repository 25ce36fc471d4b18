package notify_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/topscript/topscript/notify"
)

// smtpServer is a real SMTP server (aiosmtpd) on a loopback port, keeping
// what it receives in a Maildir.
type smtpServer struct {
	port    int
	maildir string
	tls     *tls.Config // trusts the server's certificate; nil without TLS
}

// python finds an interpreter with aiosmtpd (Debian's python3-aiosmtpd
// is for /usr/bin/python3, which may not be the python3 on PATH).
func python(t *testing.T) string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import aiosmtpd").Run() == nil {
			return p
		}
	}
	t.Skip("aiosmtpd is not installed (apt-get install -y python3-aiosmtpd): skipping the SMTP tests")
	return ""
}

// startSMTP starts the server; with auth, it requires STARTTLS and the
// user "alerts" with password smtpPassword.
func startSMTP(t *testing.T, auth bool) *smtpServer {
	t.Helper()
	py := python(t)
	dir := t.TempDir()
	s := &smtpServer{maildir: filepath.Join(dir, "mail")}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := []string{filepath.Join("testdata", "smtpd.py"), strconv.Itoa(s.port), s.maildir}
	if auth {
		cert, key, pool := selfSigned(t, dir)
		args = append(args, cert, key, "alerts", smtpPassword)
		s.tls = &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	}
	cmd := exec.Command(py, args...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr logBuffer // its traces of refused handshakes are expected
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the SMTP server said:\n%s", stderr.String())
		}
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
		io.Copy(io.Discard, stdout)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the SMTP server did not start")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the SMTP server did not start in 20s")
	}
	return s
}

const smtpPassword = "smtp-pa55word-xyz"

// selfSigned writes a certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (cert, key string, pool *x509.CertPool) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(priv)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return cert, key, pool
}

// messages reads the Maildir.
func (s *smtpServer) messages(t *testing.T) []*mail.Message {
	t.Helper()
	var out []*mail.Message
	files, _ := filepath.Glob(filepath.Join(s.maildir, "new", "*"))
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(fh)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
		m.Body = strings.NewReader(string(body))
		fh.Close()
		out = append(out, m)
	}
	return out
}

func (s *smtpServer) config(auth bool) notify.Config {
	c := notify.Config{Type: "email", Host: "127.0.0.1", Port: s.port, From: "topscript <alerts@example.com>", To: []string{"ops@example.com", "值班 <oncall@example.com>"}}
	if auth {
		c.Username, c.Password = "alerts", smtpPassword
	} else {
		c.TLS = notify.NoTLS
	}
	return c
}

func checkMail(t *testing.T, m *mail.Message, e notify.Event) {
	t.Helper()
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil || subject != e.Title() {
		t.Errorf("subject %q (%v), want %q", subject, err, e.Title())
	}
	body, _ := io.ReadAll(m.Body)
	for _, want := range []string{e.Summary, "shop: 旗舰店", "time: 2024-06-01 10:00:00"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body does not say %q:\n%s", want, body)
		}
	}
	if m.Header.Get("X-Topscript-Kind") != string(e.Kind) || !strings.Contains(m.Header.Get("From"), "alerts@example.com") {
		t.Errorf("headers %v", m.Header)
	}
}

// Plain SMTP, as `python3 -m aiosmtpd -n -l 127.0.0.1:PORT` serves it.
func TestEmailPlain(t *testing.T) {
	srv := startSMTP(t, false)
	cfg := srv.config(false)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e := jobFailed(7)
	if err := cfg.Target(1, nil, nil).Sender.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	checkMail(t, msgs[0], e)
}

// STARTTLS and authentication; a wrong password fails without showing it;
// a server without STARTTLS is refused when STARTTLS is asked for.
func TestEmailStartTLSAuth(t *testing.T) {
	srv := startSMTP(t, true)
	cfg := srv.config(true)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e := jobFailed(8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cfg.Target(1, nil, srv.tls).Sender.Send(ctx, e); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	checkMail(t, msgs[0], e)

	bad := cfg
	bad.Password = "wrong-pa55word-abc"
	var logs logBuffer
	d := notify.New([]notify.Target{bad.Target(1, nil, srv.tls)}, notify.Options{Logger: logs.logger()})
	d.Notify(e)
	d.Close()
	s := d.Stats()["email 1"]
	if s.Failed != 1 || !strings.Contains(s.LastError, "authenticating as alerts") || strings.Contains(s.LastError+logs.String(), "wrong-pa55word") {
		t.Errorf("wrong password: %+v\n%s", s, logs.String())
	}

	// Untrusted certificate: refused.
	if err := cfg.Target(1, nil, &tls.Config{ServerName: "127.0.0.1"}).Sender.Send(ctx, e); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("untrusted certificate: %v", err)
	}
	plain := startSMTP(t, false)
	want := plain.config(false)
	want.TLS = ""
	if err := want.Target(1, nil, nil).Sender.Send(ctx, e); err == nil || !strings.Contains(err.Error(), "does not offer STARTTLS") {
		t.Errorf("no STARTTLS: %v", err)
	}
}

// A failing run's alert: one DingTalk call with a valid signature and one
// email.
func TestOneAlertTwoTargets(t *testing.T) {
	robot := newDingTalkRobot(t, dingSecret)
	srv := startSMTP(t, true)
	mailCfg := srv.config(true)
	d := notify.New([]notify.Target{
		(&notify.Config{Name: "group", Type: "dingtalk", URL: robot.url(), Secret: dingSecret}).Target(1, nil, nil),
		mailCfg.Target(2, nil, srv.tls),
	}, notify.Options{})
	e := jobFailed(9)
	d.Notify(e)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(robot.received()); n != 1 {
		t.Errorf("%d DingTalk calls, want 1", n)
	}
	msgs := srv.messages(t)
	if len(msgs) != 1 {
		t.Fatalf("%d emails, want 1 (stats %+v)", len(msgs), d.Stats())
	}
	checkMail(t, msgs[0], e)
}
