package pkcs12

import (
	"hash"
	"unicode/utf16"
)

// Purposes of the PKCS#12 key derivation (RFC 7292 appendix B.3).
const (
	kdfKey = 1 // key material for encryption
	kdfIV  = 2 // an IV
	kdfMAC = 3 // the MAC key
)

// bmpPassword is a password as PKCS#12 derives keys from it: UTF-16
// big-endian with two zero bytes at the end (RFC 7292 appendix B.1). An
// empty password becomes the two zero bytes.
func bmpPassword(password string) []byte {
	u := utf16.Encode([]rune(password))
	out := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		out = append(out, byte(c>>8), byte(c))
	}
	return append(out, 0, 0)
}

// deriveKey is the PKCS#12 key derivation of RFC 7292 appendix B.2 with
// hash h: size bytes for purpose id from a BMP password, salt and
// iteration count. kdf_test.go checks it against openssl's PKCS12KDF.
func deriveKey(h func() hash.Hash, id byte, password, salt []byte, iterations, size int) []byte {
	d := h()
	u, v := d.Size(), d.BlockSize()
	// Steps 1-4: D = v copies of id; I = S || P, each repeated to a
	// multiple of v bytes.
	diversifier := make([]byte, v)
	for i := range diversifier {
		diversifier[i] = id
	}
	fill := func(in []byte) []byte {
		if len(in) == 0 {
			return nil
		}
		out := make([]byte, v*((len(in)+v-1)/v))
		for i := range out {
			out[i] = in[i%len(in)]
		}
		return out
	}
	input := append(fill(salt), fill(password)...)
	out := make([]byte, 0, size+u)
	a := make([]byte, 0, u)
	b := make([]byte, v)
	for len(out) < size {
		// Step 6a: A = H^iterations(D || I).
		d.Reset()
		d.Write(diversifier)
		d.Write(input)
		a = d.Sum(a[:0])
		for i := 1; i < iterations; i++ {
			d.Reset()
			d.Write(a)
			a = d.Sum(a[:0])
		}
		out = append(out, a...)
		if len(out) >= size {
			break
		}
		// Steps 6b-6c: B = A repeated to v bytes; each v-byte block of I
		// becomes (I_j + B + 1) mod 2^(8v), big-endian.
		for i := range b {
			b[i] = a[i%u]
		}
		for j := 0; j < len(input); j += v {
			block := input[j : j+v]
			carry := uint16(1)
			for k := v - 1; k >= 0; k-- {
				sum := uint16(block[k]) + uint16(b[k]) + carry
				block[k] = byte(sum)
				carry = sum >> 8
			}
		}
	}
	return out[:size]
}
