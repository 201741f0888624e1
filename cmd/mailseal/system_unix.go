//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
)

// openTerminal opens the controlling terminal, /dev/tty: the prompt goes
// to out and the passphrase is read from in.
func openTerminal() (in, out *os.File, err error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	return tty, tty, err
}

// shellCommand runs cmdline with sh -c.
func shellCommand(cmdline string) *exec.Cmd { return exec.Command("sh", "-c", cmdline) }

// programName is the name the program was run by, from argv[0].
func programName(arg0 string) string { return filepath.Base(arg0) }
