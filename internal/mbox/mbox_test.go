package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The reference: how mailseal read and wrote mboxes before messages were
// streamed (whole messages in memory, line by line).

var refQuoted = regexp.MustCompile(`^>+From `)

func refRead(data []byte) ([][]byte, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	var msgs [][]byte
	var cur *bytes.Buffer
	prevBlank := true
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			switch {
			case prevBlank && bytes.HasPrefix(line, []byte("From ")):
				if cur != nil {
					msgs = append(msgs, refTrim(cur.Bytes()))
				}
				cur = &bytes.Buffer{}
			case cur == nil:
				return nil, ErrNotMbox
			default:
				if refQuoted.Match(line) {
					line = line[1:]
				}
				cur.Write(line)
			}
			prevBlank = len(bytes.TrimRight(line, "\r\n")) == 0
		}
		if err == io.EOF {
			break
		}
	}
	if cur != nil {
		msgs = append(msgs, refTrim(cur.Bytes()))
	}
	return msgs, nil
}

func refTrim(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n\n")) {
		return b[:len(b)-1]
	}
	return b
}

func refWrite(w *bytes.Buffer, msg []byte, date time.Time) {
	fmt.Fprintf(w, "From MAILER-DAEMON %s\n", date.UTC().Format(time.ANSIC))
	for _, line := range bytes.SplitAfter(bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n")), []byte("\n")) {
		if refQuoted.Match(line) || bytes.HasPrefix(line, []byte("From ")) {
			w.WriteByte('>')
		}
		w.Write(line)
	}
	if !bytes.HasSuffix(msg, []byte("\n")) {
		w.WriteByte('\n')
	}
	w.WriteString("\n")
}

// scanAll reads every message with a Scanner over a bufio.Reader of size.
func scanAll(data []byte, size int) ([][]byte, []Message, error) {
	s := newScanner(bufio.NewReaderSize(bytes.NewReader(data), size))
	var msgs [][]byte
	var locs []Message
	for {
		m, err := s.Next()
		if err == io.EOF {
			return msgs, locs, nil
		}
		if err != nil {
			return nil, nil, err
		}
		var r io.Reader = io.NewSectionReader(bytes.NewReader(data), m.Start, m.End-m.Start)
		if m.Quoted {
			r = newQuoter(bufio.NewReaderSize(r, size), -1, false)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, b)
		locs = append(locs, m)
	}
}

// randomText is made of the pieces that matter to mbox rules.
func randomText(rng *rand.Rand, pieces int) []byte {
	tokens := []string{"From ", ">", ">>", "\n", "\r\n", "\r", "x", "From", " ", "\n\n", "\r\n\r\n", ">From ", "\nFrom x\n"}
	var b bytes.Buffer
	for range pieces {
		b.WriteString(tokens[rng.Intn(len(tokens))])
	}
	return b.Bytes()
}

func TestScannerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	cases := [][]byte{
		nil,
		[]byte("From a\n"),
		[]byte("From a"),
		[]byte("From a\n\n"),
		[]byte("From a\nFrom b\n"),
		[]byte("From a\n\nFrom b\nx"),
		[]byte("From a\r\nx\r\n\r\nFrom b\r\n>From y\r\n\r\n"),
		[]byte("x\nFrom a\n"),
		[]byte(">From a\n"),
		[]byte("\nFrom a\n"),
		[]byte("From a\n" + strings.Repeat(">", 100) + "From \n\n" + strings.Repeat(">", 100) + "x\n"),
		[]byte("From a\n" + strings.Repeat("y", 100) + "\r\r\n\nFrom b\n>>>"),
	}
	for range 3000 {
		text := randomText(rng, rng.Intn(40))
		if rng.Intn(10) > 0 {
			text = append([]byte("From someone\n"), text...)
		}
		cases = append(cases, text)
	}
	for _, data := range cases {
		want, wantErr := refRead(data)
		for _, size := range []int{16, 64 << 10} {
			got, locs, err := scanAll(data, size)
			if !errors.Is(err, wantErr) || (err == nil && wantErr != nil) {
				t.Fatalf("%q (buffer %d): error %v, want %v", data, size, err, wantErr)
			}
			if len(got) != len(want) {
				t.Fatalf("%q (buffer %d): %d messages, want %d", data, size, len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%q (buffer %d): message %d is %q, want %q", data, size, i, got[i], want[i])
				}
				raw := data[locs[i].Start:locs[i].End]
				if locs[i].Quoted != !bytes.Equal(raw, want[i]) && !locs[i].Quoted {
					t.Fatalf("%q: message %d: Quoted is %v", data, i, locs[i].Quoted)
				}
				crlf := len(raw) > 0 && bytes.Count(raw, []byte("\n")) == bytes.Count(raw, []byte("\r\n")) && bytes.HasSuffix(raw, []byte("\r\n"))
				if locs[i].CRLF && !crlf {
					t.Fatalf("%q: message %d is not CRLF: %q", data, i, raw)
				}
			}
		}
	}
}

func TestScannerCRLFHint(t *testing.T) {
	_, locs, err := scanAll([]byte("From a\r\nA: b\r\n\r\nbody\r\n\r\nFrom b\nA: b\n\nbody\n"), 16)
	if err != nil || len(locs) != 2 || !locs[0].CRLF || locs[1].CRLF {
		t.Fatalf("%v %+v", err, locs)
	}
}

// A line of '>' longer than the reader's buffer is followed to its end.
func TestLongQuoteRuns(t *testing.T) {
	for _, n := range []int{15, 16, 17, 40, 100} {
		for _, rest := range []string{"From x\n", "Frox\n", "From", "\n", ""} {
			line := strings.Repeat(">", n) + rest
			data := []byte("From a\n" + line + "\nFrom b\n" + line)
			want, _ := refRead(data)
			got, _, err := scanAll(data, 16)
			if err != nil || fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
				t.Fatalf("%q: %q, want %q (%v)", data, got, want, err)
			}
			var buf bytes.Buffer
			q := newQuoter(bufio.NewReaderSize(strings.NewReader(line), 16), 1, true)
			io.Copy(&buf, iotestOneByte{q})
			var ref bytes.Buffer
			refWrite(&ref, []byte(line), time.Time{})
			if wantBody := ref.String()[strings.Index(ref.String(), "\n")+1:]; !strings.HasPrefix(wantBody, buf.String()) {
				t.Fatalf("%q quoted as %q, want %q", line, buf.String(), wantBody)
			}
		}
	}
}

// iotestOneByte reads one byte at a time.
type iotestOneByte struct{ r io.Reader }

func (o iotestOneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestWriterMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	date := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var msgs [][]byte
	msgs = append(msgs, nil, []byte("x"), []byte("x\r"), []byte("\r\n"), []byte("From x\r\n>From y\r\nz"))
	for range 2000 {
		msgs = append(msgs, randomText(rng, rng.Intn(40)))
	}
	var want, got bytes.Buffer
	w := NewWriter(&got)
	for _, m := range msgs {
		refWrite(&want, m, date)
		if err := w.WriteMessage(bytes.NewReader(m), date); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("written mbox differs from the reference")
	}
	// Small reads and a small buffer give the same.
	for _, m := range msgs {
		var one, ref bytes.Buffer
		io.Copy(&one, iotestOneByte{newQuoter(bufio.NewReaderSize(bytes.NewReader(m), 16), 1, true)})
		refWrite(&ref, m, date)
		body := ref.Bytes()[bytes.IndexByte(ref.Bytes(), '\n')+1:]
		if !bytes.HasPrefix(body, one.Bytes()) || len(body)-one.Len() > 2 {
			t.Fatalf("%q: quoted %q, want %q", m, one.Bytes(), body)
		}
	}
	// And the messages read back are the messages (with LF line endings
	// and a final line break).
	back, _, err := scanAll(got.Bytes(), 16)
	if err != nil || len(back) != len(msgs) {
		t.Fatalf("read back: %v, %d messages", err, len(back))
	}
	for i, m := range msgs {
		m = bytes.ReplaceAll(m, []byte("\r\n"), []byte("\n"))
		if !bytes.HasSuffix(m, []byte("\n")) {
			m = append(m, '\n')
		}
		if !bytes.Equal(back[i], m) {
			t.Fatalf("message %d: %q back as %q", i, m, back[i])
		}
	}
}

func TestReaderUnquotes(t *testing.T) {
	data := []byte("From a\nSubject: x\n\n>From here\n>>From there\n>Frome\n\nFrom b\nplain\n")
	s := NewScanner(bytes.NewReader(data))
	m, err := s.Next()
	if err != nil || !m.Quoted {
		t.Fatalf("%v %+v", err, m)
	}
	b, _ := io.ReadAll(m.Reader(bytes.NewReader(data)))
	if string(b) != "Subject: x\n\nFrom here\n>From there\n>Frome\n" {
		t.Fatalf("%q", b)
	}
	m, _ = s.Next()
	if m.Quoted {
		t.Fatal("plain message marked quoted")
	}
	if b, _ := io.ReadAll(m.Reader(bytes.NewReader(data))); string(b) != "plain\n" {
		t.Fatalf("%q", b)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Fatal(err)
	}
}
