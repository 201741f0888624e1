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
	cmd     *exec.Cmd
}

// Python is the interpreter that has Debian's aiosmtpd.
const Python = "/usr/bin/python3"

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if out, err := exec.Command(Python, "-c", "import aiosmtpd").CombinedOutput(); err != nil {
		t.Fatalf("Debian's python3-aiosmtpd is needed for the SMTP tests (scripts/test.sh installs it): %v %s", err, out)
	}
	dir := t.TempDir()
	s := &Server{Spool: filepath.Join(dir, "spool")}
	os.MkdirAll(s.Spool, 0o700)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	s.RootCAs = writeCert(t, certFile, keyFile, opts.CertHost)
	s.CAFile = certFile
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
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
	s.cmd = exec.Command(Python, args...)
	stdout, _ := s.cmd.StdoutPipe()
	logf, err := os.Create(filepath.Join(dir, "smtpd.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- strings.TrimSpace(line) == "ready"
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the SMTP test server did not start")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the SMTP test server did not start within 20 s")
	}
	return s
}

func script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "smtpd.py")
}

// writeCert makes a self-signed certificate and returns a pool holding it.
func writeCert(t testing.TB, certFile, keyFile, host string) *x509.CertPool {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
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
	files, _ := filepath.Glob(filepath.Join(s.Spool, "*.json"))
	sort.Strings(files)
	var out []Message
	for _, f := range files {
		var m Message
		data, err := os.ReadFile(f)
		if err != nil || json.Unmarshal(data, &m) != nil {
			t.Fatalf("%s: %v", f, err)
		}
		m.Data, _ = os.ReadFile(strings.TrimSuffix(f, ".json") + ".eml")
		out = append(out, m)
	}
	return out
}
