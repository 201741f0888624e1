//go:build !purego

package armor

import (
	"crypto/rand"
	"testing"
)

// The carry-less multiplication is given at most crcRun bytes a call (a
// goroutine in the assembly is out of the scheduler's reach), and a long
// input in several calls gives the tables' CRC.
func TestCRC24Runs(t *testing.T) {
	if !haveCLMUL {
		t.Skip("no carry-less multiplication here")
	}
	asmCalls.Record(t)
	data := make([]byte, 3*crcRun+77)
	rand.Read(data)
	if got, want := crc24Update(crc24Init, data), crc24Table(crc24Init, data); got != want {
		t.Fatalf("%06x, tables %06x", got, want)
	}
	if calls, most := asmCalls.Calls(); calls < 4 || most > crcRun {
		t.Fatalf("%d calls, the largest %d bytes", calls, most)
	}
}
