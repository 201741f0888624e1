package flow

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/mime"
	"github.com/mailseal/mailseal/pgp"
)

// inlineMessage is a text/plain message from Alice with the given body
// and extra header fields.
func inlineMessage(body string, fields ...string) []byte {
	h := "From: Alice <alice@example.org>\r\nTo: Bob <bob@example.org>\r\nSubject: inline\r\nContent-Type: text/plain; charset=utf-8\r\n"
	for _, f := range fields {
		h += f + "\r\n"
	}
	return []byte(h + "\r\n" + body)
}

// armored is text encrypted to Bob and signed by Alice, ASCII-armored.
func (f *fixture) armored(t testing.TB, text string) string {
	return inlineBlock(t, text, func(w io.Writer) (io.WriteCloser, error) {
		return f.op.Engine.EncryptData(w, []*openpgp.Entity{f.bob}, []*openpgp.Entity{f.alice}, nil, pgp.DataOptions{Armor: true, Text: true})
	})
}

// clearsigned is text cleartext-signed by Alice.
func (f *fixture) clearsigned(t testing.TB, text string) string {
	return inlineBlock(t, text, func(w io.Writer) (io.WriteCloser, error) {
		return f.op.Engine.SignInline(w, []*openpgp.Entity{f.alice}, pgp.InlineOptions{Cleartext: true})
	})
}

// inlineBlock writes text through the writer that start returns, with
// CRLF line ends.
func inlineBlock(t testing.TB, text string, start func(io.Writer) (io.WriteCloser, error)) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := start(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(text))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return crlfLines(buf.String())
}

// crlfLines has CRLF line ends, with one at the end.
func crlfLines(s string) string {
	return strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\r\n") + "\r\n"
}

// TestInlineText checks what is reported about text outside an inline
// block, with the body as it is and base64-encoded (read again through
// the decoder to take the block out).
func TestInlineText(t *testing.T) {
	f := newFixture(t)
	enc := f.armored(t, "Content-Type: text/plain\r\n\r\nsecret\r\n")
	signed := f.clearsigned(t, "signed text\r\n")
	for _, c := range []struct {
		name, body  string
		unprotected []string
	}{
		{"alone", "\r\n" + enc + "\r\n", nil},
		{"white-space", "\u00a0\r\n" + enc + "\t\u2028\r\n", nil},
		{"before", "hello\r\n" + enc, []string{"text before the armored block"}},
		{"after", signed + "-- \r\nAlice\r\n", []string{"text after the armored block"}},
		{"further", enc + "\r\n" + signed, []string{"text after the armored block", "1 further armored blocks (not processed)"}},
	} {
		for _, encoding := range []string{"8bit", "base64"} {
			t.Run(c.name+"-"+encoding, func(t *testing.T) {
				body := c.body
				if encoding == "base64" {
					body = base64.StdEncoding.EncodeToString([]byte(body)) + "\r\n"
				}
				res := open(t, f, inlineMessage(body, "Content-Transfer-Encoding: "+encoding), Options{})
				if !slices.Equal(res.Report.Unprotected, c.unprotected) {
					t.Fatalf("unprotected %q, want %q", res.Report.Unprotected, c.unprotected)
				}
				if len(res.Report.Signers) != 1 || res.Report.Signers[0].Status != core.SignerGood {
					t.Fatalf("report %+v", res.Report)
				}
			})
		}
	}
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestInlineScanMemory checks that a text body of many short lines is
// not read into memory (nor indexed line by line) to find inline blocks:
// a plain one, one with a signed block, one with an encrypted block.
func TestInlineScanMemory(t *testing.T) {
	f := newFixture(t)
	blank := strings.Repeat("\r\n", 2<<20) // 4 MiB
	for _, c := range []struct {
		name    string
		body    string
		decrypt bool
		status  core.Status
	}{
		{"plain", blank, false, core.StatusUnsigned},
		{"signed", f.clearsigned(t, "signed text\r\n") + blank, false, core.StatusGood},
		{"encrypted", blank + f.armored(t, "Content-Type: text/plain\r\n\r\nsecret\r\n") + blank, true, core.StatusGood},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := parse(t, inlineMessage(c.body))
			var res *Result
			var err error
			got := allocated(func() {
				res, err = Open(m, []Engine{f.op}, Options{Decrypt: c.decrypt, Limits: mime.DefaultLimits(), MemLimit: 1 << 20})
			})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			if res.Report.Status != c.status || len(res.Report.Unprotected) != 0 {
				t.Fatalf("report %+v", res.Report)
			}
			t.Logf("%d bytes allocated", got)
			if got > 2<<20 {
				t.Errorf("opening a text body of %d bytes allocated %d bytes", len(c.body), got)
			}
		})
	}
}

// TestInlineCleartextTooLarge checks the limit on a cleartext-signed block,
// which is verified in memory.
func TestInlineCleartextTooLarge(t *testing.T) {
	f := newFixture(t)
	line := strings.Repeat("x", 70) + "\r\n"
	for _, c := range []struct {
		name string
		size int
		ok   bool
	}{
		{"below", maxCleartextBlock - 64<<10, true},
		{"above", maxCleartextBlock, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			body := f.clearsigned(t, strings.Repeat(line, c.size/len(line)))
			m := parse(t, inlineMessage(body))
			res, err := Open(m, []Engine{f.op}, Options{Limits: mime.DefaultLimits(), MemLimit: 1 << 20})
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				defer res.Close()
				if res.Report.Status != core.StatusGood {
					t.Fatalf("report %+v", res.Report)
				}
				return
			}
			if !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), "PGP/MIME") {
				t.Fatalf("err %v, want a limit (ErrInput) naming PGP/MIME", err)
			}
		})
	}
}
