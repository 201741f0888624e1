package keystore

import (
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

// changeTime is the file's status change time (ctime) in nanoseconds,
// which no utime call sets back: a file rewritten with its old
// modification time kept (cp -p, rsync -a) still shows as changed.
func changeTime(info fs.FileInfo) int64 {
	switch st := info.Sys().(type) {
	case *syscall.Stat_t: // os.Stat's
		return st.Ctim.Nano()
	case *unix.Stat_t: // dirFiles'
		return st.Ctim.Nano()
	}
	return 0
}
