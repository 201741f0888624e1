//go:build unix

package batch

import "golang.org/x/sys/unix"

// openFileLimit is the process's limit on open files (RLIMIT_NOFILE),
// and whether it could be read.
func openFileLimit() (int, bool) {
	var l unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &l); err != nil || l.Cur > 1<<30 {
		return 0, false
	}
	return int(l.Cur), true
}
