package lineartest

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// CPU is the processor time f takes on its own thread, which time spent
// waiting for the processor while other work runs does not count: a test
// comparing two sizes' times is not thrown by a busy machine (a wall
// clock's was, with tests of other packages running beside it).
func CPU(f func()) time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadCPU()
	f()
	return threadCPU() - before
}

// threadCPU is the thread's processor time to the nanosecond
// (getrusage's is counted in scheduler ticks: 0 for a run of half a
// millisecond).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}
