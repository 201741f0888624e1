package locate

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
	"github.com/miekg/dns"
)

// testNet is a loopback Internet: one HTTPS server (a test CA's
// certificate for every name in hosts) reached by a dialer that maps those
// names to it, and a DNS server (miekg/dns on loopback UDP) with the
// records the test adds.
type testNet struct {
	t     *testing.T
	srv   *httptest.Server
	roots *x509.CertPool
	mux   *http.ServeMux
	dns   *DNS

	mu      sync.Mutex
	records map[string][]dns.RR // lower-case FQDN -> records
	ad      bool                // set the AD bit on answers
}

var testHosts = []string{"openpgpkey.example.org", "example.org", "direct.example", "keys.example", "evil.example", "openpgpkey.slow.example"}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	n := &testNet{t: t, mux: http.NewServeMux(), records: map[string][]dns.RR{}}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "locate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "locate test server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: testHosts,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	n.roots = x509.NewCertPool()
	n.roots.AddCert(ca)
	n.srv = httptest.NewUnstartedServer(n.mux)
	n.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}}
	n.srv.StartTLS()
	t.Cleanup(n.srv.Close)

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	ds := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(n.serveDNS), NotifyStartedFunc: func() { close(started) }}
	go ds.ActivateAndServe()
	<-started
	t.Cleanup(func() { ds.Shutdown() })
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	started = make(chan struct{})
	ts := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(n.serveDNS), NotifyStartedFunc: func() { close(started) }}
	go ts.ActivateAndServe()
	<-started
	t.Cleanup(func() { ts.Shutdown() })
	n.dns = &DNS{Addr: pc.LocalAddr().String(), Timeout: 2 * time.Second}
	return n
}

func (n *testNet) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	n.mu.Lock()
	defer n.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(req)
	m.AuthenticatedData = n.ad
	q := req.Question[0]
	rrs, ok := n.records[strings.ToLower(q.Name)]
	if !ok {
		m.Rcode = dns.RcodeNameError
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype {
			m.Answer = append(m.Answer, rr)
		}
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := dns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// addRR adds a record in zone-file syntax.
func (n *testNet) addRR(line string) {
	n.t.Helper()
	rr, err := dns.NewRR(line)
	if err != nil {
		n.t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	name := strings.ToLower(rr.Header().Name)
	n.records[name] = append(n.records[name], rr)
}

// dial maps every test host (any port) to the HTTPS server.
func (n *testNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	for _, h := range testHosts {
		if strings.EqualFold(h, host) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", n.srv.Listener.Addr().String())
		}
	}
	return nil, fmt.Errorf("test dialer: %s is not on the test network", host)
}

func (n *testNet) locator() *Locator {
	return &Locator{HTTP: NewHTTPClient(n.dial, n.roots), DNS: n.dns, VKS: "https://keys.example",
		Limits: Limits{Timeout: 3 * time.Second}}
}

// newKey makes an Ed25519 key with a user ID per address.
func newKey(t *testing.T, addrs ...string) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, Time: func() time.Time { return time.Now().Add(-time.Hour) }}
	e, err := openpgp.NewEntity("Test", "", addrs[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs[1:] {
		if err := e.AddUserId("Test", "", a, cfg); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func public(t *testing.T, es ...*openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func armored(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, "PGP PUBLIC KEY BLOCK", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func fpr(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }

// path is the URL path (with query) of u.
func path(u string) string {
	i := strings.Index(u[len("https://"):], "/")
	p := u[len("https://")+i:]
	if j := strings.IndexByte(p, '?'); j >= 0 {
		p = p[:j]
	}
	return p
}

func serve(data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.Write(data) }
}
