package keystore

import (
	"io/fs"
	"syscall"
)

// changeTime is the file's status change time (ctime) in nanoseconds,
// which no utime call sets back: a file rewritten with its old
// modification time kept (cp -p, rsync -a) still shows as changed.
func changeTime(info fs.FileInfo) int64 {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return st.Ctimespec.Nano()
	}
	return 0
}
