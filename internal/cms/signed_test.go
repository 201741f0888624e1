package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mozilla.org/pkcs7"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/sigalg"
)

const signedContent = "Content-Type: text/plain\r\n\r\nsigned by cms tests\r\n"

type signingKeys struct {
	rsa, p256, p384, ed Signer
}

func newSigningKeys(t testing.TB) signingKeys {
	t.Helper()
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	mk := func(name string, k crypto.Signer) Signer {
		id := testIdentity(t, name, k)
		return Signer{Cert: id.Cert, Key: k}
	}
	return signingKeys{rsa: mk("rsa-signer", rk), p256: mk("p256-signer", p256), p384: mk("p384-signer", p384), ed: mk("ed-signer", ed)}
}

func signBytes(t testing.TB, signers []Signer, opts SignOptions, content []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := Sign(&out, signers, opts)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestSignVerifyRoundTrip(t *testing.T) {
	k := newSigningKeys(t)
	for _, tc := range []struct {
		name    string
		signers []Signer
		opts    SignOptions
	}{
		{"rsa", []Signer{k.rsa}, SignOptions{}},
		{"rsa-pss-sha512", []Signer{k.rsa}, SignOptions{PSS: true, Hash: crypto.SHA512}},
		{"p256", []Signer{k.p256}, SignOptions{}},
		{"p384-sha384", []Signer{k.p384}, SignOptions{Hash: crypto.SHA384}},
		{"ed25519", []Signer{k.ed}, SignOptions{}},
		{"three", []Signer{k.rsa, k.p256, k.ed}, SignOptions{Hash: crypto.SHA512}},
	} {
		for _, detached := range []bool{true, false} {
			opts := tc.opts
			opts.Detached = detached
			blob := signBytes(t, tc.signers, opts, []byte(signedContent))
			var s *Signed
			var err error
			if detached {
				s, err = VerifyDetached(bytes.NewReader(blob), strings.NewReader(signedContent), VerifyOptions{})
			} else {
				s, err = VerifyOpaque(bytes.NewReader(blob), VerifyOptions{})
			}
			if err != nil {
				t.Fatalf("%s detached=%v: %v", tc.name, detached, err)
			}
			if len(s.Signers) != len(tc.signers) {
				t.Fatalf("%s: %d signers", tc.name, len(s.Signers))
			}
			for i, r := range s.Signers {
				if r.Err != nil || r.Cert == nil || r.SigningTime.IsZero() {
					t.Fatalf("%s signer %d: %+v", tc.name, i, r)
				}
			}
			if !detached {
				got, _ := io.ReadAll(s.Content)
				if string(got) != signedContent {
					t.Fatalf("%s: content %q", tc.name, got)
				}
			}
			s.Close()
		}
	}
}

// TestPKCS7ReadsOurSignatures uses go.mozilla.org/pkcs7 as a second,
// independent reader of RSA and ECDSA signatures.
func TestPKCS7ReadsOurSignatures(t *testing.T) {
	k := newSigningKeys(t)
	for _, s := range []Signer{k.rsa, k.p256} {
		blob := signBytes(t, []Signer{s}, SignOptions{}, []byte(signedContent))
		p7, err := pkcs7.Parse(blob)
		if err != nil {
			t.Fatal(err)
		}
		if err := p7.Verify(); err != nil {
			t.Fatalf("%s: pkcs7 does not verify our opaque signature: %v", s.Cert.Subject.CommonName, err)
		}
		if string(p7.Content) != signedContent {
			t.Fatalf("content %q", p7.Content)
		}
	}
}

func TestOpenSSLAndWeSignForEachOther(t *testing.T) {
	k := newSigningKeys(t)
	dir := t.TempDir()
	content := filepath.Join(dir, "content")
	os.WriteFile(content, []byte(signedContent), 0o600)
	paths := map[string][2]string{}
	for name, s := range map[string]Signer{"rsa": k.rsa, "p384": k.p384} {
		c, kp := writeIdentity(t, filepath.Join(dir), Identity{Cert: s.Cert, Key: s.Key})
		paths[name] = [2]string{c, kp}
	}
	// Ours, several signers at once, read by openssl (chains are the
	// caller's business here: -noverify). Not Ed25519: OpenSSL 3.0 can
	// neither make nor check Ed25519 SignedData ("no default digest",
	// "invalid digest"); our Ed25519 signatures are checked by our own
	// reader only.
	for _, detached := range []bool{true, false} {
		blob := signBytes(t, []Signer{k.rsa, k.p384}, SignOptions{Hash: crypto.SHA512, Detached: detached}, []byte(signedContent))
		in := filepath.Join(dir, "ours.der")
		os.WriteFile(in, blob, 0o600)
		args := []string{"cms", "-verify", "-noverify", "-binary", "-inform", "DER", "-in", in}
		if detached {
			args = append(args, "-content", content)
		}
		out, err := runOpenSSL(t, args...)
		if err != nil || string(out) != signedContent {
			t.Fatalf("openssl, detached=%v: %v %q", detached, err, out)
		}
		// Tampered content fails at openssl too.
		if detached {
			os.WriteFile(filepath.Join(dir, "other"), []byte(signedContent+"x"), 0o600)
			if _, err := runOpenSSL(t, "cms", "-verify", "-noverify", "-binary", "-inform", "DER", "-in", in, "-content", filepath.Join(dir, "other")); err == nil {
				t.Fatal("openssl verified altered content")
			}
		}
	}
	// openssl's, several signers, read by us.
	args := []string{"cms", "-sign", "-binary", "-nodetach", "-outform", "DER", "-md", "sha512", "-in", content}
	for _, n := range []string{"rsa", "p384"} {
		args = append(args, "-signer", paths[n][0], "-inkey", paths[n][1])
	}
	blob, err := runOpenSSL(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := VerifyOpaque(bytes.NewReader(blob), VerifyOptions{})
	if err != nil || len(s.Signers) != 2 {
		t.Fatalf("%v %+v", err, s)
	}
	for _, r := range s.Signers {
		if r.Err != nil {
			t.Fatalf("openssl signer %s: %v", r.Algorithm, r.Err)
		}
	}
	s.Close()
	// A tampered openssl signature fails here.
	bad := bytes.Replace(blob, []byte("signed by cms tests"), []byte("signed by cms testS"), 1)
	s, err = VerifyOpaque(bytes.NewReader(bad), VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Signers {
		if !errors.Is(r.Err, core.ErrVerification) {
			t.Fatalf("tampered: %s: %v", r.Algorithm, r.Err)
		}
	}
	s.Close()
}

func TestVerifyRefusals(t *testing.T) {
	k := newSigningKeys(t)
	blob := signBytes(t, []Signer{k.rsa}, SignOptions{Detached: true}, []byte(signedContent))
	verify := func(sig []byte, content string, opts VerifyOptions) SignerResult {
		t.Helper()
		s, err := VerifyDetached(bytes.NewReader(sig), strings.NewReader(content), opts)
		if err != nil || len(s.Signers) != 1 {
			t.Fatalf("%v %+v", err, s)
		}
		return s.Signers[0]
	}
	if r := verify(blob, signedContent+" ", VerifyOptions{}); !strings.Contains(errString(r.Err), "content was altered") {
		t.Errorf("altered content: %v", r.Err)
	}
	// The contentType attribute says id-signedData: mismatch with id-data.
	data := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01}
	signedData := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}
	attrType := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03, 0x31, 0x0b}
	i := bytes.Index(blob, attrType)
	if i < 0 || !bytes.Equal(blob[i+len(attrType):i+len(attrType)+len(data)], data) {
		t.Fatal("contentType attribute not found")
	}
	wrongType := bytes.Clone(blob)
	copy(wrongType[i+len(attrType):], signedData)
	if r := verify(wrongType, signedContent, VerifyOptions{}); !strings.Contains(errString(r.Err), "contentType") {
		t.Errorf("wrong contentType: %v", r.Err)
	}
	// Signer not found.
	if r := verify(stripCerts(t, blob), signedContent, VerifyOptions{}); r.Cert != nil || !strings.Contains(errString(r.Err), "certificate") {
		t.Errorf("no certificate: %+v", r)
	} else if r := verify(stripCerts(t, blob), signedContent, VerifyOptions{Certificates: []*x509.Certificate{k.rsa.Cert}}); r.Err != nil {
		t.Errorf("certificate from the caller: %v", r.Err)
	}
	// MoreCertificates is asked only for a signer neither the message nor
	// Certificates has; what it gives is searched, and its error is the
	// signer's.
	asked := 0
	more := func(certs []*x509.Certificate, err error) func() ([]*x509.Certificate, error) {
		return func() ([]*x509.Certificate, error) { asked++; return certs, err }
	}
	if r := verify(blob, signedContent, VerifyOptions{MoreCertificates: more(nil, nil)}); r.Err != nil || asked != 0 {
		t.Errorf("certificate in the message: %v, more asked %d times", r.Err, asked)
	}
	if r := verify(stripCerts(t, blob), signedContent, VerifyOptions{Certificates: []*x509.Certificate{k.rsa.Cert}, MoreCertificates: more(nil, nil)}); r.Err != nil || asked != 0 {
		t.Errorf("certificate from Certificates: %v, more asked %d times", r.Err, asked)
	}
	if r := verify(stripCerts(t, blob), signedContent, VerifyOptions{Certificates: []*x509.Certificate{k.p256.Cert}, MoreCertificates: more([]*x509.Certificate{k.p256.Cert, k.rsa.Cert}, nil)}); r.Err != nil || asked != 1 || !r.Cert.Equal(k.rsa.Cert) {
		t.Errorf("certificate from MoreCertificates: %v, more asked %d times", r.Err, asked)
	}
	if r := verify(stripCerts(t, blob), signedContent, VerifyOptions{MoreCertificates: more(nil, errors.New("disk on fire"))}); r.Cert != nil || !strings.Contains(errString(r.Err), "disk on fire") {
		t.Errorf("MoreCertificates failing: %+v", r)
	}
	// MD5 is refused, even with SHA-1 allowed. (A SHA-1 signature the
	// policy refuses is checked all the same and then refused only if it
	// verifies: TestSHA1Refused in smime, TestSHA1SignatureArchive in
	// cmd/mailseal.)
	p := &parsedSigned{contentType: oidData}
	for _, tc := range []struct {
		oid   []int
		allow bool
		want  string
	}{{[]int{1, 2, 840, 113549, 2, 5}, true, "MD5"}, {[]int{1, 2, 840, 113549, 2, 5}, false, "MD5"}} {
		si := &signerInfo{digestAlg: tc.oid, sigAlg: oidRSAEncryption}
		r := p.checkSigner(si, map[crypto.Hash][]byte{}, VerifyOptions{AllowSHA1: tc.allow})
		if !strings.Contains(errString(r.Err), tc.want) || !errors.Is(r.Err, sigalg.ErrRefused) || errors.Is(r.Err, sigalg.ErrInvalid) {
			t.Errorf("%s: %v, want a refusal", tc.want, r.Err)
		}
	}
	// An altered signature is invalid, not refused (the signature's
	// octets end the DER SignedData).
	altered := bytes.Clone(blob)
	altered[len(altered)-1] ^= 1
	if r := verify(altered, signedContent, VerifyOptions{}); !errors.Is(r.Err, core.ErrVerification) || !errors.Is(r.Err, sigalg.ErrInvalid) || errors.Is(r.Err, sigalg.ErrRefused) {
		t.Errorf("altered signature: %v, want an invalid signature", r.Err)
	}
	// Embedded content in a detached verification: read past, and the
	// signature checked over the detached content, so it verifies only
	// when that is what was signed.
	opaque := signBytes(t, []Signer{k.rsa}, SignOptions{}, []byte(signedContent))
	if s, err := VerifyDetached(bytes.NewReader(opaque), strings.NewReader(signedContent), VerifyOptions{}); err != nil || !s.CarriedContent || len(s.Signers) != 1 || s.Signers[0].Err != nil {
		t.Errorf("embedded content, the same as the detached content: %v %+v", err, s)
	}
	if s, err := VerifyDetached(bytes.NewReader(opaque), strings.NewReader(signedContent+"x"), VerifyOptions{}); err != nil || !s.CarriedContent || len(s.Signers) != 1 || !errors.Is(s.Signers[0].Err, core.ErrVerification) {
		t.Errorf("embedded content, other than the detached content: %v %+v", err, s)
	}
	if s, err := VerifyDetached(bytes.NewReader(blob), strings.NewReader(signedContent), VerifyOptions{}); err != nil || s.CarriedContent {
		t.Errorf("a detached signature without content: %v %+v", err, s)
	}
	// No signerInfos: no signers, no error.
	if s, err := VerifyDetached(bytes.NewReader(noSigners(t)), strings.NewReader("x"), VerifyOptions{}); err != nil || len(s.Signers) != 0 {
		t.Errorf("no signerInfos: %v %+v", err, s)
	}
}

// A SignerInfo whose signature algorithm names another hash than its
// digest algorithm is invalid for every scheme: here an ECDSA signature
// made over SHA-256 that claims ecdsa-with-SHA384 (accepted before; only
// RSA was checked).
func TestSignatureHashMismatch(t *testing.T) {
	k := newSigningKeys(t)
	blob := stripCerts(t, signBytes(t, []Signer{k.p256}, SignOptions{Detached: true}, []byte(signedContent)))
	opts := VerifyOptions{Certificates: []*x509.Certificate{k.p256.Cert}}
	verify := func(sig []byte) error {
		t.Helper()
		s, err := VerifyDetached(bytes.NewReader(sig), strings.NewReader(signedContent), opts)
		if err != nil || len(s.Signers) != 1 {
			t.Fatalf("%v %+v", err, s)
		}
		return s.Signers[0].Err
	}
	if err := verify(blob); err != nil {
		t.Fatal(err)
	}
	sha256OID, sha384OID := mustOID(t, oidECDSAWithSHA256), mustOID(t, oidECDSAWithSHA384)
	if bytes.Count(blob, sha256OID) != 1 {
		t.Fatal("ecdsa-with-SHA256 not found once")
	}
	err := verify(bytes.Replace(blob, sha256OID, sha384OID, 1))
	if !errors.Is(err, core.ErrVerification) || !errors.Is(err, sigalg.ErrInvalid) || !strings.Contains(errString(err), "does not match the digest algorithm SHA-256") {
		t.Errorf("ecdsa-with-SHA384 over a SHA-256 digest: %v", err)
	}
}

func mustOID(t *testing.T, oid asn1.ObjectIdentifier) []byte {
	t.Helper()
	der, err := asn1.Marshal(oid)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// stripCerts rebuilds a DER SignedData without its certificates.
func stripCerts(t *testing.T, der []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var ci, oid, explicit, sd cryptobyte.String
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1Element(&oid, cbasn1.OBJECT_IDENTIFIER) ||
		!ci.ReadASN1(&explicit, cbasn1.Tag(0).ContextSpecific().Constructed()) || !explicit.ReadASN1(&sd, cbasn1.SEQUENCE) {
		t.Fatal("not a DER SignedData")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(oid)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for !sd.Empty() {
					var el cryptobyte.String
					var tag cbasn1.Tag
					sd.ReadAnyASN1Element(&el, &tag)
					if tag != cbasn1.Tag(0).ContextSpecific().Constructed() {
						b.AddBytes(el)
					}
				}
			})
		})
	})
	return b.BytesOrPanic()
}

func noSigners(t *testing.T) []byte {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(cbasn1.Tag(0).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {})
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidData) })
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {})
			})
		})
	})
	return b.BytesOrPanic()
}

// TestSignedStreamingMemory signs and verifies 64 MiB of opaque content;
// the heap must not grow with it (verified content spills to the spool).
func TestSignedStreamingMemory(t *testing.T) {
	k := newSigningKeys(t)
	chunk := randomBytes(1 << 20)
	measure := func(name string, f func()) {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
			t.Fatalf("%s: heap grew by %d bytes for 64 MiB", name, grown)
		}
	}
	pr, pw := io.Pipe()
	go func() {
		w, err := Sign(pw, []Signer{k.p256}, SignOptions{})
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		for i := 0; i < 64; i++ {
			w.Write(chunk)
		}
		pw.CloseWithError(w.Close())
	}()
	measure("sign+verify", func() {
		s, err := VerifyOpaque(pr, VerifyOptions{MemLimit: 1 << 20})
		if err != nil || len(s.Signers) != 1 || s.Signers[0].Err != nil {
			t.Fatalf("%v %+v", err, s)
		}
		runtime.GC()
		n, _ := io.Copy(io.Discard, s.Content)
		if n != 64<<20 {
			t.Fatalf("content of %d bytes", n)
		}
		s.Close()
	})
}

func FuzzVerify(f *testing.F) {
	k := newSigningKeys(f)
	for _, s := range []Signer{k.rsa, k.p256, k.ed} {
		f.Add(signBytes(f, []Signer{s}, SignOptions{}, []byte(signedContent)))
		f.Add(signBytes(f, []Signer{s}, SignOptions{Detached: true, SubjectKeyID: s.Cert.SubjectKeyId != nil}, []byte(signedContent)))
	}
	f.Add(signBytes(f, []Signer{k.rsa}, SignOptions{PSS: true}, []byte(signedContent)))
	f.Fuzz(func(t *testing.T, data []byte) {
		timer := time.AfterFunc(5*time.Second, func() { panic("FuzzVerify: input takes more than 5 s") })
		defer timer.Stop()
		check := func(s *Signed, err error) {
			if err != nil {
				if !errors.Is(err, core.ErrInput) {
					t.Fatalf("error of no kind: %v", err)
				}
				return
			}
			for _, r := range s.Signers {
				if r.Err != nil && !errors.Is(r.Err, core.ErrVerification) {
					t.Fatalf("signer error of no kind: %v", r.Err)
				}
			}
			if s.Content != nil {
				io.Copy(io.Discard, s.Content)
			}
			s.Close()
		}
		check(VerifyOpaque(bytes.NewReader(data), VerifyOptions{MemLimit: 1 << 16}))
		check(VerifyDetached(bytes.NewReader(data), strings.NewReader(signedContent), VerifyOptions{}))
	})
}

func BenchmarkSignOpaque10MiB(b *testing.B) {
	k := newSigningKeys(b)
	data := randomBytes(10 << 20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		w, _ := Sign(io.Discard, []Signer{k.p256}, SignOptions{})
		w.Write(data)
		w.Close()
	}
}

// digestedContent gives digests; reading it fails, so a test sees whether
// VerifyDetached read it.
type digestedContent struct {
	sums map[crypto.Hash][]byte
	read bool
	r    io.Reader
}

func (d *digestedContent) Read(p []byte) (int, error) {
	d.read = true
	return d.r.Read(p)
}

func (d *digestedContent) Digest(h crypto.Hash) ([]byte, bool) {
	s, ok := d.sums[h]
	return s, ok
}

// Digests the content already has are used instead of reading it; content
// that lacks one the signers need is read.
func TestVerifyDetachedDigester(t *testing.T) {
	k := newSigningKeys(t)
	blob := signBytes(t, []Signer{k.rsa, k.p256}, SignOptions{Detached: true, Hash: crypto.SHA384}, []byte(signedContent))
	sum := func(s string) []byte {
		h := crypto.SHA384.New()
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	for _, tc := range []struct {
		name     string
		sums     map[crypto.Hash][]byte
		wantRead bool
		good     bool
	}{
		{"right digest", map[crypto.Hash][]byte{crypto.SHA384: sum(signedContent)}, false, true},
		{"digest of other content", map[crypto.Hash][]byte{crypto.SHA384: sum(signedContent + " ")}, false, false},
		{"other hash only", map[crypto.Hash][]byte{crypto.SHA256: sum(signedContent)}, true, true},
	} {
		c := &digestedContent{sums: tc.sums, r: strings.NewReader(signedContent)}
		s, err := VerifyDetached(bytes.NewReader(blob), c, VerifyOptions{})
		if err != nil || len(s.Signers) != 2 {
			t.Fatalf("%s: %v %+v", tc.name, err, s)
		}
		if c.read != tc.wantRead {
			t.Errorf("%s: content read %v, want %v", tc.name, c.read, tc.wantRead)
		}
		for _, r := range s.Signers {
			if (r.Err == nil) != tc.good {
				t.Errorf("%s: signer %s: %v", tc.name, r.Algorithm, r.Err)
			}
		}
	}
}

func TestMicalgHashes(t *testing.T) {
	for in, want := range map[string][]crypto.Hash{
		"sha-256":         {crypto.SHA256},
		"SHA-512":         {crypto.SHA512},
		"sha-384, sha-1":  {crypto.SHA384, crypto.SHA1},
		"sha-256,sha-256": {crypto.SHA256},
		"":                {crypto.SHA256},
		"pgp-sha512":      {crypto.SHA256},
	} {
		if got := MicalgHashes(in); !slices.Equal(got, want) {
			t.Errorf("MicalgHashes(%q) = %v, want %v", in, got, want)
		}
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if got := MicalgHashes(Micalg(h)); !slices.Equal(got, []crypto.Hash{h}) {
			t.Errorf("%v: micalg %q gives %v", h, Micalg(h), got)
		}
	}
}
