package flow

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/smime"
)

// smimeFixture is a CA and one identity for the S/MIME flow tests.
type smimeFixture struct {
	engine *smime.Engine
	trust  smime.Trust // the CA is the anchor
	id     smime.Identity
}

func newSMIMEFixture(t testing.TB) *smimeFixture {
	t.Helper()
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Flow CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}, EmailAddresses: []string{"alice@example.org"}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	return &smimeFixture{
		engine: smime.New(core.DefaultPolicy()),
		trust:  smime.Trust{Roots: []*x509.Certificate{ca}},
		id:     smime.Identity{Cert: leaf, Key: key},
	}
}

func (f *smimeFixture) flow() *SMIME {
	return &SMIME{Engine: f.engine, LoadTrust: func() (smime.Trust, error) { return f.trust, nil },
		Identities: func() ([]smime.Identity, error) { return []smime.Identity{f.id}, nil }}
}

const smimePlain = "From: alice@example.org\r\nTo: alice@example.org\r\nSubject: fuzz\r\nContent-Type: text/plain\r\n\r\nhello\r\n"

// seedMessages are S/MIME messages of every kind mailseal writes.
func (f *smimeFixture) seedMessages(t testing.TB) [][]byte {
	t.Helper()
	sm := f.flow()
	var seeds [][]byte
	build := func(write func(w io.Writer, m *mime.Message) error) {
		m, err := mime.Parse(bytes.NewReader([]byte(smimePlain)), mime.DefaultLimits(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		var out bytes.Buffer
		if err := write(&out, m); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, out.Bytes())
	}
	ids := []smime.Identity{f.id}
	to := []*x509.Certificate{f.id.Cert}
	build(func(w io.Writer, m *mime.Message) error { return sm.Sign(w, m, ids, smime.SignOptions{}) })
	build(func(w io.Writer, m *mime.Message) error { return sm.Sign(w, m, ids, smime.SignOptions{Opaque: true}) })
	build(func(w io.Writer, m *mime.Message) error {
		return sm.Encrypt(w, m, to, smime.EncryptOptions{}, nil, smime.SignOptions{})
	})
	build(func(w io.Writer, m *mime.Message) error {
		return sm.Encrypt(w, m, to, smime.EncryptOptions{}, ids, smime.SignOptions{})
	})
	return seeds
}

func TestSMIMEFlowRoundTrip(t *testing.T) {
	f := newSMIMEFixture(t)
	for i, msg := range f.seedMessages(t) {
		m, err := mime.Parse(bytes.NewReader(msg), mime.DefaultLimits(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		res, err := Open(m, []Engine{f.flow()}, Options{Limits: mime.DefaultLimits(), MemLimit: 1 << 20})
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want := core.StatusGood
		if i == 2 { // encrypted, not signed
			want = core.StatusUnsigned
		}
		if res.Report.Status != want || res.Report.Protocol != core.ProtocolSMIME {
			t.Fatalf("message %d: %+v", i, res.Report)
		}
		res.Close()
		m.Close()
	}
}

// FuzzOpenSMIME feeds arbitrary messages through S/MIME detection,
// verification and decryption: nothing may panic, and an error must carry
// one of the documented kinds.
func FuzzOpenSMIME(f *testing.F) {
	fx := newSMIMEFixture(f)
	for _, s := range fx.seedMessages(f) {
		f.Add(s)
	}
	f.Add([]byte("Content-Type: application/pkcs7-mime\r\n\r\nMIA=\r\n"))
	f.Add([]byte("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b\r\nContent-Type: application/pkcs7-signature\r\n\r\n--b--\r\n"))
	sm := fx.flow()
	f.Fuzz(func(t *testing.T, data []byte) {
		timer := time.AfterFunc(5*time.Second, func() { panic("FuzzOpenSMIME: input takes more than 5 s") })
		defer timer.Stop()
		m, err := mime.Parse(bytes.NewReader(data), mime.DefaultLimits(), 1<<20)
		if err != nil {
			return
		}
		defer m.Close()
		for _, decrypt := range []bool{false, true} {
			res, err := Open(m, []Engine{sm}, Options{Decrypt: decrypt, Limits: mime.DefaultLimits(), MemLimit: 1 << 20})
			if err != nil {
				if core.ExitCode(err) == 0 {
					t.Fatalf("error without a kind: %v", err)
				}
				continue
			}
			var after bytes.Buffer
			if res.Inner != nil {
				mime.WriteMessage(&after, res.Outer, res.Inner)
			}
			report := fmt.Sprintf("%+v", res.Report)
			res.Close()
			if !decrypt {
				continue
			}
			// Written beside the signature check: the same output and
			// the same report as written after Open.
			var beside bytes.Buffer
			res, err = Open(m, []Engine{sm}, Options{Decrypt: true, Limits: mime.DefaultLimits(), MemLimit: 1 << 20,
				Output: func(outer mime.Header, inner io.Reader) error { return mime.WriteMessage(&beside, outer, inner) }})
			if err != nil {
				t.Fatalf("error only with Output: %v", err)
			}
			if !bytes.Equal(beside.Bytes(), after.Bytes()) || fmt.Sprintf("%+v", res.Report) != report {
				t.Fatalf("Output beside the check differs: %d bytes and %+v, after Open %d bytes and %s", beside.Len(), res.Report, after.Len(), report)
			}
			res.Close()
		}
	})
}
