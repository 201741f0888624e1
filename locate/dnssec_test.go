package locate

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/mailseal/mailseal/internal/dnstest"
)

// TestDANEWithUnbound is the DNSSEC proof with real components: a zone
// signed by ldns-signzone (ldnsutils), served on loopback by an
// authoritative server in this test, and Debian's unbound as the
// validating resolver the user names (--resolver), with the zone's key as
// its trust anchor. A signed OPENPGPKEY answer comes with the AD bit, so
// the key found is recorded as DNSSEC-validated; a record changed after
// signing is SERVFAIL at unbound, so nothing is found; the same answers
// straight from the authoritative server (no validation) carry no AD bit.
func TestDANEWithUnbound(t *testing.T) {
	for _, tool := range []string{"unbound", "ldns-keygen", "ldns-signzone"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed for the DNSSEC test: install Debian's unbound and ldnsutils (scripts/test.sh does)", tool)
		}
	}
	dir := t.TempDir()
	hugh := newKey(t, "hugh@example.org")
	ivan := newKey(t, "ivan@example.org")
	mallory := newKey(t, "ivan@example.org")
	hughRR, err := OPENPGPKEYRecord("hugh@example.org", public(t, hugh))
	if err != nil {
		t.Fatal(err)
	}
	ivanRR, _ := OPENPGPKEYRecord("ivan@example.org", public(t, ivan))
	samCert := selfSignedEE(t, "sam@example.org")
	samRR, err := SMIMEARecordLine("sam@example.org", samCert) // usage 3: DANE-EE
	if err != nil {
		t.Fatal(err)
	}
	zone := "$ORIGIN example.org.\n$TTL 300\n" +
		"@ IN SOA ns.example.org. hostmaster.example.org. 1 3600 600 86400 300\n" +
		"@ IN NS ns.example.org.\n" +
		"ns IN A 127.0.0.1\n" +
		hughRR + "\n" + ivanRR + "\n" + samRR + "\n"
	zoneFile := filepath.Join(dir, "example.org.zone")
	if err := os.WriteFile(zoneFile, []byte(zone), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	ksk := run("ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "example.org")
	zsk := run("ldns-keygen", "-a", "ECDSAP256SHA256", "example.org")
	run("ldns-signzone", zoneFile, ksk, zsk)
	signed, err := os.ReadFile(zoneFile + ".signed")
	if err != nil {
		t.Fatal(err)
	}
	auth := serveZone(t, string(signed))
	// After signing, ivan's record is replaced by Mallory's key: the
	// signature no longer covers what is served.
	forged, _ := OPENPGPKEYRecord("ivan@example.org", public(t, mallory))
	auth.replace(t, forged)

	ub := startUnbound(t, dir, auth.addr, filepath.Join(dir, ksk+".key"))

	d, err := ResolverAt(ub, true) // as --resolver 127.0.0.1:PORT --resolver-validates
	if err != nil {
		t.Fatal(err)
	}
	d.Timeout = 10 * time.Second
	l := &Locator{DNS: d}
	found, err := l.DANE(context.Background(), "hugh@example.org")
	if err != nil || len(found) != 1 || found[0].Fingerprint != fpr(hugh) || !found[0].DNSSEC {
		t.Fatalf("a signed record through unbound: %+v %v (want the key, DNSSEC validated)", found, err)
	}
	found, err = l.DANE(context.Background(), "ivan@example.org")
	if err == nil || len(found) != 0 || !strings.Contains(err.Error(), "SERVFAIL") {
		t.Fatalf("a record changed after signing, through unbound: %+v %v (want SERVFAIL, nothing found)", found, err)
	}
	// A signed SMIMEA record of usage 3 (DANE-EE) through unbound: the
	// certificate is found, validated.
	found, err = l.SMIMEA(context.Background(), "sam@example.org")
	if err != nil || len(found) != 1 || string(found[0].Key) != string(samCert) || !found[0].DNSSEC || found[0].DANEUsage != UsageDANEEE {
		t.Fatalf("a signed SMIMEA record through unbound: %+v %v (want the certificate, DANE-EE, DNSSEC validated)", found, err)
	}
	// Straight from the authoritative server, nothing validates: no AD.
	direct := &Locator{DNS: &DNS{Addr: auth.addr, Validating: true}}
	found, err = direct.DANE(context.Background(), "hugh@example.org")
	if err != nil || len(found) != 1 || found[0].DNSSEC {
		t.Fatalf("the same record without validation: %+v %v (want the key, not DNSSEC)", found, err)
	}
	// and a DANE-EE record without it is refused.
	if found, err := direct.SMIMEA(context.Background(), "sam@example.org"); err == nil || !strings.Contains(err.Error(), "no validating resolver vouched") {
		t.Fatalf("DANE-EE without validation: %+v %v (want it refused)", found, err)
	}
}

// selfSignedEE is a self-signed P-256 end-entity certificate (DER) for an
// S/MIME address.
func selfSignedEE(t *testing.T, addr string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: addr},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement, EmailAddresses: []string{addr}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// zoneServer is an authoritative server for one signed zone: the records
// of a name and type, with their RRSIGs when the query has the DO bit;
// NXDOMAIN for names the zone does not hold.
type zoneServer struct {
	addr    string
	mu      sync.Mutex
	records map[string][]dns.RR
}

func serveZone(t *testing.T, zone string) *zoneServer {
	t.Helper()
	z := &zoneServer{records: map[string][]dns.RR{}}
	zp := dns.NewZoneParser(strings.NewReader(zone), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		name := strings.ToLower(rr.Header().Name)
		z.records[name] = append(z.records[name], rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	pc, ln, err := dnstest.Listen()
	if err != nil {
		t.Fatal(err)
	}
	z.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(z.serve)
	udp, tcp := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: ln, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return z
}

// replace puts rr in place of the records of its name and type, keeping
// their RRSIG.
func (z *zoneServer) replace(t *testing.T, line string) {
	rr, err := dns.NewRR(line)
	if err != nil {
		t.Fatal(err)
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	name := strings.ToLower(rr.Header().Name)
	var kept []dns.RR
	for _, old := range z.records[name] {
		if old.Header().Rrtype != rr.Header().Rrtype {
			kept = append(kept, old)
		} else {
			rr.Header().Ttl = old.Header().Ttl
		}
	}
	z.records[name] = append(kept, rr)
}

func (z *zoneServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	opt := req.IsEdns0()
	do := opt != nil && opt.Do()
	z.mu.Lock()
	rrs, known := z.records[strings.ToLower(q.Name)]
	for _, rr := range rrs {
		sig, isSig := rr.(*dns.RRSIG)
		if rr.Header().Rrtype == q.Qtype || do && isSig && sig.TypeCovered == q.Qtype {
			m.Answer = append(m.Answer, dns.Copy(rr))
		}
	}
	z.mu.Unlock()
	if !known {
		m.Rcode = dns.RcodeNameError
	}
	if opt != nil {
		m.SetEdns0(4096, do)
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp && opt != nil {
		m.Truncate(int(opt.UDPSize()))
	} else if udp {
		m.Truncate(dns.MinMsgSize)
	}
	w.WriteMsg(m)
}

// startUnbound runs unbound in the foreground on a free loopback port,
// validating the zone example.org (served at auth) with anchor, and
// returns its address once it answers.
func startUnbound(t *testing.T, dir, auth, anchor string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(auth)
	// A port free for UDP and TCP both (unbound listens on both), let go
	// of just before unbound takes it.
	pc, ln, err := dnstest.Listen()
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	ln.Close()
	_, ubPort, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf(`server:
	interface: 127.0.0.1
	port: %s
	do-daemonize: no
	use-syslog: no
	logfile: ""
	username: ""
	chroot: ""
	directory: %q
	pidfile: ""
	do-not-query-localhost: no
	qname-minimisation: no
	module-config: "validator iterator"
	trust-anchor-file: %q
	access-control: 127.0.0.0/8 allow
	val-log-level: 2
	verbosity: 1
stub-zone:
	name: "example.org"
	stub-addr: %s@%s
remote-control:
	control-enable: no
`, ubPort, dir, anchor, host, port)
	confFile := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("unbound-checkconf", confFile).CombinedOutput(); err != nil {
		t.Fatalf("unbound-checkconf: %v\n%s", err, out)
	}
	cmd := exec.Command("unbound", "-d", "-c", confFile)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	var logMu sync.Mutex
	go func() {
		s := bufio.NewScanner(stderr)
		for s.Scan() {
			logMu.Lock()
			log.WriteString(s.Text() + "\n")
			logMu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			logMu.Lock()
			t.Logf("unbound's log:\n%s", log.String())
			logMu.Unlock()
		}
	})
	c := &dns.Client{Timeout: 500 * time.Millisecond}
	q := new(dns.Msg)
	q.SetQuestion("ns.example.org.", dns.TypeSOA)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, _, err := c.Exchange(q, addr); err == nil {
			return addr
		}
	}
	t.Fatal("unbound did not answer within 20 s")
	return ""
}
