package pgp

import (
	"crypto"
	"errors"
	"runtime"

	"github.com/mailseal/mailseal"
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

func errorsJoinLocked(err error) error { return errors.Join(err, mailseal.ErrLocked) }

type hashID = crypto.Hash

const (
	hashSHA1   = crypto.SHA1
	hashSHA512 = crypto.SHA512
)
