package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailseal/mailseal"
)

// A CA made by keys generate --ca has pathLenConstraint 0: a CA
// certificate issued under it cannot issue S/MIME certificates. Mail signed
// by such a certificate is untrusted, the report names the anchor's
// constraint, and openssl refuses the same path (issue 12, item 5).
func TestSMIMEAnchorPathLenConstraint(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed for this test: install openssl (scripts/test.sh does)")
	}
	dir := t.TempDir()
	p := &smimePeers{t: t, dir: dir, home: filepath.Join(dir, "ms"), passFile: filepath.Join(dir, "pass")}
	const pass = "root-pass"
	p.write("pass", []byte(pass+"\n"))

	p.ms(nil, 0, "keys", "generate", "--ca", "--name", "Root CA")
	p.ms(nil, 0, "keys", "trust", "Root CA")
	p.ms(nil, 0, "keys", "export", "--smime", "--secret", "-o", p.path("root.p12"), "Root CA")
	p.openssl("pkcs12", "-in", p.path("root.p12"), "-passin", "pass:"+pass, "-nodes", "-nocerts", "-out", p.path("root.key"))
	p.openssl("pkcs12", "-in", p.path("root.p12"), "-passin", "pass:"+pass, "-nokeys", "-out", p.path("root.pem"))
	if out := p.openssl("x509", "-in", p.path("root.pem"), "-noout", "-ext", "basicConstraints"); !strings.Contains(string(out), "pathlen:0") {
		t.Fatalf("keys generate --ca made no pathlen:0 CA:\n%s", out)
	}

	// Sub CA (CA:TRUE) under the root, and Alice's certificate under it.
	issue := func(name, subj, issuer, ext string) {
		p.openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			"-keyout", p.path(name+".key"), "-out", p.path(name+".csr"), "-subj", subj)
		p.write(name+".ext", []byte(ext+"subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"))
		p.openssl("x509", "-req", "-in", p.path(name+".csr"), "-CA", p.path(issuer+".pem"), "-CAkey", p.path(issuer+".key"),
			"-CAcreateserial", "-days", "30", "-extfile", p.path(name+".ext"), "-out", p.path(name+".pem"))
	}
	issue("sub", "/CN=Sub CA", "root", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n")
	issue("alice", "/CN=Alice", "sub", "subjectAltName=email:alice@example.org\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection\n")
	p.openssl("pkcs12", "-export", "-in", p.path("alice.pem"), "-inkey", p.path("alice.key"), "-certfile", p.path("sub.pem"),
		"-passout", "pass:"+pass, "-out", p.path("alice.p12"))
	p.ms(nil, 0, "keys", "import", p.path("alice.p12"))

	signed, _ := p.ms(smimeMessage("alice@example.org", "bob@example.org"), 0, "sign", "--smime")
	rep := p.verifyJSON(signed, 1, "--no-system-roots")
	const reason = `certificate "CN=Sub CA": path length constraint of trust anchor "CN=Root CA" exceeded (pathLenConstraint 0)`
	if rep.Status == mailseal.StatusGood || len(rep.Signers) != 1 {
		t.Fatalf("report %+v", rep)
	}
	if s := rep.Signers[0]; s.Status != mailseal.SignerUntrusted || s.Valid || !strings.Contains(s.Error, reason) {
		t.Fatalf("signer %+v, want untrusted with %q", s, reason)
	}
	_, text := p.ms(signed, 1, "verify", "--no-system-roots") // the text report is on stderr
	if !strings.Contains(string(text), "status: untrusted") || !strings.Contains(string(text), reason) {
		t.Fatalf("text report lacks the status or the reason %q:\n%s", reason, text)
	}

	// openssl refuses the path for the same reason.
	_, err := p.opensslErr(signed, "cms", "-verify", "-CAfile", p.path("root.pem"), "-purpose", "smimesign", "-out", os.DevNull)
	if err == nil || !strings.Contains(err.Error(), "path length constraint exceeded") {
		t.Fatalf("openssl cms -verify: %v, want a path length error", err)
	}
}
