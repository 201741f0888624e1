package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// openTerminal opens the console: the passphrase is read from CONIN$ and
// the prompt goes to CONOUT$.
func openTerminal() (in, out *os.File, err error) {
	in, err = os.OpenFile("CONIN$", os.O_RDWR, 0)
	if err != nil {
		return nil, nil, err
	}
	out, err = os.OpenFile("CONOUT$", os.O_WRONLY, 0)
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	return in, out, nil
}

// shellCommand runs cmdline with cmd.exe /c (%ComSpec%), which takes the
// rest of its command line as it is: /s strips only the outer quotes.
func shellCommand(cmdline string) *exec.Cmd {
	shell := os.Getenv("ComSpec")
	if shell == "" {
		shell = "cmd.exe"
	}
	cmd := exec.Command(shell)
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `"` + shell + `" /d /s /c "` + cmdline + `"`}
	return cmd
}

// programName is the name the program was run by, from argv[0], without
// .exe and in lower case, as Windows compares names.
func programName(arg0 string) string {
	return strings.TrimSuffix(strings.ToLower(filepath.Base(arg0)), ".exe")
}
