package reserve

import (
	"os"

	"golang.org/x/sys/unix"
)

// allocator returns what allocates n bytes of f's blocks from off without
// changing its size, where that was measured to pay (ext4, Step),
// and nil elsewhere.
func allocator(f *os.File) func(off, n int64) error {
	var st unix.Statfs_t
	if unix.Fstatfs(int(f.Fd()), &st) != nil || st.Type != unix.EXT4_SUPER_MAGIC {
		return nil
	}
	return func(off, n int64) error {
		return unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, off, n)
	}
}
