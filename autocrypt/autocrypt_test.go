package autocrypt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
)

var testKey = []byte("not a key, but bytes")

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestParse(t *testing.T) {
	k := b64(testKey)
	for _, c := range []struct {
		name, value string
		want        Header
		err         string
	}{
		{"minimal", "addr=alice@example.org; keydata=" + k, Header{Addr: "alice@example.org", KeyData: testKey}, ""},
		{"mutual", "addr=alice@example.org; prefer-encrypt=mutual; keydata=" + k, Header{Addr: "alice@example.org", PreferEncrypt: true, KeyData: testKey}, ""},
		{"other preference", "addr=alice@example.org; prefer-encrypt=yes; keydata=" + k, Header{Addr: "alice@example.org", KeyData: testKey}, ""},
		{"folded", "addr=alice@example.org;\r\n keydata=\r\n " + k[:10] + "\r\n " + k[10:], Header{Addr: "alice@example.org", KeyData: testKey}, ""},
		{"upper case", "addr=Alice@Example.ORG; keydata=" + k, Header{Addr: "alice@example.org", KeyData: testKey}, ""},
		{"angle brackets (sq)", "addr=<alice@example.org>; keydata=" + k, Header{Addr: "alice@example.org", KeyData: testKey}, ""},
		{"non-critical skipped", "addr=alice@example.org; _version=2; keydata=" + k, Header{Addr: "alice@example.org", KeyData: testKey}, ""},
		{"trailing semicolon", "addr=alice@example.org; keydata=" + k + ";", Header{Addr: "alice@example.org", KeyData: testKey}, ""},
		{"unpadded", "addr=alice@example.org; keydata=" + strings.TrimRight(k, "="), Header{Addr: "alice@example.org", KeyData: testKey}, ""},
		{"critical unknown", "addr=alice@example.org; type=99; keydata=" + k, Header{}, "unknown critical attribute"},
		{"keydata not last", "keydata=" + k + "; addr=alice@example.org", Header{}, "keydata must be the last"},
		{"no addr", "keydata=" + k, Header{}, "no addr"},
		{"no keydata", "addr=alice@example.org", Header{}, "no keydata"},
		{"empty keydata", "addr=alice@example.org; keydata=", Header{}, "empty keydata"},
		{"bad base64", "addr=alice@example.org; keydata=!!!!", Header{}, "not base64"},
		{"twice", "addr=alice@example.org; addr=bob@example.org; keydata=" + k, Header{}, "given twice"},
		{"no value", "addr; keydata=" + k, Header{}, "not name=value"},
		{"user ID (sq)", "addr=Alice <alice@example.org>; keydata=" + k, Header{Addr: "alice@example.org", KeyData: testKey}, ""},
		{"display name without brackets", "addr=Alice alice@example.org; keydata=" + k, Header{}, "not an address"},
		{"brackets inside", "addr=<a@b> <c@d>; keydata=" + k, Header{Addr: "c@d", KeyData: testKey}, ""},
		{"no domain", "addr=alice; keydata=" + k, Header{}, "not an address"},
		{"too large", "addr=alice@example.org; keydata=" + strings.Repeat("A", MaxFieldSize), Header{}, "more than"},
	} {
		h, err := Parse(c.value)
		if c.err != "" {
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %v, want an error with %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || h.Addr != c.want.Addr || h.PreferEncrypt != c.want.PreferEncrypt || !bytes.Equal(h.KeyData, c.want.KeyData) {
			t.Errorf("%s: %+v, %v; want %+v", c.name, h, err, c.want)
		}
	}
}

// Field writes lines of at most 78 characters that Parse reads back.
func TestFieldRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{0x99, 0x01, 0x0d}, 700)
	for _, h := range []Header{{Addr: "alice@example.org", KeyData: key}, {Addr: "bob@example.org", PreferEncrypt: true, KeyData: key[:5]}} {
		f := h.Field(FieldAutocrypt)
		for _, l := range strings.Split(strings.TrimSuffix(f, "\r\n"), "\r\n") {
			if len(l) > 78 {
				t.Fatalf("line of %d characters: %q", len(l), l)
			}
		}
		name, value, _ := strings.Cut(f, ":")
		got, err := Parse(value)
		if name != FieldAutocrypt || err != nil || got.Addr != h.Addr || got.PreferEncrypt != h.PreferEncrypt || !bytes.Equal(got.KeyData, h.KeyData) {
			t.Fatalf("%q: %+v, %v", f, got, err)
		}
	}
}

func parseMsg(t *testing.T, msg string) *mime.Message {
	t.Helper()
	m, err := mime.Parse(strings.NewReader(msg), mime.Limits{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestReadMessage(t *testing.T) {
	received := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	field := func(addr string) string {
		return Header{Addr: addr, KeyData: testKey}.Field(FieldAutocrypt)
	}
	msg := func(head string) string {
		return head + "Date: Fri, 04 Dec 2026 10:00:00 +0000\r\nTo: bob@example.org\r\n\r\nhello\r\n"
	}
	for _, c := range []struct {
		name, head string
		ok, header bool
	}{
		{"one header", "From: Alice <Alice@example.org>\r\n" + field("alice@example.org"), true, true},
		{"none", "From: alice@example.org\r\n", true, false},
		{"for another address", "From: alice@example.org\r\n" + field("mallory@example.org"), true, false},
		{"two valid", "From: alice@example.org\r\n" + field("alice@example.org") + field("alice@example.org"), true, false},
		{"one valid, one not", "From: alice@example.org\r\n" + field("alice@example.org") + "Autocrypt: addr=alice@example.org; x=1; keydata=AAAA\r\n", true, true},
		{"auto-replied", "From: alice@example.org\r\nAuto-Submitted: auto-replied\r\n" + field("alice@example.org"), false, false},
		{"report", "From: alice@example.org\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n" + field("alice@example.org"), false, false},
		{"two From", "From: alice@example.org, bob@example.org\r\n" + field("alice@example.org"), false, false},
		{"name only", "From: Alice\r\n", false, false},
	} {
		text := msg(c.head)
		if strings.Contains(c.head, "multipart/report") {
			text = c.head + "\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n"
		}
		m := parseMsg(t, text)
		in, ok := ReadMessage(m.Root, received)
		if ok != c.ok || (in.Header != nil) != c.header {
			t.Errorf("%s: ok %v, header %v", c.name, ok, in.Header)
			continue
		}
		if ok && (in.From != "alice@example.org" || !in.Date.Equal(time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC))) {
			t.Errorf("%s: %+v", c.name, in)
		}
	}
	// A Date in the future, or none, is the time of receipt.
	for _, date := range []string{"Date: Fri, 01 Jan 2100 10:00:00 +0000\r\n", "", "Date: yesterday\r\n"} {
		m := parseMsg(t, "From: alice@example.org\r\n"+date+"\r\nx\r\n")
		if in, _ := ReadMessage(m.Root, received); !in.Date.Equal(received) {
			t.Errorf("%q: effective date %v", date, in.Date)
		}
	}
}

func TestReadGossip(t *testing.T) {
	g := func(addr string) string { return Header{Addr: addr, KeyData: testKey}.Field(FieldGossip) }
	m := parseMsg(t, "From: alice@example.org\r\nTo: Bob <bob@example.org>\r\nCc: carol@example.org\r\nReply-To: list@example.org\r\n"+
		g("bob@example.org")+g("carol@example.org")+g("list@example.org")+g("mallory@example.org")+
		"Autocrypt-Gossip: addr=dave@example.org; keydata=!!\r\n\r\nx\r\n")
	var got []string
	for _, h := range ReadGossip(m.Root.Header) {
		got = append(got, h.Addr)
	}
	if strings.Join(got, " ") != "bob@example.org carol@example.org list@example.org" {
		t.Fatalf("gossip for %v", got)
	}
}

func day(n int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }

// Level 1's update steps, message by message.
func TestPeerUpdate(t *testing.T) {
	var p Peer
	k1, k2 := Header{KeyData: []byte("k1"), PreferEncrypt: true}, Header{KeyData: []byte("k2")}
	steps := []struct {
		name    string
		date    time.Time
		h       *Header
		changed bool
		want    Peer
	}{
		{"first, with a header", day(10), &k1, true, Peer{LastSeen: day(10), AutocryptTimestamp: day(10), PublicKey: k1.KeyData, PreferEncrypt: true}},
		{"later, without", day(20), nil, true, Peer{LastSeen: day(20), AutocryptTimestamp: day(10), PublicKey: k1.KeyData, PreferEncrypt: true}},
		{"older than the header", day(5), &k2, false, Peer{LastSeen: day(20), AutocryptTimestamp: day(10), PublicKey: k1.KeyData, PreferEncrypt: true}},
		{"between header and last seen", day(15), &k2, true, Peer{LastSeen: day(20), AutocryptTimestamp: day(15), PublicKey: k2.KeyData}},
		{"same again", day(15), &k2, true, Peer{LastSeen: day(20), AutocryptTimestamp: day(15), PublicKey: k2.KeyData}},
		{"older without a header", day(12), nil, false, Peer{LastSeen: day(20), AutocryptTimestamp: day(15), PublicKey: k2.KeyData}},
	}
	for _, s := range steps {
		if got := p.Update(s.date, s.h); got != s.changed {
			t.Fatalf("%s: changed %v", s.name, got)
		}
		if !p.LastSeen.Equal(s.want.LastSeen) || !p.AutocryptTimestamp.Equal(s.want.AutocryptTimestamp) ||
			!bytes.Equal(p.PublicKey, s.want.PublicKey) || p.PreferEncrypt != s.want.PreferEncrypt {
			t.Fatalf("%s: %+v, want %+v", s.name, p, s.want)
		}
	}
	// Gossip: newer replaces, older does not, the peer's own key stays.
	if !p.UpdateGossip(day(30), Header{KeyData: []byte("g1")}) || p.UpdateGossip(day(29), Header{KeyData: []byte("g0")}) ||
		string(p.GossipKey) != "g1" || string(p.PublicKey) != "k2" {
		t.Fatalf("gossip: %+v", p)
	}
}

func TestRecommend(t *testing.T) {
	key, gkey := []byte("key"), []byte("gossip")
	fresh := &Peer{LastSeen: day(40), AutocryptTimestamp: day(40), PublicKey: key}
	mutual := &Peer{LastSeen: day(40), AutocryptTimestamp: day(40), PublicKey: key, PreferEncrypt: true}
	stale := &Peer{LastSeen: day(76), AutocryptTimestamp: day(40), PublicKey: key, PreferEncrypt: true}
	notStale := &Peer{LastSeen: day(75), AutocryptTimestamp: day(40), PublicKey: key, PreferEncrypt: true}
	gossipOnly := &Peer{GossipTimestamp: day(40), GossipKey: gkey, PreferEncrypt: true}
	both := &Peer{LastSeen: day(40), AutocryptTimestamp: day(40), PublicKey: key, GossipTimestamp: day(50), GossipKey: gkey}
	unusable := func(k []byte) bool { return !bytes.Equal(k, key) }
	for _, c := range []struct {
		name string
		p    *Peer
		opts RecommendOptions
		want Recommendation
		key  []byte
	}{
		{"unknown peer", nil, RecommendOptions{}, Disable, nil},
		{"no key", &Peer{LastSeen: day(1)}, RecommendOptions{}, Disable, nil},
		{"fresh", fresh, RecommendOptions{}, Available, key},
		{"fresh, self mutual", fresh, RecommendOptions{SelfMutual: true}, Available, key},
		{"both mutual", mutual, RecommendOptions{SelfMutual: true}, Encrypt, key},
		{"peer mutual only", mutual, RecommendOptions{}, Available, key},
		{"reply to encrypted", fresh, RecommendOptions{ReplyToEncrypted: true}, Encrypt, key},
		{"stale (36 days)", stale, RecommendOptions{SelfMutual: true}, Discourage, key},
		{"35 days is not stale", notStale, RecommendOptions{SelfMutual: true}, Encrypt, key},
		{"stale, reply to encrypted", stale, RecommendOptions{ReplyToEncrypted: true}, Encrypt, key},
		{"gossip only", gossipOnly, RecommendOptions{SelfMutual: true}, Discourage, gkey},
		{"own key before newer gossip", both, RecommendOptions{}, Available, key},
		{"own key unusable: gossip", both, RecommendOptions{Usable: unusable}, Discourage, gkey},
		{"no usable key", fresh, RecommendOptions{Usable: unusable}, Disable, nil},
	} {
		got, k := c.p.Recommend(c.opts)
		if got != c.want || !bytes.Equal(k, c.key) {
			t.Errorf("%s: %s %q, want %s %q", c.name, got, k, c.want, c.key)
		}
	}
}

func TestAggregate(t *testing.T) {
	for _, c := range []struct {
		in   []Recommendation
		want Recommendation
	}{
		{nil, Disable},
		{[]Recommendation{Encrypt, Encrypt}, Encrypt},
		{[]Recommendation{Encrypt, Available}, Available},
		{[]Recommendation{Encrypt, Discourage, Available}, Discourage},
		{[]Recommendation{Encrypt, Disable, Discourage}, Disable},
		{[]Recommendation{Available}, Available},
	} {
		if got := Aggregate(c.in); got != c.want {
			t.Errorf("%v: %s, want %s", c.in, got, c.want)
		}
	}
}

func TestStore(t *testing.T) {
	s := Store{Dir: filepath.Join(t.TempDir(), "autocrypt")}
	if p, err := s.Peer("alice@example.org"); p != nil || err != nil {
		t.Fatalf("empty store: %v, %v", p, err)
	}
	k := Header{Addr: "alice@example.org", PreferEncrypt: true, KeyData: []byte("alice")}
	gossip := []Header{{Addr: "bob@example.org", KeyData: []byte("bob")}, {Addr: "alice@example.org", KeyData: []byte("forged")}}
	if err := s.Ingest(Incoming{From: "alice@example.org", Date: day(3), Header: &k}, gossip); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Peer("Alice@Example.org")
	b, _ := s.Peer("bob@example.org")
	if a == nil || string(a.PublicKey) != "alice" || !a.PreferEncrypt || a.GossipKey != nil || b == nil || string(b.GossipKey) != "bob" || b.PublicKey != nil {
		t.Fatalf("alice %+v, bob %+v", a, b)
	}
	rec, each, keys, err := s.Recommend([]string{"alice@example.org", "bob@example.org"}, RecommendOptions{SelfMutual: true})
	if err != nil || rec != Discourage || each["alice@example.org"] != Encrypt || each["bob@example.org"] != Discourage || string(keys["bob@example.org"]) != "bob" {
		t.Fatalf("%s %v %q %v", rec, each, keys, err)
	}
	// Concurrent ingests lose nothing: the latest date wins.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Ingest(Incoming{From: "carol@example.org", Date: day(i)}, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if c, _ := s.Peer("carol@example.org"); c == nil || !c.LastSeen.Equal(day(19)) {
		t.Fatalf("carol %+v", c)
	}
	// A damaged file is an error naming it, not a forgotten peer.
	os.WriteFile(s.path("carol@example.org"), []byte("{"), 0o600)
	if _, err := s.Peer("carol@example.org"); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("damaged: %v", err)
	}
	if err := s.Ingest(Incoming{From: "carol@example.org", Date: day(30)}, nil); err == nil {
		t.Fatal("ingest over a damaged file succeeded")
	}
}

func newKey(t *testing.T, uids ...string) *openpgp.Entity {
	t.Helper()
	e, err := pgp.NewKey(pgp.KeyOptions{UserIDs: uids})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// KeyData is the five packets Level 1 names, no secret, for the address's
// user ID; ReadKey takes it back.
func TestKeyData(t *testing.T) {
	e := newKey(t, "Alice <alice@example.org>", "Alice at work <alice@work.example>")
	data, err := KeyData(e, "Alice@Work.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := packet.NewReader(bytes.NewReader(data))
	var kinds []string
	for {
		p, err := r.Next()
		if err != nil {
			break
		}
		switch p := p.(type) {
		case *packet.PublicKey:
			if p.IsSubkey {
				kinds = append(kinds, "subkey")
			} else {
				kinds = append(kinds, "primary")
			}
		case *packet.UserId:
			kinds = append(kinds, "uid:"+p.Id)
		case *packet.Signature:
			kinds = append(kinds, "sig")
		default:
			kinds = append(kinds, "other")
		}
	}
	if got := strings.Join(kinds, ","); got != "primary,uid:Alice at work <alice@work.example>,sig,subkey,sig" {
		t.Fatalf("packets %s", got)
	}
	back, err := ReadKey(data)
	if err != nil || pgp.Fingerprint(back.PrimaryKey) != pgp.Fingerprint(e.PrimaryKey) {
		t.Fatalf("ReadKey: %v", err)
	}
	if _, ok := back.EncryptionKey(time.Now(), nil); !ok {
		t.Fatal("no encryption key in the keydata")
	}
	if _, err := KeyData(e, "mallory@example.org", time.Now()); err == nil {
		t.Fatal("keydata for an address the key does not bind")
	}
	signOnly, _ := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{"bob@example.org"}, SigningOnly: true})
	if _, err := KeyData(signOnly, "bob@example.org", time.Now()); err == nil {
		t.Fatal("keydata without an encryption key")
	}
	var secret bytes.Buffer
	e.SerializePrivate(&secret, nil)
	if _, err := ReadKey(secret.Bytes()); err == nil {
		t.Fatal("ReadKey took a secret key")
	}
}

// sq writes what we read, and reads what we write.
func TestSequoiaInterop(t *testing.T) {
	if _, err := exec.LookPath("sq"); err != nil {
		t.Fatal("sq is needed for the Autocrypt interop test: install Debian's sq (scripts/test.sh does)")
	}
	dir := t.TempDir()
	e := newKey(t, "Juliet <juliet@example.org>")
	var cert bytes.Buffer
	if err := e.Serialize(&cert); err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(dir, "juliet.pgp")
	os.WriteFile(certFile, cert.Bytes(), 0o644)
	for _, args := range [][]string{
		{"autocrypt", "encode-sender", "--prefer-encrypt", "mutual", certFile},
		{"autocrypt", "encode-sender", "--email", "juliet@example.org", certFile},
	} {
		out, err := exec.Command("sq", args...).Output()
		if err != nil {
			t.Fatalf("sq %v: %v", args, err)
		}
		name, value, _ := strings.Cut(string(out), ":")
		h, err := Parse(value)
		if name != FieldAutocrypt || err != nil || h.Addr != "juliet@example.org" || h.PreferEncrypt != (args[2] == "--prefer-encrypt") {
			t.Fatalf("sq %v wrote %q: %+v, %v", args, out, h, err)
		}
		k, err := ReadKey(h.KeyData)
		if err != nil || pgp.Fingerprint(k.PrimaryKey) != pgp.Fingerprint(e.PrimaryKey) {
			t.Fatalf("keydata from sq: %v", err)
		}
	}
	data, err := KeyData(e, "juliet@example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: juliet@example.org\r\nTo: romeo@example.org\r\n" + Header{Addr: "juliet@example.org", PreferEncrypt: true, KeyData: data}.Field(FieldAutocrypt) + "\r\nhello\r\n"
	msgFile := filepath.Join(dir, "m.eml")
	os.WriteFile(msgFile, []byte(msg), 0o644)
	out, err := exec.Command("sq", "autocrypt", "decode", "--binary", msgFile).Output()
	if err != nil {
		t.Fatalf("sq autocrypt decode: %v", err)
	}
	k, err := ReadKey(out)
	if err != nil || pgp.Fingerprint(k.PrimaryKey) != pgp.Fingerprint(e.PrimaryKey) {
		t.Fatalf("sq decoded %d bytes: %v", len(out), err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("addr=alice@example.org; prefer-encrypt=mutual; keydata=" + b64(testKey))
	f.Add("addr=<a@b>; _x=; keydata=AA==;")
	f.Fuzz(func(t *testing.T, v string) {
		h, err := Parse(v)
		if err != nil {
			return
		}
		_, value, _ := strings.Cut(h.Field(FieldAutocrypt), ":")
		back, err := Parse(value)
		if err != nil || back.Addr != h.Addr || back.PreferEncrypt != h.PreferEncrypt || !bytes.Equal(back.KeyData, h.KeyData) {
			t.Fatalf("%q: written back as %q: %+v, %v", v, value, back, err)
		}
	})
}
