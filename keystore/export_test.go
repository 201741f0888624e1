package keystore

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

func TestExportSeveral(t *testing.T) {
	s := newTestStore(t)
	if err := s.ExportAllPGP(&bytes.Buffer{}, false); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("empty keystore: %v", err)
	}
	if err := s.ExportX509Certs(&bytes.Buffer{}, nil, true); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("empty keystore: %v", err)
	}
	alice, err := s.GeneratePGP(GenerateOptions{UID: "Alice <alice@example.org>", NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	bob, err := s.GeneratePGP(GenerateOptions{UID: "Bob <bob@example.org>", NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	other := newTestStore(t)
	var carolKey bytes.Buffer
	carol, err := other.GeneratePGP(GenerateOptions{UID: "Carol <carol@example.org>", NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.ExportPGP(&carolKey, carol.Fingerprint, false); err != nil {
		t.Fatal(err)
	}
	importBytes(t, s, carolKey.Bytes()) // a certificate without its secret key
	ca, err := s.GenerateCA(X509Options{Name: "Export CA", NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := s.GenerateX509(X509Options{Email: "alice@example.org", Issuer: ca.Fingerprint, NoPassphrase: true})
	if err != nil {
		t.Fatal(err)
	}

	// Several queries, one named twice: one armored keyring, each key once.
	var out bytes.Buffer
	if err := s.ExportPGPKeys(&out, []string{"alice@example.org", bob.Fingerprint, alice.Fingerprint}, false); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(out.Bytes(), []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")); n != 1 {
		t.Fatalf("%d armor blocks", n)
	}
	keys, err := pgp.ReadKeys(out.Bytes())
	if err != nil || len(keys) != 2 || pgp.Fingerprint(keys[0].PrimaryKey) != alice.Fingerprint || pgp.Fingerprint(keys[1].PrimaryKey) != bob.Fingerprint {
		t.Fatalf("exported %d keys: %v", len(keys), err)
	}
	if err := s.ExportPGPKeys(&bytes.Buffer{}, []string{"alice@example.org", "nobody@example.org"}, false); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("a query that matches nothing: %v", err)
	}
	// All: three certificates; all secret: the two secret keys.
	out.Reset()
	if err := s.ExportAllPGP(&out, false); err != nil {
		t.Fatal(err)
	}
	if keys, err := pgp.ReadKeys(out.Bytes()); err != nil || len(keys) != 3 {
		t.Fatalf("all: %d keys, %v", len(keys), err)
	}
	var secret bytes.Buffer
	if err := s.ExportAllPGP(&secret, true); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(secret.Bytes(), []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----")) {
		t.Fatalf("secret export: %.40q", secret.Bytes())
	}
	if keys, err := pgp.ReadKeys(secret.Bytes()); err != nil || len(keys) != 2 || keys[0].PrivateKey == nil || keys[1].PrivateKey == nil {
		t.Fatalf("all secret: %d keys, %v", len(keys), err)
	}

	// Certificates: each once, chains included.
	var pem bytes.Buffer
	if err := s.ExportX509Certs(&pem, []string{leaf.Fingerprint, "Export CA"}, false); err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(pem.Bytes(), []byte("-----BEGIN CERTIFICATE-----")); n != 2 {
		t.Fatalf("%d certificates, want the leaf and its CA once each", n)
	}

	// keys export --all writes both kinds in one file; import splits it.
	mixed := append(append([]byte("keys of the old laptop\n"), out.Bytes()...), pem.Bytes()...)
	parts := SplitMixed(mixed)
	if len(parts) != 2 || !bytes.Equal(parts[0], out.Bytes()) || !bytes.Equal(parts[1], pem.Bytes()) {
		t.Fatalf("split into %d parts", len(parts))
	}
	if parts := SplitMixed(pem.Bytes()); len(parts) != 1 || !bytes.Equal(parts[0], pem.Bytes()) {
		t.Fatal("one kind is split")
	}
	fresh := newTestStore(t)
	if _, err := fresh.ImportPGP(bytes.NewReader(parts[0]), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.ImportX509(parts[1], nil, nil); err != nil {
		t.Fatal(err)
	}
	if infos, err := fresh.ListPGP(""); err != nil || len(infos) != 3 {
		t.Fatalf("imported %d keys: %v", len(infos), err)
	}
	if certs, err := fresh.ListX509(""); err != nil || len(certs) != 2 {
		t.Fatalf("imported %d certificates: %v", len(certs), err)
	}
}
