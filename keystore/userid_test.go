package keystore

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/gpgtest"
)

// A user ID binds one address or none (core.UserIDAddress), and only
// while it is valid: keys made by gpg with user IDs naming two addresses
// are found under neither, and a revoked user ID finds nothing.
func TestUserIDBindsOneAddress(t *testing.T) {
	g := gpgtest.New(t)
	s := newStore(t)
	two := g.GenKey("<alice@example.org> <eve@evil.org>", "ed25519", "")
	list := g.GenKey("Eve <eve@evil.org>, Alice <alice@example.org>", "ed25519", "cv25519")
	carol := g.GenKey("Carol <carol@example.org>", "ed25519", "cv25519")
	if r := g.Run(nil, "--quick-add-uid", carol, "Carol <carol@work.example>"); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := g.Run(nil, "--quick-revoke-uid", carol, "Carol <carol@example.org>"); r.Err != nil {
		t.Fatal(r.Err)
	}
	for _, fpr := range []string{two, list, carol} {
		if _, err := s.ImportPGP(bytes.NewReader(g.ExportSecret(fpr)), []byte("pw")); err != nil {
			t.Fatal(err)
		}
	}
	for _, addr := range []string{"alice@example.org", "eve@evil.org", "carol@example.org"} {
		if found, err := s.FindPGP(addr); !errors.Is(err, core.ErrNoKey) {
			t.Errorf("%s finds %d keys (%v)", addr, len(found), err)
		}
		if keys, err := s.SecretPGPForEmail(addr); err != nil || len(keys) != 0 {
			t.Errorf("%s: %d secret keys (%v)", addr, len(keys), err)
		}
	}
	if keys, err := s.SecretPGPForEmail("carol@work.example"); err != nil || len(keys) != 1 || fingerprintOf(keys[0]) != carol {
		t.Errorf("carol@work.example: %d secret keys (%v)", len(keys), err)
	}
	for fpr, uid := range map[string]string{two: "<alice@example.org> <eve@evil.org>", list: "Eve <eve@evil.org>, Alice <alice@example.org>"} {
		info, err := s.ListPGP(fpr)
		if err != nil || len(info) != 1 {
			t.Fatal(err)
		}
		if k := info[0]; len(k.Emails) != 0 || !slices.Equal(k.UserIDs, []string{uid}) || !slices.Equal(k.UnboundUserIDs, []string{uid}) {
			t.Errorf("%s: user IDs %q, emails %q, unbound %q", uid, k.UserIDs, k.Emails, k.UnboundUserIDs)
		}
	}
	info, _ := s.ListPGP(carol)
	if k := info[0]; !slices.Equal(k.Emails, []string{"carol@work.example"}) || len(k.UnboundUserIDs) != 0 {
		t.Errorf("carol: user IDs %q, emails %q, unbound %q", k.UserIDs, k.Emails, k.UnboundUserIDs)
	}
	// A query that is not an address still finds them by their text.
	if found, err := s.FindPGP("evil.org>, Alice"); err != nil || len(found) != 1 || fingerprintOf(found[0]) != list {
		t.Errorf("substring: %d keys (%v)", len(found), err)
	}
	if _, err := s.PGPForAddress("Alice"); !errors.Is(err, core.ErrUsage) {
		t.Errorf("an address query without @: %v", err)
	}
}

// A generated key keeps its user ID as written (a quoted name stays
// quoted), and one whose address is in doubt, or that has none, is a usage
// error.
func TestGenerateUserIDAsWritten(t *testing.T) {
	s := newStore(t)
	for _, uid := range []string{"Jörg Müller <joerg@example.org>", `"Doe, John" <john@example.org>`} {
		info, err := s.GeneratePGP(GenerateOptions{UID: uid, NoPassphrase: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(info.UserIDs, []string{uid}) || len(info.Emails) != 1 {
			t.Errorf("%q: user IDs %q, emails %q", uid, info.UserIDs, info.Emails)
		}
	}
	for _, uid := range []string{`"alice@example.org" <eve@evil.org>`, "Alice", "<a@x> <b@y>"} {
		if _, err := s.GeneratePGP(GenerateOptions{UID: uid, NoPassphrase: true}); !errors.Is(err, core.ErrUsage) {
			t.Errorf("%q: %v, want a usage error", uid, err)
		}
	}
}
