// Package sop is mailseal's Stateless OpenPGP command-line interface
// (draft-dkg-openpgp-stateless-cli): `mailseal sop SUBCOMMAND`. Keys and
// certificates come only from the files named on the command line, never
// from the keystore. Every cryptographic operation goes through the pgp
// engine, the same code that handles mail.
package sop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
	"github.com/mailseal/mailseal/pgp"
)

// Exit codes of the SOP specification.
const (
	exitOK                   = 0
	exitNoSignature          = 3
	exitUnsupportedAsymAlgo  = 13
	exitCertCannotEncrypt    = 17
	exitMissingArg           = 19
	exitIncompleteVerify     = 23
	exitCannotDecrypt        = 29
	exitPasswordNotHuman     = 31
	exitUnsupportedOption    = 37
	exitBadData              = 41
	exitExpectedText         = 53
	exitOutputExists         = 59
	exitMissingInput         = 61
	exitKeyIsProtected       = 67
	exitUnsupportedSubcmd    = 69
	exitUnsupportedSpecial   = 71
	exitAmbiguousInput       = 73
	exitKeyCannotSign        = 79
	exitIncompatibleOptions  = 83
	exitUnsupportedProfile   = 89
	exitUnsupportedSubcmdOpt = 37
)

// Version is what `sop version` prints after the name.
var Version = "0.3"

// sopError carries an exit code.
type sopError struct {
	code int
	msg  string
}

func (e *sopError) Error() string { return e.msg }

func fail(code int, format string, args ...any) error {
	return &sopError{code: code, msg: fmt.Sprintf(format, args...)}
}

// Env is what a run sees of the world.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Policy         core.Policy
}

// Run executes one SOP subcommand and returns its exit code.
func Run(args []string, env Env) int {
	err := run(args, env)
	if err == nil {
		return exitOK
	}
	var se *sopError
	if errors.As(err, &se) {
		fmt.Fprintf(env.Stderr, "mailseal sop: %s\n", strings.Join(strings.Fields(se.msg), " "))
		return se.code
	}
	fmt.Fprintf(env.Stderr, "mailseal sop: %s\n", strings.Join(strings.Fields(err.Error()), " "))
	switch {
	case errors.Is(err, core.ErrLocked):
		return exitKeyIsProtected
	case errors.Is(err, core.ErrNoKey):
		return exitCannotDecrypt
	case errors.Is(err, core.ErrIntegrity):
		return exitCannotDecrypt
	case errors.Is(err, core.ErrUsage):
		return exitUnsupportedOption
	}
	return exitBadData
}

// options are the parsed arguments of a subcommand.
type options struct {
	values map[string][]string
	flags  map[string]bool
	pos    []string
}

// parse reads --name=value options (valueOpts), --name switches (flagOpts)
// and positional arguments; "--" ends the options. Where --no-armor is
// allowed, so is --armor (the default; the last of the two counts).
func parse(args []string, valueOpts, flagOpts []string) (*options, error) {
	o := &options{values: map[string][]string{}, flags: map[string]bool{}}
	isValue := map[string]bool{}
	for _, v := range valueOpts {
		isValue[v] = true
	}
	isFlag := map[string]bool{}
	for _, f := range flagOpts {
		isFlag[f] = true
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			o.pos = append(o.pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "--") {
			o.pos = append(o.pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(a[2:], "=")
		switch {
		case isValue[name] && hasValue:
			o.values[name] = append(o.values[name], value)
		case isValue[name] && i+1 < len(args):
			i++
			o.values[name] = append(o.values[name], args[i])
		case isValue[name]:
			return nil, fail(exitMissingArg, "--%s needs a value", name)
		case isFlag[name] && !hasValue:
			o.flags[name] = true
		case name == "armor" && isFlag["no-armor"] && !hasValue:
			// pgpainless-cli's --[no-]armor: --armor states the default.
			o.flags["no-armor"] = false
		default:
			return nil, fail(exitUnsupportedOption, "unsupported option %s", a)
		}
	}
	return o, nil
}

func (o *options) one(name string) string {
	if v := o.values[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// readInput reads a named input: @ENV:NAME, @FD:N, or a file name.
func readInput(name string) ([]byte, error) {
	switch {
	case strings.HasPrefix(name, "@ENV:"):
		v, ok := os.LookupEnv(name[5:])
		if !ok {
			return nil, fail(exitMissingInput, "environment variable %s is not set", name[5:])
		}
		return []byte(v), nil
	case strings.HasPrefix(name, "@FD:"):
		fd, err := strconv.Atoi(name[4:])
		if err != nil || fd < 0 {
			return nil, fail(exitUnsupportedSpecial, "bad file descriptor in %s", name)
		}
		f := os.NewFile(uintptr(fd), name)
		if f == nil {
			return nil, fail(exitMissingInput, "no file descriptor %d", fd)
		}
		defer f.Close()
		return io.ReadAll(f)
	case strings.HasPrefix(name, "@"):
		if _, err := os.Stat(name); err == nil {
			return nil, fail(exitAmbiguousInput, "%s is both a file and a special designator", name)
		}
		return nil, fail(exitUnsupportedSpecial, "unsupported special designator %s", name)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fail(exitMissingInput, "%v", err)
	}
	return data, nil
}

// openOutput opens a named output that must not exist yet (or @FD:N).
func openOutput(name string) (io.WriteCloser, error) {
	if strings.HasPrefix(name, "@FD:") {
		fd, err := strconv.Atoi(name[4:])
		if err != nil || fd < 0 {
			return nil, fail(exitUnsupportedSpecial, "bad file descriptor in %s", name)
		}
		return os.NewFile(uintptr(fd), name), nil
	}
	if strings.HasPrefix(name, "@") {
		return nil, fail(exitUnsupportedSpecial, "unsupported special designator %s", name)
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fail(exitOutputExists, "%s exists already", name)
		}
		return nil, fail(exitMissingInput, "%v", err)
	}
	return f, nil
}

// password reads a password input; trailing white space is dropped.
func password(name string) ([]byte, error) {
	data, err := readInput(name)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(data) {
		return nil, fail(exitPasswordNotHuman, "the password in %s is not UTF-8", name)
	}
	return bytes.TrimRight(data, " \t\r\n"), nil
}

// readKeys reads keys or certificates (armored or binary) from named inputs.
func readKeys(names []string, what string) (openpgp.EntityList, error) {
	var all openpgp.EntityList
	for _, n := range names {
		data, err := readInput(n)
		if err != nil {
			return nil, err
		}
		list, err := parseKeys(data)
		if err != nil || len(list) == 0 {
			return nil, fail(exitBadData, "%s: not OpenPGP %s: %v", n, what, err)
		}
		all = append(all, list...)
	}
	return all, nil
}

// parseKeys reads binary or armored keys (every armored block: a file of
// concatenated armored certificates is a keyring).
func parseKeys(data []byte) (openpgp.EntityList, error) {
	if _, err := dearmorAll(data); err != nil {
		return nil, err // the SOP error for bad armor
	}
	return pgp.ReadKeys(data)
}

// unlock decrypts the secret keys of list with one of the passwords.
func unlock(list openpgp.EntityList, passwords [][]byte) error {
	for _, e := range list {
		if !pgp.Locked(e) {
			continue
		}
		ok := false
		for _, p := range passwords {
			if e.DecryptPrivateKeys(p) == nil {
				ok = true
				break
			}
		}
		if !ok {
			return fail(exitKeyIsProtected, "the key %s is protected; give its password with --with-key-password", pgp.Fingerprint(e.PrimaryKey))
		}
	}
	return nil
}

func keyPasswords(o *options) ([][]byte, error) { return passwords(o, "with-key-password") }

// passwords reads every password named by the option.
func passwords(o *options, option string) ([][]byte, error) {
	var out [][]byte
	for _, n := range o.values[option] {
		p, err := password(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// maybeArmor wraps w in armor unless --no-armor.
func maybeArmor(w io.Writer, o *options, blockType string) io.WriteCloser {
	if o.flags["no-armor"] {
		return nopCloser{w}
	}
	return armor.NewWriter(w, blockType)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// dearmorAll returns binary data: data as is, or its armored blocks
// decoded, one after the other.
func dearmorAll(data []byte) ([]byte, error) {
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
		return data, nil
	}
	blocks, err := armor.DecodeAll(data)
	if err != nil {
		return nil, fail(exitBadData, "bad armor: %v", err)
	}
	var out []byte
	for _, b := range blocks {
		out = append(out, b.Data...)
	}
	return out, nil
}

// parseDate reads --not-before/--not-after: ISO 8601, "-" (none) or "now".
func parseDate(v string, def time.Time) (time.Time, error) {
	switch v {
	case "":
		return def, nil
	case "-":
		return time.Time{}, nil
	case "now":
		return time.Now(), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05Z0700", "20060102T150405Z", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fail(exitUnsupportedOption, "unreadable date %q", v)
}

// verificationLine is one line of VERIFICATIONS.
func verificationLine(s core.Signature) string {
	mode := s.Mode
	if mode == "" {
		mode = "binary"
	}
	return fmt.Sprintf("%s %s %s mode:%s", s.Created.UTC().Format("2006-01-02T15:04:05Z"), s.SigningKey, s.Fingerprint, mode)
}

// goodSigners keeps the valid signatures made within [notBefore, notAfter].
func goodSigners(signers []core.Signature, notBefore, notAfter time.Time) []core.Signature {
	var out []core.Signature
	for _, s := range signers {
		if s.Status != core.SignerGood {
			continue
		}
		if !notBefore.IsZero() && s.Created.Before(notBefore) || !notAfter.IsZero() && s.Created.After(notAfter) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// blockTypeOf names the armor block type for binary OpenPGP data.
func blockTypeOf(data []byte) string {
	p, err := packet.Read(bytes.NewReader(data))
	switch p.(type) {
	case *packet.PrivateKey:
		if pk := p.(*packet.PrivateKey); err == nil && pk != nil {
			return "PGP PRIVATE KEY BLOCK"
		}
	case *packet.PublicKey:
		return "PGP PUBLIC KEY BLOCK"
	case *packet.Signature:
		return "PGP SIGNATURE"
	}
	return "PGP MESSAGE"
}
