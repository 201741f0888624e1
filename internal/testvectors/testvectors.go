// Package testvectors reads the published test vectors kept in the
// repository's testdata/corpora (see its README for their provenance):
// Project Wycheproof's JSON files and NIST CAVP's GCM response files. It is
// for tests only; every loader fails the test on a missing or damaged file,
// so a vector test is never skipped silently.
package testvectors

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// corpusDir returns testdata/corpora of the module that contains the
// working directory (a package directory while `go test` runs).
func corpusDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "corpora")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testvectors: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Hex is a byte string written in hex in the vector files.
type Hex []byte

// UnmarshalJSON decodes a JSON string of hex digits.
func (h *Hex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	*h = d
	return nil
}

// Wycheproof is one Wycheproof file. Groups and tests carry the fields of
// every schema used here; a field a schema lacks stays empty.
type Wycheproof struct {
	Algorithm     string
	NumberOfTests int
	TestGroups    []Group
}

// Group is a Wycheproof test group: the parameters its tests share.
type Group struct {
	Type     string
	KeySize  int // bits
	IVSize   int // bits (AEAD)
	TagSize  int // bits (AEAD)
	Curve    string
	Encoding string // ECDH: "asn" (SubjectPublicKeyInfo) or "ecpoint"
	SHA      string // hash of a signature or of RSA-OAEP
	MGF      string
	MGFSHA   string `json:"mgfSha"`
	SLen     int    // RSA-PSS salt length

	PublicKeyDER    Hex `json:"publicKeyDer"`    // SubjectPublicKeyInfo
	PrivateKeyPKCS8 Hex `json:"privateKeyPkcs8"` // RSA-OAEP

	Tests []Test
}

// Test is one Wycheproof test case.
type Test struct {
	TcID    int `json:"tcId"`
	Comment string
	Flags   []string
	Result  string // "valid", "invalid" or "acceptable"

	Key, IV, AAD, Msg, CT, Tag Hex // AEAD, key wrap, RSA-OAEP (also Label)
	Label                      Hex
	Public, Private, Shared    Hex // ECDH
	Sig                        Hex // signatures
}

// Valid, Invalid and Acceptable report the expected result. "acceptable"
// marks inputs a correct implementation may refuse or accept (legacy
// encodings, weak but well-defined parameters).
func (t Test) Valid() bool      { return t.Result == "valid" }
func (t Test) Invalid() bool    { return t.Result == "invalid" }
func (t Test) Acceptable() bool { return t.Result == "acceptable" }

// HasFlag reports whether the test carries flag.
func (t Test) HasFlag(flag string) bool { return slices.Contains(t.Flags, flag) }

// String names the test in failure messages.
func (t Test) String() string {
	return fmt.Sprintf("tcId %d (%s; %s %v)", t.TcID, t.Comment, t.Result, t.Flags)
}

// LoadWycheproof reads testdata/corpora/wycheproof/name (for example
// "aes_gcm_test.json") and checks that it holds as many tests as it says.
func LoadWycheproof(t testing.TB, name string) *Wycheproof {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(t), "wycheproof", name))
	if err != nil {
		t.Fatalf("Wycheproof vectors missing: %v", err)
	}
	var w Wycheproof
	if err := json.Unmarshal(data, &w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	n := 0
	for _, g := range w.TestGroups {
		n += len(g.Tests)
	}
	if n == 0 || n != w.NumberOfTests {
		t.Fatalf("%s: %d tests, the file says %d", name, n, w.NumberOfTests)
	}
	return &w
}

// CheckSignatures runs verify on every test of the Wycheproof signature
// file name (ECDSA, RSA PKCS #1 v1.5 or PSS, Ed25519: groups with a
// publicKeyDer). A valid signature must verify and an invalid one must
// not; an acceptable one may do either, and the count of those that
// verified is logged.
func CheckSignatures(t *testing.T, name string, verify func(g *Group, pub crypto.PublicKey, msg, sig []byte) error) {
	t.Helper()
	w := LoadWycheproof(t, name)
	acceptable, accepted := 0, 0
	for i := range w.TestGroups {
		g := &w.TestGroups[i]
		pub, err := x509.ParsePKIXPublicKey(g.PublicKeyDER)
		if err != nil {
			t.Fatalf("%s group %d: public key: %v", name, i, err)
		}
		for _, tc := range g.Tests {
			msg := append([]byte{}, tc.Msg...) // never nil: an empty message is still a message
			err := verify(g, pub, msg, tc.Sig)
			switch {
			case tc.Valid() && err != nil:
				t.Fatalf("%s %v: %v", name, tc, err)
			case tc.Invalid() && err == nil:
				t.Fatalf("%s %v: signature verified", name, tc)
			case tc.Acceptable():
				acceptable++
				if err == nil {
					accepted++
				}
			}
		}
	}
	t.Logf("%s: %d tests; %d acceptable, %d of them verified", name, w.NumberOfTests, acceptable, accepted)
}

// GCMVector is one vector of a CAVP GCM response file, with the
// parameters of its section (lengths in bits, as in the file).
type GCMVector struct {
	File, Section                        string
	Count                                int
	KeyLen, IVLen, PTLen, AADLen, TagLen int
	Key, IV, PT, AAD, CT, Tag            []byte
	Fail                                 bool // decryption must fail (Decrypt files only)
}

func (v GCMVector) String() string {
	return fmt.Sprintf("%s %s Count %d", v.File, v.Section, v.Count)
}

// LoadCAVPGCM reads testdata/corpora/cavp-gcm/name (for example
// "gcmDecrypt128.rsp") and checks every length against its section.
func LoadCAVPGCM(t testing.TB, name string) []GCMVector {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir(t), "cavp-gcm", name))
	if err != nil {
		t.Fatalf("CAVP GCM vectors missing: %v", err)
	}
	var out []GCMVector
	var section GCMVector
	var cur *GCMVector
	var sectionLines []string
	lineNo := 0
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s:%d: %s", name, lineNo, fmt.Sprintf(format, args...))
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "["):
			if cur != nil { // a new section starts
				cur, sectionLines = nil, nil
			}
			sectionLines = append(sectionLines, line)
			k, v, ok := strings.Cut(strings.Trim(line, "[]"), " = ")
			n, err := strconv.Atoi(v)
			if !ok || err != nil {
				fail("bad section line %q", line)
			}
			param := map[string]*int{"Keylen": &section.KeyLen, "IVlen": &section.IVLen,
				"PTlen": &section.PTLen, "AADlen": &section.AADLen, "Taglen": &section.TagLen}[k]
			if param == nil {
				fail("unknown section parameter %q", k)
			}
			*param = n
			section.Section = strings.Join(sectionLines, "")
			continue
		case line == "FAIL":
			if cur == nil {
				fail("FAIL outside a vector")
			}
			cur.Fail = true
			continue
		}
		k, v, ok := strings.Cut(line, " =")
		if !ok {
			fail("bad line %q", line)
		}
		v = strings.TrimSpace(v)
		if k == "Count" {
			n, err := strconv.Atoi(v)
			if err != nil {
				fail("bad count %q", v)
			}
			out = append(out, section)
			cur = &out[len(out)-1]
			cur.File, cur.Count = name, n
			continue
		}
		if cur == nil {
			fail("%s outside a vector", k)
		}
		b, err := hex.DecodeString(v)
		if err != nil {
			fail("%s: %v", k, err)
		}
		field := map[string]*[]byte{"Key": &cur.Key, "IV": &cur.IV, "PT": &cur.PT,
			"AAD": &cur.AAD, "CT": &cur.CT, "Tag": &cur.Tag}[k]
		if field == nil {
			fail("unknown field %q", k)
		}
		*field = b
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no vectors", name)
	}
	for _, v := range out {
		ok := len(v.Key)*8 == v.KeyLen && len(v.IV)*8 == v.IVLen && len(v.AAD)*8 == v.AADLen &&
			len(v.CT)*8 == v.PTLen && len(v.Tag)*8 == v.TagLen && (v.Fail || len(v.PT) == len(v.CT))
		if !ok {
			t.Fatalf("%s: lengths disagree with the section", v)
		}
	}
	return out
}
