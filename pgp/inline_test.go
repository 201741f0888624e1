package pgp

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
)

func TestFindBlocks(t *testing.T) {
	msg := "-----BEGIN PGP MESSAGE-----\n\nwcBMA\n-----END PGP MESSAGE-----\n"
	signed := "-----BEGIN PGP SIGNED MESSAGE-----\r\nHash: SHA256\r\n\r\nhi\r\n-----BEGIN PGP SIGNATURE-----\r\n\r\nAAAA\r\n-----END PGP SIGNATURE-----\r\n"
	trailing := "-----BEGIN PGP MESSAGE----- \t\nx\n-----END PGP MESSAGE-----  \n"
	unsigned := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nhi\n"
	for _, c := range []struct {
		name string
		text string
		want []Block
	}{
		{"none", "just text\n", nil},
		{"message", "before\n" + msg + "after\n", []Block{{KindMessage, 7, 7 + len(msg)}}},
		{"signed-crlf", "x\r\n" + signed, []Block{{KindSigned, 3, 3 + len(signed)}}},
		{"no-final-newline", strings.TrimSuffix(msg, "\n"), []Block{{KindMessage, 0, len(msg) - 1}}},
		{"both", signed + msg, []Block{{KindSigned, 0, len(signed)}, {KindMessage, len(signed), len(signed) + len(msg)}}},
		{"not-line-anchored", "> " + msg, nil},
		{"unterminated", "-----BEGIN PGP MESSAGE-----\nabc\n", nil},
		{"trailing-blanks", trailing, []Block{{KindMessage, 0, len(trailing)}}},
		{"signed-without-signature", unsigned + msg, []Block{{KindMessage, len(unsigned), len(unsigned) + len(msg)}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := FindBlocks([]byte(c.text))
			if len(got) != len(c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %+v, want %+v", got, c.want)
				}
			}
		})
	}
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
	text, signers, err := e.VerifyCleartext(cs, certs)
	if err != nil {
		t.Fatal(err)
	}
	oneSigner(t, signers, mailseal.SignerGood)
	// The final line break belongs to the signed text: the signer's input ended with one.
	if string(text) != "line one\r\n-dash\r\nFrom me\r\n" {
		t.Fatalf("text %q", text)
	}
	// CRLF transport and trailing blanks added in transit do not matter.
	crlf := bytes.ReplaceAll(cs, []byte("\n"), []byte("\r\n"))
	crlf = bytes.Replace(crlf, []byte("From me\r\n"), []byte("From me \t\r\n"), 1)
	_, signers, err = e.VerifyCleartext(crlf, certs)
	if err != nil {
		t.Fatal(err)
	}
	oneSigner(t, signers, mailseal.SignerGood)
	// Changed text: bad. Unknown key: unknown.
	_, signers, _ = e.VerifyCleartext(bytes.Replace(cs, []byte("line one"), []byte("line 1"), 1), certs)
	oneSigner(t, signers, mailseal.SignerBad)
	_, signers, _ = e.VerifyCleartext(cs, nil)
	oneSigner(t, signers, mailseal.SignerUnknown)
	// Malformed input and trailing text are errors.
	for _, in := range [][]byte{nil, []byte("hello"), append(append([]byte{}, cs...), "unsigned tail\n"...), cs[:len(cs)/2]} {
		_, _, err := e.VerifyCleartext(in, certs)
		wantErr(t, err, mailseal.ErrInput)
	}
	// A Hash header that does not match the signature makes it bad.
	wrong := bytes.Replace(cs, []byte("Hash: SHA512"), []byte("Hash: SHA256"), 1)
	if !bytes.Equal(wrong, cs) {
		_, signers, _ = e.VerifyCleartext(wrong, certs)
		oneSigner(t, signers, mailseal.SignerBad)
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

func FuzzFindBlocks(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	f.Add([]byte("-----BEGIN PGP MESSAGE-----\r\n-----END PGP MESSAGE-----"))
	f.Fuzz(func(t *testing.T, text []byte) {
		prev := 0
		for _, b := range FindBlocks(text) {
			if b.Start < prev || b.End <= b.Start || b.End > len(text) {
				t.Fatalf("bad block %+v (prev end %d, len %d)", b, prev, len(text))
			}
			if b.Start > 0 && text[b.Start-1] != '\n' {
				t.Fatalf("block not line-anchored: %+v", b)
			}
			prev = b.End
		}
	})
}

func FuzzVerifyCleartext(f *testing.F) {
	for _, s := range seeds(f) {
		f.Add(s)
	}
	certs := corpusKeys(f, "rfc9580/v6-minimal-cert.key")
	e := testEngine()
	f.Fuzz(func(t *testing.T, block []byte) {
		text, signers, err := e.VerifyCleartext(block, certs)
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
