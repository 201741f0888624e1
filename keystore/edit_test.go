package keystore

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

// storedSecret parses the stored secret key file of fpr as it is.
func storedSecret(t *testing.T, s *Store, fpr string) *openpgp.Entity {
	t.Helper()
	data, err := os.ReadFile(s.secretPath(normalizeFingerprint(fpr)))
	if err != nil {
		t.Fatal(err)
	}
	e, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(data)))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAddAndRevokeUserID(t *testing.T) {
	s := newTestStore(t)
	pass := constPass("pw")
	alice, err := s.GeneratePGP(GenerateOptions{UID: "Alice <alice@example.org>", Passphrase: []byte("pw"), Expires: 365 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Not an address, two addresses, a wrong passphrase: refused, nothing written.
	before, _ := os.ReadFile(s.certPath(normalizeFingerprint(alice.Fingerprint)))
	for _, uid := range []string{"Alice Work", "A <a@x.org> <b@y.org>"} {
		if _, err := s.AddUserID(alice.Fingerprint, uid, pass); !errors.Is(err, core.ErrUsage) {
			t.Fatalf("add-uid %q: %v", uid, err)
		}
	}
	if _, err := s.AddUserID(alice.Fingerprint, "Alice Work <alice@work.example>", constPass("wrong")); !errors.Is(err, core.ErrLocked) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if _, err := s.AddUserID(alice.Fingerprint, "Alice <alice@example.org>", pass); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("a user ID the key has: %v", err)
	}
	if after, _ := os.ReadFile(s.certPath(normalizeFingerprint(alice.Fingerprint))); !bytes.Equal(before, after) {
		t.Fatal("a refused edit changed the certificate")
	}

	info, err := s.AddUserID("alice@example.org", "Alice Work <alice@work.example>", pass)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.UserIDs, []string{"Alice <alice@example.org>", "Alice Work <alice@work.example>"}) ||
		!slices.Equal(info.Emails, []string{"alice@example.org", "alice@work.example"}) {
		t.Fatalf("after add-uid: %+v", info)
	}
	// The new user ID does not change the expiry (it carries the primary's).
	if info.Expires == nil || !info.Expires.Equal(*alice.Expires) {
		t.Fatalf("expiry %v, was %v", info.Expires, alice.Expires)
	}
	// Look-ups, the signer and the secret key file see it.
	if found, err := s.PGPForAddress("alice@work.example"); err != nil || len(found) != 1 {
		t.Fatalf("look-up of the new address: %v", err)
	}
	se := s.Session(SessionOptions{Passphrase: pass})
	if _, err := se.Signer(mailseal.ProtocolOpenPGP, "alice@work.example"); err != nil {
		t.Fatalf("signer for the new address: %v", err)
	}
	if _, ok := storedSecret(t, s, alice.Fingerprint).Identities["Alice Work <alice@work.example>"]; !ok {
		t.Fatal("the secret key file lacks the new user ID")
	}
	// The primary user ID stays the primary one.
	pub, err := s.FindOnePGP(alice.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if _, id := pub.PrimaryIdentity(time.Now(), &packet.Config{}); id == nil || id.Name != "Alice <alice@example.org>" {
		t.Fatalf("primary identity: %+v", id)
	}

	// Revoke the new one by its address.
	if _, err := s.RevokeUserID(alice.Fingerprint, "nobody@example.org", "", pass); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("revoking a user ID the key lacks: %v", err)
	}
	info, err = s.RevokeUserID(alice.Fingerprint, "alice@work.example", "left the job", pass)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(info.Emails, []string{"alice@example.org"}) || len(info.UserIDs) != 1 {
		t.Fatalf("after revoke-uid: %+v", info)
	}
	// The address is bound no more: not found, no signer, no recipient,
	// not among the valid user IDs that sender binding reads, also in the
	// secret key as the session reads it.
	if _, err := s.PGPForAddress("alice@work.example"); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("look-up of the revoked address: %v", err)
	}
	if _, err := s.FindPGP("alice@work.example"); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("query for the revoked address: %v", err)
	}
	se = s.Session(SessionOptions{Passphrase: pass})
	if _, err := se.Signer(mailseal.ProtocolOpenPGP, "alice@work.example"); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("signer for the revoked address: %v", err)
	}
	if r, _, err := se.RecipientKeys(mailseal.ProtocolOpenPGP, "alice@work.example"); err != nil || len(r) != 0 {
		t.Fatalf("recipient for the revoked address: %v %v", r, err)
	}
	pub, _ = s.FindOnePGP(alice.Fingerprint)
	for _, u := range pgp.ValidUserIDs(pub, time.Now(), &packet.Config{}) {
		if u.Address == "alice@work.example" {
			t.Fatal("the revoked user ID is valid")
		}
	}
	sec, err := s.PGPSecret(alice.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range pgp.ValidUserIDs(sec, time.Now(), &packet.Config{}) {
		if u.Address == "alice@work.example" {
			t.Fatal("the revoked user ID is valid in the secret key")
		}
	}
	// The revocation is a certification revocation with reason 32 and the text.
	id := pub.Identities["Alice Work <alice@work.example>"]
	if id == nil || len(id.Revocations) != 1 || id.Revocations[0].Packet.RevocationReason == nil ||
		*id.Revocations[0].Packet.RevocationReason != packet.UserIDNotValid || id.Revocations[0].Packet.RevocationReasonText != "left the job" {
		t.Fatalf("revocation: %+v", id)
	}
	// The last valid user ID stays; revoking it again is refused.
	if _, err := s.RevokeUserID(alice.Fingerprint, "Alice <alice@example.org>", "", pass); !errors.Is(err, core.ErrUsage) || !strings.Contains(err.Error(), "last valid user ID") {
		t.Fatalf("revoking the last user ID: %v", err)
	}
	if _, err := s.RevokeUserID(alice.Fingerprint, "Alice Work <alice@work.example>", "", pass); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("revoking a revoked user ID: %v", err)
	}
	// Adding it again certifies it anew.
	info, err = s.AddUserID(alice.Fingerprint, "Alice Work <alice@work.example>", pass)
	if err != nil || !slices.Contains(info.Emails, "alice@work.example") {
		t.Fatalf("add-uid again: %+v %v", info, err)
	}

	// Without the secret key: ErrNoKey.
	other := newTestStore(t)
	var exp bytes.Buffer
	if err := s.ExportPGP(&exp, alice.Fingerprint, false); err != nil {
		t.Fatal(err)
	}
	importBytes(t, other, exp.Bytes())
	if _, err := other.AddUserID(alice.Fingerprint, "A <a@example.org>", pass); !errors.Is(err, core.ErrNoKey) {
		t.Fatalf("add-uid without the secret key: %v", err)
	}
}

func TestSetExpiry(t *testing.T) {
	s := newTestStore(t)
	pass := constPass("pw")
	for _, profile := range []string{"default", "rfc9580"} {
		t.Run(profile, func(t *testing.T) {
			uid := profile + " <" + profile + "@example.org>"
			k, err := s.GeneratePGP(GenerateOptions{UID: uid, Profile: profile, Passphrase: []byte("pw")})
			if err != nil {
				t.Fatal(err)
			}
			if k.Expires != nil || len(k.Subkeys) != 1 {
				t.Fatalf("new key: %+v", k)
			}
			until := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
			info, err := s.SetExpiry(k.Fingerprint, until, ExpireAll, pass)
			if err != nil {
				t.Fatal(err)
			}
			if info.Expires == nil || !info.Expires.Equal(until) || info.Subkeys[0].Expires == nil || !info.Subkeys[0].Expires.Equal(until) {
				t.Fatalf("expire all: %v, subkey %v, want %v", info.Expires, info.Subkeys[0].Expires, until)
			}
			// The primary key only: subkeys keep theirs.
			later := until.Add(30 * 24 * time.Hour)
			info, err = s.SetExpiry(k.Fingerprint, later, ExpirePrimary, pass)
			if err != nil {
				t.Fatal(err)
			}
			if !info.Expires.Equal(later) || !info.Subkeys[0].Expires.Equal(until) {
				t.Fatalf("expire primary: %v, subkey %v", info.Expires, info.Subkeys[0].Expires)
			}
			// Never, for the subkeys only.
			info, err = s.SetExpiry(k.Fingerprint, time.Time{}, ExpireSubkeys, pass)
			if err != nil {
				t.Fatal(err)
			}
			if !info.Expires.Equal(later) || info.Subkeys[0].Expires != nil {
				t.Fatalf("subkeys never: %v, subkey %v", info.Expires, info.Subkeys[0].Expires)
			}
			// The secret key (what signs) sees the same.
			sec, err := s.PGPSecret(k.Fingerprint)
			if err != nil {
				t.Fatal(err)
			}
			if sig, err := sec.PrimarySelfSignature(time.Now(), &packet.Config{}); err != nil || sig.KeyLifetimeSecs == nil {
				t.Fatalf("the secret key's self-signature: %v", err)
			}
			if err := Unlock(sec, pass); err != nil {
				t.Fatal(err)
			}
			if _, err := pgp.New(core.DefaultPolicy()).Micalg(sec); err != nil {
				t.Fatalf("the key does not sign after expire: %v", err)
			}
		})
	}
	// The past, and a wrong kind.
	k, err := s.GeneratePGP(GenerateOptions{UID: "Past <past@example.org>", Passphrase: []byte("pw"),
		Now: time.Now().Add(-72 * time.Hour), Expires: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !k.Expired {
		t.Fatalf("not expired: %+v", k)
	}
	if _, err := s.SetExpiry(k.Fingerprint, time.Now().Add(-time.Hour), ExpireAll, pass); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("a date in the past: %v", err)
	}
	if _, err := s.SetExpiry(k.Fingerprint, time.Time{}, "both", pass); !errors.Is(err, core.ErrUsage) {
		t.Fatalf("unknown kind: %v", err)
	}
	se := s.Session(SessionOptions{Passphrase: pass})
	if r, _, _ := se.RecipientKeys(mailseal.ProtocolOpenPGP, "past@example.org"); len(r) != 0 {
		t.Fatal("an expired key is a recipient")
	}
	// An expired key lives again.
	info, err := s.SetExpiry("past@example.org", time.Now().Add(365*24*time.Hour), ExpireAll, pass)
	if err != nil {
		t.Fatal(err)
	}
	if info.Expired || !strings.Contains(info.Capabilities, "E") {
		t.Fatalf("after extending: %+v", info)
	}
	if r, _, err := se.RecipientKeys(mailseal.ProtocolOpenPGP, "past@example.org"); err != nil || len(r) != 1 {
		t.Fatalf("the extended key is no recipient: %v", err)
	}
}
