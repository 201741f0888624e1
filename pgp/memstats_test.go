package pgp

import (
	"bytes"
	"crypto"
	"errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"runtime"
	"testing"

	"github.com/mailseal/mailseal/core"
)

type runtimeStats struct{ total, heap uint64 }

func (s *runtimeStats) read() {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	s.total, s.heap = m.TotalAlloc, m.HeapAlloc
}

func (s runtimeStats) sub(before runtimeStats) uint64 { return s.total - before.total }

// heapGrowth is the live heap now minus before (0 if it shrank).
func heapGrowth(before runtimeStats) uint64 {
	var now runtimeStats
	now.read()
	if now.heap < before.heap {
		return 0
	}
	return now.heap - before.heap
}

func errorsJoinLocked(err error) error { return errors.Join(err, core.ErrLocked) }

type hashID = crypto.Hash

const (
	hashSHA1   = crypto.SHA1
	hashSHA512 = crypto.SHA512
)

func readPublicKeyPacket(t testing.TB, data []byte) *packet.PublicKey {
	t.Helper()
	p, err := packet.NewReader(bytes.NewReader(data)).Next()
	if err != nil {
		t.Fatal(err)
	}
	pk, ok := p.(*packet.PublicKey)
	if !ok {
		t.Fatalf("not a public key packet: %T", p)
	}
	return pk
}
