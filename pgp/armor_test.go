package pgp

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

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
			w, err := newArmorWriter(&got, "PGP MESSAGE")
			if err != nil {
				t.Fatal(err)
			}
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

func BenchmarkArmor(b *testing.B) {
	data := make([]byte, 10<<20)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			w, _ := newArmorWriter(io.Discard, "PGP MESSAGE")
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
