//go:build purego || !amd64

package aesmode

const haveAESNI = false

func encryptBlocksAESNI(rounds int, xk *uint32, reg *byte, dst, src *byte, blocks int) {
	panic("aesmode: no assembly")
}

func keyStream8AESNI(rounds int, xk *uint32, prev, ct, ks *byte, groups int) {
	panic("aesmode: no assembly")
}

func subWordAESNI(w uint32) uint32 {
	panic("aesmode: no assembly")
}

func haveVAES() bool { return false }

func keyStream16VAES(rounds int, xk2 *uint32, prev, ct, ks *byte, groups int) {
	panic("aesmode: no assembly")
}

func ctr16VAES(rounds int, xk2 *uint32, lo, hi uint64, dst, src *byte, groups int) {
	panic("aesmode: no assembly")
}
