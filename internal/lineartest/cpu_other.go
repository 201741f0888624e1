//go:build !linux

package lineartest

import "time"

// CPU is the time f takes: the wall clock's where the thread's processor
// time is not read.
func CPU(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}
