package reserve

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func allocated(t *testing.T, f *os.File) (size, blocks int64) {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Size, st.Blocks * 512
}

// On ext4 a Writer's file has blocks allocated ahead of what was written,
// its size staying what was written, and Finish gives them back; on other
// file systems For is nil and nothing is allocated ahead.
func TestWriterOnDisk(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	ext4 := st.Type == unix.EXT4_SUPER_MAGIC
	f, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f)
	if (w.ahead != nil) != ext4 {
		t.Fatalf("ext4 %v, allocating ahead %v", ext4, w.ahead != nil)
	}
	if _, err := w.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	size, blocks := allocated(t, f)
	if size != 1<<20 || ext4 != (blocks >= 4<<20) {
		t.Fatalf("ext4 %v: size %d, %d bytes allocated", ext4, size, blocks)
	}
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if size, blocks = allocated(t, f); size != 1<<20 || blocks > 2<<20 {
		t.Fatalf("after Finish: size %d, %d bytes allocated", size, blocks)
	}
	if !ext4 {
		t.Logf("%s is not on ext4: nothing allocated ahead, as it should be", dir)
	}
}
