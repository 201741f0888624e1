//go:build !unix

package atomicfile

// allocatedBytes: not measured here.
func allocatedBytes(path string) (int64, bool) { return 0, false }
