//go:build !linux

package reserve

import "os"

// allocator: blocks are allocated ahead on Linux's ext4 only.
func allocator(f *os.File) func(off, n int64) error { return nil }
