// Package asmrun is the test hook of the packages with assembly (aesmode,
// armor, crlf). Each reports every call of its assembly, with the bytes
// the call takes, to a Hook; a test records them to check that no call
// takes more than the package's bound (a goroutine inside assembly is out
// of the scheduler's reach, so long inputs are cut into runs) and that
// long inputs do reach the assembly. Outside tests a Hook records nothing,
// and a call costs one load of a bool.
package asmrun

// Hook holds the assembly calls of one package while a test records them.
// The zero Hook records nothing. It is not safe for concurrent use: the
// tests that record do not run in parallel.
type Hook struct {
	on          bool
	calls, most int
}

// Called reports an assembly call taking n bytes.
func (h *Hook) Called(n int) {
	if h.on {
		h.calls++
		h.most = max(h.most, n)
	}
}

// Record starts recording from none, until the test t ends.
func (h *Hook) Record(t interface{ Cleanup(func()) }) {
	*h = Hook{on: true}
	t.Cleanup(func() { *h = Hook{} })
}

// Calls returns how many calls were reported since Record, and the most
// bytes one took.
func (h *Hook) Calls() (calls, most int) { return h.calls, h.most }
