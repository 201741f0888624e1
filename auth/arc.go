package auth

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
)

// ARC (RFC 8617) is validated here, read only: no Go library maintains
// it, and go-msgauth keeps its DKIM canonicalization to itself, so the
// header and body canonicalization, the key record and the signature
// check below are this package's.

// maxARCInstances is RFC 8617's limit on i=.
const maxARCInstances = 50

type arcSet struct {
	aar, ams, as *mime.Field
	amsTags      map[string]string
	asTags       map[string]string
}

// ValidateARC checks m's ARC chain: every instance 1..N has exactly one
// ARC-Authentication-Results, ARC-Message-Signature and ARC-Seal; the
// seals record cv=none at instance 1 and cv=pass after it; the newest
// message signature verifies over the message as it is; every seal
// verifies over the sets up to its own. Keys are looked up through res
// (names in ASCII form, ASCIIDomain). A passing chain's older message
// signatures are checked too, for OldestPass, and only a passing chain's
// sealers say what their hop found.
func ValidateARC(ctx context.Context, m *mime.Message, res Resolver) *core.ARCResult {
	res = asciiNames(res)
	r := &core.ARCResult{}
	sets, err := arcSets(m.Root.Header)
	if err != nil {
		r.Result, r.Reason = core.AuthFail, err.Error()
		return r
	}
	if len(sets) == 0 {
		r.Result = core.AuthNone
		return r
	}
	for i, s := range sets {
		cv := strings.ToLower(stripFWS(s.asTags["cv"]))
		r.Sealers = append(r.Sealers, core.ARCSealer{Instance: i + 1, Domain: normDomain(stripFWS(s.asTags["d"])),
			Selector: stripFWS(s.asTags["s"]), ChainValidation: cv})
	}
	fail := func(format string, args ...any) *core.ARCResult {
		r.Result, r.Reason = core.AuthFail, fmt.Sprintf(format, args...)
		return r
	}
	for i, s := range r.Sealers {
		want := "pass"
		if i == 0 {
			want = "none"
		}
		if s.ChainValidation != want {
			return fail("the ARC-Seal of instance %d records cv=%s (want %s): the chain was broken before that hop", i+1, shorten(s.ChainValidation), want)
		}
	}
	n := len(sets)
	bodies := bodyHashes{}
	if err := verifyAMS(ctx, m, sets[n-1], res, bodies); err != nil {
		if isTemp(err) {
			r.Result, r.Reason = core.AuthTempError, fmt.Sprintf("the ARC-Message-Signature of instance %d: %v", n, err)
			return r
		}
		return fail("the ARC-Message-Signature of instance %d does not verify: %v", n, err)
	}
	digests, err := sealDigests(sets, sha256.New())
	if err != nil {
		return fail("%v", err)
	}
	for i := n; i >= 1; i-- {
		err := verifySeal(ctx, sets[i-1], digests[i-1], res)
		if err != nil {
			r.Sealers[i-1].Seal = core.AuthFail
			if isTemp(err) {
				r.Result, r.Reason = core.AuthTempError, fmt.Sprintf("the ARC-Seal of instance %d: %v", i, err)
				return r
			}
			return fail("the ARC-Seal of instance %d does not verify: %v", i, err)
		}
		r.Sealers[i-1].Seal = core.AuthPass
	}
	r.Result = core.AuthPass
	// oldest-pass (RFC 8617 section 5.2, step 5): the older message
	// signatures are checked from instance N-1 down; it is the oldest
	// instance from which on all verify, 0 when all do. A hop that changed
	// the message (a mailing list's footer) breaks the ones before it.
	oldest := 0
	for i := n - 1; i >= 1; i-- {
		if verifyAMS(ctx, m, sets[i-1], res, bodies) != nil {
			oldest = i + 1
			break
		}
	}
	r.OldestPass = &oldest
	// What each hop found is reported only now: the ARC-Authentication-
	// Results of a chain that does not validate are anyone's words (RFC
	// 8617 section 5.2: a failed chain's sets carry no authenticated
	// information), and showing them would present them as findings.
	for i, s := range sets {
		r.Sealers[i].AuthenticationResults = aarResults(s.aar.Value)
	}
	return r
}

// arcSets groups the ARC fields by instance (index 0 is instance 1).
func arcSets(h mime.Header) ([]arcSet, error) {
	byInstance := map[int]*arcSet{}
	maxI := 0
	for k := range h {
		f := &h[k]
		var kind string
		switch {
		case strings.EqualFold(f.Key, "ARC-Authentication-Results"):
			kind = "ARC-Authentication-Results"
		case strings.EqualFold(f.Key, "ARC-Message-Signature"):
			kind = "ARC-Message-Signature"
		case strings.EqualFold(f.Key, "ARC-Seal"):
			kind = "ARC-Seal"
		default:
			continue
		}
		var inst string
		var tags map[string]string
		if kind == "ARC-Authentication-Results" {
			first, _, _ := strings.Cut(f.Value, ";")
			name, v, ok := strings.Cut(first, "=")
			if !ok || strings.TrimSpace(name) != "i" {
				return nil, fmt.Errorf("an ARC-Authentication-Results field does not start with i=")
			}
			inst = v
		} else {
			var err error
			if tags, err = parseTags(f.Value); err != nil {
				return nil, fmt.Errorf("malformed %s: %v", kind, err)
			}
			inst = tags["i"]
		}
		i, err := strconv.Atoi(strings.TrimSpace(inst))
		if err != nil || i < 1 || i > maxARCInstances {
			return nil, fmt.Errorf("%s has instance i=%q (want 1 to %d)", kind, shorten(inst), maxARCInstances)
		}
		s := byInstance[i]
		if s == nil {
			s = &arcSet{}
			byInstance[i] = s
		}
		var slot **mime.Field
		switch kind {
		case "ARC-Authentication-Results":
			slot = &s.aar
		case "ARC-Message-Signature":
			slot, s.amsTags = &s.ams, tags
		default:
			slot, s.asTags = &s.as, tags
		}
		if *slot != nil {
			return nil, fmt.Errorf("instance %d has two %s fields", i, kind)
		}
		*slot = f
		maxI = max(maxI, i)
	}
	sets := make([]arcSet, maxI)
	for i := 1; i <= maxI; i++ {
		s := byInstance[i]
		if s == nil || s.aar == nil || s.ams == nil || s.as == nil {
			return nil, fmt.Errorf("the ARC set of instance %d is missing or incomplete (of %d)", i, maxI)
		}
		sets[i-1] = *s
	}
	return sets, nil
}

// aarResults is an ARC-Authentication-Results value without its i=.
func aarResults(v string) string {
	_, rest, _ := strings.Cut(v, ";")
	return strings.TrimSpace(rest)
}

// bodyHashes are the body's SHA-256 hashes by canonicalization (relaxed
// or not), each made once however many message signatures need it.
type bodyHashes map[bool][]byte

// verifyAMS checks an ARC-Message-Signature over the message as it is.
func verifyAMS(ctx context.Context, m *mime.Message, s arcSet, res Resolver, bodies bodyHashes) error {
	t := s.amsTags
	for _, tag := range []string{"a", "b", "bh", "d", "h", "s"} {
		if _, ok := t[tag]; !ok {
			return fmt.Errorf("the required tag %s= is missing", tag)
		}
	}
	hc, bc, _ := strings.Cut(stripFWS(t["c"]), "/")
	relaxedHeader, err := relaxedCanon(hc)
	if err != nil {
		return err
	}
	relaxedBody, err := relaxedCanon(bc)
	if err != nil {
		return err
	}
	want, err := base64.StdEncoding.DecodeString(stripFWS(t["bh"]))
	if err != nil {
		return fmt.Errorf("malformed body hash: %v", err)
	}
	sum, ok := bodies[relaxedBody]
	if !ok {
		bh := sha256.New()
		if err := canonicalBody(bh, m.Root.RawBody(), relaxedBody); err != nil {
			return err
		}
		sum = bh.Sum(nil)
		bodies[relaxedBody] = sum
	}
	if string(sum) != string(want) {
		return errors.New("body hash did not verify")
	}
	hh := sha256.New()
	pick := newFieldPicker(m.Root.Header)
	for _, name := range strings.Split(stripFWS(t["h"]), ":") {
		if f := pick.next(name); f != nil {
			io.WriteString(hh, canonicalField(f, relaxedHeader))
		}
	}
	io.WriteString(hh, strings.TrimSuffix(canonicalField(withoutB(s.ams), relaxedHeader), "\r\n"))
	return checkSignature(ctx, t, hh.Sum(nil), res)
}

// sealDigests are the digests the ARC-Seals of sets sign (RFC 8617
// section 5.1.1): seal i signs the sets 1 to i, each set's AAR, AMS and AS
// in relaxed form, its own AS with b= empty and without its final CRLF.
// The sets are hashed once, in order, into h: each seal's digest comes
// from a copy of the running hash, so the work grows with the chain's
// size, not with its square (review finding: every seal hashed every set
// below it again).
func sealDigests(sets []arcSet, h hash.Hash) ([][]byte, error) {
	c, ok := h.(hash.Cloner)
	if !ok {
		return nil, fmt.Errorf("ARC: the hash %T cannot be copied", h)
	}
	out := make([][]byte, len(sets))
	for i, s := range sets {
		io.WriteString(c, canonicalField(s.aar, true))
		io.WriteString(c, canonicalField(s.ams, true))
		own, err := c.Clone()
		if err != nil {
			return nil, fmt.Errorf("ARC: copying the hash: %v", err)
		}
		io.WriteString(own, strings.TrimSuffix(canonicalField(withoutB(s.as), true), "\r\n"))
		out[i] = own.Sum(nil)
		io.WriteString(c, canonicalField(s.as, true))
	}
	return out, nil
}

// verifySeal checks the ARC-Seal of s over digest, what sealDigests made
// of the sets up to s.
func verifySeal(ctx context.Context, s arcSet, digest []byte, res Resolver) error {
	if _, ok := s.asTags["h"]; ok {
		return errors.New("an ARC-Seal must not have h=")
	}
	for _, tag := range []string{"a", "b", "cv", "d", "s"} {
		if _, ok := s.asTags[tag]; !ok {
			return fmt.Errorf("the required tag %s= is missing", tag)
		}
	}
	return checkSignature(ctx, s.asTags, digest, res)
}

func relaxedCanon(c string) (bool, error) {
	switch strings.ToLower(c) {
	case "", "simple":
		return false, nil
	case "relaxed":
		return true, nil
	}
	return false, fmt.Errorf("unknown canonicalization %q", shorten(c))
}

// fieldPicker hands out the header fields an h= list names, each name's
// instances from the bottom of the header up (RFC 6376 section 5.4.2).
// It indexes the header once, so an h= list costs one step per name
// however long the header is.
type fieldPicker map[string][]*mime.Field

func newFieldPicker(h mime.Header) fieldPicker {
	p := fieldPicker{}
	for i := len(h) - 1; i >= 0; i-- {
		k := strings.ToLower(h[i].Key)
		p[k] = append(p[k], &h[i])
	}
	return p
}

// next is the next instance of name not taken yet, nil when none is left.
func (p fieldPicker) next(name string) *mime.Field {
	k := strings.ToLower(strings.TrimSpace(name))
	fs := p[k]
	if len(fs) == 0 {
		return nil
	}
	p[k] = fs[1:]
	return fs[0]
}

// canonicalField is a header field in simple (its exact bytes) or
// relaxed canonical form (RFC 6376 section 3.4.2), with its CRLF.
func canonicalField(f *mime.Field, relaxed bool) string {
	if !relaxed {
		// Its exact bytes, with lines ending in CRLF as on the wire.
		return string(bytes.ReplaceAll(bytes.ReplaceAll(f.Raw, []byte("\r\n"), []byte("\n")), []byte("\n"), []byte("\r\n")))
	}
	name, value, _ := strings.Cut(string(f.Raw), ":")
	value = strings.NewReplacer("\r\n", "", "\r", "", "\n", "").Replace(value)
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + strings.Join(strings.FieldsFunc(value, isWSP), " ") + "\r\n"
}

func isWSP(r rune) bool { return r == ' ' || r == '\t' }

// withoutB is f with the value of its b= tag emptied (bh= kept), as the
// signature was computed.
func withoutB(f *mime.Field) *mime.Field {
	name, value, _ := strings.Cut(string(f.Raw), ":")
	specs := strings.Split(strings.TrimSuffix(value, "\r\n"), ";")
	for i, spec := range specs {
		tag, _, ok := strings.Cut(spec, "=")
		if ok && strings.Trim(tag, " \t\r\n") == "b" {
			specs[i] = tag + "="
		}
	}
	raw := name + ":" + strings.Join(specs, ";") + "\r\n"
	return &mime.Field{Key: f.Key, Raw: []byte(raw)}
}

// canonicalBody hashes body in simple or relaxed canonical form (RFC
// 6376 section 3.4.3, 3.4.4), streaming: only the count of empty lines
// not yet known to be trailing is held.
func canonicalBody(h hash.Hash, body io.Reader, relaxed bool) error {
	w := bufio.NewWriterSize(h, 32<<10)
	br := bufio.NewReaderSize(body, 32<<10)
	pendingEmpty, pendingWSP, content, wrote := 0, false, false, false
	buf := make([]byte, 32<<10)
	for {
		n, err := br.Read(buf)
		for _, c := range buf[:n] {
			switch {
			case c == '\r':
			case c == '\n':
				if content {
					w.WriteString("\r\n")
				} else {
					pendingEmpty++
				}
				content, pendingWSP = false, false
			case relaxed && (c == ' ' || c == '\t'):
				pendingWSP = true
			default:
				if !content {
					for ; pendingEmpty > 0; pendingEmpty-- {
						w.WriteString("\r\n")
					}
					content, wrote = true, true
				}
				if pendingWSP {
					w.WriteByte(' ')
					pendingWSP = false
				}
				w.WriteByte(c)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	switch {
	case content: // a last line without CRLF
		w.WriteString("\r\n")
	case !wrote && !relaxed: // an empty body is one CRLF in simple
		w.WriteString("\r\n")
	}
	return w.Flush()
}

// checkSignature looks up the key of tags' s= and d= and checks b= over
// the SHA-256 hash of the signed data (a= rsa-sha256 or ed25519-sha256).
func checkSignature(ctx context.Context, tags map[string]string, hashed []byte, res Resolver) error {
	algo := strings.ToLower(stripFWS(tags["a"]))
	if algo != "rsa-sha256" && algo != "ed25519-sha256" {
		return fmt.Errorf("unsupported algorithm a=%s", shorten(algo))
	}
	sig, err := base64.StdEncoding.DecodeString(stripFWS(tags["b"]))
	if err != nil {
		return fmt.Errorf("malformed signature: %v", err)
	}
	d, s := stripFWS(tags["d"]), stripFWS(tags["s"])
	txts, err := res.LookupTXT(ctx, s+"._domainkey."+d)
	if err != nil {
		return err
	}
	if len(txts) != 1 {
		return fmt.Errorf("%d key records at %s._domainkey.%s, want 1", len(txts), s, d)
	}
	pub, err := parseKeyRecord(txts[0])
	if err != nil {
		return err
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if algo != "rsa-sha256" {
			return errors.New("the key is RSA, the signature not")
		}
		if err := rsa.VerifyPKCS1v15(k, crypto.SHA256, hashed, sig); err != nil {
			return errors.New("signature did not verify")
		}
	case ed25519.PublicKey:
		if algo != "ed25519-sha256" {
			return errors.New("the key is Ed25519, the signature not")
		}
		if !ed25519.Verify(k, hashed, sig) {
			return errors.New("signature did not verify")
		}
	}
	return nil
}

// parseKeyRecord reads a DKIM key record (RFC 6376 section 3.6.1).
func parseKeyRecord(txt string) (crypto.PublicKey, error) {
	tags, err := parseTags(txt)
	if err != nil {
		return nil, fmt.Errorf("malformed key record: %v", err)
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return nil, fmt.Errorf("key record version %q", shorten(v))
	}
	p := stripFWS(tags["p"])
	if p == "" {
		return nil, errors.New("key revoked (empty p=)")
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("malformed key: %v", err)
	}
	switch k := stripFWS(tags["k"]); k {
	case "", "rsa":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			if pub, err = x509.ParsePKCS1PublicKey(der); err != nil {
				return nil, fmt.Errorf("malformed RSA key: %v", err)
			}
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, errors.New("k=rsa but the key is not RSA")
		}
		if rk.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits (at least 1024)", rk.N.BitLen())
		}
		return rk, nil
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("Ed25519 key of %d bytes", len(der))
		}
		return ed25519.PublicKey(der), nil
	default:
		return nil, fmt.Errorf("unsupported key type k=%s", shorten(k))
	}
}

func isTemp(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.Temporary()
}
