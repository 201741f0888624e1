package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
)

// opensslPKI is a CA and two leaves made by openssl, the peer whose files
// users bring to mailseal.
type opensslPKI struct {
	t   *testing.T
	dir string
}

func newOpenSSLPKI(t *testing.T) *opensslPKI {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed for the X.509 keystore tests (scripts/test.sh installs it)")
	}
	p := &opensslPKI{t: t, dir: t.TempDir()}
	p.run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p.path("ca.key"), "-out", p.path("ca.pem"),
		"-subj", "/CN=OpenSSL Test CA", "-days", "30",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	for _, name := range []string{"carol", "dave"} {
		p.run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p.path(name+".key"),
			"-out", p.path(name+".csr"), "-subj", "/CN="+name)
		p.sign(name+".csr", name+".pem", name+"@example.org")
	}
	return p
}

func (p *opensslPKI) path(name string) string { return filepath.Join(p.dir, name) }

func (p *opensslPKI) run(args ...string) []byte {
	p.t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// sign issues a certificate for a CSR with the CA.
func (p *opensslPKI) sign(csr, out, email string) {
	p.t.Helper()
	ext := p.path(out + ".ext")
	os.WriteFile(ext, []byte("subjectAltName=email:"+email+"\nkeyUsage=critical,digitalSignature,keyAgreement,keyEncipherment\nextendedKeyUsage=emailProtection\n"), 0o600)
	p.run("x509", "-req", "-in", p.path(csr), "-CA", p.path("ca.pem"), "-CAkey", p.path("ca.key"),
		"-CAcreateserial", "-days", "10", "-extfile", ext, "-out", p.path(out))
}

func (p *opensslPKI) read(name string) []byte {
	p.t.Helper()
	data, err := os.ReadFile(p.path(name))
	if err != nil {
		p.t.Fatal(err)
	}
	return data
}

func constPass(s string) PassphraseFunc {
	return func(string) ([]byte, error) { return []byte(s), nil }
}

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "home"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestImportX509Formats(t *testing.T) {
	p := newOpenSSLPKI(t)
	// A PEM file with a chain, a DER certificate, .p7b bundles in PEM and DER.
	os.WriteFile(p.path("chain.pem"), append(p.read("carol.pem"), p.read("ca.pem")...), 0o600)
	p.run("x509", "-in", p.path("dave.pem"), "-outform", "DER", "-out", p.path("dave.der"))
	p.run("crl2pkcs7", "-nocrl", "-certfile", p.path("chain.pem"), "-out", p.path("bundle.p7b"))
	p.run("crl2pkcs7", "-nocrl", "-certfile", p.path("dave.pem"), "-outform", "DER", "-out", p.path("bundle-der.p7c"))
	for _, tc := range []struct {
		file  string
		certs int
	}{{"chain.pem", 2}, {"dave.der", 1}, {"bundle.p7b", 2}, {"bundle-der.p7c", 1}} {
		s := newTestStore(t)
		res, err := s.ImportX509(p.read(tc.file), nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		all, _ := s.AllX509Certs()
		if len(res) != tc.certs || len(all) != tc.certs {
			t.Fatalf("%s: %d results, %d stored, want %d", tc.file, len(res), len(all), tc.certs)
		}
		// Importing again changes nothing.
		if _, err := s.ImportX509(p.read(tc.file), nil, nil); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.AllX509Certs(); len(again) != tc.certs {
			t.Fatalf("%s: re-import stored %d", tc.file, len(again))
		}
	}
}

func TestImportPKCS12(t *testing.T) {
	p := newOpenSSLPKI(t)
	p.run("pkcs12", "-export", "-in", p.path("carol.pem"), "-inkey", p.path("carol.key"), "-certfile", p.path("ca.pem"),
		"-passout", "pass:p12pass", "-out", p.path("modern.p12"))
	p.run("pkcs12", "-export", "-legacy", "-in", p.path("carol.pem"), "-inkey", p.path("carol.key"),
		"-passout", "pass:p12pass", "-out", p.path("legacy.p12"))
	if info := string(p.run("pkcs12", "-info", "-noout", "-legacy", "-in", p.path("legacy.p12"), "-passin", "pass:p12pass")); !strings.Contains(info, "RC2") && !strings.Contains(info, "3DES") {
		t.Fatalf("the legacy file is not legacy:\n%s", info)
	}
	nss, _ := os.ReadFile(filepath.Join("testdata", "x509", "Fran.p12"))
	nssEC, _ := os.ReadFile(filepath.Join("testdata", "x509", "Fran-ec.p12"))
	for _, tc := range []struct {
		name, pass string
		data       []byte
	}{
		{"openssl 3 default (AES-256-CBC, PBKDF2)", "p12pass", p.read("modern.p12")},
		{"openssl -legacy (RC2-40, 3DES, SHA-1 MAC)", "p12pass", p.read("legacy.p12")},
		{"NSS RSA", "nss", nss},
		{"NSS EC P-384", "nss", nssEC},
	} {
		s := newTestStore(t)
		if _, err := s.ImportX509(tc.data, constPass("wrong"), []byte("store-pass")); !errors.Is(err, core.ErrLocked) {
			t.Fatalf("%s: wrong password: %v", tc.name, err)
		}
		if _, err := s.ImportX509(tc.data, nil, []byte("store-pass")); !errors.Is(err, core.ErrLocked) {
			t.Fatalf("%s: no password: %v", tc.name, err)
		}
		res, err := s.ImportX509(tc.data, constPass(tc.pass), []byte("store-pass"))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var leaf string
		for _, r := range res {
			if r.Secret {
				leaf = r.Fingerprint
			}
		}
		if leaf == "" {
			t.Fatalf("%s: no private key imported: %+v", tc.name, res)
		}
		// The key is stored encrypted: it needs the store passphrase.
		if _, _, _, err := s.X509Identity(leaf, nil); !errors.Is(err, core.ErrLocked) {
			t.Fatalf("%s: key usable without a passphrase: %v", tc.name, err)
		}
		if _, _, _, err := s.X509Identity(leaf, constPass("nope")); !errors.Is(err, core.ErrLocked) {
			t.Fatalf("%s: wrong store passphrase: %v", tc.name, err)
		}
		cert, key, _, err := s.X509Identity(leaf, constPass("store-pass"))
		if err != nil || key == nil || !publicKeyMatches(key, cert.PublicKey) {
			t.Fatalf("%s: identity: %v", tc.name, err)
		}
		assertPrivateFiles(t, s)
	}
}

// assertPrivateFiles checks that key files are 0600 and hold no
// unencrypted private key.
func assertPrivateFiles(t *testing.T, s *Store) {
	t.Helper()
	entries, _ := os.ReadDir(s.x509KeyDir())
	for _, e := range entries {
		path := filepath.Join(s.x509KeyDir(), e.Name())
		st, _ := os.Stat(path)
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: mode %v", e.Name(), st.Mode().Perm())
		}
		data, _ := os.ReadFile(path)
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Fatalf("%s holds a PEM private key", e.Name())
		}
	}
}

func TestImportCRL(t *testing.T) {
	p := newOpenSSLPKI(t)
	os.WriteFile(p.path("ca.cnf"), []byte("[ca]\ndefault_ca=d\n[d]\ndatabase="+p.path("index.txt")+
		"\ncrlnumber="+p.path("crlnumber")+"\ndefault_md=sha256\ndefault_crl_days=7\n"), 0o600)
	os.WriteFile(p.path("index.txt"), nil, 0o600)
	os.WriteFile(p.path("crlnumber"), []byte("01\n"), 0o600)
	p.run("ca", "-config", p.path("ca.cnf"), "-keyfile", p.path("ca.key"), "-cert", p.path("ca.pem"), "-revoke", p.path("dave.pem"))
	p.run("ca", "-config", p.path("ca.cnf"), "-keyfile", p.path("ca.key"), "-cert", p.path("ca.pem"), "-gencrl", "-out", p.path("ca.crl"))
	p.run("crl", "-in", p.path("ca.crl"), "-outform", "DER", "-out", p.path("ca.crl.der"))
	for _, f := range []string{"ca.crl", "ca.crl.der"} {
		s := newTestStore(t)
		if _, err := s.ImportX509(p.read("ca.pem"), nil, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportX509(p.read(f), nil, nil); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crls, err := s.CRLs()
		if err != nil || len(crls) != 1 || len(crls[0].RevokedCertificateEntries) != 1 {
			t.Fatalf("%s: %v %d", f, err, len(crls))
		}
	}
	// A CRL whose signature does not verify is refused: exit 2, saying so
	// (it is readable, so not "unreadable input").
	bad := p.read("ca.crl.der")
	bad[len(bad)-1] ^= 1
	s := newTestStore(t)
	if _, err := s.ImportX509(p.read("ca.pem"), nil, nil); err != nil {
		t.Fatal(err)
	}
	_, err := s.ImportX509(bad, nil, nil)
	if !errors.Is(err, core.ErrInput) || core.ExitCode(err) != core.ExitUsage ||
		!strings.HasSuffix(err.Error(), "does not verify against its issuer's certificate; it is not imported") {
		t.Fatalf("tampered CRL: %v", err)
	}
}

func TestGenerateCAAndLeaf(t *testing.T) {
	s := newTestStore(t)
	pass := []byte("ca-pass")
	ca, err := s.GenerateCA(X509Options{Name: "Mailseal Test CA", Passphrase: pass})
	if err != nil {
		t.Fatal(err)
	}
	// Without a passphrase for the new key or for the PKCS#12 file: exit
	// 3, in words that say what is missing (no key is locked).
	if _, err := s.GenerateCA(X509Options{Name: "No Passphrase CA"}); !errors.Is(err, core.ErrLocked) || core.ExitCode(err) != core.ExitKey ||
		err.Error() != "keystore: x509: generate: a passphrase to protect the new key is needed (or NoPassphrase)" {
		t.Fatalf("generate without a passphrase: %v", err)
	}
	open, err := s.GenerateCA(X509Options{Name: "Open CA", NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ExportX509(io.Discard, open.Fingerprint, "p12", true, nil); !errors.Is(err, core.ErrLocked) || core.ExitCode(err) != core.ExitKey ||
		err.Error() != "keystore: x509: exporting a private key needs a passphrase to protect the PKCS#12 file" {
		t.Fatalf("PKCS#12 export without a passphrase: %v", err)
	}
	for _, algo := range []string{"ecdsa-p256", "rsa3072", "ed25519"} {
		info, err := s.GenerateX509(X509Options{Email: algo + "@example.org", Algo: algo, Issuer: ca.Fingerprint,
			Passphrase: pass, IssuerPassphrase: constPass("ca-pass")})
		if err != nil {
			t.Fatalf("%s: %v", algo, err)
		}
		if info.CA || info.Emails[0] != algo+"@example.org" || info.Algorithm == "" {
			t.Fatalf("%s: %+v", algo, info)
		}
		dir := t.TempDir()
		var leafPEM, caPEM bytes.Buffer
		if err := s.ExportX509(&leafPEM, info.Fingerprint, "pem", false, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.ExportX509(&caPEM, ca.Fingerprint, "pem", false, nil); err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(leafPEM.Bytes(), []byte("PRIVATE")) {
			t.Fatal("a PEM export holds a private key")
		}
		os.WriteFile(filepath.Join(dir, "leaf.pem"), leafPEM.Bytes(), 0o600)
		os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM.Bytes(), 0o600)
		out, err := exec.Command("openssl", "verify", "-purpose", "smimesign", "-CAfile", filepath.Join(dir, "ca.pem"), filepath.Join(dir, "leaf.pem")).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: openssl verify: %v\n%s", algo, err, out)
		}
		// And crypto/x509 with the emailProtection EKU.
		block, _ := pem.Decode(leafPEM.Bytes())
		leaf, _ := x509.ParseCertificate(block.Bytes)
		cab, _ := pem.Decode(caPEM.Bytes())
		root, _ := x509.ParseCertificate(cab.Bytes)
		roots := x509.NewCertPool()
		roots.AddCert(root)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}); err != nil {
			t.Fatalf("%s: crypto/x509: %v", algo, err)
		}
		// PKCS#12 export: openssl reads it with the passphrase.
		var p12 bytes.Buffer
		if err := s.ExportX509(&p12, info.Fingerprint, "p12", true, constPass("ca-pass")); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "out.p12"), p12.Bytes(), 0o600)
		out, err = exec.Command("openssl", "pkcs12", "-info", "-nodes", "-in", filepath.Join(dir, "out.p12"), "-passin", "pass:ca-pass").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "PRIVATE KEY") {
			t.Fatalf("%s: openssl pkcs12: %v\n%s", algo, err, out)
		}
		if err := s.ExportX509(&p12, info.Fingerprint, "pem", true, constPass("ca-pass")); !errors.Is(err, core.ErrUsage) {
			t.Fatalf("secret PEM export: %v", err)
		}
	}
	// A wrong issuer passphrase: locked.
	if _, err := s.GenerateX509(X509Options{Email: "x@example.org", Issuer: ca.Fingerprint, Passphrase: pass, IssuerPassphrase: constPass("bad")}); !errors.Is(err, core.ErrLocked) {
		t.Fatalf("wrong issuer passphrase: %v", err)
	}
	assertPrivateFiles(t, s)
}

func TestRequestThenImportIssued(t *testing.T) {
	p := newOpenSSLPKI(t)
	s := newTestStore(t)
	csr, err := s.Request(X509Options{Email: "erin@example.org", Name: "Erin", Passphrase: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(p.path("erin.csr"), csr, 0o600)
	p.run("req", "-verify", "-noout", "-in", p.path("erin.csr"))
	p.sign("erin.csr", "erin.pem", "erin@example.org")
	res, err := s.ImportX509(p.read("erin.pem"), nil, nil)
	if err != nil || len(res) != 1 {
		t.Fatalf("%v %+v", err, res)
	}
	cert, key, _, err := s.X509Identity(res[0].Fingerprint, constPass("pw"))
	if err != nil || !publicKeyMatches(key, cert.PublicKey) {
		t.Fatalf("the issued certificate does not pair with the requested key: %v", err)
	}
	infos, _ := s.ListX509("erin@example.org")
	if len(infos) != 1 || !infos[0].HasSecret || !infos[0].Protected {
		t.Fatalf("%+v", infos)
	}
}

func TestTrustQueriesAndDelete(t *testing.T) {
	p := newOpenSSLPKI(t)
	s := newTestStore(t)
	for _, f := range []string{"ca.pem", "carol.pem", "dave.pem"} {
		if _, err := s.ImportX509(p.read(f), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if anchors, _ := s.TrustAnchors(); len(anchors) != 0 {
		t.Fatal("imported certificates became trust anchors")
	}
	if _, err := s.Trust("OpenSSL Test CA"); err != nil {
		t.Fatal(err)
	}
	anchors, _ := s.TrustAnchors()
	inter, _ := s.Intermediates()
	// carol's and dave's certificates may sign neither certificates nor
	// CRLs: no path goes through them.
	if len(anchors) != 1 || len(inter) != 0 {
		t.Fatalf("anchors %d, intermediates %d", len(anchors), len(inter))
	}
	// Queries: email, fingerprint with colons, subject substring; ambiguity.
	carol, err := s.FindOneX509("carol@EXAMPLE.org")
	if err != nil {
		t.Fatal(err)
	}
	fpr := CertFingerprint(carol)
	var colons []string
	for i := 0; i < len(fpr); i += 2 {
		colons = append(colons, fpr[i:i+2])
	}
	if c, err := s.FindOneX509(strings.ToLower(strings.Join(colons, ":"))); err != nil || CertFingerprint(c) != fpr {
		t.Fatalf("fingerprint with colons: %v", err)
	}
	if _, err := s.FindOneX509("example.org"); !errors.Is(err, core.ErrUsage) || !strings.Contains(err.Error(), fpr) {
		t.Fatalf("ambiguous query: %v", err)
	}
	if _, err := s.FindOneX509("nobody@example.org"); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("no match: %v", err)
	}
	if _, err := s.Untrust("OpenSSL Test CA"); err != nil {
		t.Fatal(err)
	}
	if anchors, _ := s.TrustAnchors(); len(anchors) != 0 {
		t.Fatal("untrust kept the anchor")
	}
	if err := s.DeleteX509("carol@example.org", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindOneX509("carol@example.org"); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("deleted certificate still found: %v", err)
	}
}

func TestConcurrentX509Imports(t *testing.T) {
	p := newOpenSSLPKI(t)
	s := newTestStore(t)
	var files []string
	for i := 0; i < 8; i++ {
		name := string(rune('a'+i)) + "-user"
		p.run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p.path(name+".key"),
			"-out", p.path(name+".csr"), "-subj", "/CN="+name)
		p.sign(name+".csr", name+".pem", name+"@example.org")
		files = append(files, name+".pem")
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(files))
	for _, f := range files {
		wg.Add(1)
		go func(data []byte) {
			defer wg.Done()
			// Each goroutine opens the store itself, as separate processes would.
			st, err := Open(s.dir)
			if err == nil {
				_, err = st.ImportX509(data, nil, nil)
			}
			errs <- err
		}(p.read(f))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if all, _ := s.AllX509Certs(); len(all) != len(files) {
		t.Fatalf("%d certificates stored, want %d", len(all), len(files))
	}
}

// The keys that decrypt S/MIME are those of a person's certificates: an
// end-entity certificate, or a self-signed certificate that names an
// address although it says CA:TRUE (`openssl req -x509`); not the key of
// a CA that issues others. The same certificates are found for the
// address (to encrypt to, to sign with).
func TestDecryptionIdentities(t *testing.T) {
	s := newTestStore(t)
	ca, err := s.GenerateCA(X509Options{Name: "Issuing CA", NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := s.GenerateX509(X509Options{Email: "leaf@example.org", Issuer: ca.Fingerprint, NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	p := &opensslPKI{t: t, dir: t.TempDir()}
	p.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p.path("self.key"),
		"-out", p.path("self.pem"), "-subj", "/CN=Self", "-days", "30", "-addext", "subjectAltName=email:self@example.org")
	cert, _ := os.ReadFile(p.path("self.pem"))
	key, _ := os.ReadFile(p.path("self.key"))
	res, err := s.ImportX509(append(cert, key...), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	self := res[0].Fingerprint
	if info, _ := s.ListX509(self); !info[0].CA || !info[0].SelfSigned || !info[0].HasSecret {
		t.Fatalf("openssl's certificate: %+v", info[0])
	}

	ids, err := s.Session(SessionOptions{}).Keys().SMIMEIdentities()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, id := range ids {
		got = append(got, CertFingerprint(id.Cert))
	}
	slices.Sort(got)
	want := []string{leaf.Fingerprint, self}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("decryption identities %v, want the leaf and the self-signed certificate %v (not the CA %s)", got, want, ca.Fingerprint)
	}
	for addr, fpr := range map[string]string{"self@example.org": self, "leaf@example.org": leaf.Fingerprint} {
		certs, err := s.X509SecretsForEmail(addr)
		if err != nil || len(certs) != 1 || CertFingerprint(certs[0]) != fpr {
			t.Fatalf("%s: %d certificates, %v", addr, len(certs), err)
		}
	}
}

// PKCS#12 files as others write them import: NIST's (RC2-40 and 3DES
// bags), one in BER with indefinite lengths and segmented strings as
// Windows and Java write them (it was taken for PKCS#7 before), and a
// certificate-only file; the key with its certificate (issue 14 class 9).
func TestImportPKCS12AsOthersWriteIt(t *testing.T) {
	p := &opensslPKI{t: t, dir: t.TempDir()}
	p.run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p.path("k.pem"),
		"-out", p.path("c.pem"), "-subj", "/CN=Only", "-days", "2")
	p.run("pkcs12", "-export", "-nokeys", "-in", p.path("c.pem"), "-passout", "pass:pw", "-out", p.path("certs-only.p12"))
	for _, c := range []struct {
		file, password string
		certs          int
		secret         bool
	}{
		{filepath.Join("..", "internal", "pkcs12", "testdata", "pkits-GoodCACert.p12"), "password", 1, true},
		{filepath.Join("..", "internal", "pkcs12", "testdata", "pkits-ber.p12"), "password", 1, true},
		{filepath.Join("..", "internal", "pkcs12", "testdata", "nss-Fran-ec.p12"), "nss", 1, true},
		{p.path("certs-only.p12"), "pw", 1, false},
	} {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			s := newTestStore(t)
			data, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			if !LooksLikeX509(data) {
				t.Fatal("not taken for X.509 material")
			}
			res, err := s.ImportX509(data, constPass(c.password), []byte("protect"))
			if err != nil {
				t.Fatal(err)
			}
			secrets := 0
			for _, r := range res {
				if r.Secret {
					secrets++
				}
			}
			if len(res) != c.certs || (secrets == 1) != c.secret {
				t.Fatalf("%d certificates, %d keys: %+v", len(res), secrets, res)
			}
		})
	}
}

// TestX509ParsedKept: a Store parses each stored certificate once and
// keeps it while its file is unchanged; a file rewritten in place, added
// or removed is seen at the next read.
func TestX509ParsedKept(t *testing.T) {
	// The files are a moment old: kept at once.
	defer func(d time.Duration) { keyIndexSettle = d }(keyIndexSettle)
	keyIndexSettle = 0
	s := newStore(t)
	first, _, _, _ := selfSignedKey(t)
	second, _, _, secondCert := selfSignedKey(t)
	if _, err := s.ImportX509(first, nil, nil); err != nil {
		t.Fatal(err)
	}
	all := func() []*x509.Certificate {
		t.Helper()
		certs, err := s.AllX509Certs()
		if err != nil {
			t.Fatal(err)
		}
		return certs
	}
	a, b := all(), all()
	if len(a) != 1 || len(b) != 1 || a[0] != b[0] {
		t.Fatalf("an unchanged certificate was parsed again (or not found): %v %v", a, b)
	}
	// Rewritten in place (the name is the first certificate's hash; only
	// the file's tag says it changed).
	path := s.x509CertPath(CertFingerprint(a[0]))
	if err := os.WriteFile(path, second, 0o644); err != nil {
		t.Fatal(err)
	}
	if c := all(); len(c) != 1 || !c[0].Equal(secondCert) {
		t.Fatalf("a certificate rewritten in place reads as before")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if c := all(); len(c) != 0 {
		t.Fatalf("a removed certificate is still read: %d", len(c))
	}
	if _, err := s.ImportX509(second, nil, nil); err != nil {
		t.Fatal(err)
	}
	if c := all(); len(c) != 1 || !c[0].Equal(secondCert) {
		t.Fatalf("an added certificate is not read")
	}

	// A certificate file that is a link: its target replaced.
	third, _, _, thirdCert := selfSignedKey(t)
	target := filepath.Join(t.TempDir(), "linked.pem")
	if err := os.WriteFile(target, first, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(s.x509CertDir(), "linked.pem")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	if c := all(); len(c) != 2 {
		t.Fatalf("%d certificates with the link", len(c))
	}
	if err := os.WriteFile(target, third, 0o644); err != nil {
		t.Fatal(err)
	}
	if c := all(); len(c) != 2 || !(c[0].Equal(thirdCert) || c[1].Equal(thirdCert)) {
		t.Fatalf("a linked certificate whose target was replaced reads as before")
	}

	// Unsettled files are read again each time.
	keyIndexSettle = time.Hour
	if a, b := all(), all(); a[0] == b[0] {
		t.Fatal("a certificate written a moment ago was kept")
	}
}
