package asmrun

import "testing"

func TestHook(t *testing.T) {
	var h Hook
	h.Called(10) // not recording: nothing kept
	t.Run("recording", func(t *testing.T) {
		h.Record(t)
		for _, n := range []int{5, 70, 3} {
			h.Called(n)
		}
		if calls, most := h.Calls(); calls != 3 || most != 70 {
			t.Fatalf("%d calls, the most %d bytes", calls, most)
		}
		h.Record(t) // again: from none
		if calls, most := h.Calls(); calls != 0 || most != 0 {
			t.Fatalf("after Record: %d calls, %d bytes", calls, most)
		}
		h.Called(1)
	})
	h.Called(10) // the test ended: not recording
	if calls, most := h.Calls(); calls != 0 || most != 0 {
		t.Fatalf("after the test: %d calls, %d bytes", calls, most)
	}
}
