package pkcs12

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// publicKey returns a private key's public key.
func publicKey(k crypto.PrivateKey) crypto.PublicKey {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	case ed25519.PrivateKey:
		return k.Public()
	}
	return nil
}

// paired reports whether every key has its certificate in f.
func paired(f *File) bool {
	for _, k := range f.Keys {
		found := false
		for _, c := range f.Certs {
			if pub, ok := c.Cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); ok && pub.Equal(publicKey(k.Key)) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Files written by other implementations (see testdata/README.md): NIST's
// PKITS (2003: RC2-40 certificate bag, 3DES key bag, SHA-1 MAC) and the
// NSS interop tests' OpenSSL-made files (3DES throughout).
func TestOtherImplementationsFiles(t *testing.T) {
	for _, c := range []struct {
		file, password string
		keys, certs    int
	}{
		{"pkits-ValidCertificatePathTest1EE.p12", "password", 1, 1},
		{"pkits-GoodCACert.p12", "password", 1, 1},
		{"nss-Fran.p12", "nss", 1, 1},
		{"nss-Fran-ec.p12", "nss", 1, 1},
	} {
		t.Run(c.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			if !IsPFX(data) {
				t.Fatal("IsPFX: false")
			}
			f, err := Decode(data, c.password)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Keys) != c.keys || len(f.Certs) != c.certs || !paired(f) {
				t.Fatalf("%d keys, %d certificates, paired %v", len(f.Keys), len(f.Certs), paired(f))
			}
			if _, err := Decode(data, c.password+"x"); !errors.Is(err, ErrPassword) {
				t.Fatalf("wrong password: %v", err)
			}
		})
	}
}

// toBER rewrites DER as BER the way Windows and Java write PKCS#12:
// every constructed element with an indefinite length, and every OCTET
// STRING (or implicitly tagged [0] string) longer than seg bytes in
// constructed segments of seg bytes. It does not look inside strings.
func toBER(t *testing.T, der []byte, seg int) []byte {
	t.Helper()
	var out []byte
	for len(der) > 0 {
		tag, body, _, rest, err := header(der)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case tag[0]&0x20 != 0:
			out = append(append(out, tag...), 0x80)
			out = append(append(out, toBER(t, body, seg)...), 0, 0)
		case (tag[0] == 0x04 || tag[0] == 0x80) && len(body) > seg:
			out = append(out, tag[0]|0x20, 0x80)
			for len(body) > 0 {
				n := min(seg, len(body))
				out = appendElement(out, []byte{0x04}, body[:n])
				body = body[n:]
			}
			out = append(out, 0, 0)
		default:
			out = append(out, der[:len(der)-len(rest)]...)
		}
		der = rest
	}
	return out
}

// A PKCS#12 file in BER throughout, as Windows and Java write them
// (indefinite lengths; OCTET STRINGs in segments, the encrypted content of
// an EncryptedData too), reads as its DER form does. The authenticated
// safe inside is rewritten as well, so its MAC is made anew with the
// file's salt and iteration count.
func TestBER(t *testing.T) {
	data, err := os.ReadFile("testdata/pkits-ValidCertificatePathTest1EE.p12")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Decode(data, "password")
	if err != nil {
		t.Fatal(err)
	}
	in := cryptobyte.String(data)
	var pfx, authSafe, content, macData, digestInfo, alg, salt cryptobyte.String
	var version int64
	var ct asn1.ObjectIdentifier
	var safeBytes []byte
	iterations := int64(1)
	if !in.ReadASN1(&pfx, cbasn1.SEQUENCE) || !pfx.ReadASN1Integer(&version) || !pfx.ReadASN1(&authSafe, cbasn1.SEQUENCE) ||
		!authSafe.ReadASN1ObjectIdentifier(&ct) || !authSafe.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) ||
		!content.ReadASN1Bytes(&safeBytes, cbasn1.OCTET_STRING) || !pfx.ReadASN1(&macData, cbasn1.SEQUENCE) ||
		!macData.ReadASN1(&digestInfo, cbasn1.SEQUENCE) || !digestInfo.ReadASN1Element(&alg, cbasn1.SEQUENCE) ||
		!macData.ReadASN1(&salt, cbasn1.OCTET_STRING) || (!macData.Empty() && !macData.ReadASN1Integer(&iterations)) {
		t.Fatal("not a PFX with a MAC")
	}
	safe := toBER(t, safeBytes, 7)
	key := deriveKey(sha1.New, kdfMAC, bmpPassword("password"), salt, int(iterations), 20)
	mac := hmac.New(sha1.New, key)
	mac.Write(safe)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(version)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(ct)
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1OctetString(safe)
			})
		})
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(alg)
				b.AddASN1OctetString(mac.Sum(nil))
			})
			b.AddASN1OctetString(salt)
			b.AddASN1Int64(iterations)
		})
	})
	ber := toBER(t, b.BytesOrPanic(), 5)
	if ber[1] != 0x80 || !bytes.Contains(safe, []byte{0xa0, 0x80, 0x04, 0x07}) {
		t.Fatalf("not BER as Windows writes it: % x", ber[:16])
	}
	if !IsPFX(ber) {
		t.Fatal("IsPFX: false for BER")
	}
	// testdata/pkits-ber.p12 is this file (the keystore's tests import it).
	if os.Getenv("PKCS12_WRITE_BER") != "" {
		os.WriteFile("testdata/pkits-ber.p12", ber, 0o644)
	}
	if committed, err := os.ReadFile("testdata/pkits-ber.p12"); err != nil || !bytes.Equal(committed, ber) {
		t.Fatalf("testdata/pkits-ber.p12 is not this file (PKCS12_WRITE_BER=1 writes it): %v", err)
	}
	got, err := Decode(ber, "password")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Keys) != 1 || len(got.Certs) != 1 || !bytes.Equal(got.Certs[0].Cert.Raw, want.Certs[0].Cert.Raw) || !paired(got) {
		t.Fatalf("%d keys, %d certificates", len(got.Keys), len(got.Certs))
	}
	if _, err := Decode(ber, "wrong"); !errors.Is(err, ErrPassword) {
		t.Fatalf("wrong password: %v", err)
	}
}

// A PBMAC1 MAC (RFC 9579) is refused in words that say so.
func TestPBMAC1Refused(t *testing.T) {
	key, cert := selfSigned(t)
	data, err := gopkcs12.Modern2023.WithIterations(1000).Encode(key, cert, nil, "p")
	if err != nil {
		t.Fatal(err)
	}
	// The MAC's digest algorithm becomes PBMAC1 (its parameters do not
	// matter: the OID is refused first).
	sha256OID := []byte{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}
	pbmac1OID := []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0e}
	i := bytes.LastIndex(data, sha256OID)
	if i < 0 {
		t.Fatal("no SHA-256 MAC")
	}
	copy(data[i:], pbmac1OID)
	if _, err := Decode(data, "p"); err == nil || !strings.Contains(err.Error(), "PBMAC1") {
		t.Fatalf("error %v", err)
	}
}

// Every way openssl writes PKCS#12, old and new, reads back: the
// certificate, the key, the chain and the friendly name.
func TestOpenSSLFiles(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed (scripts/test.sh installs it)")
	}
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"), "-subj", "/CN=CA", "-days", "2")
	run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", path("leaf.key"), "-out", path("leaf.csr"), "-subj", "/CN=Leaf")
	run("x509", "-req", "-in", path("leaf.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"), "-CAcreateserial", "-days", "2", "-out", path("leaf.pem"))
	base := []string{"pkcs12", "-export", "-in", path("leaf.pem"), "-inkey", path("leaf.key"), "-certfile", path("ca.pem"), "-name", "Grüße, Frank"}
	for _, c := range []struct {
		name     string
		args     []string
		password string
		keys     int
		certs    int
	}{
		{"default", nil, "pässword", 1, 2},
		{"legacy", []string{"-legacy"}, "pässword", 1, 2},
		{"rc2-128-key", []string{"-legacy", "-keypbe", "PBE-SHA1-RC2-128", "-certpbe", "PBE-SHA1-3DES"}, "pw", 1, 2},
		{"2des", []string{"-legacy", "-keypbe", "PBE-SHA1-2DES", "-certpbe", "PBE-SHA1-2DES"}, "pw", 1, 2},
		{"aes128-sha1-mac", []string{"-keypbe", "AES-128-CBC", "-certpbe", "AES-192-CBC", "-macalg", "sha1"}, "pw", 1, 2},
		{"3des-pbes2", []string{"-keypbe", "DES-EDE3-CBC", "-certpbe", "NONE", "-macalg", "sha512"}, "pw", 1, 2},
		{"no-mac", []string{"-nomac"}, "pw", 1, 2},
		{"empty-password", nil, "", 1, 2},
		{"certificates-only", []string{"-nokeys"}, "pw", 0, 2},
		{"unencrypted", []string{"-keypbe", "NONE", "-certpbe", "NONE"}, "pw", 1, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := path(c.name + ".p12")
			args := append(append(append([]string{}, base...), c.args...), "-passout", "pass:"+c.password, "-out", out)
			if c.name == "certificates-only" {
				args = []string{"pkcs12", "-export", "-nokeys", "-in", path("leaf.pem"), "-certfile", path("ca.pem"), "-passout", "pass:" + c.password, "-out", out}
			}
			run(args...)
			data, _ := os.ReadFile(out)
			f, err := Decode(data, c.password)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Keys) != c.keys || len(f.Certs) != c.certs || !paired(f) {
				t.Fatalf("%d keys, %d certificates, paired %v", len(f.Keys), len(f.Certs), paired(f))
			}
			if c.keys > 0 && f.Keys[0].FriendlyName != "Grüße, Frank" {
				t.Fatalf("friendly name %q", f.Keys[0].FriendlyName)
			}
			if c.name != "no-mac" && c.name != "unencrypted" {
				if _, err := Decode(data, c.password+"x"); !errors.Is(err, ErrPassword) {
					t.Fatalf("wrong password: %v", err)
				}
			}
		})
	}
}

// What mailseal's keystore writes (go-pkcs12's Modern2023 encoder) reads
// back, and so do go-pkcs12's legacy encodings.
func TestGoPKCS12Files(t *testing.T) {
	key, cert := selfSigned(t)
	der := cert.Raw
	for name, enc := range map[string]*gopkcs12.Encoder{
		"Modern2023": gopkcs12.Modern2023.WithIterations(1000),
		"Legacy":     gopkcs12.LegacyRC2,
		"LegacyDES":  gopkcs12.LegacyDES,
	} {
		data, err := enc.Encode(key, cert, nil, "päss")
		if err != nil {
			t.Fatal(err)
		}
		f, err := Decode(data, "päss")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(f.Keys) != 1 || len(f.Certs) != 1 || !paired(f) || !bytes.Equal(f.Certs[0].Cert.Raw, der) {
			t.Fatalf("%s: %d keys, %d certificates", name, len(f.Keys), len(f.Certs))
		}
	}
}

// selfSigned makes a key and a self-signed certificate for it.
func selfSigned(t *testing.T) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Go"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

// withMACIterations rewrites a PFX's MAC iteration count.
func withMACIterations(t *testing.T, pfx []byte, n int64) []byte {
	t.Helper()
	in := cryptobyte.String(pfx)
	var outer, authSafe, macData, digest, salt cryptobyte.String
	var version int64
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1Integer(&version) || !outer.ReadASN1Element(&authSafe, cbasn1.SEQUENCE) ||
		!outer.ReadASN1(&macData, cbasn1.SEQUENCE) || !macData.ReadASN1Element(&digest, cbasn1.SEQUENCE) || !macData.ReadASN1Element(&salt, cbasn1.OCTET_STRING) {
		t.Fatal("not a PFX with a MAC")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1Int64(version)
		b.AddBytes(authSafe)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(digest)
			b.AddBytes(salt)
			b.AddASN1Int64(n)
		})
	})
	return b.BytesOrPanic()
}

// Hostile iteration counts are refused before anything is derived with
// them, one count or the sum of several; a count of zero is malformed.
func TestIterationBudget(t *testing.T) {
	key, cert := selfSigned(t)
	data, err := gopkcs12.Modern2023.WithIterations(1000).Encode(key, cert, nil, "p")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{MaxIterations + 1, 1 << 40} {
		if _, err := Decode(withMACIterations(t, data, n), "p"); err == nil || !strings.Contains(err.Error(), "iterations in all") {
			t.Fatalf("%d iterations: %v", n, err)
		}
	}
	if _, err := Decode(withMACIterations(t, data, 0), "p"); !errors.Is(err, errMalformed) {
		t.Fatalf("0 iterations: %v", err)
	}
	// The budget is for the whole file.
	d := &decoder{}
	if d.spend(MaxIterations/2) != nil || d.spend(MaxIterations/2) != nil || d.spend(1) == nil {
		t.Fatal("the budget does not add up the derivations")
	}
}
