package pgp

import (
	"bytes"
	"crypto/rand"
	"io"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/gpgtest"
)

// Which messages encryptSEIPDV1 writes, and which it leaves to go-crypto.
func TestEncryptSEIPDV1Applies(t *testing.T) {
	e := testEngine()
	v4 := publicOf(t, genKey(t, "R", "r@example.org", keyOpts{}))
	aead := publicOf(t, genKey(t, "A", "a@example.org", keyOpts{aead: true}))
	v6 := publicOf(t, genKey(t, "S", "s@example.org", keyOpts{v6: true}))
	signer4 := genKey(t, "G", "g@example.org", keyOpts{})
	signer6 := genKey(t, "H", "h@example.org", keyOpts{v6: true})
	for _, c := range []struct {
		name    string
		to      []*openpgp.Entity
		signers []*openpgp.Entity
		want    bool
	}{
		{"v4", []*openpgp.Entity{v4}, nil, true},
		{"v4-signed", []*openpgp.Entity{v4}, []*openpgp.Entity{signer4}, true},
		{"v4-two-signers", []*openpgp.Entity{v4}, []*openpgp.Entity{signer4, genKey(t, "I", "i@example.org", keyOpts{rsa: true})}, true},
		{"v4-and-seipdv2", []*openpgp.Entity{v4, aead}, nil, true}, // not everyone reads SEIPDv2
		{"seipdv2", []*openpgp.Entity{aead}, nil, false},
		{"v6", []*openpgp.Entity{v6}, nil, false},
		{"v6-signer", []*openpgp.Entity{v4}, []*openpgp.Entity{signer6}, false},
	} {
		var buf bytes.Buffer
		w, ok, err := e.encryptSEIPDV1(&buf, c.to, c.signers, e.Config())
		if err != nil || ok != c.want {
			t.Fatalf("%s: ok %v, want %v (%v)", c.name, ok, c.want, err)
		}
		if ok {
			w.Write([]byte("x"))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// Messages written by encryptSEIPDV1 are what go-crypto reads, in every
// size around the chunk boundaries, to several recipients, with the
// Intended Recipient Fingerprints in each signature.
func TestEncryptSEIPDV1ReadByGoCrypto(t *testing.T) {
	e := testEngine()
	r1 := genKey(t, "R1", "r1@example.org", keyOpts{})
	r2 := genKey(t, "R2", "r2@example.org", keyOpts{rsa: true})
	a := genKey(t, "A", "a@example.org", keyOpts{})
	b := genKey(t, "B", "b@example.org", keyOpts{})
	to := []*openpgp.Entity{publicOf(t, r1), publicOf(t, r2)}
	for _, size := range []int{0, 1, 100, seipdV1Chunk - 100, seipdV1Chunk, 3*seipdV1Chunk + 17} {
		data := make([]byte, size)
		rand.Read(data)
		for _, signers := range [][]*openpgp.Entity{nil, {a}, {a, b}} {
			var ct bytes.Buffer
			w, err := e.EncryptData(&ct, to, signers, nil, DataOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			for _, rcpt := range []*openpgp.Entity{r1, r2} {
				cfg := e.Config()
				md, err := openpgp.ReadMessage(bytes.NewReader(ct.Bytes()), openpgp.EntityList{rcpt, publicOf(t, a), publicOf(t, b)}, nil, cfg)
				if err != nil {
					t.Fatalf("%d bytes, %d signers: %v", size, len(signers), err)
				}
				got, err := io.ReadAll(md.UnverifiedBody)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%d bytes, %d signers: %v, plaintext equal %v", size, len(signers), err, bytes.Equal(got, data))
				}
				if !md.IsEncrypted || md.LiteralData.Format != 'b' || len(md.SignatureCandidates) != len(signers) {
					t.Fatalf("%+v", md)
				}
				for _, c := range md.SignatureCandidates {
					if c.SignatureError != nil || c.CorrespondingSig == nil {
						t.Fatalf("signature: %v", c.SignatureError)
					}
					if n := len(c.CorrespondingSig.IntendedRecipients); n != 2 ||
						!bytes.Equal(c.CorrespondingSig.IntendedRecipients[0].Fingerprint, r1.PrimaryKey.Fingerprint) {
						t.Fatalf("%d intended recipients", n)
					}
				}
			}
		}
	}
}

// gpg reads a large signed and encrypted message written by
// encryptSEIPDV1, and refuses it with one bit changed.
func TestEncryptSEIPDV1ToGPG(t *testing.T) {
	e := testEngine()
	h, me, them := gpgPeer(t)
	// The literal data packet: a short last chunk, and (5 chunks less its
	// 6 header bytes) a last chunk of exactly seipdV1Chunk.
	var ct []byte
	for _, size := range []int{5*seipdV1Chunk - 6, 5*seipdV1Chunk + 3} {
		data := make([]byte, size)
		rand.Read(data)
		ct = encrypt(t, e, data, me, publicOf(t, them))
		res := h.Decrypt(ct)
		if res.Err != nil || !bytes.Equal(res.Stdout, data) || !res.HasStatus("GOODSIG") || !res.HasStatus("DECRYPTION_OKAY") {
			t.Fatalf("%d bytes: gpg --decrypt: %v, plaintext equal %v\n%s", size, res.Err, bytes.Equal(res.Stdout, data), res.Status)
		}
		if v := res.StatusLines("VALIDSIG"); len(v) != 1 || !strings.Contains(v[0], Fingerprint(me.PrimaryKey)) {
			t.Fatalf("VALIDSIG %q", v)
		}
	}
	bin := dearmor(t, ct)
	bin[len(bin)/2] ^= 0x10
	if res := h.Decrypt(bin); res.Err == nil || res.HasStatus("DECRYPTION_OKAY") {
		t.Fatalf("gpg accepted a changed message\n%s", res.Status)
	}
	// And mailseal refuses it too.
	_, err := e.Decrypt(bytes.NewReader(bin), Keyring{Secrets: openpgp.EntityList{them}})
	wantErr(t, err, core.ErrIntegrity)
}

// literalWriter writes the literal data packet SerializeLiteral does (the
// same packet to go-crypto's reader), for every size around the chunk
// boundaries and any write pattern, in chunks of seipdV1Chunk and a last
// chunk that is never empty.
func TestLiteralWriterMatchesSerializeLiteral(t *testing.T) {
	c := seipdV1Chunk
	for _, size := range []int{0, 1, 505, 506, 507, c - 7, c - 6, c - 5, c, 2*c - 6, 2*c - 5, 3*c + 1000} {
		data := make([]byte, size)
		rand.Read(data)
		for _, step := range []int{1, 1000, c - 1, c, c + 1, 2*c + 3, 1 << 30} {
			if step == 1 && size > 3*c {
				continue
			}
			var got bytes.Buffer
			w, err := newLiteralWriter(&got)
			if err != nil {
				t.Fatal(err)
			}
			for p := data; len(p) > 0; {
				k := min(step, len(p))
				if n, err := w.Write(p[:k]); n != k || err != nil {
					t.Fatalf("Write: %d, %v", n, err)
				}
				p = p[k:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			// The packet's framing: partial chunks of seipdV1Chunk, then a
			// last, non-empty chunk.
			b := got.Bytes()
			if b[0] != 0xC0|11 {
				t.Fatalf("header %#x", b[0])
			}
			body := b[1:]
			for len(body) > 0 && body[0] == 0xE0|16 {
				body = body[1+c:]
			}
			var last int
			switch {
			case body[0] < 192:
				last, body = int(body[0]), body[1:]
			case body[0] < 224:
				last, body = (int(body[0])-192)<<8+int(body[1])+192, body[2:]
			case body[0] == 0xFF:
				last, body = int(body[1])<<24|int(body[2])<<16|int(body[3])<<8|int(body[4]), body[5:]
			default:
				t.Fatalf("size %d step %d: length byte %#x", size, step, body[0])
			}
			if last != len(body) || last == 0 {
				t.Fatalf("size %d step %d: last chunk %d bytes, %d left", size, step, last, len(body))
			}
			var want bytes.Buffer
			ref, _ := packet.SerializeLiteral(nopCloser{&want}, true, "", 0)
			ref.Write(data)
			ref.Close()
			lits := make([]*packet.LiteralData, 2)
			bodies := make([][]byte, 2)
			for i, enc := range [][]byte{got.Bytes(), want.Bytes()} {
				p, err := packet.Read(bytes.NewReader(enc))
				if err != nil {
					t.Fatalf("size %d step %d: %v", size, step, err)
				}
				lits[i] = p.(*packet.LiteralData)
				if bodies[i], err = io.ReadAll(lits[i].Body); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(bodies[0], data) || !bytes.Equal(bodies[1], data) || lits[0].IsBinary != lits[1].IsBinary ||
				lits[0].FileName != lits[1].FileName || lits[0].Time != lits[1].Time {
				t.Fatalf("size %d step %d: got %+v, SerializeLiteral %+v", size, step, lits[0], lits[1])
			}
		}
	}
}

func BenchmarkLiteralWriter(b *testing.B) {
	data := make([]byte, 1<<20)
	for _, c := range []struct {
		name string
		new  func(io.Writer) (io.WriteCloser, error)
	}{
		{"literalWriter", func(w io.Writer) (io.WriteCloser, error) { return newLiteralWriter(w) }},
		{"SerializeLiteral", func(w io.Writer) (io.WriteCloser, error) {
			return packet.SerializeLiteral(nopCloser{w}, true, "", 0)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)) * 32)
			for i := 0; i < b.N; i++ {
				w, _ := c.new(io.Discard)
				for j := 0; j < 32; j++ {
					w.Write(data)
				}
				w.Close()
			}
		})
	}
}

// The last chunk's length at the edges of its encodings (191/192,
// 8383/8384, and 65535/65536 bytes), alone and after two whole chunks:
// its header bytes, the packet as go-crypto reads it, and gpg decrypting
// and verifying the message.
func TestLiteralLastChunkEdges(t *testing.T) {
	e := testEngine()
	h, me, them := gpgPeer(t)
	for _, last := range []int{6, 191, 192, 193, 8383, 8384, 8385, 65535, 65536} {
		for _, chunks := range []int{0, 2} {
			data := make([]byte, chunks*seipdV1Chunk+last-6) // the literal header is 6 bytes
			rand.Read(data)
			var got bytes.Buffer
			w, _ := newLiteralWriter(&got)
			w.Write(data)
			w.Close()
			b := got.Bytes()[1+chunks*(1+seipdV1Chunk):]
			var hdr []byte
			switch {
			case last < 192:
				hdr = []byte{byte(last)}
			case last < 8384:
				hdr = []byte{byte((last-192)>>8 + 192), byte(last - 192)}
			default:
				hdr = []byte{0xff, byte(last >> 24), byte(last >> 16), byte(last >> 8), byte(last)}
			}
			if !bytes.HasPrefix(b, hdr) || len(b) != len(hdr)+last {
				t.Fatalf("last chunk %d bytes after %d: header % x", last, chunks, b[:min(5, len(b))])
			}
			p, err := packet.Read(bytes.NewReader(got.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if body, err := io.ReadAll(p.(*packet.LiteralData).Body); err != nil || !bytes.Equal(body, data) {
				t.Fatalf("last chunk %d bytes after %d: go-crypto: %v", last, chunks, err)
			}
			ct := encrypt(t, e, data, me, publicOf(t, them))
			if res := h.Decrypt(ct); res.Err != nil || !bytes.Equal(res.Stdout, data) || !res.HasStatus("GOODSIG") {
				t.Fatalf("last chunk %d bytes after %d: gpg: %v\n%s", last, chunks, res.Err, res.Status)
			}
		}
	}
}

// A write error: Write says how much it took, and every later call fails
// with the same error.
func TestLiteralWriterError(t *testing.T) {
	// The header byte and the first chunk's length byte go out; the first
	// chunk's bytes fail (failAfter: seipd_test.go).
	w, _ := newLiteralWriter(&failAfter{n: 2})
	data := make([]byte, 3*seipdV1Chunk)
	n, err := w.Write(data)
	if err == nil || n != seipdV1Chunk-6 {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if n, err2 := w.Write(data); err2 != err || n != 0 {
		t.Fatalf("second Write: %d, %v", n, err2)
	}
	if err2 := w.Close(); err2 != err {
		t.Fatalf("Close: %v", err2)
	}
	// A whole chunk passed through goes out before the failure.
	w, _ = newLiteralWriter(&failAfter{n: 2*seipdV1Chunk + 3})
	if n, err := w.Write(data); err == nil || n != 2*seipdV1Chunk-6 {
		t.Fatalf("Write: %d, %v", n, err)
	}
}

// gpgPeer is a gpg home that holds a peer's secret key (them, RSA) and
// the public key of me, a signer of ours.
func gpgPeer(t *testing.T) (h *gpgtest.Home, me, them *openpgp.Entity) {
	h = gpgtest.New(t)
	me = genKey(t, "Me", "me@example.org", keyOpts{})
	them = genKey(t, "Peer", "peer@example.org", keyOpts{rsa: true})
	h.Import(armoredPublic(t, me))
	h.Import(armoredSecret(t, them))
	return h, me, them
}
