package sop

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
	"github.com/mailseal/mailseal/internal/spool"
	"github.com/mailseal/mailseal/pgp"
)

// maxInput bounds data read whole (keys, signatures, inline-signed text).
const maxInput = 256 << 20

func readAll(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fail(exitBadData, "reading input: %v", err)
	}
	if len(data) > maxInput {
		return nil, fail(exitBadData, "input larger than %d MiB", maxInput>>20)
	}
	return data, nil
}

// stdinKeys reads the keys or certificates given on standard input.
func stdinKeys(env Env) (openpgp.EntityList, error) {
	data, err := readAll(env.Stdin)
	if err != nil {
		return nil, err
	}
	keys, err := parseKeys(data)
	if err != nil || len(keys) == 0 {
		return nil, fail(exitBadData, "no OpenPGP key on input: %v", err)
	}
	return keys, nil
}

// subcommands lists what run takes, for the usage and the help.
const subcommands = "version, list-profiles, generate-key, extract-cert, change-key-password, revoke-key, sign, verify, encrypt, decrypt, armor, dearmor, inline-sign, inline-verify, inline-detach"

func run(args []string, env Env) error {
	if len(args) == 0 {
		return fail(exitUnsupportedSubcmd, "no subcommand (%s)", subcommands)
	}
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
		_, err := fmt.Fprintf(env.Stdout, "mailseal sop: the Stateless OpenPGP command-line interface (draft-dkg-openpgp-stateless-cli) over mailseal's OpenPGP engine.\nUsage: mailseal sop SUBCOMMAND [OPTIONS...]\nSubcommands: %s\n", subcommands)
		return err
	}
	e := pgp.New(env.Policy)
	sub, rest := args[0], args[1:]
	switch sub {
	case "version":
		return cmdVersion(rest, env)
	case "list-profiles":
		return cmdListProfiles(rest, env)
	case "generate-key":
		return cmdGenerateKey(rest, env)
	case "extract-cert":
		return cmdExtractCert(rest, env)
	case "change-key-password":
		return cmdChangeKeyPassword(rest, env)
	case "revoke-key":
		return cmdRevokeKey(rest, env, e)
	case "sign":
		return cmdSign(rest, env, e)
	case "verify":
		return cmdVerify(rest, env, e)
	case "encrypt":
		return cmdEncrypt(rest, env, e)
	case "decrypt":
		return cmdDecrypt(rest, env, e)
	case "armor":
		return cmdArmor(rest, env)
	case "dearmor":
		return cmdDearmor(rest, env)
	case "inline-sign":
		return cmdInlineSign(rest, env, e)
	case "inline-verify":
		return cmdInlineVerify(rest, env, e)
	case "inline-detach":
		return cmdInlineDetach(rest, env)
	}
	return fail(exitUnsupportedSubcmd, "unsupported subcommand %q", sub)
}

func cmdVersion(args []string, env Env) error {
	o, err := parse(args, nil, []string{"backend", "extended", "sop-spec", "sopv"})
	if err != nil {
		return err
	}
	switch {
	case o.flags["backend"]:
		fmt.Fprintln(env.Stdout, "github.com/ProtonMail/go-crypto (openpgp/v2)")
	case o.flags["sop-spec"]:
		fmt.Fprintln(env.Stdout, "~draft-dkg-openpgp-stateless-cli-11")
	case o.flags["sopv"]:
		fmt.Fprintln(env.Stdout, "1.0")
	case o.flags["extended"]:
		fmt.Fprintf(env.Stdout, "mailseal %s\ngithub.com/ProtonMail/go-crypto (openpgp/v2)\nthe same OpenPGP engine as mailseal's PGP/MIME\n", Version)
	default:
		fmt.Fprintf(env.Stdout, "mailseal %s\n", Version)
	}
	return nil
}

var keyProfiles = []string{
	"default: v4 Ed25519 with an X25519 encryption subkey (read by GnuPG 2.2 and every mail client)",
	"rfc9580: v6 Ed25519/X25519 keys that prefer AEAD (SEIPDv2)",
}

func cmdListProfiles(args []string, env Env) error {
	o, err := parse(args, nil, nil)
	if err != nil {
		return err
	}
	if len(o.pos) != 1 {
		return fail(exitMissingArg, "list-profiles needs a subcommand")
	}
	switch o.pos[0] {
	case "generate-key":
		for _, p := range keyProfiles {
			fmt.Fprintln(env.Stdout, p)
		}
		return nil
	case "encrypt":
		fmt.Fprintln(env.Stdout, "default: SEIPDv2 (AEAD) when every recipient supports it, else SEIPDv1")
		return nil
	}
	return fail(exitUnsupportedProfile, "no profiles for %q", o.pos[0])
}

func cmdGenerateKey(args []string, env Env) error {
	o, err := parse(args, []string{"with-key-password", "profile"}, []string{"no-armor", "signing-only"})
	if err != nil {
		return err
	}
	profile := o.one("profile")
	if profile != "" && profile != "default" && profile != "rfc9580" {
		return fail(exitUnsupportedProfile, "unknown profile %q (see list-profiles generate-key)", profile)
	}
	if len(o.pos) == 0 {
		return fail(exitMissingArg, "generate-key needs a user ID")
	}
	k, err := pgp.NewKey(pgp.KeyOptions{UserIDs: o.pos, Profile: profile, SigningOnly: o.flags["signing-only"]})
	if err != nil {
		return fail(exitBadData, "%v", err)
	}
	if len(o.values["with-key-password"]) > 0 {
		p, err := password(o.one("with-key-password"))
		if err != nil {
			return err
		}
		if err := pgp.ProtectKey(k, p); err != nil {
			return err
		}
	}
	w := maybeArmor(env.Stdout, o, "PGP PRIVATE KEY BLOCK")
	if err := k.SerializePrivateWithoutSigning(w, nil); err != nil {
		return err
	}
	return w.Close()
}

func cmdExtractCert(args []string, env Env) error {
	o, err := parse(args, nil, []string{"no-armor"})
	if err != nil {
		return err
	}
	keys, err := stdinKeys(env)
	if err != nil {
		return err
	}
	w := maybeArmor(env.Stdout, o, "PGP PUBLIC KEY BLOCK")
	for _, k := range keys {
		if err := k.Serialize(w); err != nil {
			return err
		}
	}
	return w.Close()
}

func cmdChangeKeyPassword(args []string, env Env) error {
	o, err := parse(args, []string{"new-key-password", "old-key-password"}, []string{"no-armor"})
	if err != nil {
		return err
	}
	keys, err := stdinKeys(env)
	if err != nil {
		return err
	}
	old, err := passwords(o, "old-key-password")
	if err != nil {
		return err
	}
	if err := unlock(keys, old); err != nil {
		return err
	}
	if n := o.one("new-key-password"); n != "" {
		p, err := password(n)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := pgp.ProtectKey(k, p); err != nil {
				return err
			}
		}
	}
	w := maybeArmor(env.Stdout, o, "PGP PRIVATE KEY BLOCK")
	for _, k := range keys {
		if err := k.SerializePrivateWithoutSigning(w, nil); err != nil {
			return err
		}
	}
	return w.Close()
}

func cmdRevokeKey(args []string, env Env, e *pgp.Engine) error {
	o, err := parse(args, []string{"with-key-password"}, []string{"no-armor"})
	if err != nil {
		return err
	}
	keys, err := stdinKeys(env)
	if err != nil {
		return err
	}
	pw, err := keyPasswords(o)
	if err != nil {
		return err
	}
	if err := unlock(keys, pw); err != nil {
		return err
	}
	w := maybeArmor(env.Stdout, o, "PGP PUBLIC KEY BLOCK")
	for _, k := range keys {
		if err := k.Revoke(packet.NoReason, "", e.Config()); err != nil {
			return fail(exitBadData, "revoking %s: %v", pgp.Fingerprint(k.PrimaryKey), err)
		}
		if err := k.Serialize(w); err != nil {
			return err
		}
	}
	return w.Close()
}

// signers reads and unlocks the KEYS of sign, inline-sign and --sign-with.
func signers(names []string, o *options) (openpgp.EntityList, error) {
	keys, err := readKeys(names, "keys")
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if k.PrivateKey == nil {
			return nil, fail(exitBadData, "%s is a certificate, not a secret key", pgp.Fingerprint(k.PrimaryKey))
		}
	}
	pw, err := keyPasswords(o)
	if err != nil {
		return nil, err
	}
	return keys, unlock(keys, pw)
}

func signError(err error) error {
	if errors.Is(err, core.ErrLocked) {
		return fail(exitKeyIsProtected, "%v", err)
	}
	if errors.Is(err, core.ErrNoKey) {
		return fail(exitKeyCannotSign, "%v", err)
	}
	return err
}

func textMode(o *options, allowed ...string) (string, error) {
	as := o.one("as")
	if as == "" {
		return "binary", nil
	}
	for _, a := range allowed {
		if as == a {
			return as, nil
		}
	}
	return "", fail(exitUnsupportedOption, "--as=%s is not supported here", as)
}

func cmdSign(args []string, env Env, e *pgp.Engine) error {
	o, err := parse(args, []string{"as", "micalg-out", "with-key-password"}, []string{"no-armor"})
	if err != nil {
		return err
	}
	as, err := textMode(o, "binary", "text")
	if err != nil {
		return err
	}
	if len(o.pos) == 0 {
		return fail(exitMissingArg, "sign needs KEYS")
	}
	keys, err := signers(o.pos, o)
	if err != nil {
		return err
	}
	data, err := readAll(env.Stdin)
	if err != nil {
		return err
	}
	if as == "text" && !utf8.Valid(data) {
		return fail(exitExpectedText, "--as=text needs UTF-8 input")
	}
	var sig bytes.Buffer
	w, err := e.SignData(&sig, keys, pgp.DataOptions{Armor: !o.flags["no-armor"], Text: as == "text"})
	if err != nil {
		return signError(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		return err
	}
	if n := o.one("micalg-out"); n != "" {
		m, err := e.Micalg(keys[0])
		if err != nil {
			return signError(err)
		}
		out, err := openOutput(n)
		if err != nil {
			return err
		}
		io.WriteString(out, m)
		out.Close()
	}
	_, err = env.Stdout.Write(sig.Bytes())
	return err
}

func cmdVerify(args []string, env Env, e *pgp.Engine) error {
	o, err := parse(args, []string{"not-before", "not-after"}, nil)
	if err != nil {
		return err
	}
	if len(o.pos) < 2 {
		return fail(exitMissingArg, "verify needs SIGNATURES and CERTS")
	}
	notBefore, err := parseDate(o.one("not-before"), time.Time{})
	if err != nil {
		return err
	}
	notAfter, err := parseDate(o.one("not-after"), time.Now())
	if err != nil {
		return err
	}
	sigData, err := readInput(o.pos[0])
	if err != nil {
		return err
	}
	certs, err := readKeys(o.pos[1:], "certificates")
	if err != nil {
		return err
	}
	signers, _, err := e.VerifyDetached(env.Stdin, bytes.NewReader(sigData), certs)
	if err != nil {
		return fail(exitBadData, "%v", err)
	}
	good := goodSigners(signers, notBefore, notAfter)
	if len(good) == 0 {
		return fail(exitNoSignature, "no acceptable signature")
	}
	for _, s := range good {
		fmt.Fprintln(env.Stdout, verificationLine(s))
	}
	return nil
}

func cmdEncrypt(args []string, env Env, e *pgp.Engine) error {
	o, err := parse(args, []string{"as", "with-password", "sign-with", "with-key-password", "profile", "session-key-out"}, []string{"no-armor"})
	if err != nil {
		return err
	}
	if len(o.values["session-key-out"]) > 0 {
		return fail(exitUnsupportedOption, "--session-key-out is not supported")
	}
	if p := o.one("profile"); p != "" && p != "default" {
		return fail(exitUnsupportedProfile, "unknown profile %q", p)
	}
	as, err := textMode(o, "binary", "text")
	if err != nil {
		return err
	}
	msgPasswords, err := passwords(o, "with-password")
	if err != nil {
		return err
	}
	certs, err := readKeys(o.pos, "certificates")
	if err != nil {
		return err
	}
	if len(certs) == 0 && len(msgPasswords) == 0 {
		return fail(exitMissingArg, "encrypt needs CERTS or --with-password")
	}
	for _, c := range certs {
		if err := e.CheckRecipient(c); err != nil {
			return fail(exitCertCannotEncrypt, "%v", err)
		}
	}
	var sigKeys openpgp.EntityList
	if len(o.values["sign-with"]) > 0 {
		if sigKeys, err = signers(o.values["sign-with"], o); err != nil {
			return err
		}
	}
	w, err := e.EncryptData(env.Stdout, certs, sigKeys, msgPasswords, pgp.DataOptions{Armor: !o.flags["no-armor"], Text: as == "text"})
	if err != nil {
		return signError(err)
	}
	_, err = io.Copy(w, env.Stdin)
	if cerr := w.Close(); err == nil { // Close even after an error: it ends the pipeline
		err = cerr
	}
	return err
}

// decryptWithPasswords decrypts stdin with kr and each message password in
// turn: a wrong password is often seen only once the data is decrypted
// (e.g. gpg -c writes no encrypted session key), so each one gets a whole
// read of the message, kept in a spool when there are several. Data that
// decrypts to garbage may then fail any check, integrity included, so
// only the last password's failure ends the search.
func decryptWithPasswords(e *pgp.Engine, env Env, kr pgp.Keyring, passwords [][]byte) (*pgp.Decrypted, error) {
	if len(passwords) <= 1 {
		if len(passwords) == 1 {
			kr.Password = func() ([]byte, error) { return passwords[0], nil }
		}
		return e.Decrypt(env.Stdin, kr)
	}
	ct := spool.New(env.Policy.MaxMemorySpool)
	defer ct.Close()
	if _, err := io.Copy(ct, env.Stdin); err != nil {
		return nil, fmt.Errorf("reading the message: %v: %w", err, core.ErrInput)
	}
	var errs []error
	for _, pw := range passwords {
		kr.Password = func() ([]byte, error) { return pw, nil }
		d, err := e.Decrypt(ct.Reader(), kr)
		if err == nil || !errors.Is(err, core.ErrLocked) && !errors.Is(err, core.ErrIntegrity) {
			return d, err
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("none of the %d passwords decrypts the message: %w", len(passwords), errors.Join(errs...))
}

func cmdDecrypt(args []string, env Env, e *pgp.Engine) error {
	o, err := parse(args, []string{"session-key-out", "with-session-key", "with-password", "with-key-password",
		"verifications-out", "verify-with", "verify-not-before", "verify-not-after", "verify-out"}, nil)
	if err != nil {
		return err
	}
	var sessionKeys []pgp.SessionKey
	for _, name := range o.values["with-session-key"] {
		data, err := readInput(name)
		if err != nil {
			return err
		}
		sk, err := pgp.ParseSessionKey(string(data))
		if err != nil {
			return fail(exitBadData, "%s: %v", name, err)
		}
		sessionKeys = append(sessionKeys, sk)
	}
	verOut := o.one("verifications-out")
	if verOut == "" {
		verOut = o.one("verify-out")
	}
	if verOut != "" && len(o.values["verify-with"]) == 0 {
		return fail(exitIncompleteVerify, "--verifications-out needs --verify-with")
	}
	keys, err := readKeys(o.pos, "keys")
	if err != nil {
		return err
	}
	certs, err := readKeys(o.values["verify-with"], "certificates")
	if err != nil {
		return err
	}
	pw, err := keyPasswords(o)
	if err != nil {
		return err
	}
	msgPasswords, err := passwords(o, "with-password")
	if err != nil {
		return err
	}
	if len(keys) == 0 && len(msgPasswords) == 0 && len(sessionKeys) == 0 {
		return fail(exitMissingArg, "decrypt needs KEYS, --with-password or --with-session-key")
	}
	notBefore, err := parseDate(o.one("verify-not-before"), time.Time{})
	if err != nil {
		return err
	}
	notAfter, err := parseDate(o.one("verify-not-after"), time.Now())
	if err != nil {
		return err
	}
	kr := pgp.Keyring{Certs: certs, Secrets: keys, SessionKeys: sessionKeys, ReportSessionKey: o.one("session-key-out") != "",
		Unlock: func(ent *openpgp.Entity) error { return unlock(openpgp.EntityList{ent}, pw) }}
	d, err := decryptWithPasswords(e, env, kr, msgPasswords)
	if err != nil {
		var se *sopError
		if errors.As(err, &se) {
			return err
		}
		if errors.Is(err, core.ErrInput) {
			return fail(exitBadData, "%v", err)
		}
		if errors.Is(err, core.ErrLocked) && len(keys) > 0 && len(msgPasswords) == 0 {
			return fail(exitKeyIsProtected, "%v", err)
		}
		return fail(exitCannotDecrypt, "%v", err)
	}
	defer d.Close()
	if !d.Encrypted {
		return fail(exitBadData, "the input is not encrypted")
	}
	if name := o.one("session-key-out"); name != "" {
		if d.SessionKey == nil {
			return fail(exitUnsupportedOption, "no session key can be reported for this message")
		}
		out, err := openOutput(name)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, d.SessionKey)
		if err := out.Close(); err != nil {
			return err
		}
	}
	if verOut != "" {
		out, err := openOutput(verOut)
		if err != nil {
			return err
		}
		for _, s := range goodSigners(d.Signers, notBefore, notAfter) {
			fmt.Fprintln(out, verificationLine(s))
		}
		out.Close()
	}
	_, err = io.Copy(env.Stdout, d.Body)
	return err
}

func cmdArmor(args []string, env Env) error {
	o, err := parse(args, []string{"label"}, nil)
	if err != nil {
		return err
	}
	labels := map[string]string{"sig": "PGP SIGNATURE", "key": "PGP PRIVATE KEY BLOCK",
		"cert": "PGP PUBLIC KEY BLOCK", "message": "PGP MESSAGE"}
	label := o.one("label")
	if label != "" && label != "auto" && labels[label] == "" {
		return fail(exitUnsupportedOption, "--label must be auto, sig, key, cert or message, not %q", label)
	}
	data, err := readAll(env.Stdin)
	if err != nil {
		return err
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN ")) {
		_, err := env.Stdout.Write(data) // already armored
		return err
	}
	blockType := labels[label]
	if blockType == "" {
		blockType = blockTypeOf(data)
	}
	w := armor.NewWriter(env.Stdout, blockType)
	w.Write(data)
	return w.Close()
}

func cmdDearmor(args []string, env Env) error {
	if _, err := parse(args, nil, nil); err != nil {
		return err
	}
	data, err := readAll(env.Stdin)
	if err != nil {
		return err
	}
	bin, err := dearmorAll(data)
	if err != nil {
		return err
	}
	_, err = env.Stdout.Write(bin)
	return err
}

func cmdInlineSign(args []string, env Env, e *pgp.Engine) error {
	o, err := parse(args, []string{"as", "with-key-password"}, []string{"no-armor"})
	if err != nil {
		return err
	}
	as, err := textMode(o, "binary", "text", "clearsigned")
	if err != nil {
		return err
	}
	if as == "clearsigned" && o.flags["no-armor"] {
		return fail(exitIncompatibleOptions, "--as=clearsigned and --no-armor exclude each other")
	}
	if len(o.pos) == 0 {
		return fail(exitMissingArg, "inline-sign needs KEYS")
	}
	keys, err := signers(o.pos, o)
	if err != nil {
		return err
	}
	data, err := readAll(env.Stdin)
	if err != nil {
		return err
	}
	if as != "binary" && !utf8.Valid(data) {
		return fail(exitExpectedText, "--as=%s needs UTF-8 input", as)
	}
	w, err := e.SignInline(env.Stdout, keys, pgp.InlineOptions{Armor: !o.flags["no-armor"], Text: as == "text", Cleartext: as == "clearsigned"})
	if err != nil {
		return signError(err)
	}
	w.Write(data)
	return w.Close()
}

func cmdInlineVerify(args []string, env Env, e *pgp.Engine) error {
	o, err := parse(args, []string{"not-before", "not-after", "verifications-out"}, nil)
	if err != nil {
		return err
	}
	if len(o.pos) == 0 {
		return fail(exitMissingArg, "inline-verify needs CERTS")
	}
	notBefore, err := parseDate(o.one("not-before"), time.Time{})
	if err != nil {
		return err
	}
	notAfter, err := parseDate(o.one("not-after"), time.Now())
	if err != nil {
		return err
	}
	certs, err := readKeys(o.pos, "certificates")
	if err != nil {
		return err
	}
	data, err := readAll(env.Stdin)
	if err != nil {
		return err
	}
	var text []byte
	var signers []core.Signature
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		ct, err := e.VerifyCleartext(bytes.TrimSpace(data), certs)
		if err != nil {
			return fail(exitBadData, "%v", err)
		}
		text, signers = ct.Text, ct.Signers
		if !bytes.Contains(data, []byte("\r\n")) {
			text = bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n")) // the input's line endings
		}
	} else {
		d, err := e.Decrypt(bytes.NewReader(data), pgp.Keyring{Certs: certs})
		if err != nil {
			return fail(exitBadData, "%v", err)
		}
		defer d.Close()
		if d.Encrypted {
			return fail(exitBadData, "the input is encrypted; use decrypt")
		}
		if text, err = io.ReadAll(d.Body); err != nil {
			return err
		}
		signers = d.Signers
	}
	good := goodSigners(signers, notBefore, notAfter)
	if len(good) == 0 {
		return fail(exitNoSignature, "no acceptable signature")
	}
	if n := o.one("verifications-out"); n != "" {
		out, err := openOutput(n)
		if err != nil {
			return err
		}
		for _, s := range good {
			fmt.Fprintln(out, verificationLine(s))
		}
		out.Close()
	}
	_, err = env.Stdout.Write(text)
	return err
}

func cmdInlineDetach(args []string, env Env) error {
	o, err := parse(args, []string{"signatures-out"}, []string{"no-armor"})
	if err != nil {
		return err
	}
	sigOut := o.one("signatures-out")
	if sigOut == "" {
		return fail(exitMissingArg, "inline-detach needs --signatures-out")
	}
	data, err := readAll(env.Stdin)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return detachSignedMessage(data, sigOut, o, env)
	}
	b, _ := clearsign.Decode(bytes.TrimSpace(data))
	if b == nil {
		return fail(exitBadData, "no cleartext-signed message on input")
	}
	sigs, err := io.ReadAll(b.ArmoredSignature.Body)
	if err != nil {
		return fail(exitBadData, "%v", err)
	}
	out, err := openOutput(sigOut)
	if err != nil {
		return err
	}
	w := maybeArmor(out, o, "PGP SIGNATURE")
	w.Write(sigs)
	w.Close()
	out.Close()
	_, err = env.Stdout.Write(b.Plaintext)
	return err
}

// detachSignedMessage splits an inline-signed (one-pass) OpenPGP message
// into its literal data (to stdout) and its signature packets.
func detachSignedMessage(data []byte, sigOut string, o *options, env Env) error {
	bin, err := dearmorAll(data)
	if err != nil {
		return err
	}
	md, err := openpgp.ReadMessage(bytes.NewReader(bin), openpgp.EntityList{}, nil, &packet.Config{})
	if err != nil {
		return fail(exitBadData, "not an inline-signed message: %v", err)
	}
	if md.IsEncrypted {
		return fail(exitBadData, "the message is encrypted, not inline-signed")
	}
	body, err := readAll(md.UnverifiedBody) // fails beyond maxInput rather than cutting the text short
	if err != nil {
		return err
	}
	var sigs bytes.Buffer
	for _, c := range md.SignatureCandidates {
		if c.CorrespondingSig != nil {
			c.CorrespondingSig.Serialize(&sigs)
		}
	}
	if sigs.Len() == 0 {
		return fail(exitBadData, "the message carries no signature")
	}
	out, err := openOutput(sigOut)
	if err != nil {
		return err
	}
	w := maybeArmor(out, o, "PGP SIGNATURE")
	_, err = w.Write(sigs.Bytes())
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", sigOut, err)
	}
	_, err = env.Stdout.Write(body)
	return err
}
