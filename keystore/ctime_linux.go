package keystore

import (
	"io/fs"
	"strconv"
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

// fileID is the file's device and inode numbers: which file a path (a
// link) names, where its size and times may not tell two apart.
func fileID(info fs.FileInfo) string {
	switch st := info.Sys().(type) {
	case *syscall.Stat_t:
		return strconv.FormatUint(st.Dev, 10) + "." + strconv.FormatUint(st.Ino, 10)
	case *unix.Stat_t:
		return strconv.FormatUint(st.Dev, 10) + "." + strconv.FormatUint(st.Ino, 10)
	}
	return ""
}
