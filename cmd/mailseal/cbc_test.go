package main

import (
	"os"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mailseal/mailseal/internal/cmstest"
)

// cbcflip IN OUT iv|blockN BYTE: flips bit 0 of byte BYTE of the IV, or of
// ciphertext block N, of the S/MIME CBC message IN, and writes OUT.
func cmdCBCFlip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: cbcflip IN OUT iv|blockN BYTE")
	}
	at, err := strconv.Atoi(args[3])
	ts.Check(err)
	out, err := cmstest.RewriteBody([]byte(ts.ReadFile(args[0])), func(der []byte) error {
		return cmstest.FlipCBC(der, args[2], at)
	})
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), out, 0o644))
}
