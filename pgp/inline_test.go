package pgp

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

func TestFindBlocks(t *testing.T) {
	msg := "-----BEGIN PGP MESSAGE-----\n\nwcBMA\n-----END PGP MESSAGE-----\n"
	signed := "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nhi\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n"
	trailing := "-----BEGIN PGP MESSAGE----- \t\nx\n-----END PGP MESSAGE-----  \n"
	unsigned := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhi\n"
	// Longer than any scan buffer: trailing blanks and a line of text.
	blanks := "-----BEGIN PGP MESSAGE-----" + strings.Repeat(" ", 100<<10) + "\r\nx\r\n-----END PGP MESSAGE-----" + strings.Repeat("\t", 70<<10)
	long := strings.Repeat("a", 100<<10) + "\n" + msg
	// A BEGIN PGP MESSAGE line inside a signed block is part of it.
	nested := "-----BEGIN PGP SIGNED MESSAGE-----\n\n" + msg + "-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n"
	for _, c := range []struct {
		name string
		text string
		want []Block
	}{
		{"none", "just text\n", nil},
		{"message", "before\n" + msg + "after\n", []Block{{KindMessage, 7, 7 + len(msg)}}},
		{"signed-crlf", "x\r\n" + signed, []Block{{KindSigned, 3, 3 + len(signed)}}},
		{"no-final-newline", strings.TrimSuffix(msg, "\n"), []Block{{KindMessage, 0, len(msg) - 1}}},
		{"final-cr", strings.TrimSuffix(msg, "\n") + "\r", nil},
		{"cr-in-line", strings.Replace(msg, "-----END PGP MESSAGE-----\n", "-----END PGP MESSAGE-----\r \n", 1), nil},
		{"both", signed + msg, []Block{{KindSigned, 0, len(signed)}, {KindMessage, len(signed), len(signed) + len(msg)}}},
		{"not-line-anchored", "> " + msg, nil},
		{"unterminated", "-----BEGIN PGP MESSAGE-----\nabc\n", nil},
		{"trailing-blanks", trailing, []Block{{KindMessage, 0, len(trailing)}}},
		{"long-trailing-blanks", blanks, []Block{{KindMessage, 0, len(blanks)}}},
		{"long-line", long, []Block{{KindMessage, len(long) - len(msg), len(long)}}},
		{"signed-without-signature", unsigned + msg, []Block{{KindMessage, len(unsigned), len(unsigned) + len(msg)}}},
		{"message-inside-signed", nested, []Block{{KindSigned, 0, len(nested)}}},
		{"unterminated-before-message", "-----BEGIN PGP MESSAGE-----\n" + signed, []Block{{KindSigned, 28, 28 + len(signed)}}},
		{"unterminated-signature", unsigned + "-----BEGIN PGP SIGNATURE-----\n" + msg, []Block{{KindMessage, len(unsigned) + 30, len(unsigned) + 30 + len(msg)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if ref := findBlocksQuadratic([]byte(c.text)); !slices.Equal(ref, c.want) {
				t.Fatalf("the reference finds %+v, the test wants %+v", ref, c.want)
			}
			if got := FindBlocks([]byte(c.text)); !slices.Equal(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			checkScanners(t, []byte(c.text), c.want)
		})
	}
}

// findBlocksQuadratic is FindBlocks as it was: for every BEGIN line, a
// search to the end of the text. It is the reference for FindBlocks.
func findBlocksQuadratic(text []byte) []Block {
	type line struct{ start, end, next int }
	var ls []line
	for i := 0; i < len(text); {
		j := bytes.IndexByte(text[i:], '\n')
		if j < 0 {
			ls = append(ls, line{i, len(text), len(text)})
			break
		}
		end := i + j
		if end > i && text[end-1] == '\r' {
			end--
		}
		ls = append(ls, line{i, end, i + j + 1})
		i += j + 1
	}
	isMarker := func(l line, marker string) bool {
		return string(bytes.TrimRight(text[l.start:l.end], " \t")) == marker
	}
	var blocks []Block
	for i := 0; i < len(ls); i++ {
		switch {
		case isMarker(ls[i], beginSigned):
			sigAt := -1
			for j := i + 1; j < len(ls); j++ {
				if isMarker(ls[j], beginSignature) {
					sigAt = j
					break
				}
			}
			if sigAt < 0 {
				continue
			}
			for j := sigAt + 1; j < len(ls); j++ {
				if isMarker(ls[j], endSignature) {
					blocks = append(blocks, Block{Kind: KindSigned, Start: ls[i].start, End: ls[j].next})
					i = j
					break
				}
			}
		case isMarker(ls[i], beginMessage):
			for j := i + 1; j < len(ls); j++ {
				if isMarker(ls[j], endMessage) {
					blocks = append(blocks, Block{Kind: KindMessage, Start: ls[i].start, End: ls[j].next})
					i = j
					break
				}
			}
		}
	}
	return blocks
}

// checkScanners scans text with the smallest buffer and with readers that
// return little at a time, and checks the blocks against want, HasBlock,
// and the scanner's TextBefore and TextAfter against strings.TrimSpace.
func checkScanners(t *testing.T, text []byte, want []Block) {
	t.Helper()
	readers := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one-byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
	}
	for name, wrap := range readers {
		for _, size := range []int{0, minScanBuffer, 100} {
			open := func() io.Reader { return wrap(bytes.NewReader(text)) }
			s := NewBlockScanner(open)
			s.bufSize = size
			var got []Block
			prev := 0
			for s.Scan() {
				b := s.Block()
				if before := strings.TrimSpace(string(text[prev:b.Start])) != ""; s.TextBefore() != before {
					t.Fatalf("%s, buffer %d: block %+v: TextBefore %v, want %v", name, size, b, s.TextBefore(), before)
				}
				got = append(got, b)
				prev = b.End
			}
			if err := s.Err(); err != nil {
				t.Fatalf("%s, buffer %d: %v", name, size, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s, buffer %d: got %+v, want %+v", name, size, got, want)
			}
			if after := strings.TrimSpace(string(text[prev:])) != ""; s.TextAfter() != after {
				t.Fatalf("%s, buffer %d: TextAfter %v, want %v", name, size, s.TextAfter(), after)
			}
			if has, err := HasBlock(open()); err != nil || has != (len(want) > 0) {
				t.Fatalf("%s: HasBlock %v, %v with %d blocks", name, has, err, len(want))
			}
		}
	}
}

// TestFindBlocksLinear checks that the work grows with the text, not with
// the number of BEGIN lines times the text after them (the old search ran
// to the end of the text for every BEGIN line without an END).
func TestFindBlocksLinear(t *testing.T) {
	const n = 100000
	msg := "-----BEGIN PGP MESSAGE-----\r\n\r\nwcBMA\r\n-----END PGP MESSAGE-----\r\n"
	for name, text := range map[string]string{
		"begin-message":   strings.Repeat(beginMessage+"\r\n", n),
		"begin-signed":    strings.Repeat(beginSigned+"\n", n),
		"signed-unsigned": strings.Repeat(beginSigned+"\n", n) + beginSignature + "\n" + strings.Repeat(beginSigned+"\n", n),
		"begin-then-end":  strings.Repeat(beginMessage+"\n"+beginSigned+"\n", n) + msg,
		"blocks":          strings.Repeat(msg+beginMessage+"\n", n/4),
		"empty-lines":     strings.Repeat("\r\n", n) + msg,
	} {
		s := NewBlockScanner(func() io.Reader { return strings.NewReader(text) })
		for s.Scan() {
		}
		// At most two readings, each looking at a marker line's start twice.
		if s.examined > 4*int64(len(text)) {
			t.Errorf("%s: %d bytes examined for a text of %d", name, s.examined, len(text))
		}
	}
}

// TestFindBlocksMemory checks that scanning a text of many short lines
// does not allocate per line.
func TestFindBlocksMemory(t *testing.T) {
	text := bytes.Repeat([]byte("\r\n"), 8<<20)
	var before, after runtimeStats
	before.read()
	blocks := FindBlocks(text)
	after.read()
	if len(blocks) != 0 {
		t.Fatalf("blocks %+v", blocks)
	}
	if got := after.sub(before); got > 1<<20 {
		t.Errorf("scanning %d bytes of empty lines allocated %d bytes", len(text), got)
	}
	// A text read from a stream, never held in memory: BEGIN lines without
	// an END line and empty lines.
	lines := bytes.Repeat([]byte(beginMessage+"\r\n\r\n"), 1000)
	before.read()
	s := NewBlockScanner(func() io.Reader { return io.LimitReader(repeatReader(lines), 64<<20) })
	for s.Scan() {
	}
	after.read()
	if s.Err() != nil || !s.TextAfter() {
		t.Fatalf("scan: %v, text after %v", s.Err(), s.TextAfter())
	}
	if got := after.sub(before); got > 1<<20 {
		t.Errorf("scanning 64 MiB of lines allocated %d bytes", got)
	}
}

// repeatReader reads p over and over.
type repeatReader []byte

func (r repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}

// makeClearsigned signs text with go-crypto's cleartext encoder.
func makeClearsigned(t *testing.T, key *openpgp.Entity, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, key.PrivateKey, testEngine().Config())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	w.Close()
	return buf.Bytes()
}

func TestVerifyCleartext(t *testing.T) {
	e := testEngine()
	key := genKey(t, "A", "a@example.org", keyOpts{})
	certs := openpgp.EntityList{publicOf(t, key)}
	cs := makeClearsigned(t, key, "line one  \n-dash\nFrom me\n")
	if !bytes.Contains(cs, []byte("\n- -dash\n")) {
		t.Fatalf("expected dash-escaping:\n%s", cs)
	}
	text, signers, err := verifyCleartext(e, cs, certs)
	if err != nil {
		t.Fatal(err)
	}
	oneSigner(t, signers, core.SignerGood)
	// The final line break belongs to the signed text: the signer's input ended with one.
	if string(text) != "line one\r\n-dash\r\nFrom me\r\n" {
		t.Fatalf("text %q", text)
	}
	// CRLF transport and trailing blanks added in transit do not matter.
	crlf := bytes.ReplaceAll(cs, []byte("\n"), []byte("\r\n"))
	crlf = bytes.Replace(crlf, []byte("From me\r\n"), []byte("From me \t\r\n"), 1)
	_, signers, err = verifyCleartext(e, crlf, certs)
	if err != nil {
		t.Fatal(err)
	}
	oneSigner(t, signers, core.SignerGood)
	// Changed text: bad. Unknown key: unknown.
	_, signers, _ = verifyCleartext(e, bytes.Replace(cs, []byte("line one"), []byte("line 1"), 1), certs)
	oneSigner(t, signers, core.SignerBad)
	_, signers, _ = verifyCleartext(e, cs, nil)
	oneSigner(t, signers, core.SignerUnknown)
	// Malformed input and trailing text are errors.
	for _, in := range [][]byte{nil, []byte("hello"), append(append([]byte{}, cs...), "unsigned tail\n"...), cs[:len(cs)/2]} {
		_, _, err := verifyCleartext(e, in, certs)
		wantErr(t, err, core.ErrInput)
	}
	// A Hash header that does not match the signature makes it bad (the
	// header is found as written: a replacement of a header that is not
	// there would test nothing).
	m := regexp.MustCompile(`(?m)^Hash: (\S+)\r?$`).FindSubmatchIndex(cs)
	if m == nil {
		t.Fatalf("no Hash header:\n%s", cs)
	}
	name := string(cs[m[2]:m[3]])
	other := "SHA256"
	if name == other {
		other = "SHA512"
	}
	withHash := func(v string) []byte {
		return slices.Concat(cs[:m[2]], []byte(v), cs[m[3]:])
	}
	_, signers, _ = verifyCleartext(e, withHash(other), certs)
	oneSigner(t, signers, core.SignerBad)
	// The header is a list: the signature's hash among others is named.
	_, signers, _ = verifyCleartext(e, withHash(other+", "+name), certs)
	oneSigner(t, signers, core.SignerGood)
	// An error quotes at most the first 200 bytes of the header.
	_, signers, _ = verifyCleartext(e, withHash(strings.Repeat(other+",", 10000)+other), certs)
	oneSigner(t, signers, core.SignerBad)
	if len(signers[0].Error) > 400 || !strings.Contains(signers[0].Error, other+", "+other) {
		t.Errorf("%d bytes: %.300q", len(signers[0].Error), signers[0].Error)
	}
}

// seeds returns the fuzz seeds: corpus files and saved gpg outputs.
func seeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, dir := range []string{filepath.Join(corpus, "rfc9580"), filepath.Join(corpus, "samples"), filepath.Join("testdata", "seeds"), "testdata"} {
		entries, _ := os.ReadDir(dir)
		for _, ent := range entries {
			if ent.IsDir() {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err == nil && len(data) < 64<<10 {
				out = append(out, data)
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no fuzz seeds found")
	}
	return out
}

// FuzzFindBlocks compares FindBlocks with the old quadratic search, and
// the scanner's other readings (small buffers, short reads, HasBlock,
// TextBefore, TextAfter) with it.
func FuzzFindBlocks(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Add([]byte("-----BEGIN PGP MESSAGE-----\r\n-----END PGP MESSAGE-----"))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\n-----BEGIN PGP MESSAGE-----\n-----BEGIN PGP SIGNATURE-----\n-----END PGP MESSAGE-----\n-----END PGP SIGNATURE-----\n"))
	f.Add([]byte("-----BEGIN PGP MESSAGE-----\n-----BEGIN PGP SIGNED MESSAGE-----\n-----BEGIN PGP SIGNATURE-----\n-----END PGP SIGNATURE-----\n\u00a0\u2028-----END PGP MESSAGE-----\t\r\n\xe2\x80"))
	f.Fuzz(func(t *testing.T, text []byte) {
		if len(text) > 64<<10 {
			return // the reference is quadratic
		}
		want := findBlocksQuadratic(text)
		if got := FindBlocks(text); !slices.Equal(got, want) {
			t.Fatalf("got %+v, the old search found %+v", got, want)
		}
		checkScanners(t, text, want)
	})
}

func FuzzVerifyCleartext(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	certs := corpusKeys(f, "rfc9580/v6-minimal-cert.key")
	e := testEngine()
	f.Fuzz(func(t *testing.T, block []byte) {
		text, signers, err := verifyCleartext(e, block, certs)
		if err == nil && text == nil && len(signers) == 0 {
			t.Fatal("no error and no result")
		}
	})
}

func FuzzDecrypt(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	secrets := corpusKeys(f, "rfc9580/v6-minimal-secret.key")
	certs := corpusKeys(f, "rfc9580/v6-minimal-cert.key")
	p := testPolicy()
	p.MaxDecompressed = 1 << 20
	e := New(p)
	// No Password callback: the corpus's Argon2 messages would cost seconds each.
	kr := Keyring{Certs: certs, Secrets: secrets}
	f.Fuzz(func(t *testing.T, msg []byte) {
		d, err := e.Decrypt(bytes.NewReader(msg), kr)
		if err == nil {
			if d == nil || d.Body == nil {
				t.Fatal("no error and no body")
			}
			d.Close()
		} else if d != nil {
			t.Fatal("error and a result")
		}
	})
}
