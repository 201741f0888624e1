package x509path

import (
	"archive/tar"
	"bytes"
	"compress/bzip2"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"os"
	"path"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

const pkitsTarball = "../../testdata/corpora/x509/pkits/PKITS_data.tar.bz2"

// loadPKITS reads the NIST PKITS tarball into memory: file name -> content
// for the trust anchor and the smime/ messages.
func loadPKITS(t *testing.T) map[string][]byte {
	t.Helper()
	f, err := os.Open(pkitsTarball)
	if err != nil {
		t.Fatalf("PKITS corpus missing: %v (expected the NIST suite at testdata/corpora/x509/pkits/PKITS_data.tar.bz2)", err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(bzip2.NewReader(f))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading PKITS tarball: %v", err)
		}
		name := strings.TrimPrefix(path.Clean(h.Name), "./")
		if h.Typeflag != tar.TypeReg || !(strings.HasPrefix(name, "smime/") || name == "certs/TrustAnchorRootCertificate.crt") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		files[name] = data
	}
	return files
}

// pkitsMessage is what a PKITS S/MIME message carries.
type pkitsMessage struct {
	certs        [][]byte
	crls         [][]byte
	signerIssuer []byte
	signerSerial *big.Int
}

// parsePKITSMessage base64-decodes the body of an application/pkcs7-mime
// message and walks its SignedData (RFC 5652) for the certificates, the
// CRLs and the first signer's issuerAndSerialNumber.
func parsePKITSMessage(eml []byte) (*pkitsMessage, error) {
	eml = bytes.ReplaceAll(eml, []byte("\r\n"), []byte("\n"))
	i := bytes.Index(eml, []byte("\n\n"))
	if i < 0 {
		return nil, errors.New("no message body")
	}
	body := bytes.Join(bytes.Fields(eml[i+2:]), nil)
	der, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil {
		return nil, err
	}
	in := cryptobyte.String(der)
	var ci, content, sd cryptobyte.String
	var oid []int
	_ = oid
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&content, cbasn1.Tag(0).ContextSpecific().Constructed()) ||
		!content.ReadASN1(&sd, cbasn1.SEQUENCE) {
		return nil, errors.New("not a DER ContentInfo")
	}
	if !sd.SkipASN1(cbasn1.INTEGER) || !sd.SkipASN1(cbasn1.SET) || !sd.SkipASN1(cbasn1.SEQUENCE) {
		return nil, errors.New("malformed SignedData")
	}
	msg := &pkitsMessage{}
	for _, field := range []struct {
		tag cbasn1.Tag
		dst *[][]byte
	}{{cbasn1.Tag(0).ContextSpecific().Constructed(), &msg.certs}, {cbasn1.Tag(1).ContextSpecific().Constructed(), &msg.crls}} {
		var set cryptobyte.String
		var present bool
		if !sd.ReadOptionalASN1(&set, &present, field.tag) {
			return nil, errors.New("malformed certificates or crls")
		}
		for !set.Empty() {
			var el cryptobyte.String
			if !set.ReadASN1Element(&el, cbasn1.SEQUENCE) {
				return nil, errors.New("unsupported certificate or CRL choice")
			}
			*field.dst = append(*field.dst, el)
		}
	}
	var infos, si, sid cryptobyte.String
	var issuer cryptobyte.String
	msg.signerSerial = new(big.Int)
	if !sd.ReadASN1(&infos, cbasn1.SET) || !infos.ReadASN1(&si, cbasn1.SEQUENCE) || !si.SkipASN1(cbasn1.INTEGER) ||
		!si.ReadASN1(&sid, cbasn1.SEQUENCE) || !sid.ReadASN1Element(&issuer, cbasn1.SEQUENCE) ||
		!sid.ReadASN1Integer(msg.signerSerial) {
		return nil, errors.New("no SignerInfo with issuerAndSerialNumber")
	}
	msg.signerIssuer = issuer
	return msg, nil
}

// pkitsVerify validates the signer certificate of one PKITS message.
func pkitsVerify(anchor *x509.Certificate, eml []byte) error {
	msg, err := parsePKITSMessage(eml)
	if err != nil {
		return errors.New("test harness: " + err.Error())
	}
	var leaf *x509.Certificate
	var others []*x509.Certificate
	for _, der := range msg.certs {
		c, err := ParseCertificate(der)
		if err != nil {
			return errors.New("test harness: certificate: " + err.Error())
		}
		if leaf == nil && bytes.Equal(c.RawIssuer, msg.signerIssuer) && c.SerialNumber.Cmp(msg.signerSerial) == 0 {
			leaf = c
			continue
		}
		others = append(others, c)
	}
	if leaf == nil {
		return errors.New("test harness: signer certificate not in the message")
	}
	var crls []*x509.RevocationList
	for _, der := range msg.crls {
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			return errors.New("test harness: CRL: " + err.Error())
		}
		crls = append(crls, rl)
	}
	_, err = Verify(leaf, Options{
		Roots:           []*x509.Certificate{anchor},
		Intermediates:   others,
		CRLs:            crls,
		Time:            time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC),
		AllowSHA1:       true,
		MinRSABits:      1024,
		Purpose:         Signing,
		SkipSMIMEChecks: true,
	})
	return err
}

func TestPKITS(t *testing.T) {
	files := loadPKITS(t)
	anchor, err := ParseCertificate(files["certs/TrustAnchorRootCertificate.crt"])
	if err != nil {
		t.Fatalf("trust anchor: %v", err)
	}
	var names []string
	for name := range files {
		if strings.HasPrefix(name, "smime/") && strings.HasSuffix(name, ".eml") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var validOK, validAll, invalidOK, invalidAll int
	var wrong []string
	for _, name := range names {
		test := strings.TrimSuffix(path.Base(name), ".eml")
		err := pkitsVerify(anchor, files[name])
		if err != nil && strings.HasPrefix(err.Error(), "test harness:") {
			t.Errorf("%s: %v", test, err)
			continue
		}
		switch {
		case strings.HasPrefix(test, "SignedValid"):
			validAll++
			if err == nil {
				validOK++
			} else {
				wrong = append(wrong, test+": rejected: "+err.Error())
			}
		case strings.HasPrefix(test, "SignedInvalid"):
			invalidAll++
			if err != nil {
				invalidOK++
				t.Logf("%s: rejected as expected: %v", test, err)
			} else {
				wrong = append(wrong, test+": accepted")
			}
		default:
			if err == nil {
				t.Logf("%s (policy-dependent): accepted", test)
			} else {
				t.Logf("%s (policy-dependent): rejected: %v", test, err)
			}
		}
	}
	summary := "PKITS: " + itoa(validOK) + "/" + itoa(validAll) + " valid accepted, " + itoa(invalidOK) + "/" + itoa(invalidAll) + " invalid rejected"
	t.Log(summary)
	if validAll != 88 || invalidAll != 114 {
		t.Errorf("expected 88 valid and 114 invalid messages, found %d and %d", validAll, invalidAll)
	}
	if len(wrong) > 0 {
		t.Errorf("%s; wrong verdicts:\n  %s", summary, strings.Join(wrong, "\n  "))
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }
