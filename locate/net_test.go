package locate

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/internal/locatetest"
)

// testNet is the loopback Internet of internal/locatetest with a mux
// for the HTTPS server and the test's names.
type testNet struct {
	*locatetest.Net
	t   *testing.T
	mux *http.ServeMux
}

var testHosts = []string{"openpgpkey.example.org", "example.org", "direct.example", "keys.example", "evil.example", "openpgpkey.slow.example"}

func newTestNet(t *testing.T) *testNet {
	t.Helper()
	n := &testNet{Net: locatetest.New(t, testHosts...), t: t, mux: http.NewServeMux()}
	n.Handler = n.mux
	return n
}

// addRR adds a record in zone-file syntax.
func (n *testNet) addRR(line string) {
	n.t.Helper()
	if err := n.AddRR(line); err != nil {
		n.t.Fatal(err)
	}
}

func (n *testNet) locator() *Locator {
	return &Locator{HTTP: NewHTTPClient(n.Dial, n.Roots), DNS: &DNS{Addr: n.DNSAddr, Timeout: 2 * time.Second}, VKS: "https://keys.example",
		Limits: Limits{Timeout: 3 * time.Second}}
}

// newKey makes an Ed25519 key with a user ID per address.
func newKey(t *testing.T, addrs ...string) *openpgp.Entity {
	t.Helper()
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519, Time: func() time.Time { return time.Now().Add(-time.Hour) }}
	e, err := openpgp.NewEntity("Test", "", addrs[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs[1:] {
		if err := e.AddUserId("Test", "", a, cfg); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func public(t *testing.T, es ...*openpgp.Entity) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func armored(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, "PGP PUBLIC KEY BLOCK", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func fpr(e *openpgp.Entity) string { return fmt.Sprintf("%X", e.PrimaryKey.Fingerprint) }

// path is the URL path (with query) of u.
func path(u string) string {
	i := strings.Index(u[len("https://"):], "/")
	p := u[len("https://")+i:]
	if j := strings.IndexByte(p, '?'); j >= 0 {
		p = p[:j]
	}
	return p
}

func serve(data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { w.Write(data) }
}

// A user ID whose self-signature is another user ID's (a forged binding)
// does not make a key the address's (review finding: go-crypto's reader
// kept it, and the answer was reported as matching).
func TestForgedUserID(t *testing.T) {
	mallory := newKey(t, "mallory@example.org")
	for _, id := range mallory.Identities {
		id.UserId = packet.NewUserId("Test", "", "alice@example.org")
	}
	var l Locator
	found, err := l.keysFor(public(t, mallory), "alice@example.org", "wkd", "test")
	if err != nil {
		t.Logf("refused: %v", err)
	}
	if len(found) != 0 {
		t.Fatalf("a forged user ID matched: %+v", found)
	}
}
