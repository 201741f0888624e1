package pgp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/gpgtest"
)

var aesCiphers = []packet.CipherFunction{packet.CipherAES128, packet.CipherAES192, packet.CipherAES256}

// sealV1 returns the body of a version 1 SEIPD packet that go-crypto
// wrote for plaintext.
func sealV1(t testing.TB, c packet.CipherFunction, key, plaintext []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := packet.SerializeSymmetricallyEncrypted(&buf, c, false, packet.CipherSuite{}, key, &packet.Config{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plaintext)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p, err := packet.NewReader(&buf).Next()
	if err != nil {
		t.Fatal(err)
	}
	se, ok := p.(*packet.SymmetricallyEncrypted)
	if !ok || se.Version != 1 || !se.IntegrityProtected {
		t.Fatalf("not a SEIPDv1 packet: %T %+v", p, p)
	}
	body, err := io.ReadAll(se.Contents)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// openV1Reference opens a SEIPDv1 body with go-crypto; ok is whether its
// MDC check passed.
func openV1Reference(c packet.CipherFunction, key, body []byte) (plaintext []byte, ok bool) {
	se := &packet.SymmetricallyEncrypted{Version: 1, IntegrityProtected: true, Contents: bytes.NewReader(body)}
	rc, err := se.Decrypt(c, key)
	if err != nil {
		return nil, false
	}
	plaintext, err = io.ReadAll(rc)
	if err != nil {
		return nil, false
	}
	return plaintext, rc.Close() == nil
}

// openV1 opens a SEIPDv1 body with seipdV1Reader; ok is whether reading to
// io.EOF and Close both succeeded.
func openV1(t testing.TB, c packet.CipherFunction, key []byte, in io.Reader) (plaintext []byte, ok bool) {
	t.Helper()
	r, fast, err := newSEIPDV1Reader(in, c, key)
	if !fast || err != nil {
		t.Fatalf("newSEIPDV1Reader: %v %v", fast, err)
	}
	plaintext, err = io.ReadAll(r)
	cerr := r.Close()
	if (err == nil) != (cerr == nil) {
		t.Fatalf("Read ended with %v but Close returned %v", err, cerr)
	}
	if err != nil && !errors.Is(err, pgperrors.ErrMDCHashMismatch) && !errors.Is(err, pgperrors.ErrMDCMissing) {
		t.Fatalf("unexpected error %v", err)
	}
	return plaintext, err == nil
}

func TestSEIPDV1ReaderMatchesGoCrypto(t *testing.T) {
	readers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one-byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data-err": iotest.DataErrReader,
	}
	for _, c := range aesCiphers {
		key := make([]byte, c.KeySize())
		rand.Read(key)
		for _, size := range []int{0, 1, 15, 16, 17, 22, 23, 100, seipdV1ChunkSize - 19, seipdV1ChunkSize, seipdV1ChunkSize + 1, 3*seipdV1ChunkSize + 7} {
			plaintext := make([]byte, size)
			rand.Read(plaintext)
			body := sealV1(t, c, key, plaintext)
			for name, wrap := range readers {
				if name == "one-byte" && size > 2*seipdV1ChunkSize {
					continue
				}
				got, ok := openV1(t, c, key, wrap(bytes.NewReader(body)))
				if !ok || !bytes.Equal(got, plaintext) {
					t.Fatalf("cipher %d, %d bytes, %s reader: ok %v, plaintext equal %v", c, size, name, ok, bytes.Equal(got, plaintext))
				}
			}
		}
	}
}

// TestSEIPDV1ReaderChunkSizes: a reader with a small chunk (the probe of
// encryptSEIPDV1 uses 256 bytes) opens bodies of every size the large one
// does, across chunk boundaries.
func TestSEIPDV1ReaderChunkSizes(t *testing.T) {
	c := packet.CipherAES128
	key := make([]byte, c.KeySize())
	rand.Read(key)
	for _, chunk := range []int{1, 15, 16, 17, 256} {
		for _, size := range []int{0, 1, 16, 22, 255, 256, 257, 1000, 5000} {
			plaintext := make([]byte, size)
			rand.Read(plaintext)
			r, ok, err := newSEIPDV1ReaderSize(bytes.NewReader(sealV1(t, c, key, plaintext)), c, key, chunk)
			if !ok || err != nil {
				t.Fatal(ok, err)
			}
			got, err := io.ReadAll(r)
			if err != nil || r.Close() != nil || !bytes.Equal(got, plaintext) {
				t.Fatalf("chunk %d, %d bytes: %v, plaintext equal %v", chunk, size, err, bytes.Equal(got, plaintext))
			}
		}
	}
}

func TestSEIPDV1ReaderRefusesDamage(t *testing.T) {
	c := packet.CipherAES256
	key := make([]byte, c.KeySize())
	rand.Read(key)
	plaintext := []byte("a short secret, 40 bytes long..........")
	body := sealV1(t, c, key, plaintext)
	check := func(what string, damaged []byte) {
		t.Helper()
		if _, ok := openV1Reference(c, key, damaged); ok {
			t.Fatalf("%s: go-crypto accepts it too; the test is wrong", what)
		}
		if _, ok := openV1(t, c, key, bytes.NewReader(damaged)); ok {
			t.Fatalf("%s: accepted", what)
		}
	}
	for i := range body {
		for _, bit := range []byte{0x01, 0x80} {
			damaged := bytes.Clone(body)
			damaged[i] ^= bit
			check(fmt.Sprintf("bit %#x of byte %d flipped", bit, i), damaged)
		}
	}
	for n := 0; n < len(body); n++ {
		check(fmt.Sprintf("cut to %d bytes", n), body[:n])
	}
	check("one byte appended", append(bytes.Clone(body), 0))
	other := make([]byte, c.KeySize())
	rand.Read(other)
	if _, ok := openV1(t, c, other, bytes.NewReader(body)); ok {
		t.Fatal("wrong key accepted")
	}
	// Nothing but the prefix and the MDC.
	if _, ok := openV1(t, c, key, bytes.NewReader(sealV1(t, c, key, nil))); !ok {
		t.Fatal("empty plaintext refused")
	}
}

// A read of damaged data never ends in io.EOF: the caller relies on it to
// withhold the plaintext.
func TestSEIPDV1ReaderNoEOFBeforeMDC(t *testing.T) {
	c := packet.CipherAES128
	key := make([]byte, c.KeySize())
	rand.Read(key)
	plaintext := make([]byte, 200<<10)
	body := sealV1(t, c, key, plaintext)
	body[len(body)/2] ^= 1
	r, _, _ := newSEIPDV1Reader(bytes.NewReader(body), c, key)
	buf := make([]byte, 1000)
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			t.Fatal("io.EOF for tampered data")
		}
		if err != nil {
			if !errors.Is(err, pgperrors.ErrMDCHashMismatch) {
				t.Fatalf("error %v", err)
			}
			break
		}
	}
}

func FuzzSEIPDV1Reader(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 16)
	for _, size := range []int{0, 5, 16, 40, 1000} {
		f.Add(sealV1(f, packet.CipherAES128, key, bytes.Repeat([]byte("x"), size)))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		want, wantOK := openV1Reference(packet.CipherAES128, key, body)
		got, ok := openV1(t, packet.CipherAES128, key, iotest.HalfReader(bytes.NewReader(body)))
		if ok != wantOK || (ok && !bytes.Equal(got, want)) {
			t.Fatalf("ok %v, go-crypto %v; plaintext equal %v", ok, wantOK, bytes.Equal(got, want))
		}
	})
}

// Large SEIPDv1 messages are decrypted in two steps (the session key from
// the first prescanSize bytes, then seipdV1Reader): the keys are unlocked
// and the password asked for once, and the result reports what a one-step
// read reports.
func TestLargeSEIPDV1Message(t *testing.T) {
	e := testEngine()
	data := make([]byte, 3*prescanSize+5)
	rand.Read(data)

	t.Run("locked-key", func(t *testing.T) {
		rcpt := genKey(t, "R", "r@example.org", keyOpts{})
		sender := genKey(t, "S", "s@example.org", keyOpts{})
		ct := encrypt(t, e, data, sender, publicOf(t, rcpt))
		if err := rcpt.EncryptPrivateKeys([]byte("pass"), e.Config()); err != nil {
			t.Fatal(err)
		}
		unlocks := 0
		kr := Keyring{
			Secrets: openpgp.EntityList{rcpt}, Certs: openpgp.EntityList{publicOf(t, sender)}, ReportSessionKey: true,
			Unlock: func(ent *openpgp.Entity) error { unlocks++; return ent.DecryptPrivateKeys([]byte("pass")) },
		}
		d, body := decryptAll(t, e, ct, kr)
		if !bytes.Equal(body, data) || !d.Encrypted || d.Integrity != core.IntegrityMDC || d.DecryptedWith != Fingerprint(rcpt.PrimaryKey) {
			t.Fatalf("body equal %v, %+v", bytes.Equal(body, data), d)
		}
		if unlocks != 1 {
			t.Errorf("unlocked %d times", unlocks)
		}
		oneSigner(t, d.Signers, core.SignerGood)
		// The reported session key opens the message alone.
		if d.SessionKey == nil || !bytes.Equal(d.SessionKey.Key, sessionKeyOf(t, e, ct, rcpt)) {
			t.Fatalf("session key %v", d.SessionKey)
		}
		_, body = decryptAll(t, e, ct, Keyring{SessionKeys: []SessionKey{*d.SessionKey}})
		if !bytes.Equal(body, data) {
			t.Fatal("decrypting with the reported session key")
		}
	})

	// gpg writes them: go-crypto no longer encrypts with CAST5, whose
	// messages take go-crypto's reader (seipdV1Reader is for AES only).
	h := gpgtest.New(t)
	for _, c := range []string{"AES256", "CAST5"} {
		t.Run("password-"+c, func(t *testing.T) {
			res := h.RunPass(data, "pw", "--symmetric", "--cipher-algo", c, "--compress-algo", "none", "--force-mdc")
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			msg := res.Stdout
			if o := prescan(msg); o.tag != 18 || o.version != 1 || len(msg) < 2*prescanSize {
				t.Fatalf("not a large SEIPDv1 message: %+v, %d bytes", o, len(msg))
			}
			asked := 0
			pw := func(p string) func() ([]byte, error) {
				return func() ([]byte, error) { asked++; return []byte(p), nil }
			}
			d, body := decryptAll(t, e, msg, Keyring{Password: pw("pw")})
			if !bytes.Equal(body, data) || !d.Encrypted || d.DecryptedWith != "" {
				t.Fatalf("body equal %v, %+v", bytes.Equal(body, data), d)
			}
			if asked != 1 {
				t.Errorf("password asked %d times", asked)
			}
			asked = 0
			_, err := e.Decrypt(bytes.NewReader(msg), Keyring{Password: pw("wrong")})
			wantErr(t, err, core.ErrLocked)
			if asked != 1 {
				t.Errorf("wrong password asked %d times", asked)
			}
		})
	}

	t.Run("prefix-cut-short", func(t *testing.T) {
		rcpt := genKey(t, "R", "r@example.org", keyOpts{})
		bin := dearmor(t, encrypt(t, e, data, nil, publicOf(t, rcpt)))
		kr := Keyring{Secrets: openpgp.EntityList{rcpt}}
		// A prefix that ends inside the key packet cannot give the key:
		// the caller must read the whole message instead.
		for _, n := range []int{3, 40} {
			d, err, done := e.decryptSEIPDV1(bin[:n], bytes.NewReader(bin), kr, prescan(bin))
			if done || d != nil || err != nil {
				t.Fatalf("prefix of %d bytes: done %v, %v", n, done, err)
			}
		}
		d, err, done := e.decryptSEIPDV1(bin[:prescanSize], bytes.NewReader(bin), kr, prescan(bin))
		if !done || err != nil {
			t.Fatalf("whole prefix: done %v, %v", done, err)
		}
		body, _ := io.ReadAll(d.Body)
		d.Close()
		if !bytes.Equal(body, data) {
			t.Fatal("plaintext differs")
		}
	})
}

// sessionKeyOf asks go-crypto for the session key of a message.
func sessionKeyOf(t *testing.T, e *Engine, ct []byte, rcpt *openpgp.Entity) []byte {
	t.Helper()
	cfg := e.Config()
	cfg.CacheSessionKey = true
	md, err := openpgp.ReadMessage(bytes.NewReader(dearmor(t, ct)), openpgp.EntityList{rcpt}, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return md.SessionKey
}

// FuzzLargeSEIPDV1Decrypt changes one byte of a large signed and encrypted
// v4 message, or cuts it short, and decrypts it: the result is an error
// (and nothing released), or exactly the original plaintext, or something
// that is neither encrypted nor validly signed (a changed first byte can
// turn the message into unencrypted literal data: the caller refuses that
// as not encrypted).
func FuzzLargeSEIPDV1Decrypt(f *testing.F) {
	e := testEngine()
	rcpt := genKey(f, "R", "r@example.org", keyOpts{})
	sender := genKey(f, "S", "s@example.org", keyOpts{})
	data := make([]byte, 2*prescanSize+1234)
	rand.Read(data)
	bin := dearmor(f, encrypt(f, e, data, sender, publicOf(f, rcpt)))
	kr := Keyring{Secrets: openpgp.EntityList{rcpt}, Certs: openpgp.EntityList{publicOf(f, sender)}}
	for _, pos := range []uint32{0, 5, 300, prescanSize - 1, prescanSize, prescanSize + 1, uint32(len(bin) - 30), uint32(len(bin) - 1)} {
		f.Add(pos, byte(1), uint32(0))
	}
	f.Add(uint32(0), byte(0), uint32(prescanSize+7))
	f.Add(uint32(0), byte(0), uint32(len(bin)-1))
	f.Fuzz(func(t *testing.T, pos uint32, flip byte, cut uint32) {
		msg := bytes.Clone(bin)
		if cut > 0 && int(cut) < len(msg) {
			msg = msg[:cut]
		}
		msg[int(pos)%len(msg)] ^= flip
		d, err := e.Decrypt(bytes.NewReader(msg), kr)
		if err != nil {
			if d != nil {
				t.Fatal("an error and a result")
			}
			return
		}
		defer d.Close()
		if !d.Encrypted {
			for _, s := range d.Signers {
				if s.Status == core.SignerGood {
					t.Fatal("a changed message has a good signature")
				}
			}
			return
		}
		got, err := io.ReadAll(d.Body)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("decrypted something else: %v, %d bytes", err, len(got))
		}
	})
}

// seipdContent is the offset in the binary message bin of the first byte of
// its SEIPD packet's contents (the version byte), found by walking the
// packet headers before it.
func seipdContent(t *testing.T, bin []byte) int {
	t.Helper()
	for off := 0; off < len(bin); {
		b := bin[off]
		var tag, hdr, n int
		switch {
		case b&0x80 == 0:
			t.Fatalf("no packet at offset %d", off)
		case b&0x40 != 0: // new format
			tag, hdr = int(b&0x3f), 2
			switch l := int(bin[off+1]); {
			case l < 192:
				n = l
			case l < 224:
				hdr, n = 3, (l-192)<<8+int(bin[off+2])+192
			case l == 255:
				hdr, n = 6, int(binary.BigEndian.Uint32(bin[off+2:]))
			}
		default: // old format
			tag = int(b>>2) & 0xf
			switch b & 3 {
			case 0:
				n = int(bin[off+1])
				hdr = 2
			case 1:
				n = int(binary.BigEndian.Uint16(bin[off+1:]))
				hdr = 3
			case 2:
				n = int(binary.BigEndian.Uint32(bin[off+1:]))
				hdr = 5
			}
		}
		if tag == 18 {
			return off + hdr
		}
		off += hdr + n
	}
	t.Fatal("no SEIPD packet")
	return 0
}

// A password-encrypted message whose data fails after decryption has
// begun fails as a wrong password would, since go-crypto does not check the
// quick-check bytes (nor do we: they are an oracle): a wrong password gives
// a wrong key, whose garbage may parse for a while before it fails. The
// error is the same whether the MDC or the first packet fails, and the same
// on the one-step and the two-step (large SEIPDv1) path.
func TestPasswordMessageDamaged(t *testing.T) {
	e := testEngine()
	h := gpgtest.New(t)
	for _, size := range []int{100, 3*prescanSize + 5} {
		data := make([]byte, size)
		rand.Read(data)
		for _, c := range []string{"AES256", "CAST5"} {
			t.Run(fmt.Sprintf("%s-%d", c, size), func(t *testing.T) {
				res := h.RunPass(data, "pw", "--symmetric", "--cipher-algo", c, "--compress-algo", "none", "--force-mdc")
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				msg := res.Stdout
				bs := 16
				if c == "CAST5" {
					bs = 8
				}
				// Flip the last byte (the MDC's) and, in turn, the top bit of
				// the first plaintext byte (the literal packet's tag).
				mdc := bytes.Clone(msg)
				mdc[len(mdc)-1] ^= 1
				tag := bytes.Clone(msg)
				tag[seipdContent(t, tag)+1+bs+2] ^= 0x80
				var texts []string
				for _, bad := range [][]byte{mdc, tag} {
					d, err := e.Decrypt(bytes.NewReader(bad), Keyring{Password: func() ([]byte, error) { return []byte("pw"), nil }})
					if d != nil {
						t.Fatal("plaintext released")
					}
					wantErr(t, err, core.ErrLocked)
					texts = append(texts, err.Error())
				}
				if texts[0] != texts[1] || !strings.Contains(texts[0], "wrong password") {
					t.Fatalf("errors differ or do not name the password:\n%s\n%s", texts[0], texts[1])
				}
			})
		}
	}
}

// failAfter fails every write once n bytes went through.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if f.n -= len(p); f.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

// An encryption whose output fails reports it and leaves no goroutine
// behind (the CFB encryption's stage, the armor's, the signature's),
// signed or not.
func TestEncryptOutputFailureStopsEveryGoroutine(t *testing.T) {
	e := testEngine()
	rcpt := genKey(t, "R", "r@example.org", keyOpts{})
	signer := genKey(t, "S", "s@example.org", keyOpts{})
	data := make([]byte, 4<<20)
	before := runtime.NumGoroutine()
	for _, s := range []*openpgp.Entity{nil, signer} {
		w, err := e.Encrypt(&failAfter{n: 1 << 20}, []*openpgp.Entity{publicOf(t, rcpt)}, s)
		if err != nil {
			t.Fatal(err)
		}
		var werr error
		for p := data; len(p) > 0 && werr == nil; p = p[64<<10:] {
			_, werr = w.Write(p[:64<<10])
		}
		if cerr := w.Close(); werr == nil && cerr == nil {
			t.Fatalf("signed %v: the output's failure was not reported", s != nil)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines left, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// An output that fails on the last writes (the last chunk of the
// encrypted data, the MDC packet in it, the signature) is reported by
// Close, as one failing mid-stream is by Write.
func TestEncryptOutputFailureAtTheEnd(t *testing.T) {
	e := testEngine()
	rcpt := genKey(t, "R", "r@example.org", keyOpts{})
	signer := genKey(t, "S", "s@example.org", keyOpts{})
	data := make([]byte, 200<<10)
	for _, s := range []*openpgp.Entity{nil, signer} {
		var full bytes.Buffer
		w, err := e.Encrypt(&full, []*openpgp.Entity{publicOf(t, rcpt)}, s)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		for _, short := range []int{1, 22, 100} {
			w, err := e.Encrypt(&failAfter{n: full.Len() - short}, []*openpgp.Entity{publicOf(t, rcpt)}, s)
			if err != nil {
				t.Fatal(err)
			}
			_, werr := w.Write(data)
			if cerr := w.Close(); werr == nil && cerr == nil {
				t.Fatalf("signed %v, failing %d bytes before the end: not reported", s != nil, short)
			}
		}
	}
}
