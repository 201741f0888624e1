package keystore

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/gpgtest"
	"github.com/mailseal/mailseal/pgp"
)

// signedBy signs a detached signature with the stored secret key of fpr.
func signedBy(t *testing.T, s *Store, fpr string, pass []byte, data []byte) []byte {
	t.Helper()
	sec, err := s.PGPSecret(fpr)
	if err != nil {
		t.Fatal(err)
	}
	if err := Unlock(sec, constPass(string(pass))); err != nil {
		t.Fatal(err)
	}
	var sig bytes.Buffer
	w, err := pgp.New(core.DefaultPolicy()).SignDetached(&sig, sec)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return sig.Bytes()
}

func verifyStatus(t *testing.T, s *Store, data, sig []byte) (core.SignerStatus, string) {
	t.Helper()
	signers, _, err := pgp.New(core.DefaultPolicy()).VerifyDetached(bytes.NewReader(data), bytes.NewReader(sig), s.PGPKeyring(nil).Certs)
	if err != nil || len(signers) != 1 {
		t.Fatalf("verify: %v %+v", err, signers)
	}
	return signers[0].Status, signers[0].Error
}

// A key revoked with its secret key is revoked in the store: not chosen to
// encrypt to or sign with, its signatures no longer good, and the reason
// and message are in the revocation signature.
func TestRevokePGP(t *testing.T) {
	for _, profile := range []string{"default", "rfc9580"} {
		t.Run(profile, func(t *testing.T) {
			s := newStore(t)
			info, err := s.GeneratePGP(GenerateOptions{UID: "Rita <rita@example.org>", Profile: profile, Passphrase: []byte("pw")})
			if err != nil {
				t.Fatal(err)
			}
			data := []byte("signed before the revocation\r\n")
			sig := signedBy(t, s, info.Fingerprint, []byte("pw"), data)
			if st, why := verifyStatus(t, s, data, sig); st != core.SignerGood {
				t.Fatalf("before: %s %s", st, why)
			}
			se := s.Session(SessionOptions{Passphrase: constPass("pw")})
			if r, _, err := se.RecipientKeys(core.ProtocolOpenPGP, "rita@example.org"); err != nil || len(r) != 1 {
				t.Fatalf("recipients before: %v %v", r, err)
			}

			// A wrong passphrase revokes nothing.
			if _, _, err := s.RevokePGP("rita@example.org", RevokeOptions{Reason: ReasonCompromised, Passphrase: constPass("wrong")}); !errors.Is(err, core.ErrLocked) {
				t.Fatalf("wrong passphrase: %v", err)
			}
			if got, _ := s.ListPGP(info.Fingerprint); got[0].Revoked {
				t.Fatal("revoked with a wrong passphrase")
			}

			got, _, err := s.RevokePGP("rita@example.org", RevokeOptions{Reason: ReasonCompromised, Message: "laptop stolen", Passphrase: constPass("pw")})
			if err != nil {
				t.Fatal(err)
			}
			if !got.Revoked || got.Fingerprint != info.Fingerprint {
				t.Fatalf("%+v", got)
			}
			e, err := s.FindOnePGP(info.Fingerprint)
			if err != nil {
				t.Fatal(err)
			}
			if len(e.Revocations) != 1 {
				t.Fatalf("%d revocations stored", len(e.Revocations))
			}
			rs := e.Revocations[0].Packet
			if rs.RevocationReason == nil || *rs.RevocationReason != packet.KeyCompromised || rs.RevocationReasonText != "laptop stolen" {
				t.Fatalf("reason %v %q", rs.RevocationReason, rs.RevocationReasonText)
			}

			if r, why, err := s.Session(SessionOptions{Passphrase: constPass("pw")}).RecipientKeys(core.ProtocolOpenPGP, "rita@example.org"); err != nil || len(r) != 0 ||
				!strings.HasSuffix(why, "is revoked (get a current key from the recipient)") {
				t.Fatalf("a revoked key is a recipient: %v %q %v", r, why, err)
			}
			if _, err := s.Session(SessionOptions{Passphrase: constPass("pw")}).Signer(core.ProtocolOpenPGP, "rita@example.org"); !errors.Is(err, core.ErrNoKey) {
				t.Fatalf("a revoked key signs: %v", err)
			}
			// Named explicitly, it still does not sign.
			signer, err := s.Session(SessionOptions{Passphrase: constPass("pw")}).SignerMatching(info.Fingerprint, "")
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := pgp.New(core.DefaultPolicy()).SignDetached(&out, signer.(pgp.Signer).Entity); !errors.Is(err, core.ErrNoKey) || !strings.Contains(err.Error(), "revoked") {
				t.Fatalf("signing with a revoked key: %v", err)
			}
			if st, why := verifyStatus(t, s, data, sig); st == core.SignerGood || !strings.Contains(why, "revoked") {
				t.Fatalf("after: %s %s", st, why)
			}
			// The secret key sees the revocation too.
			sec, err := s.PGPSecret(info.Fingerprint)
			if err != nil || !sec.Revoked(time.Now()) {
				t.Fatalf("secret key: %v", err)
			}
			// Its successor for the same address is the one chosen now.
			next, err := s.GeneratePGP(GenerateOptions{UID: "Rita <rita@example.org>", Profile: profile, Passphrase: []byte("pw")})
			if err != nil {
				t.Fatal(err)
			}
			se = s.Session(SessionOptions{Passphrase: constPass("pw")})
			if r, _, err := se.RecipientKeys(core.ProtocolOpenPGP, "rita@example.org"); err != nil || len(r) != 1 ||
				pgp.Fingerprint(r[0].(pgp.Recipient).Entity.PrimaryKey) != next.Fingerprint {
				t.Fatalf("recipients after renewal: %v %v", r, err)
			}
			if signer, err := se.Signer(core.ProtocolOpenPGP, "rita@example.org"); err != nil ||
				pgp.Fingerprint(signer.(pgp.Signer).Entity.PrimaryKey) != next.Fingerprint {
				t.Fatalf("signer after renewal: %v", err)
			}
		})
	}
}

// The revocation certificate made at generation revokes the key without
// its passphrase, only when asked: by RevokePGP with UseStored, or by
// importing it (also into another keystore holding the key).
func TestStoredRevocationCertificate(t *testing.T) {
	s := newStore(t)
	info, err := s.GeneratePGP(GenerateOptions{UID: "Lost <lost@example.org>", Passphrase: []byte("forgotten")})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(), "pgp.revocs", info.Fingerprint+".rev")
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("stored revocation certificate: %v %v", err, st)
	}
	if got, _ := s.ListPGP(info.Fingerprint); got[0].Revoked {
		t.Fatal("revoked at generation")
	}
	var rev bytes.Buffer
	if err := s.RevocationCertificate(&rev, "lost@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(rev.String(), "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		t.Fatalf("%s", rev.String())
	}
	// Exporting the key does not carry it.
	var pub bytes.Buffer
	if err := s.ExportPGP(&pub, info.Fingerprint, false); err != nil {
		t.Fatal(err)
	}
	other := newStore(t)
	importBytes(t, other, pub.Bytes())
	if got, _ := other.ListPGP(info.Fingerprint); got[0].Revoked {
		t.Fatal("the exported key is revoked")
	}
	// Importing the revocation certificate revokes it there.
	res := importBytes(t, other, rev.Bytes())
	if len(res) != 1 || res[0].Fingerprint != info.Fingerprint || res[0].Changes[0] != "revoked" {
		t.Fatalf("%+v", res)
	}

	// Without the passphrase: a reason is refused, the stored one applies.
	if _, _, err := s.RevokePGP(info.Fingerprint, RevokeOptions{UseStored: true, Reason: ReasonRetired}); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("stored with a reason: %v", err)
	}
	got, added, err := s.RevokePGP(info.Fingerprint, RevokeOptions{UseStored: true})
	if err != nil || !got.Revoked || !added {
		t.Fatalf("%v %+v %v", err, got, added)
	}
	// Applied again: nothing to add, and RevokePGP says so.
	if got, added, err = s.RevokePGP(info.Fingerprint, RevokeOptions{UseStored: true}); err != nil || !got.Revoked || added {
		t.Fatalf("again: %v %+v %v", err, got, added)
	}

	// A key without a stored certificate (imported) says how to revoke it.
	importFile(t, s, "samples/bob.pgp", nil)
	if _, _, err := s.RevokePGP(bobFpr, RevokeOptions{UseStored: true}); !errors.Is(err, core.ErrNoKey) || !strings.Contains(err.Error(), "no stored revocation certificate") {
		t.Fatalf("no stored certificate: %v", err)
	}
	// Exporting one for it needs the secret key: with it, one is made and kept.
	var none bytes.Buffer
	if err := s.RevocationCertificate(&none, bobFpr, nil); !errors.Is(err, core.ErrNoKey) || none.Len() != 0 {
		t.Fatalf("no stored certificate, no passphrase: %v", err)
	}
	if err := s.RevocationCertificate(&none, bobFpr, constPass("x")); !errors.Is(err, core.ErrNoKey) || !strings.Contains(err.Error(), "no secret key") || none.Len() != 0 {
		t.Fatalf("no stored certificate, no secret key: %v", err)
	}
	// A certificate stored for another key is not applied.
	lower := strings.ToLower(bobFpr)
	if err := os.WriteFile(filepath.Join(s.Dir(), "pgp.revocs", bobFpr+".rev"), readKeyData(t, path), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RevokePGP(lower, RevokeOptions{UseStored: true}); !errors.Is(err, core.ErrInput) {
		t.Fatalf("a foreign revocation certificate: %v", err)
	}
	if got, _ := s.ListPGP(bobFpr); got[0].Revoked {
		t.Fatal("bob revoked by another key's certificate")
	}
	// Without the secret key, revoking says what else there is.
	// (A key imported with its secret key gets a revocation certificate on
	// export, below.)
	if _, _, err := s.RevokePGP(bobFpr, RevokeOptions{Passphrase: constPass("x")}); !errors.Is(err, core.ErrNoKey) || !strings.Contains(err.Error(), "stored revocation certificate") {
		t.Fatalf("no secret key: %v", err)
	}
}

// gpg imports a key revoked here and shows it revoked (validity r), and
// a revocation certificate exported here revokes the key in gpg.
func TestRevokedKeyInGPG(t *testing.T) {
	g := gpgtest.New(t)
	s := newStore(t)
	for _, uid := range []string{"Gone <gone@example.org>", "Cert <cert@example.org>"} {
		if _, err := s.GeneratePGP(GenerateOptions{UID: uid, NoPassphrase: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.RevokePGP("gone@example.org", RevokeOptions{Reason: ReasonSuperseded, Message: "new key"}); err != nil {
		t.Fatal(err)
	}
	var rev bytes.Buffer
	if err := s.RevocationCertificate(&rev, "cert@example.org", nil); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"gone@example.org", "cert@example.org"} {
		var pub bytes.Buffer
		if err := s.ExportPGP(&pub, who, false); err != nil {
			t.Fatal(err)
		}
		if r := g.Import(pub.Bytes()); r.Err != nil {
			t.Fatalf("gpg import: %v %s", r.Err, r.Stderr)
		}
	}
	validity := func(who string) string {
		r := g.Run(nil, "--with-colons", "--list-keys", who)
		for _, line := range strings.Split(string(r.Stdout), "\n") {
			if f := strings.Split(line, ":"); f[0] == "pub" && len(f) > 1 {
				return f[1]
			}
		}
		t.Fatalf("gpg lists no key for %s: %v %s %s", who, r.Err, r.Stdout, r.Stderr)
		return ""
	}
	if v := validity("gone@example.org"); v != "r" {
		t.Fatalf("gpg validity of the revoked key: %q", v)
	}
	if v := validity("cert@example.org"); v == "r" {
		t.Fatal("gpg shows the key revoked before the certificate was imported")
	}
	// gpg updates its trust database on a revocation: make one (empty).
	if r := g.Run(nil, "--trust-model", "pgp", "--check-trustdb"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := g.Import(rev.Bytes()); r.Err != nil {
		t.Fatalf("gpg import of the revocation certificate: %v %s", r.Err, r.Stderr)
	}
	if v := validity("cert@example.org"); v != "r" {
		t.Fatalf("gpg validity after the revocation certificate: %q", v)
	}
}

// A secret key whose primary part is a stub (gpg --export-secret-subkeys)
// cannot sign a revocation: ErrNoKey, saying so.
func TestRevokeStubPrimary(t *testing.T) {
	g := gpgtest.New(t)
	fpr := g.GenKey("Stub <stub@example.org>", "ed25519", "cv25519")
	r := g.Run(nil, "--export-secret-subkeys", fpr)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	s := newStore(t)
	importBytes(t, s, r.Stdout)
	if _, _, err := s.RevokePGP(fpr, RevokeOptions{Passphrase: constPass("")}); !errors.Is(err, core.ErrNoKey) || !strings.Contains(err.Error(), "stub") {
		t.Fatalf("stub: %v", err)
	}
}

// A key imported with its secret key has no stored revocation certificate:
// exporting one makes it with the passphrase, and keeps it.
func TestRevocationCertificateOnDemand(t *testing.T) {
	s := newStore(t)
	importFile(t, s, "samples/alice-secret.pgp", nil)
	path := filepath.Join(s.Dir(), "pgp.revocs", aliceFpr+".rev")
	if _, err := os.Stat(path); err == nil {
		t.Fatal("an imported key has a revocation certificate")
	}
	var rev bytes.Buffer
	if err := s.RevocationCertificate(&rev, aliceFpr, constPass("")); err != nil {
		t.Fatal(err)
	}
	stored := readKeyData(t, path)
	var again bytes.Buffer
	if err := s.RevocationCertificate(&again, aliceFpr, nil); err != nil || !bytes.Equal(rev.Bytes(), again.Bytes()) {
		t.Fatalf("the kept certificate: %v", err)
	}
	if got, _ := s.ListPGP(aliceFpr); got[0].Revoked {
		t.Fatal("revoked by making the certificate")
	}
	if _, _, err := s.RevokePGP(aliceFpr, RevokeOptions{UseStored: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListPGP(aliceFpr); !got[0].Revoked || !bytes.Equal(readKeyData(t, path), stored) {
		t.Fatal("not revoked with the kept certificate")
	}
}

// Loose revocations in an import are each checked against the
// certificates their issuer names, not against every stored one (as they
// were: an import of many revocations read and checked the whole
// keystore for each). The revoked key here sorts after almost all the
// others, which each revocation read before it found its key.
func TestImportRevocationsByIssuer(t *testing.T) {
	s := newStore(t)
	importBytes(t, s, otherKeys(t, 0, 60))
	var target *openpgp.Entity
	for target == nil || target.PrimaryKey.Fingerprint[0] < 0xf0 {
		e, err := openpgp.NewEntity("Target", "", "target@example.org", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
		if err != nil {
			t.Fatal(err)
		}
		target = e
	}
	var pub bytes.Buffer
	if err := target.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	importBytes(t, s, pub.Bytes())
	const n = 10
	var revs bytes.Buffer
	for i := range n {
		if err := target.Revoke(packet.KeyRetired, fmt.Sprintf("retired, %d", i), nil); err != nil {
			t.Fatal(err)
		}
		if err := target.Revocations[len(target.Revocations)-1].Packet.Serialize(&revs); err != nil {
			t.Fatal(err)
		}
	}
	before := s.keyBytesRead.Load()
	res := importBytes(t, s, revs.Bytes())
	read := s.keyBytesRead.Load() - before
	if len(res) != n || res[0].Changes[0] != "revoked" {
		t.Fatalf("%+v", res)
	}
	if got, _ := s.ListPGP(hex.EncodeToString(target.PrimaryKey.Fingerprint)); len(got) != 1 || !got[0].Revoked {
		t.Fatalf("not revoked: %+v", got)
	}
	if read > n*8<<10 {
		t.Errorf("%d revocations read %d bytes of keys", n, read)
	}
}
