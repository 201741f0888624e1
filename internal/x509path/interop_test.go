package x509path

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// opensslVerify runs openssl verify -purpose smimesign on the path opts
// describes, at opts.Time; it returns openssl's output and whether it
// accepted the leaf.
func opensslVerify(t *testing.T, leaf *x509.Certificate, opts Options) (string, bool) {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatal("openssl not found: install it (apt-get install openssl); the path validation interop test needs openssl 3")
	}
	dir := t.TempDir()
	write := func(name string, certs ...*x509.Certificate) string {
		var buf bytes.Buffer
		for _, c := range certs {
			pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	args := []string{"verify", "-purpose", "smimesign", "-attime", strconv.FormatInt(opts.Time.Unix(), 10),
		"-CAfile", write("roots.pem", opts.Roots...)}
	if len(opts.Intermediates) > 0 {
		args = append(args, "-untrusted", write("untrusted.pem", opts.Intermediates...))
	}
	args = append(args, write("leaf.pem", leaf))
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err == nil
}

// openssl verify -purpose smimesign and Verify agree on the anchor's
// constraints and on EKU nesting (issue 12, items 5 and 8).
func TestOpenSSLAgreesOnAnchorAndEKU(t *testing.T) {
	ncRoot := func() *x509.Certificate {
		tmpl := caTemplate("Example.org Root")
		tmpl.PermittedEmailAddresses = []string{"example.org"}
		return tmpl
	}
	expired := caTemplate("Old Root")
	expired.NotBefore, expired.NotAfter = testNow.Add(-48*time.Hour), testNow.Add(-time.Hour)
	for _, tc := range []struct {
		name  string
		spec  chainSpec
		ours  string // "" to accept, else a part of our error
		their string // "" to accept, else openssl's error
	}{
		{"good", chainSpec{cas: []*x509.Certificate{caTemplate("Sub CA")}}, "", ""},
		{"anchor-pathlen0-subca", chainSpec{anchor: withPathLen(caTemplate("Root Zero"), 0), cas: []*x509.Certificate{caTemplate("Sub CA")}},
			"path length constraint of trust anchor", "error 25 at 2 depth lookup: path length constraint exceeded"},
		{"anchor-pathlen0-leaf", chainSpec{anchor: withPathLen(caTemplate("Root Zero"), 0)}, "", ""},
		{"anchor-pathlen1-subca", chainSpec{anchor: withPathLen(caTemplate("Root One"), 1), cas: []*x509.Certificate{caTemplate("Sub CA")}}, "", ""},
		{"anchor-nc-outside", chainSpec{anchor: ncRoot(), cas: []*x509.Certificate{caTemplate("Sub CA")}, leaf: smimeLeafTemplate("mallory@evil.org")},
			"outside the permitted subtrees of trust anchor", "error 47 at 0 depth lookup: permitted subtree violation"},
		{"anchor-nc-inside", chainSpec{anchor: ncRoot(), cas: []*x509.Certificate{caTemplate("Sub CA")}}, "", ""},
		{"subca-serverauth", chainSpec{cas: []*x509.Certificate{withEKU(caTemplate("Sub CA"), x509.ExtKeyUsageServerAuth)}},
			"extended key usage (serverAuth)", "error 26 at 1 depth lookup: unsuitable certificate purpose"},
		{"subca-serverauth-email", chainSpec{cas: []*x509.Certificate{withEKU(caTemplate("Sub CA"), x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageEmailProtection)}}, "", ""},
		{"anchor-serverauth", chainSpec{anchor: withEKU(caTemplate("TLS Root"), x509.ExtKeyUsageServerAuth), cas: []*x509.Certificate{caTemplate("Sub CA")}},
			"trust anchor extended key usage (serverAuth)", "error 26 at 2 depth lookup: unsuitable certificate purpose"},
		{"anchor-expired", chainSpec{anchor: expired}, "trust anchor expired", "error 10 at 1 depth lookup: certificate has expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaf, opts := tc.spec.build(t)
			_, err := Verify(leaf, opts)
			switch {
			case tc.ours == "" && err != nil:
				t.Errorf("Verify: %v", err)
			case tc.ours != "" && (err == nil || !strings.Contains(err.Error(), tc.ours)):
				t.Errorf("Verify: %v, want an error containing %q", err, tc.ours)
			}
			out, ok := opensslVerify(t, leaf, opts)
			switch {
			case tc.their == "" && !ok:
				t.Errorf("openssl refused:\n%s", out)
			case tc.their != "" && (ok || !strings.Contains(out, tc.their)):
				t.Errorf("openssl: %q, want %q", out, tc.their)
			}
		})
	}

	// The one difference: openssl's S/MIME purposes do not take
	// anyExtendedKeyUsage for emailProtection, on a CA certificate or a
	// leaf; RFC 5280 §4.2.1.12 and Verify do.
	leaf, opts := chainSpec{cas: []*x509.Certificate{withEKU(caTemplate("Sub CA"), x509.ExtKeyUsageAny)}}.build(t)
	wantOK(t, leaf, opts)
	if out, ok := opensslVerify(t, leaf, opts); ok || !strings.Contains(out, "error 26 at 1 depth") {
		t.Errorf("openssl on a CA with anyExtendedKeyUsage only: %q; the package documentation says openssl refuses it", out)
	}
}
