package pgp

import (
	"bytes"
	"crypto"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// withUserIDs replaces the user IDs of key with uids, each self-signed
// exactly as written (go-crypto's own constructor refuses angle brackets in
// a name, as gpg does not).
func withUserIDs(t testing.TB, key *openpgp.Entity, uids ...string) *openpgp.Entity {
	t.Helper()
	key.Identities = map[string]*openpgp.Identity{}
	for i, uid := range uids {
		primary := i == 0
		sig := &packet.Signature{Version: key.PrimaryKey.Version, SigType: packet.SigTypePositiveCert,
			PubKeyAlgo: key.PrimaryKey.PubKeyAlgo, Hash: crypto.SHA256, CreationTime: time.Now(),
			IssuerKeyId: &key.PrimaryKey.KeyId, IssuerFingerprint: key.PrimaryKey.Fingerprint,
			FlagsValid: true, FlagCertify: true, FlagSign: true, IsPrimaryId: &primary}
		if err := sig.SignUserId(uid, key.PrimaryKey, key.PrivateKey, &packet.Config{}); err != nil {
			t.Fatal(err)
		}
		key.Identities[uid] = &openpgp.Identity{Primary: key, Name: uid, UserId: &packet.UserId{Id: uid},
			SelfCertifications: []*packet.VerifiableSignature{packet.NewVerifiableSig(sig)}}
	}
	return key
}

// A signer whose user ID names two addresses is bound to neither: the
// signature verifies, but the report has no address for it, names the user
// ID, and a message From either address is not good.
func TestVerifyUserIDWithTwoAddresses(t *testing.T) {
	e := testEngine()
	data := []byte("Content-Type: text/plain\r\n\r\nPay Eve.\r\n")
	for _, c := range []struct {
		uids   []string
		emails []string
	}{
		{[]string{"<alice@example.org> <eve@evil.org>"}, []string{}},
		{[]string{"Eve <eve@evil.org>, Alice <alice@example.org>"}, []string{}},
		{[]string{"alice@example.org <eve@evil.org>"}, []string{}},
		{[]string{"Eve (alice@example.org) <eve@evil.org>"}, []string{}},
		{[]string{"Eve <eve@evil.org>", "<alice@example.org> <eve@evil.org>"}, []string{"eve@evil.org"}},
	} {
		key := withUserIDs(t, genKey(t, "Alice", "alice@example.org", keyOpts{}), c.uids...)
		cert := publicOf(t, key)
		signers, _, err := e.VerifyDetached(bytes.NewReader(data), bytes.NewReader(sign(t, e, key, data)), openpgp.EntityList{cert})
		if err != nil {
			t.Fatal(err)
		}
		s := oneSigner(t, signers, core.SignerGood)
		if !slices.Equal(s.Emails, c.emails) {
			t.Errorf("%q: emails %q, want %q", c.uids, s.Emails, c.emails)
		}
		unbound := c.uids[len(c.uids)-1]
		if !slices.Equal(s.UnboundUserIDs, []string{unbound}) {
			t.Errorf("%q: unbound user IDs %q", c.uids, s.UnboundUserIDs)
		}
		rep := core.Report{Signers: signers}
		rep.Assess(core.Senders{From: []string{"alice@example.org"}})
		want := "user ID " + quoted(unbound) + " names more than one address; it binds to none"
		if rep.Status != core.StatusSenderMismatch || len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], want) {
			t.Errorf("%q: %s %q, want a warning saying %s", c.uids, rep.Status, rep.Warnings, want)
		}
		if strings.Contains(keyName(cert), "alice") {
			t.Errorf("%q: key named %s", c.uids, keyName(cert))
		}
	}
}

// revokeUserID adds a self-revocation of uid to key.
func revokeUserID(t *testing.T, key *openpgp.Entity, uid string) {
	t.Helper()
	rev := &packet.Signature{Version: 4, SigType: packet.SigTypeCertificationRevocation, PubKeyAlgo: key.PrimaryKey.PubKeyAlgo,
		Hash: crypto.SHA256, CreationTime: time.Now(), IssuerKeyId: &key.PrimaryKey.KeyId}
	if err := rev.SignUserId(uid, key.PrimaryKey, key.PrivateKey, &packet.Config{}); err != nil {
		t.Fatal(err)
	}
	id := key.Identities[uid]
	id.Revocations = append(id.Revocations, packet.NewVerifiableSig(rev))
}

func quoted(s string) string { return `"` + s + `"` }

// Only user IDs valid now count: a revoked one binds nothing.
func TestValidUserIDs(t *testing.T) {
	key := withUserIDs(t, genKey(t, "Alice", "alice@example.org", keyOpts{}),
		"Alice <alice@example.org>", "Alice <alice@old.example>", "Alice", "<a@x> <b@y>", "Alice <ALICE@example.org>")
	revokeUserID(t, key, "Alice <alice@old.example>")
	uids := ValidUserIDs(publicOf(t, key), time.Now(), testEngine().Config())
	var ids []string
	for _, u := range uids {
		ids = append(ids, u.ID)
	}
	if want := []string{"<a@x> <b@y>", "Alice", "Alice <ALICE@example.org>", "Alice <alice@example.org>"}; !slices.Equal(ids, want) {
		t.Fatalf("valid user IDs %q, want %q", ids, want)
	}
	addrs, unbound := Addresses(uids)
	if !slices.Equal(addrs, []string{"ALICE@example.org", "alice@example.org"}) || !slices.Equal(unbound, []string{"<a@x> <b@y>"}) {
		t.Fatalf("addresses %q, unbound %q", addrs, unbound)
	}
	var ue *core.UserIDError
	if !errors.As(uids[0].Err, &ue) || uids[1].Err != nil || uids[1].Address != "" {
		t.Fatalf("%+v", uids)
	}
}

// Error messages name a key by an address a valid user ID binds, never
// by a revoked one.
func TestKeyNameSkipsRevokedUserIDs(t *testing.T) {
	key := withUserIDs(t, genKey(t, "Bob", "bob@example.org", keyOpts{}), "Bob <bob@example.org>", "Old <a-old@example.org>")
	if name := keyName(key); !strings.HasSuffix(name, " <a-old@example.org>") {
		t.Fatalf("before the revocation: %s", name)
	}
	revokeUserID(t, key, "Old <a-old@example.org>")
	if name := keyName(publicOf(t, key)); !strings.HasSuffix(name, " <bob@example.org>") {
		t.Fatalf("after the revocation: %s", name)
	}
}

// NewKey writes a user ID as given, and refuses one whose address is in
// doubt.
func TestNewKeyUserIDs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Alice <alice@example.org>", "Alice <alice@example.org>"},
		{`"Doe, John" <john@example.org>`, `"Doe, John" <john@example.org>`},
		{"Jörg Müller (Büro) <joerg@example.org>", "Jörg Müller (Büro) <joerg@example.org>"},
		{"  <alice@example.org>  ", "<alice@example.org>"},
		{"alice@example.org", "alice@example.org"},
		{"alice@example.org (Alice)", "alice@example.org (Alice)"},
		{"Alice Example", "Alice Example"},
	} {
		k, err := NewKey(KeyOptions{UserIDs: []string{"Primary <primary@example.org>", c.in}})
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if _, ok := k.Identities[c.want]; !ok {
			t.Errorf("%q: user IDs %v, want %q", c.in, k.Identities, c.want)
		}
	}
	for _, uid := range []string{
		`"alice@example.org" <eve@evil.org>`,
		"alice@example.org <eve@evil.org>",
		"Eve <eve@evil.org>, Alice <alice@example.org>",
		"<alice@example.org> <eve@evil.org>",
		"=?utf-8?q?alice=40example.org?= <eve@evil.org>",
		"Alice \u202e<gro.elpmaxe@ecila>",
		"<alice@example.org> (work)", // readable, but go-crypto cannot write it
	} {
		for _, uids := range [][]string{{uid}, {"Eve <eve@evil.org>", uid}} {
			if _, err := NewKey(KeyOptions{UserIDs: uids}); !errors.Is(err, core.ErrUsage) {
				t.Errorf("%q: %v, want a usage error", uids, err)
			}
		}
	}
}

// A user ID revoked by a signature dated a second after the check time
// (gpg's clock bump when a self-signature falls in the same second as the
// last) is revoked: go-crypto alone ignored it, half the time.
func TestUserIDRevokedJustAhead(t *testing.T) {
	key, err := NewKey(KeyOptions{UserIDs: []string{"Carol <carol@example.org>", "Carol <carol@work.example>"}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	uid := "Carol <carol@example.org>"
	for _, ahead := range []time.Duration{time.Second, core.MaxClockSkew + time.Minute} {
		id := key.Identities[uid]
		rev := &packet.Signature{Version: key.PrimaryKey.Version, SigType: packet.SigTypeCertificationRevocation,
			PubKeyAlgo: key.PrimaryKey.PubKeyAlgo, Hash: crypto.SHA256, CreationTime: now.Add(ahead),
			IssuerKeyId: &key.PrimaryKey.KeyId, IssuerFingerprint: key.PrimaryKey.Fingerprint}
		if err := rev.SignUserId(uid, key.PrimaryKey, key.PrivateKey, &packet.Config{}); err != nil {
			t.Fatal(err)
		}
		id.Revocations = []*packet.VerifiableSignature{packet.NewVerifiableSig(rev)}
		addrs, _ := Addresses(ValidUserIDs(key, now, &packet.Config{}))
		want := []string{"carol@work.example"}
		if ahead > core.MaxClockSkew {
			want = []string{"carol@example.org", "carol@work.example"} // a revocation from the future is not believed
		}
		if !slices.Equal(addrs, want) {
			t.Errorf("revoked %v ahead: addresses %v, want %v", ahead, addrs, want)
		}
	}
}
