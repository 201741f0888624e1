package spool

import (
	"os"
	"syscall"
	"testing"

	"github.com/mailseal/mailseal/internal/reserve"
)

// Where the spool's file is on ext4, its blocks are allocated ahead of
// the writes while its size stays what was written; elsewhere none are.
func TestSpoolReserveOnDisk(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	s := New(0)
	defer s.Close()
	s.Write(make([]byte, 1<<20))
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	probe, err := os.CreateTemp(dir, "probe")
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	ext4 := reserve.For(probe) != nil
	var st syscall.Stat_t
	if err := syscall.Fstat(int(s.file.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 1<<20 {
		t.Fatalf("file size %d, want %d", st.Size, 1<<20)
	}
	if allocated := st.Blocks * 512; ext4 != (allocated >= 4<<20) {
		t.Fatalf("ext4 %v: %d bytes allocated for 1 MiB written", ext4, allocated)
	}
	if !ext4 {
		t.Logf("%s is not on ext4: nothing reserved, as it should be", dir)
	}
}
