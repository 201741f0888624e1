package auth

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// mapResolver answers TXT queries from a map, in process (for fuzzing,
// where a server per input would be slow).
type mapResolver map[string][]string

func (m mapResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := m[strings.ToLower(name)]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (mapResolver) LookupMX(context.Context, string) ([]*net.MX, error) { return nil, nil }
func (mapResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return nil, nil
}
func (mapResolver) LookupAddr(context.Context, string) ([]string, error) { return nil, nil }

func FuzzParseTags(f *testing.F) {
	for _, s := range []string{"v=1; a=rsa-sha256; d=example.org; s=sel;", "a=;", ";", "v = 1 ;\r\n\tb=abc", "=x", "a=b;;c=d", "1a=b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseTags(s)
		if err != nil {
			return
		}
		for name := range tags {
			if !validTagName(name) {
				t.Fatalf("accepted tag name %q", name)
			}
		}
		if len(tags) > maxTags {
			t.Fatalf("%d tags", len(tags))
		}
	})
}

// FuzzVerifyDKIM: any DKIM-Signature value gives a result for it, a
// malformed one permerror with a reason; never a panic or an error return.
func FuzzVerifyDKIM(f *testing.F) {
	key := testKeys["ed25519-sha256"]
	rec, _ := DKIMRecord(key.Public())
	res := mapResolver{"s._domainkey.example.org": {rec}}
	m, err := mime.Parse(strings.NewReader(plainMsg), mime.DefaultLimits(), 1<<20)
	if err != nil {
		f.Fatal(err)
	}
	sig, err := DKIMSignature(m, SignOptions{Domain: "example.org", Selector: "s", Key: key})
	m.Close()
	if err != nil {
		f.Fatal(err)
	}
	_, value, _ := strings.Cut(sig, ":")
	f.Add(value)
	f.Add(" v=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=; b=; l=99999999999999999999")
	f.Add(" v=1; a=ed25519-sha256; d=example.org; s=s; h=; bh=AAAA; b=AAAA; x=1; t=2")
	f.Add(" v=1; a=-; c=/; q=dns; d=.; s=s; h=from:from; bh=; b=; i=@x")
	f.Fuzz(func(t *testing.T, value string) {
		if strings.ContainsAny(value, "\r\n") {
			value = strings.NewReplacer("\r\n", "\r\n ", "\r", " ", "\n", " ").Replace(value)
		}
		msg := "DKIM-Signature:" + value + "\r\n" + plainMsg
		m, err := mime.Parse(strings.NewReader(msg), mime.DefaultLimits(), 1<<20)
		if err != nil {
			return
		}
		defer m.Close()
		rs, err := VerifyDKIM(context.Background(), m, res)
		if err != nil {
			t.Fatalf("error return: %v", err)
		}
		if len(rs) != 1 {
			t.Fatalf("%d results for one signature", len(rs))
		}
		switch r := rs[0]; r.Result {
		case core.AuthPass:
		case core.AuthFail, core.AuthPermError, core.AuthTempError, core.AuthPolicy:
			if r.Reason == "" {
				t.Fatalf("%s without a reason", r.Result)
			}
		default:
			t.Fatalf("result %q", r.Result)
		}
	})
}

// FuzzValidateARC: any ARC fields give a result (none, pass, fail,
// temperror) with a reason when not pass or none; never a panic.
func FuzzValidateARC(f *testing.F) {
	res := mapResolver{}
	f.Add("i=1; mx.example; dkim=pass", "i=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=AAAA; b=AAAA", "i=1; a=rsa-sha256; cv=none; d=example.org; s=s; b=AAAA")
	f.Add("i=2", "i=1; c=relaxed/x", "i=51; cv=pass")
	f.Add("x", "", ";;")
	f.Fuzz(func(t *testing.T, aar, ams, as string) {
		clean := strings.NewReplacer("\r", " ", "\n", " ")
		msg := "ARC-Seal: " + clean.Replace(as) + "\r\nARC-Message-Signature: " + clean.Replace(ams) +
			"\r\nARC-Authentication-Results: " + clean.Replace(aar) + "\r\n" + plainMsg
		m, err := mime.Parse(strings.NewReader(msg), mime.DefaultLimits(), 1<<20)
		if err != nil {
			return
		}
		defer m.Close()
		r := ValidateARC(context.Background(), m, res)
		switch r.Result {
		case core.AuthFail, core.AuthTempError:
			if r.Reason == "" {
				t.Fatalf("%s without a reason", r.Result)
			}
		case core.AuthPass, core.AuthNone:
		default:
			t.Fatalf("result %q", r.Result)
		}
	})
}
