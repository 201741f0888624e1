package spool

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	mrand "math/rand"
	"os"
	"testing"
)

func TestSpoolMemoryAndFile(t *testing.T) {
	for _, limit := range []int64{0, 10, 1 << 20} {
		data := make([]byte, 100000)
		rand.Read(data)
		s := New(limit)
		// Uneven writes, crossing the spill point and block boundaries.
		for off := 0; off < len(data); {
			n := 1 + off%4099
			if off+n > len(data) {
				n = len(data) - off
			}
			if _, err := s.Write(data[off : off+n]); err != nil {
				t.Fatal(err)
			}
			off += n
		}
		if s.Size() != int64(len(data)) {
			t.Fatalf("size %d", s.Size())
		}
		got, err := io.ReadAll(s.Reader())
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("limit %d: content differs (err %v)", limit, err)
		}
		buf := make([]byte, 33)
		if _, err := s.ReadAt(buf, 12345); err != nil || !bytes.Equal(buf, data[12345:12378]) {
			t.Fatalf("ReadAt: %v", err)
		}
		if n, err := s.ReadAt(buf, int64(len(data))-5); n != 5 || err != io.EOF {
			t.Fatalf("ReadAt at end: %d %v", n, err)
		}
		s.Close()
	}
}

// The spill file must not hold the plaintext.
func TestSpoolFileIsEncrypted(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	s := New(0)
	secret := bytes.Repeat([]byte("attack at dawn "), 1000)
	s.Write(secret)
	if err := s.flush(); err != nil { // batched writes reach the file
		t.Fatal(err)
	}
	raw := make([]byte, len(secret))
	if _, err := s.file.ReadAt(raw, 0); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("attack at dawn")) {
		t.Fatal("spooled plaintext is readable on disk")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("spool file is visible in %s: %v", dir, entries)
	}
	s.Close()
}

// rawFile spools data past the memory limit and returns the file's bytes
// and the spool.
func rawFile(t *testing.T, data []byte) ([]byte, *Spool) {
	t.Helper()
	s := New(0)
	t.Cleanup(func() { s.Close() })
	if _, err := s.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := s.flush(); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, len(data))
	if _, err := s.file.ReadAt(raw, 0); err != nil {
		t.Fatal(err)
	}
	return raw, s
}

// Each spool has a key (and counter start) of its own: two spools of the
// same content differ everywhere, the key stream of one never repeats,
// and it is not that of an all-zero key and counter.
func TestSpoolKeyPerSpool(t *testing.T) {
	data := bytes.Repeat([]byte("attack at dawn "), 70000) // several batches
	a, sa := rawFile(t, data)
	b, sb := rawFile(t, data)
	if sa.iv == sb.iv {
		t.Fatal("two spools start from the same counter block")
	}
	for off := 0; off+64 <= len(a); off += len(a) / 8 {
		if bytes.Equal(a[off:off+64], b[off:off+64]) {
			t.Fatalf("two spools share a key stream at %d", off)
		}
	}
	ks := make([]byte, len(a))
	subtle.XORBytes(ks, a, data)
	if bytes.Contains(ks[16:], ks[:32]) {
		t.Fatal("the key stream repeats within a spool")
	}
	block, _ := aes.NewCipher(make([]byte, 16))
	zero := make([]byte, 64)
	cipher.NewCTR(block, sa.iv[:]).XORKeyStream(zero, data[:64])
	if bytes.Equal(zero, a[:64]) {
		t.Fatal("an all-zero key")
	}
}

// A memory limit above writeBatch: the spill writes the content it held in
// several batches, each at its own offset in the key stream.
func TestSpoolSpillLargerThanBatch(t *testing.T) {
	data := make([]byte, 3<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	s := New(1 << 20)
	defer s.Close()
	for off := 0; off < len(data); off += 100003 {
		s.Write(data[off:min(off+100003, len(data))])
	}
	got := make([]byte, len(data))
	if _, err := s.ReadAt(got, 0); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("content differs (%v)", err)
	}
}

func TestSpoolBatchedWritesReadBack(t *testing.T) {
	s := New(1000)
	defer s.Close()
	var want bytes.Buffer
	for i := 0; i < 5000; i++ {
		chunk := bytes.Repeat([]byte{byte(i)}, i%300+1)
		s.Write(chunk)
		want.Write(chunk)
	}
	got := make([]byte, want.Len())
	if _, err := s.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatal("spooled content differs")
	}
	part := make([]byte, 777)
	if _, err := s.ReadAt(part, 123457); err != nil || !bytes.Equal(part, want.Bytes()[123457:123457+777]) {
		t.Fatal("ReadAt in the middle differs")
	}
}

// Small reads at random offsets (served from the read-ahead window) and
// large ones (read directly) all return the written bytes, also across the
// window's edges and at the end; concurrent readers see the same.
func TestSpoolReadAheadRandomReads(t *testing.T) {
	data := make([]byte, 3*readAhead+12345)
	mrand.New(mrand.NewSource(3)).Read(data)
	s := New(1 << 10)
	defer s.Close()
	for p := data; len(p) > 0; {
		k := min(len(p), 70000)
		s.Write(p[:k])
		p = p[k:]
	}
	check := func(rng *mrand.Rand) error {
		for i := 0; i < 300; i++ {
			size := 1 + rng.Intn(5000)
			if i%10 == 0 {
				size = readAhead/2 + rng.Intn(readAhead)
			}
			off := rng.Int63n(int64(len(data)))
			if i%7 == 0 {
				off = int64(readAhead) - int64(rng.Intn(100)) // straddles a window edge
			}
			buf := make([]byte, size)
			n, err := s.ReadAt(buf, off)
			end := min(off+int64(size), int64(len(data)))
			if n != int(end-off) || !bytes.Equal(buf[:n], data[off:end]) {
				return fmt.Errorf("ReadAt(%d bytes at %d) = %d, %v: wrong data", size, off, n, err)
			}
			if (end < off+int64(size)) != (err == io.EOF) {
				return fmt.Errorf("ReadAt(%d bytes at %d): error %v", size, off, err)
			}
		}
		return nil
	}
	if err := check(mrand.New(mrand.NewSource(1))); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func(seed int64) { errs <- check(mrand.New(mrand.NewSource(seed))) }(int64(g + 10))
	}
	for g := 0; g < 4; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// The spool learns the line endings of what is written, in memory and
// after spilling to its file.
func TestSpoolCRLF(t *testing.T) {
	for _, limit := range []int64{1 << 20, 64} {
		s := New(limit)
		s.Write([]byte("Subject: x\r\n\r\n"))
		s.Write(bytes.Repeat([]byte("line\r\n"), 100))
		if !s.CRLF() {
			t.Fatalf("limit %d: CRLF content reported otherwise", limit)
		}
		s.Write([]byte("bare\nLF\r\n"))
		if s.CRLF() {
			t.Fatalf("limit %d: a bare LF was missed", limit)
		}
		s.Close()
	}
}

// Content in memory is kept in chunks: writes of any size and reads across
// chunk edges return the written bytes, before and after the spool spills
// to its file.
func TestSpoolMemoryChunks(t *testing.T) {
	rng := mrand.New(mrand.NewSource(5))
	data := make([]byte, 5*memChunk+777)
	rng.Read(data)
	s := New(int64(3*memChunk + 100))
	defer s.Close()
	check := func(upTo int) {
		t.Helper()
		for i := 0; i < 200; i++ {
			off := rng.Intn(upTo)
			size := 1 + rng.Intn(3*memChunk)
			buf := make([]byte, size)
			n, err := s.ReadAt(buf, int64(off))
			end := min(off+size, upTo)
			if n != end-off || !bytes.Equal(buf[:n], data[off:end]) || (end < off+size) != (err == io.EOF) {
				t.Fatalf("ReadAt(%d bytes at %d) of %d: %d, %v", size, off, upTo, n, err)
			}
		}
	}
	written := 0
	for written < 3*memChunk {
		k := min(1+rng.Intn(20000), 3*memChunk-written)
		s.Write(data[written : written+k])
		written += k
		if s.file != nil {
			t.Fatal("spilled within the memory limit")
		}
		check(written)
	}
	if len(s.mem) != 3 || cap(s.mem[0]) != memChunk {
		t.Fatalf("%d chunks in memory, the first of %d bytes", len(s.mem), cap(s.mem[0]))
	}
	s.Write(data[written:])
	if s.file == nil || s.mem != nil {
		t.Fatal("did not spill past the memory limit")
	}
	check(len(data))
}

// BenchmarkSpoolWrite: 64 MiB written in 256 KiB pieces past the memory
// limit: the key stream and the file's writes.
func BenchmarkSpoolWrite(b *testing.B) {
	data := make([]byte, 256<<10)
	b.SetBytes(64 << 20)
	for b.Loop() {
		s := New(64 << 10)
		for range 256 {
			if _, err := s.Write(data); err != nil {
				b.Fatal(err)
			}
		}
		s.Close()
	}
}

// One large write is encrypted and written a batch at a time: what the
// spool holds pending stays under two batches, and the content reads
// back whole.
func TestSpoolLargeWriteBatched(t *testing.T) {
	data := make([]byte, 8<<20+123)
	rand.Read(data)
	s := New(64 << 10)
	defer s.Close()
	s.Write(data[:100])
	if _, err := s.Write(data[100:]); err != nil {
		t.Fatal(err)
	}
	if c := cap(s.pending); c > 2*writeBatch+memChunk {
		t.Errorf("pending holds %d bytes after one write of 8 MiB", c)
	}
	got, err := io.ReadAll(s.Reader())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (equal %v): %v", len(got), bytes.Equal(got, data), err)
	}
}

// A write that fails (here: the spool's file closed under it) fails
// every later one too: what the spool holds is no longer the content.
func TestSpoolWriteFailureSticks(t *testing.T) {
	s := New(1 << 10)
	defer s.Close()
	if _, err := s.Write(make([]byte, 4<<10)); err != nil || s.file == nil {
		t.Fatalf("test set-up: %v, spilled %v", err, s.file != nil)
	}
	s.file.Close()
	if _, err := s.Write(make([]byte, 1<<20)); err == nil {
		t.Fatal("a write to a closed file succeeded")
	}
	if n, err := s.Write([]byte("x")); err == nil || n != 0 {
		t.Errorf("the next write: %d, %v", n, err)
	}
}

// Where the OS kept the file's name while it was open (Windows refuses to
// remove an open file), Close removes it.
func TestSpoolCloseRemovesFileLeftBehind(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	s := New(0)
	if _, err := s.Write([]byte("secret")); err != nil {
		t.Fatal(err)
	}
	name := s.file.Name()
	// As on Windows: the name is still there.
	if err := os.WriteFile(name, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.unlinked = false
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Fatalf("%s left behind: %v", name, err)
	}
}
