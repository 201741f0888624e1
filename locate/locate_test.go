package locate

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/locatetest"
)

func TestWKDHashAndURLs(t *testing.T) {
	// The draft's example (draft-koch-openpgp-webkey-service, section 3.1).
	if got := WKDHash("Joe.Doe"); got != "iy9q119eutrkn8s1mk4r39qejnbu3n5q" {
		t.Errorf("WKDHash(Joe.Doe) = %s", got)
	}
	adv, direct, err := WKDURLs("Joe.Doe@Example.ORG")
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://openpgpkey.example.org/.well-known/openpgpkey/example.org/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe"; adv != want {
		t.Errorf("advanced %s, want %s", adv, want)
	}
	if want := "https://example.org/.well-known/openpgpkey/hu/iy9q119eutrkn8s1mk4r39qejnbu3n5q?l=Joe.Doe"; direct != want {
		t.Errorf("direct %s, want %s", direct, want)
	}
	for _, bad := range []string{"", "nobody", "@example.org", "a@", "a b@example.org"} {
		if _, _, err := WKDURLs(bad); !errors.Is(err, core.ErrUsage) {
			t.Errorf("WKDURLs(%q): %v, want a usage error", bad, err)
		}
	}
}

// TestWKDInterop holds WKDHash and WKDURLs to gpg-wks-client and sq.
func TestWKDInterop(t *testing.T) {
	addrs := []string{"joe.doe@example.org", "Alice.Example@Example.ORG", "x+tag@sub.example.net", "ÄÖ@example.org"}
	wks := "/usr/lib/gnupg/gpg-wks-client"
	if _, err := os.Stat(wks); err != nil {
		t.Fatal("gpg-wks-client is needed for the WKD interop test: install Debian's gpg-wks-client (scripts/test.sh does)")
	} else {
		for _, a := range addrs {
			out, err := exec.Command(wks, "--print-wkd-hash", a).Output()
			if err != nil {
				t.Fatal(err)
			}
			local, _, _ := splitAddr(a)
			if got := strings.Fields(string(out))[0]; got != WKDHash(local) {
				t.Errorf("%s: gpg-wks-client %s, mailseal %s", a, got, WKDHash(local))
			}
			// gpg lower-cases the whole address, the l= parameter too; the
			// draft keeps the local part as written, so compare lower-case
			// addresses. gpg prints a non-ASCII local part raw, mailseal
			// percent-encodes it (as an HTTP client sends it).
			if strings.ContainsFunc(a, func(r rune) bool { return r >= 0x80 }) {
				continue
			}
			out, err = exec.Command(wks, "--print-wkd-url", strings.ToLower(a)).Output()
			if err != nil {
				t.Fatal(err)
			}
			adv, _, _ := WKDURLs(strings.ToLower(a))
			if got := strings.TrimSpace(string(out)); got != adv {
				t.Errorf("%s: gpg-wks-client %s, mailseal %s", a, got, adv)
			}
		}
	}
	if _, err := exec.LookPath("sq"); err != nil {
		t.Fatal("sq is needed for the WKD interop test: install Debian's sq (scripts/test.sh does)")
	}
	for _, a := range addrs[:3] {
		adv, direct, _ := WKDURLs(a)
		for _, c := range []struct{ sub, want string }{{"url", adv}, {"direct-url", direct}} {
			out, err := exec.Command("sq", "wkd", c.sub, a).Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(out)); got != c.want {
				t.Errorf("sq wkd %s %s: %s, mailseal %s", c.sub, a, got, c.want)
			}
		}
	}
}

func TestWKDAdvanced(t *testing.T) {
	n := newTestNet(t)
	alice := newKey(t, "Alice@example.org", "alice@elsewhere.example")
	n.addRR("openpgpkey.example.org. 60 IN A 127.0.0.1")
	adv, direct, _ := WKDURLs("Alice@example.org")
	n.mux.Handle(path(adv), serve(armored(t, public(t, alice))))
	// The direct method's answer would be another key: it must not be asked.
	n.mux.Handle(path(direct), serve(public(t, newKey(t, "alice@example.org"))))
	found, err := n.locator().WKD(context.Background(), "Alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Fingerprint != fpr(alice) || !found[0].MatchesAddress || found[0].Source != adv || found[0].Method != MethodWKD {
		t.Fatalf("found %+v", found)
	}
	if len(found[0].UserIDs) != 1 || !strings.Contains(found[0].UserIDs[0], "Alice@example.org") {
		t.Errorf("user IDs %q: only the one for the address should be kept", found[0].UserIDs)
	}
	if bytes.Contains(found[0].Key, []byte("elsewhere")) {
		t.Error("the key still holds the user ID of another address")
	}
	if found[0].Fetched.IsZero() {
		t.Error("no fetch time")
	}
}

func TestWKDDirectOnlyWithoutSubdomain(t *testing.T) {
	n := newTestNet(t)
	bob := newKey(t, "bob@direct.example")
	_, direct, _ := WKDURLs("bob@direct.example")
	n.mux.Handle(path(direct), serve(public(t, bob))) // binary
	found, err := n.locator().WKD(context.Background(), "bob@direct.example")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Fingerprint != fpr(bob) || found[0].Source != direct {
		t.Fatalf("found %+v", found)
	}

	// openpgpkey.example.org resolves but has no key: the direct method
	// (which has one) is not asked.
	n.addRR("openpgpkey.example.org. 60 IN A 127.0.0.1")
	carol := newKey(t, "carol@example.org")
	_, direct, _ = WKDURLs("carol@example.org")
	n.mux.Handle(path(direct), serve(public(t, carol)))
	if _, err := n.locator().WKD(context.Background(), "carol@example.org"); !errors.Is(err, core.ErrNoKey) || !strings.Contains(err.Error(), "openpgpkey.example.org") {
		t.Fatalf("err %v, want no key at the advanced URL", err)
	}
}

// TestHostile: servers that answer too much, the wrong keys, redirect
// elsewhere or too slowly are refused with a clear error.
func TestHostile(t *testing.T) {
	n := newTestNet(t)
	n.addRR("openpgpkey.example.org. 60 IN A 127.0.0.1")
	n.addRR("openpgpkey.slow.example. 60 IN A 127.0.0.1")
	handle := func(addr string, h http.HandlerFunc) {
		adv, _, _ := WKDURLs(addr)
		n.mux.Handle(path(adv), h)
	}
	var many []byte
	for i := 0; i < 17; i++ {
		many = append(many, public(t, newKey(t, "many@example.org"))...)
	}
	handle("many@example.org", serve(many))
	handle("big@example.org", serve(append(public(t, newKey(t, "big@example.org")), make([]byte, 1<<20)...)))
	handle("wrong@example.org", serve(public(t, newKey(t, "mallory@example.org", "wrong@elsewhere.example"))))
	handle("other@example.org", serve(public(t, newKey(t, "someone@example.org"))))
	handle("redirect@example.org", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://evil.example/key", http.StatusFound)
	})
	handle("plainredirect@example.org", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://openpgpkey.example.org/key", http.StatusFound)
	})
	sec := newKey(t, "secret@example.org")
	var secret bytes.Buffer
	sec.SerializePrivate(&secret, nil)
	handle("secret@example.org", serve(secret.Bytes()))
	handle("garbage@example.org", serve([]byte("<html>not a key</html>")))
	handle("slow@slow.example", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	for _, c := range []struct{ addr, want string }{
		{"many@example.org", "more than 16 keys"},
		{"big@example.org", "more than 1 MiB"},
		{"wrong@example.org", "no user ID of the key is bound to wrong@example.org"},
		{"other@example.org", "no user ID of the key is bound to other@example.org"},
		{"redirect@example.org", "refused a redirect to another host"},
		{"plainredirect@example.org", "refused a redirect to another host"},
		{"secret@example.org", "secret key"},
		{"garbage@example.org", "neither binary OpenPGP data nor ASCII armor"},
		{"slow@slow.example", "deadline exceeded"},
		{"nobody@example.org", "no key (404)"},
	} {
		l := n.locator()
		l.Limits.Timeout = 500 * time.Millisecond
		start := time.Now()
		found, err := l.WKD(context.Background(), c.addr)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: found %d keys, err %v; want %q", c.addr, len(found), err, c.want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s: took %v", c.addr, d)
		}
	}
}

func TestVKS(t *testing.T) {
	n := newTestNet(t)
	dave := newKey(t, "dave@example.org")
	n.mux.Handle("/vks/v1/by-email/dave@example.org", serve(armored(t, public(t, dave))))
	n.mux.Handle("/vks/v1/by-email/eve@example.org", serve(public(t, dave)))
	l := n.locator()
	found, err := l.VKSByEmail(context.Background(), "dave@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 || found[0].Fingerprint != fpr(dave) || found[0].Source != "https://keys.example/vks/v1/by-email/dave@example.org" {
		t.Fatalf("found %+v", found)
	}
	if _, err := l.VKSByEmail(context.Background(), "eve@example.org"); err == nil || !strings.Contains(err.Error(), "no user ID") {
		t.Errorf("a key for another address: %v", err)
	}
	if _, err := l.VKSByEmail(context.Background(), "frank@example.org"); !errors.Is(err, core.ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
}

func TestLocateAllMethods(t *testing.T) {
	n := newTestNet(t)
	gina := newKey(t, "gina@example.org")
	n.addRR("openpgpkey.example.org. 60 IN A 127.0.0.1")
	adv, _, _ := WKDURLs("gina@example.org")
	n.mux.Handle(path(adv), serve(public(t, gina)))
	n.mux.Handle("/vks/v1/by-email/gina@example.org", serve(public(t, gina)))
	found := n.locator().Locate(context.Background(), "gina@example.org", nil)
	if len(found) != len(Methods) || len(Methods) != 4 {
		t.Fatalf("found %+v", found)
	}
	for i, m := range Methods {
		if found[i].Method != m {
			t.Errorf("answer %d is %s, want %s", i, found[i].Method, m)
		}
	}
	if found[0].Error != "" || found[2].Error != "" || found[0].Fingerprint != fpr(gina) {
		t.Errorf("wkd/vks: %+v", found)
	}
	if !strings.Contains(found[1].Error, "no such name") {
		t.Errorf("dane without a record: %+v", found[1])
	}
	if _, err := ParseMethods("wkd,ldap"); !errors.Is(err, core.ErrUsage) {
		t.Errorf("ParseMethods: %v", err)
	}
}

func TestGenerateWKD(t *testing.T) {
	n := newTestNet(t)
	n.addRR("openpgpkey.example.org. 60 IN A 127.0.0.1")
	alice := newKey(t, "Alice@Example.org", "alice@elsewhere.example")
	bob := newKey(t, "bob@example.org")
	other := newKey(t, "zed@elsewhere.example")
	dir := t.TempDir()
	addrs, err := GenerateWKD(dir, "example.org", armored(t, public(t, alice, bob, other)))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(addrs, " ") != "Alice@example.org bob@example.org" {
		t.Errorf("addresses %q", addrs)
	}
	for _, p := range []string{"advanced/.well-known/openpgpkey/example.org/policy", "direct/.well-known/openpgpkey/policy",
		"direct/.well-known/openpgpkey/hu/" + WKDHash("bob")} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Error(err)
		}
	}
	// Served as the web root of openpgpkey.example.org, the tree gives
	// each key to the lookup.
	n.mux.Handle("/", http.FileServer(http.Dir(filepath.Join(dir, "advanced"))))
	for _, c := range []struct {
		addr string
		want string
	}{{"Alice@example.org", fpr(alice)}, {"bob@example.org", fpr(bob)}} {
		found, err := n.locator().WKD(context.Background(), c.addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].Fingerprint != c.want {
			t.Errorf("%s: %+v", c.addr, found)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "advanced/.well-known/openpgpkey/example.org/hu", WKDHash("alice")))
	if bytes.Contains(data, []byte("elsewhere")) {
		t.Error("the published key holds a user ID of another domain")
	}
	// A file of several armored blocks (keys exported one by one and
	// joined) publishes every key: go-crypto's armored key reader, used
	// here before, read the first block only.
	joined := append(append(armored(t, public(t, alice)), '\n'), armored(t, public(t, bob))...)
	if addrs, err := GenerateWKD(t.TempDir(), "example.org", joined); err != nil || strings.Join(addrs, " ") != "Alice@example.org bob@example.org" {
		t.Errorf("two armored blocks: %q, %v", addrs, err)
	}
	if _, err := GenerateWKD(t.TempDir(), "nothing.example", public(t, alice)); !errors.Is(err, core.ErrNoKey) {
		t.Errorf("no key in the domain: %v", err)
	}
	// sq writes the same hashed names.
	if _, err := exec.LookPath("sq"); err != nil {
		t.Fatal("sq is needed for the WKD interop test: install Debian's sq (scripts/test.sh does)")
	}
	{
		sqDir := t.TempDir()
		ring := filepath.Join(t.TempDir(), "ring.pgp")
		os.WriteFile(ring, public(t, alice, bob), 0o600)
		if out, err := exec.Command("sq", "wkd", "generate", sqDir, "example.org", ring).CombinedOutput(); err != nil {
			t.Fatalf("sq wkd generate: %v: %s", err, out)
		}
		for _, local := range []string{"alice", "bob"} {
			if _, err := os.Stat(filepath.Join(sqDir, ".well-known/openpgpkey/example.org/hu", WKDHash(local))); err != nil {
				t.Errorf("sq's tree has no %s: %v", local, err)
			}
		}
	}
}

func TestDANE(t *testing.T) {
	// RFC 7929, section 3's example name.
	if name, _ := OPENPGPKEYName("hugh@example.com"); name != "c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._openpgpkey.example.com." {
		t.Errorf("OPENPGPKEYName: %s", name)
	}
	n := newTestNet(t)
	hugh := newKey(t, "hugh@example.org", "hugh@elsewhere.example")
	line, err := OPENPGPKEYRecord("hugh@example.org", public(t, hugh))
	if err != nil {
		t.Fatal(err)
	}
	n.addRR(line)
	name, _ := OPENPGPKEYName("hugh@example.org")
	for _, c := range []struct{ ad, validating, want bool }{{true, true, true}, {true, false, false}, {false, true, false}} {
		n.SetAD(c.ad)
		l := n.locator()
		l.DNS.Validating = c.validating
		found, err := l.DANE(context.Background(), "hugh@example.org")
		if err != nil {
			t.Fatal(err)
		}
		if len(found) != 1 || found[0].Fingerprint != fpr(hugh) || found[0].Source+"." != name || len(found[0].UserIDs) != 1 {
			t.Fatalf("found %+v", found)
		}
		if found[0].DNSSEC != c.want {
			t.Errorf("AD %v from a validating (%v) resolver: DNSSEC %v", c.ad, c.validating, found[0].DNSSEC)
		}
	}
	// Hostile answers: another address's key, too many records.
	line, _ = OPENPGPKEYRecord("ivan@example.org", public(t, newKey(t, "mallory@example.org")))
	n.addRR(line)
	for i := 0; i < 17; i++ {
		line, _ = OPENPGPKEYRecord("judy@example.org", public(t, newKey(t, "judy@example.org")))
		n.addRR(line)
	}
	for _, c := range []struct{ addr, want string }{
		{"ivan@example.org", "no user ID of the key is bound to ivan@example.org"},
		{"judy@example.org", "refused an answer of 17 records"},
		{"kim@example.org", "no such name"},
	} {
		if _, err := n.locator().DANE(context.Background(), c.addr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.addr, err, c.want)
		}
	}
	if _, err := (&Locator{}).DANE(context.Background(), "hugh@example.org"); !errors.Is(err, core.ErrUsage) {
		t.Errorf("DANE without a resolver: %v", err)
	}
}

func TestSMIMEA(t *testing.T) {
	n := newTestNet(t)
	der := []byte{0x30, 0x03, 0x02, 0x01, 0x01} // the record carries any DER
	line, err := SMIMEARecordLine("ann@example.org", der)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "._smimecert.example.org.") || !strings.Contains(line, "SMIMEA\t3 0 0 3003020101") {
		t.Errorf("record %q", line)
	}
	n.addRR(line)
	n.SetAD(true)
	l := n.locator()
	l.DNS.Validating = true
	recs, validated, err := l.SMIMEARecords(context.Background(), "ann@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || !bytes.Equal(recs[0].Data, der) || recs[0].Usage != 3 || !validated {
		t.Errorf("records %+v validated %v", recs, validated)
	}
}

func TestVKSByFingerprintAndRefresh(t *testing.T) {
	n := newTestNet(t)
	ida := newKey(t, "ida@example.org", "ida@other.example")
	other := newKey(t, "jo@example.org")
	n.mux.Handle("/vks/v1/by-fingerprint/"+fpr(ida), serve(armored(t, public(t, ida))))
	n.mux.Handle("/vks/v1/by-fingerprint/"+fpr(other), serve(locatetest.StripUserIDs(public(t, other))))
	n.mux.Handle("/vks/v1/by-fingerprint/"+strings.Repeat("AB", 20), serve(public(t, ida)))
	l := n.locator()
	f, err := l.Refresh(context.Background(), MethodVKS, "ida@example.org", fpr(ida))
	if err != nil || f.Fingerprint != fpr(ida) || len(f.UserIDs) != 1 || !f.MatchesAddress {
		t.Fatalf("ida: %+v %v", f, err)
	}
	// Only the user ID of the address stays.
	got, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(f.Key)))
	if err != nil || len(got.Identities) != 1 {
		t.Fatalf("ida's key: %v %d", err, len(got.Identities))
	}
	// A key without user IDs is an answer.
	f, err = l.VKSByFingerprint(context.Background(), fpr(other), "jo@example.org")
	if err != nil || f.MatchesAddress || len(f.Key) == 0 {
		t.Fatalf("without user IDs: %+v %v", f, err)
	}
	if _, err := l.VKSByFingerprint(context.Background(), strings.Repeat("AB", 20), ""); err == nil || !strings.Contains(err.Error(), "is not the key") {
		t.Errorf("another key: %v", err)
	}
	if _, err := l.VKSByFingerprint(context.Background(), "nothex", ""); !errors.Is(err, core.ErrUsage) {
		t.Errorf("bad fingerprint: %v", err)
	}
	// WKD: refreshed from the directory; a key no longer there is ErrNoKey.
	n.addRR("openpgpkey.example.org. 60 IN A 127.0.0.1")
	adv, _, _ := WKDURLs("ida@example.org")
	n.mux.Handle(path(adv), serve(public(t, ida)))
	if f, err := l.Refresh(context.Background(), MethodWKD, "ida@example.org", fpr(ida)); err != nil || f.Fingerprint != fpr(ida) {
		t.Fatalf("wkd refresh: %+v %v", f, err)
	}
	if _, err := l.Refresh(context.Background(), MethodWKD, "ida@example.org", fpr(other)); !errors.Is(err, core.ErrNoKey) {
		t.Errorf("wkd refresh of a key not there: %v", err)
	}
	if _, err := l.Refresh(context.Background(), "import", "ida@example.org", fpr(ida)); !errors.Is(err, core.ErrUsage) {
		t.Errorf("refresh from import: %v", err)
	}
}

func TestUploadVKS(t *testing.T) {
	n := newTestNet(t)
	kim := newKey(t, "kim@example.org")
	var uploaded []byte
	var asked []string
	n.mux.HandleFunc("/vks/v1/upload", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Keytext string }
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, `{"error":"bad request"}`, 400)
			return
		}
		uploaded = []byte(req.Keytext)
		fmt.Fprintf(w, `{"key_fpr":"%s","status":{"kim@example.org":"unpublished"},"token":"tok"}`, fpr(kim))
	})
	n.mux.HandleFunc("/vks/v1/request-verify", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token     string
			Addresses []string
		}
		json.NewDecoder(r.Body).Decode(&req)
		if req.Token != "tok" {
			http.Error(w, `{"error":"bad token"}`, 400)
			return
		}
		asked = req.Addresses
		fmt.Fprintf(w, `{"key_fpr":"%s","status":{"kim@example.org":"pending"},"token":"tok"}`, fpr(kim))
	})
	res, err := n.locator().UploadVKS(context.Background(), public(t, kim))
	if err != nil || res.Fingerprint != fpr(kim) || res.Status["kim@example.org"] != "pending" {
		t.Fatalf("upload: %+v %v", res, err)
	}
	if !bytes.HasPrefix(uploaded, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) || len(asked) != 1 || asked[0] != "kim@example.org" {
		t.Fatalf("server saw %q, asked %q", uploaded, asked)
	}
	if _, err := n.locator().UploadVKS(context.Background(), []byte("not a key")); err == nil {
		t.Errorf("garbage uploaded")
	}
}

func TestHostDialer(t *testing.T) {
	n := newTestNet(t)
	n.mux.Handle("/hello", serve([]byte("hello")))
	_, port, _ := net.SplitHostPort(n.HTTPS.Listener.Addr().String())
	for _, to := range []string{"127.0.0.1:" + port, "127.0.0.1"} {
		c := NewHTTPClient(HostDialer(map[string]string{"keys.example": to}), n.Roots)
		u := "https://keys.example/hello"
		if to == "127.0.0.1" {
			u = "https://keys.example:" + port + "/hello"
		}
		resp, err := c.Get(u)
		if err != nil {
			t.Fatalf("%s: %v", to, err)
		}
		resp.Body.Close()
	}
	// The certificate is still checked for the name asked.
	c := NewHTTPClient(HostDialer(map[string]string{"unnamed.example": "127.0.0.1:" + port}), n.Roots)
	if _, err := c.Get("https://unnamed.example/hello"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("wrong name: %v", err)
	}
}

// TestSMIMEAFound: of an address's SMIMEA records only whole end-entity
// certificates bound to the address are taken; a DANE-EE one only when
// validated; two records of one certificate are one answer.
func TestSMIMEAFound(t *testing.T) {
	certCA := func(addr string, ca bool) []byte {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: addr},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), EmailAddresses: []string{addr}}
		if ca {
			tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	cert := func(addr string) []byte { return certCA(addr, false) }
	rec := func(addr, fields string, der []byte) string {
		line, err := SMIMEARecordLine(addr, der)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Replace(line, "SMIMEA\t3 0 0", "SMIMEA\t"+fields, 1)
	}
	amy, ben, other := cert("amy@example.org"), cert("ben@example.org"), cert("eve@example.org")
	n := newTestNet(t)
	for _, line := range []string{
		rec("amy@example.org", "3 0 0", amy), rec("amy@example.org", "1 0 0", amy), // one certificate, twice
		rec("amy@example.org", "2 0 0", other),    // a CA
		rec("amy@example.org", "3 1 1", ben[:32]), // a hash
		rec("amy@example.org", "3 0 0", other),    // for another address
		rec("ben@example.org", "3 0 0", ben),
	} {
		n.addRR(line)
	}
	l := n.locator()
	l.DNS.Validating = true
	n.SetAD(true)
	found, err := l.SMIMEA(context.Background(), "amy@example.org")
	if err != nil || len(found) != 1 {
		t.Fatalf("%+v %v", found, err)
	}
	f := found[0]
	if !bytes.Equal(f.Key, amy) || f.DANEUsage != UsageDANEEE || !f.DNSSEC || f.Protocol != "smime" || f.Method != MethodSMIMEA ||
		!f.MatchesAddress || len(f.UserIDs) != 1 || f.UserIDs[0] != "amy@example.org" {
		t.Errorf("found %+v", f)
	}
	// Not validated: the DANE-EE record is refused and says why.
	n.SetAD(false)
	_, err = l.SMIMEA(context.Background(), "ben@example.org")
	if !errors.Is(err, core.ErrNoKey) || !strings.Contains(err.Error(), "no validating resolver vouched") {
		t.Errorf("not validated: %v", err)
	}
	// Only the refusals: each reason is named.
	n2 := newTestNet(t)
	for _, line := range []string{rec("cy@example.org", "2 0 0", other), rec("cy@example.org", "3 1 1", ben[:32]), rec("cy@example.org", "1 0 0", other),
		rec("cy@example.org", "1 0 0", certCA("cy@example.org", true))} {
		n2.addRR(line)
	}
	l2 := n2.locator()
	_, err = l2.SMIMEA(context.Background(), "cy@example.org")
	for _, want := range []string{"usage 2 names a CA", "3 1 1 holds only", "not bound to cy@example.org", "is a CA certificate, not an end entity's"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("refusals: %v (want %q)", err, want)
		}
	}
	// Too many records, or too many bytes: refused whole.
	n3 := newTestNet(t)
	for i := 0; i < 3; i++ {
		n3.addRR(rec("dee@example.org", "3 0 0", cert("dee@example.org")))
	}
	l3 := n3.locator()
	l3.Limits.MaxKeys = 2
	if _, err := l3.SMIMEA(context.Background(), "dee@example.org"); err == nil || !strings.Contains(err.Error(), "refused an answer of 3 records") {
		t.Errorf("3 records, at most 2: %v", err)
	}
	l3.Limits.MaxKeys, l3.Limits.MaxBytes = 0, int64(len(amy))
	if _, err := l3.SMIMEA(context.Background(), "dee@example.org"); err == nil || !strings.Contains(err.Error(), "refused an answer of more than") {
		t.Errorf("more bytes than the limit: %v", err)
	}
	// Through Locate, by its method name.
	n.SetAD(true)
	got := l.Locate(context.Background(), "ben@example.org", []string{MethodSMIMEA})
	if len(got) != 1 || got[0].Error != "" || !bytes.Equal(got[0].Key, ben) {
		t.Errorf("Locate: %+v", got)
	}
}

// TestResolverAt: an AD bit is believed only when the user says the
// resolver validates, and only from a loopback address written as one;
// naming a resolver alone, even on loopback, believes nothing.
func TestResolverAt(t *testing.T) {
	for _, c := range []struct {
		in        string
		validates bool
		addr      string
		fails     bool
	}{
		{"127.0.0.1", true, "127.0.0.1:53", false},
		{"127.0.0.1", false, "127.0.0.1:53", false},
		{"127.0.0.53:5353", false, "127.0.0.53:5353", false},
		{"127.0.0.53:5353", true, "127.0.0.53:5353", false},
		{"::1", true, "[::1]:53", false},
		{"[::1]:53", true, "[::1]:53", false},
		{"localhost", false, "localhost:53", false},
		{"localhost", true, "", true},
		{"192.0.2.1", false, "192.0.2.1:53", false},
		{"192.0.2.1", true, "", true},
		{"8.8.8.8:53", true, "", true},
		{"resolver.example", true, "", true},
		{"localhost.evil.example", true, "", true},
		{"127.1", true, "", true},
		{"[::1%lo]:53", true, "", true},
		{"0.0.0.0", true, "", true},
		{"::ffff:127.0.0.1", true, "[::ffff:127.0.0.1]:53", false},
	} {
		d, err := ResolverAt(c.in, c.validates)
		if c.fails {
			if err == nil {
				t.Errorf("ResolverAt(%q, true) = %+v, want an error", c.in, d)
			}
			continue
		}
		if err != nil || d.Addr != c.addr || d.Validating != c.validates {
			t.Errorf("ResolverAt(%q, %v) = %+v, %v", c.in, c.validates, d, err)
		}
	}
}
