package mime

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	mrand "math/rand"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mailseal/mailseal/core"
)

func TestBody(t *testing.T) {
	cases := []struct {
		name, cte, body, want string
	}{
		{"7bit", "7bit", "hello\r\nworld\r\n", "hello\r\nworld\r\n"},
		{"absent", "", "hello", "hello"},
		{"8bit", "8bit", "Grüße\r\n", "Grüße\r\n"},
		{"binary", "binary", "\x00\x01\xff", "\x00\x01\xff"},
		{"unknown", "x-uuencode", "begin 644 x\r\n", "begin 644 x\r\n"},
		{"case and space", " BASE64 ", "aGVsbG8=", "hello"},
		{"base64 lines", "base64", "aGVs\r\nbG8g\r\nd29y\r\nbGQ=\r\n", "hello world"},
		{"base64 whitespace and junk", "base64", " aGVs bG8g\td29y\r\n  bGQ= \r\n\r\n", "hello world"},
		{"base64 without padding", "base64", "aGVsbG8", "hello"},
		{"base64 concatenated", "base64", "aGk=\r\ndGhlcmU=", "hithere"},
		{"base64 empty", "base64", "", ""},
		{"base64 single trailing sextet dropped", "base64", "aGVsbG8hQ", "hello!"},
		{"quoted-printable", "quoted-printable", "Caf=C3=A9 au lait=\r\n continues=20\r\nline two  \r\n", "Café au lait continues \r\nline two\r\n"},
		{"quoted-printable lower-case hex", "quoted-printable", "a=3db", "a=b"},
		{"quoted-printable sloppy", "quoted-printable", "bad =\x01 escape =G1 \x7f Grüße =\r\n=4", "bad =\x01 escape =G1 \x7f Grüße =4"},
		{"quoted-printable soft break with padding", "quoted-printable", "a= \t\r\nb\r\n", "ab\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := "Content-Type: application/octet-stream\r\n"
			if tc.cte != "" {
				hdr += "Content-Transfer-Encoding:" + tc.cte + "\r\n"
			}
			m := mustParse(t, hdr+"\r\n"+tc.body)
			if got := readString(t, m.Root.Body()); got != tc.want {
				t.Errorf("Body %q, want %q", got, tc.want)
			}
			// The decoders also work one byte at a time.
			got, err := io.ReadAll(iotest.OneByteReader(m.Root.Body()))
			if err != nil || string(got) != tc.want {
				t.Errorf("Body byte by byte %q (%v), want %q", got, err, tc.want)
			}
		})
	}
}

func TestBodyBase64Large(t *testing.T) {
	data := make([]byte, 200<<10)
	rand.Read(data)
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\n")
	m := mustParse(t, "Content-Transfer-Encoding: base64\n\n"+b.String())
	got, err := io.ReadAll(m.Root.Body())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip failed (%v)", err)
	}
}

func TestBodyQuotedPrintableLong(t *testing.T) {
	// A line far longer than the decoder's buffer, with escapes across the
	// buffer boundaries, and a soft break at the end.
	var enc, want strings.Builder
	for i := 0; i < 50000; i++ {
		enc.WriteString("ab=3D")
		want.WriteString("ab=")
	}
	enc.WriteString("  =\r\nend \r\n")
	want.WriteString("  end\r\n") // space before a soft break is data
	m := mustParse(t, "Content-Transfer-Encoding: quoted-printable\r\n\r\n"+enc.String())
	if got := readString(t, m.Root.Body()); got != want.String() {
		t.Errorf("decoded %d bytes, want %d", len(got), want.Len())
	}
}

func TestBodyMultipartPassthrough(t *testing.T) {
	in := "Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n--b\n\nx\n--b--\n"
	m := mustParse(t, in)
	if got := readString(t, m.Root.Body()); got != "--b\r\n\r\nx\r\n--b--\r\n" {
		t.Errorf("multipart body %q", got)
	}
}

func TestAddresses(t *testing.T) {
	h := Header{
		{Key: "From", Value: `"Doe, Jane" <jane@example.com>`},
		{Key: "To", Value: "a@example.org, =?ISO-8859-1?Q?J=F6rg?= <joerg@example.de>"},
		{Key: "to", Value: "Group: b@example.org, c@example.org;"},
		{Key: "Cc", Value: "undisclosed-recipients:;"},
		{Key: "Sender", Value: "=?x-unknown?Q?Someone?= <s@example.net>"},
		{Key: "Bcc", Value: "not an address"},
		{Key: "Reply-To", Value: " "},
	}
	cases := []struct {
		key  string
		want []string
		err  bool
	}{
		{"From", []string{"jane@example.com"}, false},
		{"To", []string{"a@example.org", "joerg@example.de", "b@example.org", "c@example.org"}, false},
		{"Cc", nil, false},
		{"Sender", []string{"s@example.net"}, false},
		{"Bcc", nil, true},
		{"Reply-To", nil, false},
		{"X-Missing", nil, false},
	}
	for _, tc := range cases {
		got, err := h.Addresses(tc.key)
		if tc.err {
			if !errors.Is(err, core.ErrInput) || !strings.Contains(err.Error(), tc.key) {
				t.Errorf("%s: error %v, want ErrInput naming the field", tc.key, err)
			}
			continue
		}
		if err != nil || strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%s: %v (%v), want %v", tc.key, got, err, tc.want)
		}
	}
}

func TestAddressesFromTestdata(t *testing.T) {
	m := mustParse(t, readFile(t, "testdata/attachment-8bit.eml"))
	from, err := m.Root.Header.Addresses("From")
	if err != nil || len(from) != 1 || from[0] != "joerg@example.de" {
		t.Errorf("From %v %v", from, err)
	}
	to, err := m.Root.Header.Addresses("To")
	if err != nil || strings.Join(to, ",") != "team@example.de,jane@example.com" {
		t.Errorf("To %v %v", to, err)
	}
}

// The base64 decoder's fast path (whole lines through encoding/base64)
// gives what the byte-by-byte lenient decoder gives, for clean and messy
// input read in pieces of every size.
func TestBase64DecoderFastPathMatchesLenient(t *testing.T) {
	rng := mrand.New(mrand.NewSource(7))
	clean := func(n, width int, eol string) []byte {
		raw := make([]byte, n)
		rng.Read(raw)
		return encodedLines(raw, width, eol)
	}
	inputs := [][]byte{
		clean(100000, 76, "\r\n"), clean(100001, 76, "\n"), clean(5000, 64, "\r\n"), clean(3000, 70, "\r\n"),
		clean(3001, 73, "\r\n"), []byte("QQ==\r\nQUJD\r\n"), []byte("QUJD\r\n  QU JD\r\n!!QQ\r\n"),
		[]byte("QUJ\r\nD\r\n"), []byte(""), []byte("\r\n\r\n"),
	}
	for i := 0; i < 30; i++ {
		b := clean(2000+rng.Intn(3000), 4*(1+rng.Intn(25)), "\r\n")
		for j := 0; j < 3; j++ { // some junk: spaces, '=', bytes outside the alphabet
			b[rng.Intn(len(b))] = " =*\x00\xff"[rng.Intn(5)]
		}
		inputs = append(inputs, b)
	}
	for i, in := range inputs {
		ref := &base64Decoder{}
		want := ref.flush(ref.decodeBytes(nil, in))
		for _, piece := range []int{1, 3, 77, 4096, 32 << 10} {
			got, err := io.ReadAll(newBase64Decoder(&chunkReader{data: in, size: piece}))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("input %d, pieces of %d: %d bytes, want %d", i, piece, len(got), len(want))
			}
		}
	}
}

type chunkReader struct {
	data []byte
	size int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.size)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func TestMailboxes(t *testing.T) {
	h := Header{
		{Key: "From", Value: `"bob@example.org" <alice@example.org>`},
		{Key: "From", Value: "=?utf-8?q?bob=40example=2Eorg?= <alice@example.org>"},
		{Key: "From", Value: `"=?utf-8?q?bob=40example=2Eorg?=" <alice@example.org>`},
		{Key: "From", Value: "alice@example.org (bob@example.org)"},
		{Key: "From", Value: "=?utf-16?b?/v8AYgBvAGI=?= <alice@example.org>, =?UTF-16LE?B?YgBvAGIA?= <alice@example.org>"},
		// A word in a charset nobody knows stays as written (its bytes
		// mean nothing without it), and does not spoil the list.
		{Key: "From", Value: "=?x-unknown?q?B=F6b?= <alice@example.org>, =?utf-7?q?bob+AEA-example.org?= <carol@example.org>"},
		{Key: "From", Value: "=?iso-8859-1*en?q?B=F6b?= <alice@example.org>"}, // RFC 2231 language
		{Key: "Bcc", Value: "not an address"},
	}
	got := h.Mailboxes("From")
	want := []Mailbox{
		{"bob@example.org", "alice@example.org"}, {"bob@example.org", "alice@example.org"},
		{"bob@example.org", "alice@example.org"}, {"bob@example.org", "alice@example.org"},
		{"bob", "alice@example.org"}, {"bob", "alice@example.org"},
		{"=?x-unknown?q?B=F6b?=", "alice@example.org"}, {"=?utf-7?q?bob+AEA-example.org?=", "carol@example.org"},
		{"Böb", "alice@example.org"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if got, want := UnknownCharsets(strings.Join(h.Values("From"), " ")), []string{"x-unknown", "utf-7"}; !slices.Equal(got, want) {
		t.Errorf("UnknownCharsets = %q, want %q", got, want)
	}
	if got := h.Mailboxes("Bcc"); len(got) != 1 || got[0] != (Mailbox{Name: "not an address"}) {
		t.Fatalf("Bcc: %q, want the name without an address", got)
	}
	for in, want := range map[string]string{
		`Alice (=?utf-8?q?bob=40example=2Eorg?=) <alice@example.org>`: "Alice (bob@example.org) <alice@example.org>",
		"no words":         "no words",
		"=?utf-8?q?broken": "=?utf-8?q?broken",
		"=?utf-8?q?a?=  =?utf-8?q?b?= =?utf-8?q?c?=":     "abc",
		"=?utf-8?q?bob=40ex?=\r\n =?utf-8?q?ample.org?=": "bob@example.org",
		// A bad word does not hide the one after it (the standard
		// library's DecodeHeader keeps all up to the next "?=" raw).
		`=?x?B?! "=?utf-8?q?bob=40example.org?=" <a@example.org>`: `=?x?B?! "bob@example.org" <a@example.org>`,
		"=?utf-8?b?!!!?= =?utf-8?q?bob?=":                         "=?utf-8?b?!!!?= bob",
		"=?x-unknown?q?B=F6b?= =?windows-1252?q?=80?=":            "=?x-unknown?q?B=F6b?= €",
	} {
		if got := DecodeWords(in); got != want {
			t.Errorf("DecodeWords(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLegacyCharsetWords decodes encoded words that mail clients wrote in
// legacy charsets (ISO-8859-x, Windows-125x, KOI8-R, GB2312, Shift_JIS,
// ISO-2022-JP, Big5), taken from real messages: the From display names
// through Mailboxes, the Subjects through DecodeWords.
func TestLegacyCharsetWords(t *testing.T) {
	data, err := os.ReadFile("testdata/legacy-charset-words.txt")
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, block := range strings.Split(string(data), "\n\n") {
		var field, want string
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "#") || line == "":
			case strings.HasPrefix(line, "=> "):
				want = line[3:]
			case line[0] == ' ' || line[0] == '\t':
				field += "\r\n" + line
			default:
				field = line
			}
		}
		if field == "" {
			continue
		}
		cases++
		f := newField([]byte(field))
		var got string
		switch f.Key {
		case "From":
			boxes := Header{f}.Mailboxes("From")
			if len(boxes) != 1 {
				t.Errorf("%s: %v", field, boxes)
				continue
			}
			got = boxes[0].Name
		default:
			got = DecodeWords(f.Value)
		}
		if got != want {
			t.Errorf("%s\n got  %q\n want %q", field, got, want)
		}
		if cs := UnknownCharsets(f.Value); cs != nil {
			t.Errorf("%s: UnknownCharsets = %q", field, cs)
		}
	}
	if cases != 11 {
		t.Fatalf("read %d cases, want 11", cases)
	}
}
