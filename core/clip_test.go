package core

import (
	"strings"
	"testing"
)

func TestClip(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"longer than ten", 10, "longer tha..."},
		{"grüße", 3, "gr..."}, // not inside the ü
		{"grüße", 4, "grü..."},
		{strings.Repeat("é", 100), 7, "ééé..."},
		{"abc", 0, "..."},
		{"abc", -1, "..."},
	} {
		if got := Clip(c.s, c.n); got != c.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
