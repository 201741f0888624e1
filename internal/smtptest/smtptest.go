// Package smtptest starts a real SMTP server that is not mailseal's own —
// Debian's python3-aiosmtpd (smtpd.py beside this file) — on loopback for
// tests: STARTTLS or implicit TLS with a throwaway certificate, optional
// AUTH, scripted 451/550 answers. It saves what it accepts.
package smtptest

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Options configure the server.
type Options struct {
	Mode      string // "starttls" (default), "implicit" or "plain"
	Auth      string // "user:password" to require AUTH
	FailFirst int    // answer 451 to the first N DATA commands
	Reject    bool   // answer 550 to every DATA
	// DropAnswer: take the first N messages (they are saved) and close
	// the connection without answering the end of their data.
	DropAnswer int
	// CertHost is the name the certificate is issued for (default
	// 127.0.0.1 and localhost); another name makes verification fail.
	CertHost string
}

// Server is a running test server.
type Server struct {
	Addr    string // 127.0.0.1:PORT
	Spool   string // where accepted messages are saved
	CAFile  string // PEM of the certificate, to trust it
	RootCAs *x509.CertPool
	dir     string
	cmd     *exec.Cmd
	stdin   io.Closer // the server runs until it is closed
}

// Python is the interpreter that has Debian's aiosmtpd.
const Python = "/usr/bin/python3"

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Run(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Run starts a server outside a test (a runnable example has none); Stop
// ends it and removes its files. The server also ends when this process
// does: it serves until its stdin, held here, is closed.
func Run(opts Options) (*Server, error) {
	if out, err := exec.Command(Python, "-c", "import aiosmtpd").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("Debian's python3-aiosmtpd is needed for the SMTP tests (scripts/test.sh installs it): %v %s", err, out)
	}
	dir, err := os.MkdirTemp("", "smtptest")
	if err != nil {
		return nil, err
	}
	s := &Server{Spool: filepath.Join(dir, "spool"), dir: dir}
	if err := s.start(opts); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(opts Options) error {
	if err := os.MkdirAll(s.Spool, 0o700); err != nil {
		return err
	}
	certFile, keyFile := filepath.Join(s.dir, "cert.pem"), filepath.Join(s.dir, "key.pem")
	pool, err := writeCert(certFile, keyFile, opts.CertHost)
	if err != nil {
		return err
	}
	s.RootCAs, s.CAFile = pool, certFile
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	mode := opts.Mode
	if mode == "" {
		mode = "starttls"
	}
	args := []string{script(), "--port", strconv.Itoa(port), "--mode", mode, "--cert", certFile, "--key", keyFile, "--spool", s.Spool}
	if opts.Auth != "" {
		args = append(args, "--auth", opts.Auth)
	}
	if opts.FailFirst > 0 {
		args = append(args, "--fail-first", strconv.Itoa(opts.FailFirst))
	}
	if opts.Reject {
		args = append(args, "--reject")
	}
	if opts.DropAnswer > 0 {
		args = append(args, "--drop-answer", strconv.Itoa(opts.DropAnswer))
	}
	cmd := exec.Command(Python, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(s.dir, "smtpd.log"))
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
	}()
	select {
	case ok := <-ready:
		if !ok {
			log, _ := os.ReadFile(filepath.Join(s.dir, "smtpd.log"))
			return fmt.Errorf("the SMTP test server did not start: %s", log)
		}
	case <-time.After(20 * time.Second):
		return fmt.Errorf("the SMTP test server did not start within 20 s")
	}
	return nil
}

// Stop ends the server and removes its files (what it accepted too).
func (s *Server) Stop() {
	if s.stdin != nil {
		s.stdin.Close()
	}
	if s.cmd != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	os.RemoveAll(s.dir)
}

func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "smtpd.py")
}

// writeCert makes a self-signed certificate and returns a pool holding it.
func writeCert(certFile, keyFile, host string) (*x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "smtptest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	if host == "" {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool, nil
}

// Message is one accepted message.
type Message struct {
	From string   `json:"from"`
	To   []string `json:"to"`
	TLS  bool     `json:"tls"`
	Auth any      `json:"auth"`
	Data []byte   `json:"-"`
}

// Messages returns what the server accepted, in order.
func (s *Server) Messages(t testing.TB) []Message {
	t.Helper()
	out, err := s.Received()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Received returns what the server accepted, in order (Messages for
// code without a test).
func (s *Server) Received() ([]Message, error) {
	files, err := filepath.Glob(filepath.Join(s.Spool, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Message
	for _, f := range files {
		var m Message
		data, err := os.ReadFile(f)
		if err == nil {
			err = json.Unmarshal(data, &m)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		m.Data, _ = os.ReadFile(strings.TrimSuffix(f, ".json") + ".eml")
		out = append(out, m)
	}
	return out, nil
}
