//go:build !unix

package batch

// openFileLimit: no limit is read here.
func openFileLimit() (int, bool) { return 0, false }
