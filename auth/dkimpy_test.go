package auth

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
)

// dkimpyScript signs (sign SELECTOR DOMAIN KEYFILE ALGO CANON) or verifies
// (verify) the message on stdin with Debian's python3-dkim, looking keys
// up at the test DNS server (HOST PORT, the first two arguments).
const dkimpyScript = dkimpyDNS + `msg = sys.stdin.buffer.read()
if sys.argv[3] == "sign":
    sel, dom, keyfile, algo, canon = sys.argv[4:9]
    c = canon.encode()
    sig = dkim.sign(msg, sel.encode(), dom.encode(), open(keyfile, "rb").read(),
        signature_algorithm=algo.encode(), canonicalize=(c, c),
        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    sys.stdout.buffer.write(sig + msg)
else:
    print(dkim.verify(msg, dnsfunc=txt))
`

// dkimpyDNS starts the python3-dkim scripts: dkimpy and dnspython look
// keys up at the test DNS server (HOST PORT, the first two arguments)
// through txt, dkimpy's dnsfunc.
const dkimpyDNS = `import sys, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.port = int(sys.argv[2])
dns.resolver.default_resolver = r
def txt(name, timeout=5):
    try:
        a = r.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
    except dns.resolver.NXDOMAIN:
        return None
    return b"".join(a[0].strings)
`

func dkimpy(t *testing.T, addr string, stdin []byte, args ...string) []byte {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("/usr/bin/python3", append([]string{"-c", dkimpyScript, host, port}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimpy %s: %v: %s", args[0], err, stderr.String())
	}
	return out
}

// TestDKIMInteropDkimpy: dkimpy verifies what SignDKIM (mailseal dkim
// sign) made, and VerifyDKIM passes what dkimpy signed, with RSA and
// Ed25519 in both canonicalizations; a changed body fails in both.
func TestDKIMInteropDkimpy(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import dkim, dns.resolver").Run(); err != nil {
		t.Fatal("python3-dkim is needed: install python3-dkim (scripts/test.sh does)")
	}
	srv, res := testDNS(t)
	dir := t.TempDir()
	for algo, key := range testKeys {
		sel := strings.Split(algo, "-")[0]
		publish(t, srv, sel, "example.org", key)
		// dkimpy's key files: RSAPrivateKey PEM, or an Ed25519 seed in base64.
		var keyFile []byte
		switch k := key.(type) {
		case *rsa.PrivateKey:
			keyFile = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
		case ed25519.PrivateKey:
			keyFile = []byte(base64.StdEncoding.EncodeToString(k.Seed()))
		}
		keyPath := filepath.Join(dir, sel+".key")
		if err := os.WriteFile(keyPath, keyFile, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, canon := range []string{"relaxed", "simple"} {
			t.Run(algo+"/"+canon, func(t *testing.T) {
				signed := sign(t, plainMsg, SignOptions{Domain: "example.org", Selector: sel, Key: key,
					HeaderCanonicalization: canon, BodyCanonicalization: canon})
				if got := strings.TrimSpace(string(dkimpy(t, srv.Addr, []byte(signed), "verify"))); got != "True" {
					t.Errorf("dkimpy does not verify mailseal's signature: %s\n%s", got, signed)
				}
				changed := strings.Replace(signed, "noon", "nine", 1)
				if got := strings.TrimSpace(string(dkimpy(t, srv.Addr, []byte(changed), "verify"))); got != "False" {
					t.Errorf("dkimpy verifies a changed body: %s", got)
				}

				bySigner := string(dkimpy(t, srv.Addr, []byte(plainMsg), "sign", sel, "example.org", keyPath, algo, canon))
				if !strings.Contains(bySigner, "c="+canon+"/"+canon) {
					t.Fatalf("dkimpy signed otherwise:\n%s", bySigner)
				}
				if r := verifyOne(t, res, bySigner); r.Result != core.AuthPass || r.Algorithm != algo {
					t.Errorf("mailseal on dkimpy's signature: %+v", r)
				}
				if r := verifyOne(t, res, strings.Replace(bySigner, "noon", "nine", 1)); r.Result != core.AuthFail {
					t.Errorf("mailseal on dkimpy's signature, body changed: %+v", r)
				}
			})
		}
	}
}
