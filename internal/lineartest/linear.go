package lineartest

import (
	"testing"
	"time"
)

// Linear fails t when the work of size 8n takes more than 32 times the
// processor time (CPU) of size n, each the best of three runs: work that
// grows with the input takes about 8 times, comparing each piece with
// each 64. setup makes the input of a size and returns the work to time
// (what it does outside that function is not timed).
func Linear(t testing.TB, what string, n int, setup func(n int) func()) {
	t.Helper()
	took := func(n int) time.Duration {
		work := setup(n)
		best := time.Duration(1 << 62)
		for range 3 {
			best = min(best, CPU(work))
		}
		return best
	}
	if small, large := took(n), took(8*n); large > 32*small {
		t.Errorf("%s: %d in %v, %d in %v (more than 32 times as long for 8 times as much)", what, n, small, 8*n, large)
	}
}
