package pkcs12

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
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

// Files written by BouncyCastle's PKCS#12 store, from its test suite (see
// testdata/README.md): BER with indefinite lengths and OCTET STRINGs in
// segments of one byte, files without MAC, a certificate-only file, a raw
// (unencrypted) key bag, a zero-length password.
func TestBouncyCastleFiles(t *testing.T) {
	for _, c := range []struct {
		file, password string
		keys, certs    int
		friendlyName   string
	}{
		{"bc-ber-hello-world.p12", "hello world", 1, 3, "David G. Hook's VeriSign, Inc. ID"},
		{"bc-ber-nofriendly.p12", "sschette12", 1, 1, ""},
		{"bc-storage.p12", "pass", 1, 2, ""},
		{"bc-nopass.p12", "", 1, 2, ""},
		{"bc-certs-only.p12", "", 0, 1, ""},
		{"bc-raw-keybag.p12", "", 1, 1, "ONVIF_Test_Alias"},
		{"bc-chain-cycle.p12", "test", 1, 3, ""},
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
			if c.friendlyName != "" && (len(f.Keys) == 0 || f.Keys[0].FriendlyName != c.friendlyName) {
				t.Fatalf("friendly name %q", f.Keys[0].FriendlyName)
			}
			if c.password != "" {
				if _, err := Decode(data, c.password+"x"); !errors.Is(err, ErrPassword) {
					t.Fatalf("wrong password: %v", err)
				}
			}
		})
	}
}

// A PBMAC1 file (RFC 9579 appendix A.1) is refused in words that say so.
func TestPBMAC1Refused(t *testing.T) {
	data, err := os.ReadFile("testdata/rfc9579-a1-pbmac1.p12")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(data, "1234"); err == nil || !strings.Contains(err.Error(), "PBMAC1") {
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
