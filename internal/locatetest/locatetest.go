// Package locatetest is a loopback Internet for tests of key lookups: an
// HTTPS server with a certificate from a test CA for every host name the
// test names, a dialer that maps those names to it, and a DNS server
// (github.com/miekg/dns on loopback UDP and TCP) answering from records the
// test adds, with the AD bit when the test says so. Nothing reaches the
// network.
package locatetest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/miekg/dns"

	"github.com/mailseal/mailseal/internal/dnstest"
)

// Net is the loopback Internet of one test.
type Net struct {
	Hosts   []string         // the names the HTTPS server has a certificate for
	HTTPS   *httptest.Server // serves Handler for every host
	Roots   *x509.CertPool   // holds the test CA
	CAPEM   []byte           // the test CA certificate, PEM
	DNSAddr string           // the DNS server, "127.0.0.1:PORT" (UDP and TCP)
	Handler http.Handler     // what the HTTPS server serves (set before requests)

	mu      sync.Mutex
	records map[string][]dns.RR // lower-case FQDN -> records
	ad      bool
}

// TB is what New needs of a test: testing.TB, or a test script's
// equivalent.
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

var _ TB = testing.TB(nil)

// New starts the servers; they stop when the test ends. The HTTPS server
// serves n.Handler (a 404 until it is set).
func New(tb TB, hosts ...string) *Net {
	tb.Helper()
	n := &Net{Hosts: hosts, records: map[string][]dns.RR{}}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "locatetest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "locatetest server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), DNSNames: hosts,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	n.Roots = x509.NewCertPool()
	n.Roots.AddCert(ca)
	n.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	n.HTTPS = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Handler == nil {
			http.NotFound(w, r)
			return
		}
		n.Handler.ServeHTTP(w, r)
	}))
	n.HTTPS.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}}
	n.HTTPS.StartTLS()
	tb.Cleanup(n.HTTPS.Close)

	pc, ln, err := dnstest.Listen() // a run failed once on a TCP port already taken
	if err != nil {
		tb.Fatal(err)
	}
	for _, srv := range []*dns.Server{{PacketConn: pc}, {Listener: ln}} {
		started := make(chan struct{})
		srv.Handler = dns.HandlerFunc(n.serveDNS)
		srv.NotifyStartedFunc = func() { close(started) }
		go srv.ActivateAndServe()
		<-started
		tb.Cleanup(func() { srv.Shutdown() })
	}
	n.DNSAddr = pc.LocalAddr().String()
	return n
}

// SetAD says whether DNS answers carry the AD bit.
func (n *Net) SetAD(ad bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ad = ad
}

// AddRR adds a DNS record in zone-file syntax.
func (n *Net) AddRR(line string) error {
	rr, err := dns.NewRR(line)
	if err != nil {
		return err
	}
	if rr == nil {
		return fmt.Errorf("no record in %q", line)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	name := strings.ToLower(rr.Header().Name)
	n.records[name] = append(n.records[name], rr)
	return nil
}

func (n *Net) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
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

// Dial connects to the HTTPS server for every host of n (any port).
func (n *Net) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	for _, h := range n.Hosts {
		if strings.EqualFold(h, host) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", n.HTTPS.Listener.Addr().String())
		}
	}
	return nil, fmt.Errorf("locatetest: %s is not on the test network", host)
}

// StripUserIDs removes the user IDs (and the signatures after them) of a
// binary key, as keys.openpgp.org gives out a key whose addresses are not
// verified.
func StripUserIDs(bin []byte) []byte {
	var out bytes.Buffer
	r := packet.NewOpaqueReader(bytes.NewReader(bin))
	keep := true
	for {
		op, err := r.Next()
		if err != nil {
			break
		}
		switch op.Tag {
		case 13: // user ID
			keep = false
		case 2: // a signature belongs to what precedes it
		default:
			keep = true
		}
		if keep {
			op.Serialize(&out)
		}
	}
	return out.Bytes()
}
