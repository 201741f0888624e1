package armor

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

const message = "PGP MESSAGE"

// The fast armor writer produces exactly what go-crypto's encoder does,
// whatever the write pattern.
func TestArmorWriterMatchesReference(t *testing.T) {
	for _, size := range []int{1, 2, 3, 47, 48, 49, 95, 96, 97, 3071, 3072, 3073, 100000} {
		data := make([]byte, size)
		rand.Read(data)
		var want bytes.Buffer
		ref, _ := armor.Encode(&want, "PGP MESSAGE", nil)
		ref.Write(data)
		ref.Close()
		want.WriteString("\n")
		for _, step := range []int{1, 7, 48, 1000, 1 << 20} {
			var got bytes.Buffer
			w := NewWriter(&got, "PGP MESSAGE")
			for p := data; len(p) > 0; {
				k := min(step, len(p))
				w.Write(p[:k])
				p = p[k:]
			}
			w.Close()
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("size %d step %d:\n%s\nwant\n%s", size, step, got.Bytes(), want.Bytes())
			}
			blk, err := armor.Decode(&got)
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(blk.Body)
			if err != nil || !bytes.Equal(back, data) {
				t.Fatalf("size %d: round trip: %v", size, err)
			}
		}
	}
}

// NewCRLFWriter writes NewWriter's lines with CRLF, all of them, whatever
// the write pattern, and the Reader reads them back.
func TestCRLFWriter(t *testing.T) {
	for _, size := range []int{0, 1, 47, 48, 49, 3072, 100000} {
		data, lf := randomArmored(size)
		want := bytes.ReplaceAll(lf.Bytes(), []byte("\n"), []byte("\r\n"))
		for _, step := range []int{1, 7, 48, 1 << 20} {
			var got bytes.Buffer
			w := NewCRLFWriter(&got, message)
			for p := data; len(p) > 0; {
				k := min(step, len(p))
				w.Write(p[:k])
				p = p[k:]
			}
			w.Close()
			if !bytes.Equal(got.Bytes(), want) {
				t.Fatalf("size %d step %d:\n%q\nwant\n%q", size, step, got.Bytes(), want)
			}
			if bytes.Count(got.Bytes(), []byte("\n")) != bytes.Count(got.Bytes(), []byte("\r\n")) {
				t.Fatalf("size %d step %d: a bare LF", size, step)
			}
			r, err := NewReader(&got)
			if err != nil {
				t.Fatal(err)
			}
			back, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(back, data) || r.ChecksumMismatch() {
				t.Fatalf("size %d step %d: round trip: %v", size, step, err)
			}
		}
	}
}

func BenchmarkArmor(b *testing.B) {
	data := make([]byte, 10<<20)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			w := NewWriter(io.Discard, "PGP MESSAGE")
			w.Write(data)
			w.Close()
		}
	})
	b.Run("go-crypto", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			w, _ := armor.Encode(io.Discard, "PGP MESSAGE", nil)
			w.Write(data)
			w.Close()
		}
	})
}

// The sliced CRC-24 equals the bit-by-bit definition.
func TestCRC24(t *testing.T) {
	bitwise := func(p []byte) uint32 {
		crc := uint32(crc24Init)
		for _, b := range p {
			crc ^= uint32(b) << 16
			for i := 0; i < 8; i++ {
				crc <<= 1
				if crc&0x1000000 != 0 {
					crc ^= 0x1864cfb
				}
			}
		}
		return crc & 0xffffff
	}
	data := make([]byte, 1000)
	rand.Read(data)
	for n := 0; n <= len(data); n += 1 + n/7 {
		if got, want := crc24Update(crc24Init, data[:n]), bitwise(data[:n]); got != want {
			t.Fatalf("len %d: %06x, want %06x", n, got, want)
		}
	}
}

// The armor reader decodes what our writer and go-crypto's encoder write,
// in every line-ending and header variant (a missing END line included:
// truncation is the packets' to find), and refuses a line that is not
// base64.
func TestArmorReader(t *testing.T) {
	decode := func(in []byte) ([]byte, string, error) {
		ar, err := NewReader(bytes.NewReader(in))
		if err != nil {
			return nil, "", err
		}
		out, err := io.ReadAll(ar)
		return out, ar.Type, err
	}
	for _, n := range []int{0, 1, 2, 3, 47, 48, 49, 1000, 100_000, 300_001} {
		data, ours := randomArmored(n)
		var theirs bytes.Buffer
		tw, _ := armor.Encode(&theirs, message, map[string]string{"Comment": "made by go-crypto"})
		tw.Write(data)
		tw.Close()
		crlf := bytes.ReplaceAll(ours.Bytes(), []byte("\n"), []byte("\r\n"))
		spaces := bytes.ReplaceAll(ours.Bytes(), []byte("\n"), []byte(" \t\n"))
		noCRC := regexp.MustCompile(`(?m)^=....\n`).ReplaceAll(ours.Bytes(), nil)
		prefixed := append([]byte("Some text before the armor\n\n"), ours.Bytes()...)
		emptyHeader := bytes.Replace(ours.Bytes(), []byte("-----\n\n"), []byte("-----\nComment:\nVersion: x\n\n"), 1)
		noEnd := ours.Bytes()[:bytes.Index(ours.Bytes(), []byte("-----END"))]
		for name, in := range map[string][]byte{"ours": ours.Bytes(), "go-crypto": theirs.Bytes(), "crlf": crlf,
			"trailing blanks": spaces, "no checksum": noCRC, "text before": prefixed,
			"header with an empty value": emptyHeader, "no END line": noEnd} {
			out, typ, err := decode(in)
			if err != nil || typ != message || !bytes.Equal(out, data) {
				t.Fatalf("%d bytes, %s: %v, type %q, %d bytes out", n, name, err, typ, len(out))
			}
		}
		if n < 100 {
			continue
		}
		// A changed character decodes to changed data: the checksum is
		// not a reason to refuse (RFC 9580 §6.1), the packets' integrity
		// check is.
		text := ours.String()
		body := strings.Index(text, "\n\n") + 2
		flipped := []byte(text)
		if flipped[body+10] == 'A' {
			flipped[body+10] = 'B'
		} else {
			flipped[body+10] = 'A'
		}
		if out, _, err := decode(flipped); err != nil || bytes.Equal(out, data) {
			t.Fatalf("%d bytes, changed character: %v", n, err)
		}
		// Broken: a line that is not base64.
		notB64 := []byte(text[:body+64] + "*" + text[body+65:])
		if _, _, err := decode(notB64); !errors.Is(err, ErrInvalid) {
			t.Errorf("%d bytes, a line that is not base64: error %v", n, err)
		}
	}
	if _, err := NewReader(strings.NewReader("no armor here\n")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no armor: %v", err)
	}
}

// The armor reader never panics, and where go-crypto's decoder also reads
// the input, both give the same bytes.
func FuzzArmorReader(f *testing.F) {
	var b bytes.Buffer
	w := NewWriter(&b, message)
	w.Write([]byte("some binary \x00\x01 data that is long enough to span lines, more than forty-eight bytes"))
	w.Close()
	f.Add(b.Bytes())
	f.Add(bytes.ReplaceAll(b.Bytes(), []byte("\n"), []byte("\r\n")))
	f.Add([]byte("-----BEGIN PGP MESSAGE-----\nVersion: x\n\nQUJD\n=AAAA\n-----END PGP MESSAGE-----\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var ours []byte
		ar, err := NewReader(bytes.NewReader(in))
		if err == nil {
			ours, err = io.ReadAll(ar)
		}
		block, gerr := armor.Decode(bytes.NewReader(in))
		if gerr != nil || err != nil {
			return
		}
		theirs, gerr := io.ReadAll(block.Body)
		if gerr == nil && block.Type == ar.Type && !bytes.Equal(ours, theirs) {
			t.Fatalf("ours %q, go-crypto %q", ours, theirs)
		}
	})
}

// linearInputs are bodies that make the reader stop its fast path often:
// lines with padding, checksum-like lines, blank lines, tiny blocks.
func linearInputs(size int) map[string]string {
	tiny := "-----BEGIN A-----\n\nQUJD\n-----END A-----\n"
	block := func(line string) string {
		return "-----BEGIN PGP MESSAGE-----\n\n" + strings.Repeat(line, size/len(line)) + "-----END PGP MESSAGE-----\n"
	}
	return map[string]string{
		"clean":           block(strings.Repeat("QUJD", 16) + "\n"),
		"padded lines":    block("QQ==\n"),
		"checksum lines":  block("=QUJD\n"),
		"padding at 4000": block(strings.Repeat("QUJD", 1000) + "\nQQ==\n"),
		"blank lines":     block("\n"),
		"tiny blocks":     strings.Repeat(tiny, size/len(tiny)),
	}
}

// The reader's search for the lines that end its fast path ('-' or '=')
// looks at each byte of the input a bounded number of times, whatever the
// lines are: padded lines, checksum-like lines, blank lines, and over all
// the blocks of the input, as DecodeAll reads them.
func TestArmorReaderLinear(t *testing.T) {
	const size = 1 << 20
	for name, in := range linearInputs(size) {
		br := bufio.NewReader(strings.NewReader(in))
		searched := 0
		for {
			ar, err := NewReader(br)
			if err == errNoBlock {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, ar); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			searched += ar.searched
		}
		if searched > 4*len(in) {
			t.Errorf("%s: %d bytes searched for %d bytes of input", name, searched, len(in))
		}
	}
}

func BenchmarkArmorReader(b *testing.B) {
	for name, in := range linearInputs(10 << 20) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for i := 0; i < b.N; i++ {
				if _, err := DecodeAll([]byte(in)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// DecodeAll returns every block of a key file in order, whatever is around
// and between them (text, lines longer than the read buffer), with their
// types, headers or not, checksum or not, LF or CRLF.
func TestDecodeAll(t *testing.T) {
	encode := func(typ string, data []byte) string {
		var b bytes.Buffer
		w := NewWriter(&b, typ)
		w.Write(data)
		w.Close()
		return b.String()
	}
	pub, sec, sig := make([]byte, 5000), make([]byte, 100), make([]byte, 70)
	rand.Read(pub)
	rand.Read(sec)
	rand.Read(sig)
	long := strings.Repeat("x", 200<<10) + "\n"
	secArmor := strings.Replace(encode("PGP PRIVATE KEY BLOCK", sec), "-----\n\n", "-----\nComment: a key\nVersion:\n\n", 1)
	sigArmor := regexp.MustCompile(`(?m)^=....\n`).ReplaceAllString(encode("PGP SIGNATURE", sig), "")
	in := long + "Here are my keys:\n" + encode("PGP PUBLIC KEY BLOCK", pub) + "\n" + long +
		strings.ReplaceAll(secArmor, "\n", "\r\n") + sigArmor + "-- \nBye\n"
	blocks, err := DecodeAll([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{{"PGP PUBLIC KEY BLOCK", pub}, {"PGP PRIVATE KEY BLOCK", sec}, {"PGP SIGNATURE", sig}}
	if len(blocks) != len(want) {
		t.Fatalf("%d blocks, want %d", len(blocks), len(want))
	}
	for i, b := range blocks {
		if b.Type != want[i].Type || !bytes.Equal(b.Data, want[i].Data) {
			t.Errorf("block %d: %q, %d bytes; want %q, %d bytes", i, b.Type, len(b.Data), want[i].Type, len(want[i].Data))
		}
	}
	for name, bad := range map[string]string{
		"no block":            long + "no armor here\n",
		"second block broken": encode("A", pub) + strings.Replace(encode("B", sec), "\n\n", "\n\n*", 1),
		// Its checksum no longer matches: gpg refuses such a key block.
		"a changed character": regexp.MustCompile(`\n\n(.)`).ReplaceAllStringFunc(encode("PGP PUBLIC KEY BLOCK", pub), func(m string) string {
			if m[2] == 'A' {
				return "\n\nB"
			}
			return "\n\nA"
		}),
	} {
		if _, err := DecodeAll([]byte(bad)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

// The checksum is compared with the data (a mismatch is reported, not
// refused), and damage a lenient reading undoes unambiguously is undone
// and reported: non-breaking spaces and white space in lines (as mail
// clients insert them), and a base64 line joined to the checksum line by
// a broken quoted-printable soft line break. Base64 whose last group lacks
// its padding is read when the checksum line follows (gpg reads it, also
// joined to the checksum line, padded or not), and not without one (gpg
// complains of it too).
func TestReaderChecksumAndRepairs(t *testing.T) {
	for _, size := range []int{200, 199} { // the last group padded with "=", "=="
		t.Run(fmt.Sprint(size), func(t *testing.T) { checkChecksumAndRepairs(t, size) })
	}
}

func checkChecksumAndRepairs(t *testing.T, size int) {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	var b bytes.Buffer
	w := NewWriter(&b, "PGP MESSAGE")
	w.Write(data)
	w.Close()
	good := b.String()
	lines := strings.Split(strings.TrimSuffix(good, "\n"), "\n")
	// lines: BEGIN, "", base64 lines..., "=CRC", END
	crcAt := len(lines) - 2
	last := crcAt - 1
	read := func(text string) ([]byte, *Reader, error) {
		r, err := NewReader(strings.NewReader(text))
		if err != nil {
			return nil, nil, err
		}
		out, err := io.ReadAll(r)
		return out, r, err
	}
	join := func(l []string) string { return strings.Join(l, "\n") + "\n" }
	edit := func(f func(l []string) []string) string {
		return join(f(append([]string(nil), lines...)))
	}
	for _, c := range []struct {
		name             string
		text             string
		mismatch, repair bool
	}{
		{"clean", good, false, false},
		{"no checksum", edit(func(l []string) []string { return append(l[:crcAt], l[crcAt+1:]...) }), false, false},
		{"wrong checksum", edit(func(l []string) []string { l[crcAt] = "=AAAA"; return l }), true, false},
		{"nbsp utf-8", edit(func(l []string) []string { l[2] = l[2][:10] + "\u00a0" + l[2][10:]; return l }), false, true},
		{"nbsp latin-1 and spaces", edit(func(l []string) []string { l[2] = " " + l[2][:10] + "\xa0 " + l[2][10:]; return l }), false, true},
		{"nbsp blank line", edit(func(l []string) []string { l[1] = "\u00a0"; return l }), false, true},
		{"soft break", edit(func(l []string) []string {
			// The padding '=' of the last line was taken for a soft line
			// break: the line and the checksum line are one.
			l[last] = strings.TrimRight(l[last], "=") + l[crcAt]
			return append(l[:crcAt], l[crcAt+1:]...)
		}), false, true},
		{"padded, joined", edit(func(l []string) []string {
			l[last] += l[crcAt]
			return append(l[:crcAt], l[crcAt+1:]...)
		}), false, true},
		{"unpadded", edit(func(l []string) []string { l[last] = strings.TrimRight(l[last], "="); return l }), false, false},
		{"unpadded, wrong checksum", edit(func(l []string) []string {
			l[last], l[crcAt] = strings.TrimRight(l[last], "="), "=AAAA"
			return l
		}), true, false},
	} {
		out, r, err := read(c.text)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("%s: %v, %d bytes", c.name, err, len(out))
		}
		if r.ChecksumMismatch() != c.mismatch || r.Repaired() != c.repair {
			t.Fatalf("%s: mismatch %v, repaired %v", c.name, r.ChecksumMismatch(), r.Repaired())
		}
	}
	// A stray character is not repaired.
	if _, _, err := read(edit(func(l []string) []string { l[2] = l[2][:10] + "!" + l[2][10:]; return l })); !errors.Is(err, ErrInvalid) {
		t.Fatalf("stray character: %v", err)
	}
	// Nor is a group that lacks its padding without the checksum line, or
	// a group of one character before it.
	if _, _, err := read(edit(func(l []string) []string {
		l[last] = strings.TrimRight(l[last], "=")
		return append(l[:crcAt], l[crcAt+1:]...)
	})); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unpadded, no checksum: %v", err)
	}
	if _, _, err := read(edit(func(l []string) []string {
		l[last] = strings.TrimRight(l[last], "=")
		l[last] = l[last][:len(l[last])-len(l[last])%4] + "Q"
		return l
	})); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a group of one character: %v", err)
	}
}

// Armor wrapped at any width decodes to its data, as gpg and go-crypto
// read it: base64 runs on across line ends, so lines need not hold whole
// groups of four (a body wrapped at 70 characters was refused as "not
// base64"), with LF or CRLF, with or without the checksum line, with the
// padding alone on the last line; data that ends inside a group is not
// armor.
func TestArmorReaderAnyWidth(t *testing.T) {
	for _, n := range []int{1, 2, 3, 100, 1000, 100_000} {
		data, ref := randomArmored(n)
		sum := regexp.MustCompile(`(?m)^=....$`).Find(ref.Bytes())
		b64 := base64.StdEncoding.EncodeToString(data)
		widths := []int{1, 2, 3, 5, 7, 63, 65, 70, 75, 77, 250, 257, 1001}
		for _, width := range widths {
			var body strings.Builder
			for s := b64; len(s) > 0; s = s[min(width, len(s)):] {
				body.WriteString(s[:min(width, len(s))] + "\n")
			}
			for _, withSum := range []bool{false, true} {
				in := "-----BEGIN " + message + "-----\n\n" + body.String()
				if withSum {
					in += string(sum) + "\n"
				}
				in += "-----END " + message + "-----\n"
				for name, text := range map[string]string{"LF": in, "CRLF": strings.ReplaceAll(in, "\n", "\r\n")} {
					ar, err := NewReader(strings.NewReader(text))
					if err != nil {
						t.Fatal(err)
					}
					out, err := io.ReadAll(ar)
					if err != nil || !bytes.Equal(out, data) {
						t.Fatalf("%d bytes at width %d (%s, checksum %v): %v, %d bytes out", n, width, name, withSum, err, len(out))
					}
					if withSum && ar.ChecksumMismatch() {
						t.Fatalf("%d bytes at width %d: checksum mismatch", n, width)
					}
					// go-crypto reads it alike (it takes lines of up to 96
					// characters).
					if width > 96 {
						continue
					}
					block, err := armor.Decode(strings.NewReader(text))
					if err != nil {
						t.Fatal(err)
					}
					if theirs, err := io.ReadAll(block.Body); err != nil || !bytes.Equal(theirs, data) {
						t.Fatalf("%d bytes at width %d: go-crypto: %v", n, width, err)
					}
				}
			}
		}
	}
	// The data ends inside a group.
	for _, body := range []string{"QUJDR\n", "QUJ\nD\nR\n", "QQ\n"} {
		ar, err := NewReader(strings.NewReader("-----BEGIN A-----\n\n" + body + "-----END A-----\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(ar); !errors.Is(err, ErrInvalid) {
			t.Errorf("body %q: %v", body, err)
		}
	}
}

// randomArmored returns n random bytes and their armor as NewWriter writes
// it.
func randomArmored(n int) ([]byte, *bytes.Buffer) {
	data := make([]byte, n)
	rand.Read(data)
	var armored bytes.Buffer
	w := NewWriter(&armored, message)
	w.Write(data)
	w.Close()
	return data, &armored
}

// Only the body's last line can be a base64 line joined to the checksum
// line: a line in the middle that ends in "=" or "==" and four base64
// characters is damaged, and is refused, not read as the checksum with
// the data cut short there (gpg: "CRC error").
func TestJoinedChecksumOnlyAtTheEnd(t *testing.T) {
	data, armored := randomArmored(199)
	lines := strings.Split(armored.String(), "\n")
	first := 0
	for i, l := range lines {
		if l == "" && i > 0 {
			first = i + 1
			break
		}
	}
	for _, join := range []string{"=", "=="} {
		damaged := slices.Clone(lines)
		l := damaged[first]
		damaged[first] = l[:len(l)-4-len(join)] + join + l[len(l)-4:]
		r, err := NewReader(strings.NewReader(strings.Join(damaged, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(r)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%q in the first line: %d bytes (of %d), %v; want ErrInvalid", join, len(out), len(data), err)
		}
	}
}

// crc24Update, with the carry-less multiplication where there is one,
// equals the tables alone for every register, length and alignment.
func TestCRC24Blocks(t *testing.T) {
	if !haveCLMUL {
		t.Log("no carry-less multiplication here: both sides are the tables")
	}
	data := make([]byte, 700)
	rand.Read(data)
	for _, crc := range []uint32{0, crc24Init, 0xffffff, 0x800001} {
		for off := 0; off < 16; off += 5 {
			for n := 0; off+n <= len(data); n++ {
				p := data[off : off+n]
				if got, want := crc24Update(crc, p), crc24Table(crc, p); got != want {
					t.Fatalf("crc %06x, %d bytes at %d: %06x, tables %06x", crc, n, off, got, want)
				}
			}
		}
	}
}

func FuzzCRC24(f *testing.F) {
	f.Add(uint32(crc24Init), make([]byte, 64))
	f.Add(uint32(0xffffff), bytes.Repeat([]byte{0xff}, 100))
	f.Fuzz(func(t *testing.T, crc uint32, p []byte) {
		crc &= 0xffffff
		if got, want := crc24Update(crc, p), crc24Table(crc, p); got != want {
			t.Fatalf("crc %06x, %d bytes: %06x, tables %06x", crc, len(p), got, want)
		}
	})
}

func BenchmarkCRC24(b *testing.B) {
	data := make([]byte, 64<<10)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		crc24Update(crc24Init, data)
	}
}

func BenchmarkCRC24Tables(b *testing.B) {
	data := make([]byte, 64<<10)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		crc24Table(crc24Init, data)
	}
}
