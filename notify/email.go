package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// TLS modes of an Email sender.
const (
	StartTLS = "starttls" // plain connection upgraded with STARTTLS, which the server must offer (port 587)
	TLS      = "tls"      // TLS from the start (port 465)
	NoTLS    = "none"     // in the clear; net/smtp then sends a password only to localhost
)

// Email sends alerts as plain-text mail over SMTP (net/smtp), with
// STARTTLS or implicit TLS and PLAIN authentication when a username is
// set.
type Email struct {
	Host     string
	Port     int    // 0: 587, 465 or 25 for the TLS mode
	TLSMode  string // StartTLS (""), TLS or NoTLS
	Username string
	Password string
	From     string   // "topscript <alerts@example.com>"
	To       []string // addresses
	// TLSConfig is used for the TLS handshake; nil means the system's
	// roots with ServerName Host.
	TLSConfig *tls.Config
	// Hello is the name sent in EHLO; "" means "localhost".
	Hello string
}

func (m *Email) mode() string {
	if m.TLSMode == "" {
		return StartTLS
	}
	return m.TLSMode
}

func (m *Email) addr() string {
	port := m.Port
	if port == 0 {
		port = map[string]int{StartTLS: 587, TLS: 465, NoTLS: 25}[m.mode()]
	}
	return net.JoinHostPort(m.Host, strconv.Itoa(port))
}

func (m *Email) tlsConfig() *tls.Config {
	if m.TLSConfig != nil {
		return m.TLSConfig
	}
	return &tls.Config{ServerName: m.Host, MinVersion: tls.VersionTLS12}
}

// Send mails e to every address in To. The whole exchange is bounded by
// ctx.
func (m *Email) Send(ctx context.Context, e Event) error {
	msg, err := m.message(e)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", m.addr())
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	if m.mode() == TLS {
		tc := tls.Client(conn, m.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS with %s: %v", m.addr(), err)
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, m.Host)
	if err != nil {
		return err
	}
	defer c.Close()
	hello := m.Hello
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return err
	}
	if m.mode() == StartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("%s does not offer STARTTLS (tls = %q sends in the clear)", m.addr(), NoTLS)
		}
		if err := c.StartTLS(m.tlsConfig()); err != nil {
			return fmt.Errorf("STARTTLS with %s: %v", m.addr(), err)
		}
	}
	if m.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return fmt.Errorf("%s does not offer AUTH, and a username is set", m.addr())
		}
		if err := c.Auth(smtp.PlainAuth("", m.Username, m.Password, m.Host)); err != nil {
			return fmt.Errorf("authenticating as %s: %v", m.Username, err)
		}
	}
	from, err := mail.ParseAddress(m.From)
	if err != nil {
		return fmt.Errorf("from %q: %v", m.From, err)
	}
	if err := c.Mail(from.Address); err != nil {
		return err
	}
	for _, to := range m.To {
		a, err := mail.ParseAddress(to)
		if err != nil {
			return fmt.Errorf("to %q: %v", to, err)
		}
		if err := c.Rcpt(a.Address); err != nil {
			return fmt.Errorf("recipient %s: %v", a.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(msg); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// message is e as an RFC 5322 message: UTF-8 text, quoted-printable, the
// subject encoded for non-ASCII.
func (m *Email) message(e Event) ([]byte, error) {
	if len(m.To) == 0 {
		return nil, errors.New("no recipients")
	}
	var id [12]byte
	rand.Read(id[:])
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", m.From)
	header("To", strings.Join(m.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", e.Title()))
	date := e.Time
	if date.IsZero() {
		date = time.Now()
	}
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+hex.EncodeToString(id[:])+"@topscript>")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("X-Topscript-Kind", string(e.Kind))
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(e.Text(), "\n", "\r\n") + "\r\n")); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
