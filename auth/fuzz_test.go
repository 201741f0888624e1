package auth

import (
	"context"
	"net"
	"os"
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

// arcFuzzSeeds are FuzzValidateARC's seeds and the resolver with their
// keys: a two-hop chain python3-dkim sealed (testdata/arc-two-hops.eml,
// passing), the same with the b= of each kind of signature damaged (each
// reaching the RSA check and failing it), and fields of one set with
// syntax errors. Without the sealed chain no seed got past the first
// check, and the fuzzer never reached the signature code (review finding).
func arcFuzzSeeds(t testing.TB) ([]string, Resolver) {
	msg, err := os.ReadFile("testdata/arc-two-hops.eml")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := os.ReadFile("testdata/arc-key.txt")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(rec))
	res := mapResolver{"arc._domainkey.hop1.example": {key}, "arc._domainkey.hop2.example": {key}}
	chain := string(msg)
	damage := func(old, new string) string {
		if !strings.Contains(chain, old) {
			t.Fatalf("testdata/arc-two-hops.eml has no %q", old)
		}
		return strings.Replace(chain, old, new, 1)
	}
	set := func(aar, ams, as string) string {
		return "ARC-Seal: " + as + "\r\nARC-Message-Signature: " + ams + "\r\nARC-Authentication-Results: " + aar + "\r\n" + plainMsg
	}
	return []string{
		chain,
		damage(" b=Kln0", " b=AAAA"), // the ARC-Seal of instance 2
		damage(" b=HWF3", " b=AAAA"), // the ARC-Message-Signature of instance 2
		damage(" b=YqEW", " b=AAAA"), // the ARC-Seal of instance 1, which the seal of 2 signs
		set("i=1; mx.example; dkim=pass", "i=1; a=rsa-sha256; d=example.org; s=s; h=from; bh=AAAA; b=AAAA", "i=1; a=rsa-sha256; cv=none; d=example.org; s=s; b=AAAA"),
		set("i=2", "i=1; c=relaxed/x", "i=51; cv=pass"),
		set("x", "", ";;"),
	}, res
}

// TestARCFuzzSeeds: the fuzzer's seeds reach the signature code: the
// sealed chain passes, every seal checked, and each damaged b= fails in
// an RSA check ("signature did not verify"): of the signature it is in,
// or of the newest seal, which signs the older seals with their b=.
func TestARCFuzzSeeds(t *testing.T) {
	seeds, res := arcFuzzSeeds(t)
	r := ValidateARC(context.Background(), parse(t, seeds[0]), res)
	if r.Result != core.AuthPass || len(r.Sealers) != 2 || r.Sealers[0].Seal != core.AuthPass || r.Sealers[1].Seal != core.AuthPass {
		t.Errorf("the sealed chain: %+v", r)
	}
	for i, want := range []string{
		"the ARC-Seal of instance 2 does not verify: signature did not verify",
		"the ARC-Message-Signature of instance 2 does not verify: signature did not verify",
		"the ARC-Seal of instance 2 does not verify: signature did not verify",
	} {
		if r := ValidateARC(context.Background(), parse(t, seeds[i+1]), res); r.Result != core.AuthFail || r.Reason != want {
			t.Errorf("seed %d: %s (%s), want fail: %s", i+1, r.Result, r.Reason, want)
		}
	}
}

// FuzzValidateARC: any message gives a result (none, pass, fail,
// temperror) with a reason when not pass or none, never a panic; a pass
// has every seal checked, and only a pass reports what the hops found.
func FuzzValidateARC(f *testing.F) {
	seeds, res := arcFuzzSeeds(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		m, err := mime.Parse(strings.NewReader(msg), mime.DefaultLimits(), 1<<20)
		if err != nil {
			return
		}
		defer m.Close()
		r := ValidateARC(context.Background(), m, res)
		if (r.OldestPass != nil) != (r.Result == core.AuthPass) || r.OldestPass != nil && (*r.OldestPass < 0 || *r.OldestPass > len(r.Sealers)) {
			t.Fatalf("%s with oldest-pass %v", r.Result, r.OldestPass)
		}
		switch r.Result {
		case core.AuthFail, core.AuthTempError:
			if r.Reason == "" {
				t.Fatalf("%s without a reason", r.Result)
			}
			for _, s := range r.Sealers {
				if s.AuthenticationResults != "" {
					t.Fatalf("a chain that did not pass reports what hop %d found", s.Instance)
				}
			}
		case core.AuthPass:
			for _, s := range r.Sealers {
				if s.Seal != core.AuthPass {
					t.Fatalf("pass with the seal of instance %d %q", s.Instance, s.Seal)
				}
			}
		case core.AuthNone:
		default:
			t.Fatalf("result %q", r.Result)
		}
	})
}
