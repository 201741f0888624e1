package keystore

import (
	"testing"
	"time"

	"github.com/mailseal/mailseal/autocrypt"
	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

// AutocryptStatus counts only keys the policy accepts for encryption: an
// expired one is as if absent.
func TestAutocryptStatus(t *testing.T) {
	s := newStore(t)
	created := time.Now().Add(-48 * time.Hour)
	for _, c := range []struct {
		addr    string
		expires time.Duration
		want    autocrypt.Recommendation
	}{
		{"fresh@example.org", 0, autocrypt.Available},
		{"expired@example.org", time.Hour, autocrypt.Disable},
	} {
		e, err := pgp.NewKey(pgp.KeyOptions{UserIDs: []string{c.addr}, Now: created, Expires: c.expires})
		if err != nil {
			t.Fatal(err)
		}
		data, err := autocrypt.KeyData(e, c.addr, created.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		h := autocrypt.Header{Addr: c.addr, KeyData: data}
		if err := s.Autocrypt().Ingest(autocrypt.Incoming{From: c.addr, Date: created, Header: &h}, nil); err != nil {
			t.Fatal(err)
		}
		st, err := s.AutocryptStatus([]string{c.addr}, true, false, core.DefaultPolicy())
		if err != nil || st.Recommendation != c.want || len(st.Peers) != 1 {
			t.Fatalf("%s: %+v, %v", c.addr, st, err)
		}
		if p := st.Peers[0]; c.want == autocrypt.Available && (p.Fingerprint != pgp.Fingerprint(e.PrimaryKey) || p.Source != "autocrypt") {
			t.Fatalf("%s: %+v", c.addr, p)
		}
	}
	st, err := s.AutocryptStatus([]string{"fresh@example.org", "expired@example.org"}, false, false, core.DefaultPolicy())
	if err != nil || st.Recommendation != autocrypt.Disable {
		t.Fatalf("both: %+v, %v", st, err)
	}
}
