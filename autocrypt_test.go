package mailseal_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/autocrypt"
	"github.com/mailseal/mailseal/pgp"
)

// pgpFinder is a KeyFinder over OpenPGP keys by address.
type pgpFinder map[string]*openpgp.Entity

func (f pgpFinder) RecipientKeys(p, addr string) ([]mailseal.Recipient, string, error) {
	if e := f[addr]; e != nil && p == mailseal.ProtocolOpenPGP {
		return []mailseal.Recipient{pgp.Recipient{Entity: e}}, "", nil
	}
	return nil, "", nil
}

func (f pgpFinder) Signer(p, from string) (mailseal.Signer, error) {
	if e := f[from]; e != nil && p == mailseal.ProtocolOpenPGP {
		return pgp.Signer{Entity: e}, nil
	}
	return nil, fmt.Errorf("no signer for %s: %w", from, mailseal.ErrNoKey)
}

func (f pgpFinder) HasSigner(p, from string) (bool, error) {
	return f[from] != nil && p == mailseal.ProtocolOpenPGP, nil
}

// send plans and writes the copies of draft, returning them.
func send(t *testing.T, draft string, keys mailseal.KeyFinder, opts mailseal.SendOptions) ([]string, []string) {
	t.Helper()
	m := parse(draft)
	defer m.Close()
	plan, err := mailseal.PlanSend(m, keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer plan.Close()
	var out []string
	for _, c := range plan.Copies {
		var b bytes.Buffer
		if err := plan.Write(&b, c); err != nil {
			t.Fatal(err)
		}
		out = append(out, b.String())
	}
	return out, plan.Warnings
}

// Autocrypt end to end (issue 18): PlanSend puts the sender's Autocrypt
// header on every copy, outside the encryption too; Open with an
// autocrypt.Store learns the sender's key from it, and a gossiped key only
// from encrypted content; the recommendation follows.
func TestAutocryptSendAndOpen(t *testing.T) {
	alice, bob := newKey("Alice <alice@example.org>"), newKey("Bob <bob@example.org>")
	carol := newKey("Carol <carol@example.org>")
	aliceKeys := pgpFinder{"alice@example.org": alice, "bob@example.org": bob}
	copies, warnings := send(t, outgoing+"", aliceKeys, mailseal.SendOptions{Sign: true, Autocrypt: true, AutocryptMutual: true})
	if len(copies) != 1 || len(warnings) != 0 {
		t.Fatalf("%d copies, warnings %q", len(copies), warnings)
	}
	outer := parse(copies[0])
	defer outer.Close()
	h, err := autocrypt.Parse(outer.Root.Header.Get("Autocrypt"))
	if err != nil || h.Addr != "alice@example.org" || !h.PreferEncrypt {
		t.Fatalf("outer Autocrypt header %q: %+v, %v", outer.Root.Header.Get("Autocrypt"), h, err)
	}
	if k, err := autocrypt.ReadKey(h.KeyData); err != nil || pgp.Fingerprint(k.PrimaryKey) != pgp.Fingerprint(alice.PrimaryKey) {
		t.Fatalf("keydata: %v", err)
	}

	// Bob reads it; his store learns Alice's key.
	store := autocrypt.Store{Dir: filepath.Join(t.TempDir(), "autocrypt")}
	bobKeys := mailseal.Keys{OpenPGP: pgp.Keyring{Certs: openpgpList(alice), Secrets: openpgpList(bob)}}
	o, err := mailseal.Open(outer, bobKeys, mailseal.OpenOptions{Decrypt: true, Autocrypt: store})
	if err != nil || o.Status != mailseal.StatusGood {
		t.Fatalf("open: %v %+v", err, o)
	}
	rec, each, keys, err := store.Recommend([]string{"alice@example.org"}, autocrypt.RecommendOptions{SelfMutual: true})
	if err != nil || rec != autocrypt.Encrypt || each["alice@example.org"] != autocrypt.Encrypt || !bytes.Equal(keys["alice@example.org"], h.KeyData) {
		t.Fatalf("recommendation %s %v: %v", rec, each, err)
	}

	// Gossip about Carol inside an encrypted message counts; the same
	// field in a message that is only signed does not, and an encrypted
	// copy does not show it outside.
	cData, err := autocrypt.KeyData(carol, "carol@example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	gossip := autocrypt.Header{Addr: "carol@example.org", KeyData: cData}.Field(autocrypt.FieldGossip)
	draft := "From: Alice <alice@example.org>\r\nTo: bob@example.org, carol@example.org\r\n" + gossip + "Subject: hi\r\n\r\nhello\r\n"
	// Carol has no key: Bob's copy is encrypted, Carol's signed only.
	copies, _ = send(t, draft, pgpFinder{"alice@example.org": alice, "bob@example.org": bob}, mailseal.SendOptions{Sign: true, AllowPlaintext: true})
	if len(copies) != 2 {
		t.Fatalf("%d copies", len(copies))
	}
	for _, c := range copies {
		m := parse(c)
		encrypted := strings.HasPrefix(m.Root.MediaType, "multipart/encrypted")
		outerGossip := m.Root.Header.Get(autocrypt.FieldGossip)
		gs := autocrypt.Store{Dir: filepath.Join(t.TempDir(), "g")}
		o, err := mailseal.Open(m, bobKeys, mailseal.OpenOptions{Autocrypt: gs})
		m.Close()
		if err != nil || o.Encrypted != encrypted {
			t.Fatalf("encrypted %v: %v, %+v", encrypted, err, o)
		}
		p, _ := gs.Peer("carol@example.org")
		switch {
		case encrypted && (outerGossip != "" || p == nil || !bytes.Equal(p.GossipKey, cData) || p.PublicKey != nil):
			t.Fatalf("encrypted: gossip outside %q, peer %+v", outerGossip, p)
		case !encrypted && (outerGossip == "" || p != nil):
			t.Fatalf("signed only: gossip %q taken from the outside: %+v", outerGossip, p)
		}
	}
}

// PlanSend tells to import a key only where none is stored.
func TestPlanSendNoKeyStored(t *testing.T) {
	m := parse(outgoing)
	defer m.Close()
	_, err := mailseal.PlanSend(m, pgpFinder{"alice@example.org": newKey("Alice <alice@example.org>")}, mailseal.SendOptions{})
	if !errors.Is(err, mailseal.ErrNoKey) || !strings.Contains(err.Error(), "no openpgp or smime key is stored for bob@example.org (import their key or certificate); nothing was sent") {
		t.Fatalf("%v", err)
	}
}

// PlanSend without a sender key warns, and leaves an Autocrypt header the
// message brings alone.
func TestAutocryptSendWarnings(t *testing.T) {
	bob := newKey("Bob <bob@example.org>")
	_, warnings := send(t, outgoing, pgpFinder{"bob@example.org": bob}, mailseal.SendOptions{Autocrypt: true})
	if len(warnings) == 0 || !strings.Contains(strings.Join(warnings, "\n"), "no Autocrypt header: the sender alice@example.org has no valid OpenPGP encryption key") {
		t.Fatalf("warnings %q", warnings)
	}
	alice := newKey("Alice <alice@example.org>")
	own := "Autocrypt: addr=alice@example.org; keydata=AAAA\r\n" + outgoing
	copies, warnings := send(t, own, pgpFinder{"alice@example.org": alice, "bob@example.org": bob}, mailseal.SendOptions{Autocrypt: true})
	m := parse(copies[0])
	defer m.Close()
	if n := len(m.Root.Header.Values("Autocrypt")); n != 1 || !strings.Contains(strings.Join(warnings, "\n"), "has an Autocrypt header already") {
		t.Fatalf("%d Autocrypt fields, warnings %q", n, warnings)
	}
}
