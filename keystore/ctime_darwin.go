package keystore

import (
	"io/fs"
	"strconv"
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

// fileID is the file's device and inode numbers: which file a path (a
// link) names, where its size and times may not tell two apart.
func fileID(info fs.FileInfo) string {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return strconv.FormatInt(int64(st.Dev), 10) + "." + strconv.FormatUint(st.Ino, 10)
	}
	return ""
}
