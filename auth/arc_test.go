package auth

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"hash"
	"io"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// TestCanonicalBody holds ARC's body canonicalization to RFC 6376's
// example (section 3.4.5) and to go-msgauth's, through the body hash
// SignDKIM writes, on random bodies of lines, spaces, tabs and empty lines.
func TestCanonicalBody(t *testing.T) {
	hashOf := func(body string, relaxed bool) string {
		h := sha256.New()
		if err := canonicalBody(h, strings.NewReader(body), relaxed); err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(h.Sum(nil))
	}
	sum := func(s string) string { b := sha256.Sum256([]byte(s)); return base64.StdEncoding.EncodeToString(b[:]) }
	example := " C \r\nD \t E\r\n\r\n\r\n"
	if got, want := hashOf(example, true), sum(" C\r\nD E\r\n"); got != want {
		t.Errorf("relaxed example: %s, want %s", got, want)
	}
	if got, want := hashOf(example, false), sum(" C \r\nD \t E\r\n"); got != want {
		t.Errorf("simple example: %s, want %s", got, want)
	}
	if hashOf("", false) != sum("\r\n") || hashOf("", true) != sum("") {
		t.Error("empty body")
	}
	rng := rand.New(rand.NewSource(1))
	pieces := []string{"a", "b c", " ", "\t", "\r\n", "\r\n\r\n", "  x  ", "\t\r\n"}
	key := testKeys["ed25519-sha256"]
	bh := regexp.MustCompile(`bh=([A-Za-z0-9+/=]+)`)
	for i := 0; i < 300; i++ {
		var b strings.Builder
		for n := rng.Intn(12); n > 0; n-- {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		body := b.String()
		if !strings.HasSuffix(body, "\r\n") && body != "" {
			body += "\r\n" // the parser's canonical form ends lines with CRLF
		}
		for _, relaxed := range []bool{true, false} {
			canon := map[bool]string{true: "relaxed", false: "simple"}[relaxed]
			sig, err := DKIMSignature(parse(t, "From: a@example.org\r\n\r\n"+body), SignOptions{Domain: "example.org", Selector: "s", Key: key, BodyCanonicalization: canon})
			if err != nil {
				t.Fatal(err)
			}
			if want := bh.FindStringSubmatch(stripFWS(sig))[1]; hashOf(body, relaxed) != want {
				t.Fatalf("%s %q: %s, go-msgauth %s", canon, body, hashOf(body, relaxed), want)
			}
		}
	}
}

// arcpyScript seals (seal SELECTOR DOMAIN KEYFILE: the message on stdin
// gets an ARC set of the server DOMAIN, after its Authentication-Results
// of DOMAIN) or validates (verify FILE...: one chain result per file)
// with Debian's python3-dkim, keys from the test DNS server (HOST PORT,
// the first two arguments).
const arcpyScript = dkimpyDNS + `if sys.argv[3] == "seal":
    sel, dom, keyfile = sys.argv[4:7]
    msg = sys.stdin.buffer.read()
    sig = dkim.arc_sign(msg, sel.encode(), dom.encode(), open(keyfile, "rb").read(), dom.encode())
    if not sig:
        sys.exit("no ARC set made")
    sys.stdout.buffer.write(b"".join(sig) + msg)
else:
    for f in sys.argv[4:]:
        cv, results, comment = dkim.arc_verify(open(f, "rb").read(), dnsfunc=txt)
        # dkimpy says None for a chain a sealer recorded as failed
        # (cv=fail): "the chain is terminated"; RFC 8617 section 5.2: fail.
        print((cv or b"fail").decode())
        print(f, comment, file=sys.stderr)
`

// arcField matches the whole field NAME of instance I (with its
// continuation lines) in a message.
func arcField(name string, i int) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + name + `: i=` + strconv.Itoa(i) + `;[^\n]*\n(?:[ \t][^\n]*\n)*`)
}

// TestARC validates ARC chains that dkimpy (python3-dkim) sealed, keys
// from the test DNS server: one, two and three hops pass; a changed
// ARC-Authentication-Results, ARC-Message-Signature or ARC-Seal, a body
// or a signed header changed after the chain, a set incomplete, a gap in
// the instances, an instance twice, an instance above 50, a chain a hop
// sealed as failed (cv=fail) and a cv= rewritten all fail, with the
// reason; dkimpy's arc_verify reaches the same result on every one.
func TestARC(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import dkim, authres, dns.resolver").Run(); err != nil {
		t.Fatal("python3-dkim is needed: install python3-dkim (scripts/test.sh does)")
	}
	srv, res := testDNS(t)
	host, port, _ := net.SplitHostPort(srv.Addr)
	key := testKeys["rsa-sha256"].(*rsa.PrivateKey)
	for _, d := range []string{"hop1.example", "hop2.example", "hop3.example"} {
		publish(t, srv, "arc", d, key)
	}
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "arc.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	seal := func(msg, hop, found string) string {
		t.Helper()
		cmd := exec.Command("/usr/bin/python3", "-c", arcpyScript, host, port, "seal", "arc", hop, keyPath)
		cmd.Stdin = strings.NewReader("Authentication-Results: " + hop + "; " + found + "\r\n" + msg)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("arc_sign at %s: %v: %s", hop, err, stderr.String())
		}
		return string(out)
	}
	hop1 := seal(plainMsg, "hop1.example", "dkim=none")
	hop2 := seal(hop1, "hop2.example", "arc=pass")
	hop3 := seal(hop2, "hop3.example", "arc=pass")
	hop2failed := seal(hop1, "hop2.example", "arc=fail")
	// A hop that changed the body (a list's footer) before sealing: the
	// chain passes, but the first hop's message signature no longer does.
	listed := seal(strings.Replace(hop1, "noon", "nine", 1), "hop2.example", "arc=pass")
	listed3 := seal(listed, "hop3.example", "arc=pass")
	validate := func(msg string) *core.ARCResult { return ValidateARC(context.Background(), parse(t, msg), res) }

	if r := validate(plainMsg); r.Result != core.AuthNone || r.Reason != "" || len(r.Sealers) != 0 {
		t.Errorf("no ARC: %+v", r)
	}
	if r := validate(hop1); r.Result != core.AuthPass || len(r.Sealers) != 1 || r.Sealers[0].ChainValidation != "none" {
		t.Errorf("one hop: %+v", r)
	}
	r := validate(hop2)
	if r.Result != core.AuthPass || len(r.Sealers) != 2 ||
		r.Sealers[0] != (core.ARCSealer{Instance: 1, Domain: "hop1.example", Selector: "arc", Seal: core.AuthPass, ChainValidation: "none", AuthenticationResults: "hop1.example; dkim=none"}) ||
		r.Sealers[1] != (core.ARCSealer{Instance: 2, Domain: "hop2.example", Selector: "arc", Seal: core.AuthPass, ChainValidation: "pass", AuthenticationResults: "hop2.example; arc=pass"}) {
		t.Errorf("two hops: %+v", r)
	}
	if r := validate(hop3); r.Result != core.AuthPass || len(r.Sealers) != 3 || r.Sealers[2].Domain != "hop3.example" {
		t.Errorf("three hops: %+v", r)
	}
	// oldest-pass (RFC 8617 5.2 step 5): 0 when every message signature
	// verifies, else the oldest instance from which on they do.
	for _, c := range []struct {
		name, msg string
		oldest    int
	}{{"one hop", hop1, 0}, {"two hops", hop2, 0}, {"three hops", hop3, 0}, {"body changed by hop 2", listed, 2}, {"body changed by hop 2 of 3", listed3, 2}} {
		if r := validate(c.msg); r.Result != core.AuthPass || r.OldestPass == nil || *r.OldestPass != c.oldest {
			t.Errorf("%s: %+v, want pass with oldest-pass %d", c.name, r, c.oldest)
		}
	}
	if r := validate(hop2failed); r.OldestPass != nil {
		t.Errorf("a failed chain has oldest-pass %d", *r.OldestPass)
	}

	// changeIn rewrites old to new inside the field NAME of instance i.
	changeIn := func(msg, name string, i int, old, new string) string {
		t.Helper()
		f := arcField(name, i).FindString(msg)
		if f == "" || !strings.Contains(f, old) {
			t.Fatalf("no %s i=%d with %q in:\n%s", name, i, old, msg)
		}
		return strings.Replace(msg, f, strings.Replace(f, old, new, 1), 1)
	}
	// later changes the t= of a field (a tag every sealer signs).
	later := func(msg, name string, i int) string {
		t.Helper()
		ts := regexp.MustCompile(`t=(\d+)`).FindStringSubmatch(arcField(name, i).FindString(msg))
		if ts == nil {
			t.Fatalf("no t= in %s i=%d", name, i)
		}
		n, _ := strconv.Atoi(ts[1])
		return changeIn(msg, name, i, ts[0], "t="+strconv.Itoa(n+1))
	}
	set2 := arcField("ARC-Seal", 2).FindString(hop2) + arcField("ARC-Message-Signature", 2).FindString(hop2) +
		arcField("ARC-Authentication-Results", 2).FindString(hop2)
	renumber := func(i int) string {
		return strings.Replace(hop2, set2, strings.ReplaceAll(set2, ": i=2;", ": i="+strconv.Itoa(i)+";"), 1)
	}
	cases := []struct{ name, msg, reason string }{
		{"what hop 1 found, changed", changeIn(hop2, "ARC-Authentication-Results", 1, "dkim=none", "dkim=pass"), "the ARC-Seal of instance 2 does not verify"},
		{"message signature of hop 1 changed", later(hop2, "ARC-Message-Signature", 1), "the ARC-Seal of instance 2 does not verify"},
		{"message signature of hop 2 changed", later(hop2, "ARC-Message-Signature", 2), "the ARC-Message-Signature of instance 2 does not verify: signature did not verify"},
		{"seal of hop 1 changed", later(hop2, "ARC-Seal", 1), "the ARC-Seal of instance 2 does not verify"},
		{"seal of hop 2 damaged", regexp.MustCompile(`(ARC-Seal: i=2;[^\n]*\n(?:[ \t][^\n]*\n)*?[ \t]*b=)(.)`).ReplaceAllStringFunc(hop2, flipLast), "the ARC-Seal of instance 2 does not verify"},
		{"seal of hop 2 of three changed", later(hop3, "ARC-Seal", 2), "the ARC-Seal of instance 3 does not verify"},
		{"body changed", strings.Replace(hop2, "noon", "nine", 1), "the ARC-Message-Signature of instance 2 does not verify: body hash"},
		{"signed header changed", strings.Replace(hop2, "Subject: lunch", "Subject: dinner", 1), "the ARC-Message-Signature of instance 2 does not verify: signature did not verify"},
		{"a set incomplete", arcField("ARC-Authentication-Results", 2).ReplaceAllString(hop2, ""), "the ARC set of instance 2 is missing or incomplete"},
		{"an instance missing", renumber(3), "the ARC set of instance 2 is missing or incomplete (of 3)"},
		{"an instance twice", set2 + hop2, "instance 2 has two ARC-Seal fields"},
		{"an instance above 50", renumber(51), `instance i="51" (want 1 to 50)`},
		{"a hop sealed the chain as failed", hop2failed, "the ARC-Seal of instance 2 records cv=fail (want pass)"},
		{"cv= rewritten", changeIn(hop2, "ARC-Seal", 2, "cv=pass", "cv=fail"), "records cv=fail"},
	}
	files := []string{}
	write := func(name, msg string) {
		f := filepath.Join(dir, fmt.Sprintf("%02d.eml", len(files)))
		if err := os.WriteFile(f, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	write("no ARC", plainMsg)
	write("one hop", hop1)
	write("two hops", hop2)
	write("three hops", hop3)
	write("body changed by hop 2", listed)
	want := []string{core.AuthNone, core.AuthPass, core.AuthPass, core.AuthPass, core.AuthPass}
	for _, c := range cases {
		r := validate(c.msg)
		if r.Result != core.AuthFail || !strings.Contains(r.Reason, c.reason) {
			t.Errorf("%s: %+v, want fail: %s", c.name, r, c.reason)
		}
		// A failed chain's ARC-Authentication-Results are not findings:
		// none is reported (review finding: they were, as if verified).
		for _, sl := range r.Sealers {
			if sl.AuthenticationResults != "" {
				t.Errorf("%s: a failed chain reports what hop %d found: %q", c.name, sl.Instance, sl.AuthenticationResults)
			}
		}
		write(c.name, c.msg)
		want = append(want, core.AuthFail)
	}
	// dkimpy's arc_verify agrees on every message.
	cmd := exec.Command("/usr/bin/python3", append([]string{"-c", arcpyScript, host, port, "verify"}, files...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("arc_verify: %v: %s", err, stderr.String())
	}
	got := strings.Fields(string(out))
	names := append([]string{"no ARC", "one hop", "two hops", "three hops", "body changed by hop 2"}, func() (n []string) {
		for _, c := range cases {
			n = append(n, c.name)
		}
		return
	}()...)
	t.Logf("arc_verify:\n%s", stderr.String())
	if len(got) != len(want) {
		t.Fatalf("arc_verify printed %q for %d messages", got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%s: dkimpy's arc_verify says %s, mailseal %s", names[i], got[i], want[i])
		}
	}

	// Through Check: in the report and in Authentication-Results.
	rep, err := Check(context.Background(), parse(t, hop2), Options{Resolver: res, AuthServID: "mx.example.net"})
	if err != nil || rep.ARC == nil || rep.ARC.Result != core.AuthPass || !strings.Contains(rep.AuthenticationResults, "; arc=pass") {
		t.Errorf("Check: %+v, %v", rep, err)
	}
	rep, err = Check(context.Background(), parse(t, hop2failed), Options{Resolver: res, AuthServID: "mx.example.net"})
	if err != nil || rep.ARC == nil || rep.ARC.Result != core.AuthFail || !strings.Contains(rep.AuthenticationResults, "; arc=fail") {
		t.Errorf("Check, a failed chain: %+v, %v", rep, err)
	}
	rep, err = Check(context.Background(), parse(t, plainMsg), Options{Resolver: res, AuthServID: "mx.example.net"})
	if err != nil || rep.ARC == nil || rep.ARC.Result != core.AuthNone || strings.Contains(rep.AuthenticationResults, "; arc=") {
		t.Errorf("Check, no chain: %+v, %v", rep, err)
	}
	// With the client known, the arc result names it (smtp.remote-ip)
	// and the oldest-pass; python3-authres reads both back.
	for _, ip := range []string{"192.0.2.10", "2001:db8::10"} {
		rep, err = Check(context.Background(), parse(t, listed), Options{Resolver: res, AuthServID: "mx.example.net",
			SPF: &SPFOptions{ClientIP: net.ParseIP(ip), HELO: "mta.hop2.example"}})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("/usr/bin/python3", "-c", `import sys, authres, authres.arc
h = authres.FeatureContext(authres.arc).parse_value(sys.argv[1])
for r in h.results:
    if r.method == "arc":
        print(r.result, r.header_oldest_pass, r.smtp_remote_ip)`, rep.AuthenticationResults)
		out, err := cmd.CombinedOutput()
		if want := "pass 2 " + ip + "\n"; err != nil || string(out) != want {
			t.Errorf("python3-authres reads %q from %q (%v), want %q", out, rep.AuthenticationResults, err, want)
		}
	}
}

// flipLast changes the last character of s (a base64 letter) to another.
func flipLast(s string) string {
	last := s[len(s)-1]
	repl := byte('A')
	if last == 'A' {
		repl = 'B'
	}
	return s[:len(s)-1] + string(repl)
}

// countingHash counts the bytes written to it and to its copies.
type countingHash struct {
	hash.Hash
	n *int
}

func (c countingHash) Write(p []byte) (int, error) { *c.n += len(p); return c.Hash.Write(p) }
func (c countingHash) Clone() (hash.Cloner, error) {
	h, err := c.Hash.(hash.Cloner).Clone()
	return countingHash{h, c.n}, err
}

// TestARCSealWorkLinear: the digests of the 50 seals of a chain (RFC
// 8617's most) are what section 5.1.1 defines (each computed here afresh
// over the sets up to its own) and sealDigests hashes each field once
// (the seals' own twice, once with b= empty): the work is linear in the
// chain. Before the review fix every seal hashed every set below it
// again, about 25 times the chain for 50 sets.
func TestARCSealWorkLinear(t *testing.T) {
	field := func(name string, i int, extra string) *mime.Field {
		raw := fmt.Sprintf("%s: i=%d; a=rsa-sha256; d=hop%d.example;\r\n\t s=arc; %s b=%s\r\n", name, i, i, extra, strings.Repeat("QUJD", 100))
		return &mime.Field{Key: name, Raw: []byte(raw)}
	}
	var sets []arcSet
	total := 0
	for i := 1; i <= maxARCInstances; i++ {
		s := arcSet{aar: field("ARC-Authentication-Results", i, "spf=pass;"), ams: field("ARC-Message-Signature", i, "h=from:to;"), as: field("ARC-Seal", i, "cv=pass;")}
		sets = append(sets, s)
		for _, f := range []*mime.Field{s.aar, s.ams, s.as, withoutB(s.as)} {
			total += len(canonicalField(f, true))
		}
	}
	n := 0
	digests, err := sealDigests(sets, countingHash{sha256.New(), &n})
	if err != nil {
		t.Fatal(err)
	}
	if n > total {
		t.Errorf("hashed %d bytes for 50 seals, want at most %d (each field once, the seals twice)", n, total)
	}
	for i := range sets {
		h := sha256.New()
		for j := 0; j < i; j++ {
			io.WriteString(h, canonicalField(sets[j].aar, true)+canonicalField(sets[j].ams, true)+canonicalField(sets[j].as, true))
		}
		io.WriteString(h, canonicalField(sets[i].aar, true)+canonicalField(sets[i].ams, true))
		io.WriteString(h, strings.TrimSuffix(canonicalField(withoutB(sets[i].as), true), "\r\n"))
		if !bytes.Equal(h.Sum(nil), digests[i]) {
			t.Fatalf("the digest of seal %d differs from RFC 8617's definition", i+1)
		}
	}
}
