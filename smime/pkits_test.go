package smime

import (
	"archive/tar"
	"compress/bzip2"
	"crypto/x509"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

const pkitsTarball = "../testdata/corpora/x509/pkits/PKITS_data.tar.bz2"

// TestPKITSMessages verifies the NIST PKITS S/MIME messages end to end
// (MIME parsing, CMS SignedData, path validation with the suite's CRLs)
// at the suite's pinned time: every SignedValid* message must have one
// good signer and every SignedInvalid* message none.
func TestPKITSMessages(t *testing.T) {
	f, err := os.Open(pkitsTarball)
	if err != nil {
		t.Fatalf("PKITS corpus missing: %v (expected testdata/corpora/x509/pkits in the repository)", err)
	}
	defer f.Close()
	msgs := map[string][]byte{}
	var anchor *x509.Certificate
	var crls []*x509.RevocationList
	tr := tar.NewReader(bzip2.NewReader(f))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if h.Typeflag != tar.TypeReg {
			continue
		}
		switch {
		case strings.HasPrefix(name, "smime/Signed") && strings.HasSuffix(name, ".eml"):
			data, _ := io.ReadAll(tr)
			msgs[strings.TrimSuffix(path.Base(name), ".eml")] = data
		case name == "certs/TrustAnchorRootCertificate.crt":
			data, _ := io.ReadAll(tr)
			if anchor, err = x509.ParseCertificate(data); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(name, "crls/") && strings.HasSuffix(name, ".crl"):
			data, _ := io.ReadAll(tr)
			if l, err := x509.ParseRevocationList(data); err == nil {
				crls = append(crls, l)
			}
		}
	}
	if anchor == nil || len(msgs) == 0 {
		t.Fatal("PKITS tarball lacks the trust anchor or the messages")
	}
	policy := core.DefaultPolicy()
	policy.Now = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	policy.AllowSHA1 = true
	policy.MinRSABits = 1024
	e := &Engine{policy: policy, conformance: true}
	trust := Trust{Roots: []*x509.Certificate{anchor}, CRLs: crls, RequireCRLs: true}

	names := make([]string, 0, len(msgs))
	for n := range msgs {
		names = append(names, n)
	}
	sort.Strings(names)
	var valid, invalid, validOK, invalidOK int
	for _, name := range names {
		good, detail := pkitsCheck(e, trust, msgs[name])
		switch {
		case strings.HasPrefix(name, "SignedValid"):
			valid++
			if good {
				validOK++
			} else {
				t.Errorf("%s: not verified: %s", name, detail)
			}
		case strings.HasPrefix(name, "SignedInvalid"):
			invalid++
			if !good {
				invalidOK++
			} else {
				t.Errorf("%s: verified, but it must fail", name)
			}
		}
	}
	t.Logf("PKITS messages: %d/%d SignedValid verify, %d/%d SignedInvalid fail", validOK, valid, invalidOK, invalid)
	if valid != 88 || invalid != 114 {
		t.Errorf("the suite has %d valid and %d invalid messages, want 88 and 114", valid, invalid)
	}
}

// pkitsCheck verifies one message and says whether it has a single good signer.
func pkitsCheck(e *Engine, trust Trust, eml []byte) (bool, string) {
	m, err := mime.Parse(strings.NewReader(string(eml)), mime.DefaultLimits(), 1<<20)
	if err != nil {
		return false, err.Error()
	}
	defer m.Close()
	v, err := e.VerifyOpaque(m.Root.Body(), trust)
	if err != nil {
		return false, err.Error()
	}
	defer v.Close()
	if len(v.Signers) != 1 {
		return false, "no signer"
	}
	s := v.Signers[0]
	return s.Status == core.SignerGood, string(s.Status) + ": " + s.Error
}
