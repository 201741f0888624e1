package keystore

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/autocrypt"
	"github.com/mailseal/mailseal/internal/locatetest"
	"github.com/mailseal/mailseal/locate"
	"github.com/mailseal/mailseal/pgp"
	"github.com/mailseal/mailseal/smime"
)

// locateNet is a loopback WKD (openpgpkey.example.org, serving the tree
// GenerateWKD writes in dir) and a key server (keys.example, answering
// from vks).
type locateNet struct {
	*locatetest.Net
	dir string
	vks map[string][]byte // URL path -> answer
}

func newLocateNet(t *testing.T) *locateNet {
	n := &locateNet{Net: locatetest.New(t, "openpgpkey.example.org", "keys.example"), dir: t.TempDir(), vks: map[string][]byte{}}
	if err := n.AddRR("openpgpkey.example.org. 60 IN A 127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	wkd := http.FileServer(http.Dir(filepath.Join(n.dir, "advanced")))
	n.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "keys.example" {
			if data, ok := n.vks[r.URL.Path]; ok {
				w.Write(data)
				return
			}
			http.NotFound(w, r)
			return
		}
		wkd.ServeHTTP(w, r)
	})
	return n
}

func (n *locateNet) locator() *locate.Locator {
	return &locate.Locator{HTTP: locate.NewHTTPClient(n.Dial, n.Roots), DNS: &locate.DNS{Addr: n.DNSAddr, Timeout: 2 * time.Second},
		VKS: "https://keys.example", Limits: locate.Limits{Timeout: 3 * time.Second}}
}

// publish writes the WKD of example.org for keys.
func (n *locateNet) publish(t *testing.T, keys ...*openpgp.Entity) {
	t.Helper()
	var all []byte
	for _, e := range keys {
		all = append(all, publicBytes(t, e)...)
	}
	if _, err := locate.GenerateWKD(n.dir, "example.org", all); err != nil {
		t.Fatal(err)
	}
}

func newEntity(t *testing.T, addr string) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, Time: func() time.Time { return time.Now().Add(-time.Hour) }}
	e, err := openpgp.NewEntity("Test", "", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func fprOf(e *openpgp.Entity) string { return pgp.Fingerprint(e.PrimaryKey) }

// TestLocate: each method's answer; nothing stored without Import; with
// Import and First the first key found is stored with its provenance and
// later methods are not asked; the keystore then answers "local".
func TestLocate(t *testing.T) {
	n := newLocateNet(t)
	ivy := newEntity(t, "ivy@example.org")
	n.publish(t, ivy)
	s := newStore(t)
	ctx := context.Background()
	methods := []string{locate.MethodLocal, locate.MethodWKD, locate.MethodVKS}
	got, err := s.Locate(ctx, n.locator(), "ivy@example.org", LocateOptions{Methods: methods})
	if err != nil || len(got) != 3 {
		t.Fatalf("locate: %v %+v", err, got)
	}
	if got[0].Method != "local" || got[0].OK() || got[1].Method != "wkd" || !got[1].OK() || got[1].Fingerprint != fprOf(ivy) ||
		got[1].Imported || !strings.HasPrefix(got[1].Source, "https://openpgpkey.example.org/") ||
		got[2].Method != "vks" || got[2].OK() || !strings.Contains(got[2].Error, "404") {
		t.Fatalf("answers: %+v", got)
	}
	if _, err := s.ListPGP(""); err == nil {
		if infos, _ := s.ListPGP(""); len(infos) != 0 {
			t.Fatalf("stored without Import: %+v", infos)
		}
	}

	got, err = s.Locate(ctx, n.locator(), "ivy@example.org", LocateOptions{Methods: methods[1:], Import: true, First: true})
	if err != nil || len(got) != 1 || !got[0].Imported || len(got[0].Changes) == 0 {
		t.Fatalf("locate --import: %v %+v", err, got)
	}
	p, err := s.Provenance(fprOf(ivy))
	if err != nil || p.Source != SourceWKD || p.Address != "ivy@example.org" || p.URL != got[0].Source || !p.Time.Equal(got[0].Fetched) {
		t.Fatalf("provenance %+v %v", p, err)
	}
	got, err = s.Locate(ctx, n.locator(), "ivy@example.org", LocateOptions{Methods: []string{locate.MethodLocal}})
	if err != nil || len(got) != 1 || !got[0].OK() || got[0].Source != "keystore (wkd)" || len(got[0].UserIDs) != 1 {
		t.Fatalf("local: %v %+v", err, got)
	}
	if _, err := s.Locate(ctx, n.locator(), "ivy@example.org", LocateOptions{Methods: []string{"ldap"}}); err != nil {
		t.Fatalf("an unknown method is an answer with an error, not a failure: %v", err)
	}
}

// TestSessionLocate: a Session with Locate finds the key of a recipient
// without one, stores it, and encrypts to it; an address found nowhere
// says what each method answered.
func TestSessionLocate(t *testing.T) {
	n := newLocateNet(t)
	kai := newEntity(t, "kai@example.org")
	n.publish(t, kai)
	s := newStore(t)
	plain := s.Session(SessionOptions{})
	if keys, _, err := plain.RecipientKeys(mailseal.ProtocolOpenPGP, "kai@example.org"); err != nil || len(keys) != 0 {
		t.Fatalf("without Locate: %v %v", keys, err)
	}
	se := s.Session(SessionOptions{Locate: &SessionLocate{Locator: n.locator(), Methods: []string{"wkd", "vks"}}})
	sel, err := mailseal.ChooseRecipients(se, []string{"kai@example.org"}, []string{mailseal.ProtocolOpenPGP})
	if err != nil || len(sel.Recipients) != 1 || sel.Recipients[0].Fingerprint() != fprOf(kai) {
		t.Fatalf("choose: %v %+v", err, sel)
	}
	if p, _ := s.Provenance(fprOf(kai)); p.Source != SourceWKD {
		t.Fatalf("provenance %+v", p)
	}
	located := se.Located(0)
	if len(located) != 1 || !located[0].Imported || located[0].Method != "wkd" || located[0].Key != nil {
		t.Fatalf("located %+v (kept without the key's bytes)", located)
	}
	_, err = mailseal.ChooseRecipients(se, []string{"kai@example.org", "nobody@example.org"}, []string{mailseal.ProtocolOpenPGP})
	if err == nil || !strings.Contains(err.Error(), "nobody@example.org: looked up by wkd, vks:") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("nobody: %v", err)
	}
	// Each address is asked once per session.
	before := len(se.Located(0))
	se.RecipientKeys(mailseal.ProtocolOpenPGP, "nobody@example.org")
	if len(se.Located(0)) != before {
		t.Fatal("asked again")
	}
	// From an index: what came since.
	if got := se.Located(before - 1); len(got) != 1 || got[0].Address != "nobody@example.org" {
		t.Fatalf("Located(%d): %+v", before-1, got)
	}
	if got := se.Located(before); len(got) != 0 {
		t.Fatalf("Located(%d): %+v", before, got)
	}
}

// TestRefresh: a key revoked on the WKD it came from is revoked here after
// a refresh; a key from a key server that comes back without user IDs
// and with a new subkey gets the subkey; a key imported by hand is
// skipped; the record keeps its source and gains the refresh time.
func TestRefresh(t *testing.T) {
	n := newLocateNet(t)
	ivy := newEntity(t, "ivy@example.org")
	n.publish(t, ivy)
	s := newStore(t)
	ctx := context.Background()
	if _, err := s.Locate(ctx, n.locator(), "ivy@example.org", LocateOptions{Methods: []string{"wkd"}, Import: true}); err != nil {
		t.Fatal(err)
	}
	jo := newEntity(t, "jo@example.org")
	// A key from a key server is asked for by fingerprint: the record
	// needs no address.
	if _, err := s.ImportPGPFrom(bytes.NewReader(publicBytes(t, jo)), Provenance{Source: SourceVKS,
		URL: "https://keys.example/vks/v1/by-fingerprint/" + fprOf(jo)}); err != nil {
		t.Fatal(err)
	}
	bob := corpusEntity(t, "samples/bob.pgp")
	if _, err := s.ImportPGP(bytes.NewReader(publicBytes(t, bob)), nil); err != nil {
		t.Fatal(err)
	}

	// Nothing changed on the network: unchanged.
	n.vks["/vks/v1/by-fingerprint/"+fprOf(jo)] = locatetest.StripUserIDs(publicBytes(t, jo))
	res, err := s.Refresh(ctx, n.locator(), []string{"ivy@example.org"}, false)
	if err != nil || len(res) != 1 || res[0].Error != "" || strings.Join(res[0].Changes, ",") != "unchanged" {
		t.Fatalf("refresh unchanged: %v %+v", err, res)
	}

	if err := ivy.Revoke(packet.KeyCompromised, "lost", nil); err != nil {
		t.Fatal(err)
	}
	n.publish(t, ivy)
	if err := jo.AddEncryptionSubkey(&packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}); err != nil {
		t.Fatal(err)
	}
	n.vks["/vks/v1/by-fingerprint/"+fprOf(jo)] = locatetest.StripUserIDs(publicBytes(t, jo))
	res, err = s.Refresh(ctx, n.locator(), nil, true)
	if err != nil || len(res) != 3 {
		t.Fatalf("refresh --all: %v %+v", err, res)
	}
	by := map[string]Refreshed{}
	for _, r := range res {
		by[r.Fingerprint] = r
	}
	if r := by[fprOf(ivy)]; r.Error != "" || r.Source != "wkd" || strings.Join(r.Changes, ",") == "unchanged" {
		t.Errorf("ivy: %+v", r)
	}
	if r := by[fprOf(jo)]; r.Error != "" || r.Source != "vks" || strings.Join(r.Changes, ",") == "unchanged" {
		t.Errorf("jo: %+v", r)
	}
	if r := by[fprOf(bob)]; r.Skipped == "" || r.Error != "" {
		t.Errorf("bob: %+v", r)
	}
	t.Logf("refresh: %+v", res)
	infos, err := s.ListPGP(fprOf(ivy))
	if err != nil || len(infos) != 1 || !infos[0].Revoked {
		t.Fatalf("ivy after refresh: %+v %v", infos, err)
	}
	infos, err = s.ListPGP(fprOf(jo))
	if err != nil || len(infos) != 1 || len(infos[0].Subkeys) != 2 || len(infos[0].UserIDs) != 1 {
		t.Fatalf("jo after refresh: %+v %v", infos, err)
	}
	p, _ := s.Provenance(fprOf(ivy))
	if p.Source != SourceWKD || p.Refreshed.IsZero() {
		t.Fatalf("ivy's record %+v", p)
	}
	// A revoked key is no recipient.
	if keys, why, _ := s.Session(SessionOptions{}).RecipientKeys(mailseal.ProtocolOpenPGP, "ivy@example.org"); len(keys) != 0 || !strings.Contains(why, "revoked") {
		t.Fatalf("revoked ivy: %v %q", keys, why)
	}
	// The source no longer has the key: an error for that key.
	delete(n.vks, "/vks/v1/by-fingerprint/"+fprOf(jo))
	res, err = s.Refresh(ctx, n.locator(), []string{fprOf(jo)}, false)
	if err != nil || len(res) != 1 || !strings.Contains(res[0].Error, "404") {
		t.Fatalf("gone: %v %+v", err, res)
	}
	if _, err := s.Refresh(ctx, n.locator(), []string{"nobody@example.org"}, false); err == nil {
		t.Fatal("a query matching nothing")
	}
}

// TestLocateAutocrypt: the autocrypt method answers from the Autocrypt
// peer state — the peer's own header, else gossip — and --import records
// the source autocrypt or gossip; refresh leaves such keys to the next
// header.
func TestLocateAutocrypt(t *testing.T) {
	s := newStore(t)
	ann, gus := newEntity(t, "ann@example.org"), newEntity(t, "gus@example.org")
	now := time.Now()
	kdAnn, err := autocrypt.KeyData(ann, "ann@example.org", now)
	if err != nil {
		t.Fatal(err)
	}
	kdGus, err := autocrypt.KeyData(gus, "gus@example.org", now)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Autocrypt().Ingest(autocrypt.Incoming{From: "ann@example.org", Date: now,
		Header: &autocrypt.Header{Addr: "ann@example.org", KeyData: kdAnn}}, []autocrypt.Header{{Addr: "gus@example.org", KeyData: kdGus}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var l locate.Locator
	opts := LocateOptions{Methods: []string{locate.MethodAutocrypt}, Import: true}
	for _, c := range []struct {
		addr, fpr, source string
	}{{"ann@example.org", fprOf(ann), SourceAutocrypt}, {"gus@example.org", fprOf(gus), SourceGossip}} {
		got, err := s.Locate(ctx, &l, c.addr, opts)
		if err != nil || len(got) != 1 || !got[0].OK() || !got[0].Imported || got[0].Fingerprint != c.fpr {
			t.Fatalf("%s: %v %+v", c.addr, err, got)
		}
		p, err := s.Provenance(c.fpr)
		if err != nil || p.Source != c.source || p.TrustedForSignatures() || p.Address != c.addr {
			t.Fatalf("%s: provenance %+v %v", c.addr, p, err)
		}
	}
	got, err := s.Locate(ctx, &l, "nobody@example.org", opts)
	if err != nil || len(got) != 1 || got[0].OK() || !strings.Contains(got[0].Error, "no Autocrypt key known") {
		t.Fatalf("nobody: %v %+v", err, got)
	}
	res, err := s.Refresh(ctx, &l, []string{"ann@example.org"}, false)
	if err != nil || len(res) != 1 || !strings.Contains(res[0].Skipped, "Autocrypt header") {
		t.Fatalf("refresh: %v %+v", err, res)
	}
}

// TestSessionLocateCache: what a Session kept before its look-up stored a
// key ("none for kai") is dropped, so the next RecipientKeys finds the key
// even before the keystore's stamp is taken again.
func TestSessionLocateCache(t *testing.T) {
	oldSettle, oldRecheck := cacheSettle, cacheRecheck
	cacheSettle, cacheRecheck = 0, time.Hour // every stamp trusted, never taken again
	t.Cleanup(func() { cacheSettle, cacheRecheck = oldSettle, oldRecheck })
	n := newLocateNet(t)
	kai := newEntity(t, "kai@example.org")
	n.publish(t, kai)
	s := newStore(t)
	se := s.Session(SessionOptions{Locate: &SessionLocate{Locator: n.locator(), Methods: []string{"wkd"}}})
	for i := 0; i < 2; i++ {
		keys, why, err := se.RecipientKeys(mailseal.ProtocolOpenPGP, "kai@example.org")
		if err != nil || len(keys) != 1 || keys[0].Fingerprint() != fprOf(kai) {
			t.Fatalf("call %d: %v %q %v", i+1, keys, why, err)
		}
	}
}

// A key found on the network adds no user ID to a stored key: the record
// and the acceptance are for the key as it was (review finding: Mallory's
// key, accepted for mallory@evil.example, took a self-signed user ID
// alice@bank.example from an Autocrypt header, and mail forged as Alice
// verified good). Revocations, subkeys and dates still merge; a key
// imported by hand still adds user IDs.
func TestNetworkAddsNoUserID(t *testing.T) {
	s := newStore(t)
	mallory := newEntity(t, "mallory@evil.example")
	var first bytes.Buffer
	if err := mallory.Serialize(&first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportPGPFrom(bytes.NewReader(first.Bytes()), Provenance{Source: "wkd", Address: "mallory@evil.example", Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AcceptPGP(fprOf(mallory)); err != nil {
		t.Fatal(err)
	}
	if err := mallory.AddUserId("Alice", "", "alice@bank.example", &packet.Config{}); err != nil {
		t.Fatal(err)
	}
	var second bytes.Buffer
	mallory.Serialize(&second)
	for _, src := range []string{"autocrypt", "wkd", "vks", "dane"} {
		res, err := s.ImportPGPFrom(bytes.NewReader(second.Bytes()), Provenance{Source: src, Address: "alice@bank.example", Time: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || !strings.Contains(strings.Join(res[0].Changes, "; "), `user ID "Alice <alice@bank.example>" not added`) {
			t.Errorf("%s: %+v", src, res)
		}
		if keys, _ := s.PGPForAddress("alice@bank.example"); len(keys) != 0 {
			t.Fatalf("%s: the accepted key now answers for alice@bank.example", src)
		}
	}
	// By hand, the user decides: the user ID is added.
	if _, err := s.ImportPGP(bytes.NewReader(second.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	if keys, _ := s.PGPForAddress("alice@bank.example"); len(keys) != 1 {
		t.Fatalf("imported by hand: %d keys for alice@bank.example", len(keys))
	}
}

// DANERecords: one OPENPGPKEY line per address the key is bound to, each
// with the key reduced to that address; a query that matches nothing is
// ErrNoKey.
func TestDANERecords(t *testing.T) {
	s := newStore(t)
	e := newEntity(t, "dan@example.org")
	if err := e.AddUserId("Dan", "", "dan@other.example", &packet.Config{}); err != nil {
		t.Fatal(err)
	}
	var pub bytes.Buffer
	e.Serialize(&pub)
	if _, err := s.ImportPGP(bytes.NewReader(pub.Bytes()), nil); err != nil {
		t.Fatal(err)
	}
	lines, err := s.DANERecords(fprOf(e), false)
	if err != nil || len(lines) != 2 {
		t.Fatalf("%q %v", lines, err)
	}
	for i, domain := range []string{"example.org.", "other.example."} {
		if !strings.Contains(lines[i], "._openpgpkey."+domain) || !strings.Contains(lines[i], "OPENPGPKEY") {
			t.Errorf("line %d: %q", i, lines[i])
		}
	}
	if _, err := s.DANERecords("nobody@example.org", false); !errors.Is(err, mailseal.ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
}

// smimeaCert is a self-signed S/MIME certificate (P-256, emailProtection)
// for addrs: one no CA vouches for.
func smimeaCert(t *testing.T, addrs ...string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: addrs[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:       x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		EmailAddresses: addrs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSessionLocateSMIMEA: a recipient with no certificate gets one from
// an SMIMEA record. A DANE-EE record counts only when a validating
// resolver vouched for it, and then only for the address looked up; a
// PKIX-EE record's certificate is stored but still needs a path to a
// trust anchor; the OpenPGP methods are not asked for S/MIME, nor SMIMEA
// for OpenPGP.
func TestSessionLocateSMIMEA(t *testing.T) {
	n := newLocateNet(t)
	lia := smimeaCert(t, "lia@example.org", "lia@other.example")
	pk := smimeaCert(t, "pk@example.org")
	for _, rr := range []struct {
		addr  string
		c     *x509.Certificate
		usage string
	}{{"lia@example.org", lia, "3"}, {"pk@example.org", pk, "1"}} {
		line, err := locate.SMIMEARecordLine(rr.addr, rr.c.Raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.AddRR(strings.Replace(line, "SMIMEA\t3 0 0", "SMIMEA\t"+rr.usage+" 0 0", 1)); err != nil {
			t.Fatal(err)
		}
	}
	session := func(ad bool) (*Store, *Session) {
		s := newStore(t)
		n.SetAD(ad)
		l := n.locator()
		l.DNS.Validating = true
		return s, s.Session(SessionOptions{Locate: &SessionLocate{Locator: l}})
	}

	// Without the AD bit: nothing stored, and the error says why.
	s, se := session(false)
	keys, why, err := se.RecipientKeys(mailseal.ProtocolSMIME, "lia@example.org")
	if err != nil || len(keys) != 0 || !strings.Contains(why, "looked up by smimea:") || !strings.Contains(why, "no validating resolver vouched") {
		t.Fatalf("no AD: %v %q %v", keys, why, err)
	}
	if got, _ := s.AllX509Certs(); len(got) != 0 {
		t.Fatalf("stored %d certificates", len(got))
	}
	for _, a := range se.Located(0) {
		if a.Method != locate.MethodSMIMEA {
			t.Errorf("S/MIME asked %s", a.Method)
		}
	}

	// With it: stored with its provenance and encrypted to, with a warning.
	s, se = session(true)
	keys, why, err = se.RecipientKeys(mailseal.ProtocolSMIME, "lia@example.org")
	if err != nil || len(keys) != 1 || keys[0].Fingerprint() != CertFingerprint(lia) {
		t.Fatalf("AD: %v %q %v", keys, why, err)
	}
	if w := keys[0].(smime.Recipient).Warnings; len(w) == 0 || !strings.Contains(w[len(w)-1], "DANE-EE") {
		t.Errorf("warnings %q", w)
	}
	if p, _ := s.X509Provenance(CertFingerprint(lia)); p.Source != SourceDANE || !p.DNSSEC || p.DANEUsage != 3 || p.Address != "lia@example.org" {
		t.Errorf("provenance %+v", p)
	}
	// The certificate also names lia@other.example, but its record was for
	// lia@example.org only.
	if keys, _, _ := s.Session(SessionOptions{}).RecipientKeys(mailseal.ProtocolSMIME, "lia@other.example"); len(keys) != 0 {
		t.Errorf("DANE-EE for another address: %v", keys)
	}
	// A PKIX-EE certificate is stored, but no CA vouches for it.
	keys, why, err = se.RecipientKeys(mailseal.ProtocolSMIME, "pk@example.org")
	if err != nil || len(keys) != 0 || !strings.Contains(why, "looked up by smimea:") {
		t.Fatalf("PKIX-EE: %v %q %v", keys, why, err)
	}
	if p, _ := s.X509Provenance(CertFingerprint(pk)); p.Source != SourceDANE || p.DANEUsage != 1 {
		t.Errorf("PKIX-EE provenance %+v", p)
	}
	// ... until the user trusts it.
	if _, err := s.Trust(CertFingerprint(pk)); err != nil {
		t.Fatal(err)
	}
	if keys, _, _ := s.Session(SessionOptions{}).RecipientKeys(mailseal.ProtocolSMIME, "pk@example.org"); len(keys) != 1 {
		t.Errorf("PKIX-EE once trusted: %v", keys)
	}
	// A DANE-EE record last confirmed more than DANEEEMaxAge ago: refused
	// without a look-up, asked again and confirmed with one.
	if err := s.updateProvenance(func(recs *provenanceRecords) {
		p := recs.X509[CertFingerprint(lia)]
		p.DNSSECConfirmed = time.Now().Add(-DANEEEMaxAge - time.Hour)
		recs.X509[CertFingerprint(lia)] = p
	}); err != nil {
		t.Fatal(err)
	}
	if keys, why, _ := s.Session(SessionOptions{}).RecipientKeys(mailseal.ProtocolSMIME, "lia@example.org"); len(keys) != 0 || !strings.Contains(why, "last confirmed by DNSSEC") {
		t.Fatalf("stale, no look-up: %v %q", keys, why)
	}
	l := n.locator()
	l.DNS.Validating = true
	keys, why, err = s.Session(SessionOptions{Locate: &SessionLocate{Locator: l}}).RecipientKeys(mailseal.ProtocolSMIME, "lia@example.org")
	if err != nil || len(keys) != 1 {
		t.Fatalf("stale, looked up again: %v %q %v", keys, why, err)
	}
	if p, _ := s.X509Provenance(CertFingerprint(lia)); time.Since(p.DNSSECConfirmed) > time.Minute {
		t.Errorf("not confirmed anew: %+v", p)
	}

	// OpenPGP look-ups do not ask SMIMEA.
	before := len(se.Located(0))
	se.RecipientKeys(mailseal.ProtocolOpenPGP, "nobody@example.org")
	for _, a := range se.Located(before) {
		if a.Method == locate.MethodSMIMEA {
			t.Errorf("OpenPGP asked smimea")
		}
	}
}
