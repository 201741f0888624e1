package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/keystore"
)

func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "manage the keystore: OpenPGP keys and X.509 certificates",
		Subcommands: append([]*cli.Command{
			{
				Name:  "generate",
				Usage: "generate a key pair (--pgp), an S/MIME certificate (--smime) or a CA (--ca); print its fingerprint",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "pgp", Usage: "an OpenPGP key"},
					&cli.BoolFlag{Name: "smime", Usage: "an S/MIME key and certificate (emailProtection, rfc822Name)"},
					&cli.BoolFlag{Name: "ca", Usage: "a CA certificate to issue S/MIME certificates with"},
					&cli.StringFlag{Name: "uid", Usage: "OpenPGP user ID, e.g. `\"Alice <alice@example.org>\"`"},
					&cli.StringFlag{Name: "email", Usage: "S/MIME: the certificate's `ADDRESS`"},
					&cli.StringFlag{Name: "name", Usage: "S/MIME or CA: the subject's common `NAME`"},
					&cli.StringFlag{Name: "issuer", Usage: "S/MIME: issue with the stored CA matching `QUERY`"},
					&cli.BoolFlag{Name: "self-signed", Usage: "S/MIME: a self-signed certificate"},
					&cli.StringFlag{Name: "renew", Usage: "S/MIME: renew the certificate matching `QUERY` (same subject, address and issuer; new key and serial)"},
					&cli.StringFlag{Name: "profile", Value: "default", Usage: "OpenPGP: default (v4, read by gpg 2.2 and mail clients) or rfc9580 (v6, AEAD)"},
					&cli.StringFlag{Name: "algo", Usage: "OpenPGP: ed25519 (default), rsa3072, rsa4096; S/MIME and CA: ecdsa-p256 (default), rsa3072, ed25519"},
					&cli.StringFlag{Name: "expires", Usage: "validity, e.g. 2y, 6m, 30d, or never (OpenPGP default: never; S/MIME 2y; CA 10y)"},
					&cli.BoolFlag{Name: "no-passphrase", Usage: "store the secret key unencrypted"},
				},
				Action: keysGenerate,
			},
			{
				Name:      "import",
				Usage:     "import OpenPGP keys, X.509 certificates (PEM, DER, .p7b/.p7c), PKCS#12 files and CRLs from FILEs or stdin",
				ArgsUsage: "[FILE...]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "no-passphrase", Usage: "store unprotected secret keys as they are"},
					&cli.StringFlag{Name: "p12-password-file", Usage: "PKCS#12: the file's own password is the first line of `FILE` (else MAILSEAL_P12_PASSWORD, a prompt, or without a prompt the keystore passphrase); the key is stored under the keystore passphrase"},
				},
				Action: keysImport,
			},
			{
				Name:      "export",
				Usage:     "export OpenPGP keys (one armored keyring) and certificates with their chains (PEM; PKCS#12 with --secret)",
				ArgsUsage: "QUERY... | --all",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "all", Usage: "every key and certificate (with --pgp or --smime, every one of that kind)"},
					&cli.BoolFlag{Name: "secret", Usage: "export the secret key: OpenPGP as stored (encrypted with its passphrase), X.509 as PKCS#12 encrypted with the passphrase"},
					&cli.StringFlag{Name: "format", Usage: "X.509: `pem` (default) or p12 (default with --secret)"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE`"},
					&cli.BoolFlag{Name: "pgp", Usage: "QUERY names an OpenPGP key"},
					&cli.BoolFlag{Name: "smime", Usage: "QUERY names an X.509 certificate"},
					&cli.BoolFlag{Name: "revocation", Usage: "OpenPGP: the revocation certificate keys generate made (for an imported key, made now with the secret key)"},
				},
				Action: keysExport,
			},
			{
				Name:      "list",
				Usage:     "list OpenPGP keys and X.509 certificates",
				ArgsUsage: "[QUERY]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "as JSON"},
					&cli.BoolFlag{Name: "pgp", Usage: "only OpenPGP keys"},
					&cli.BoolFlag{Name: "smime", Usage: "only X.509 certificates"},
					&cli.BoolFlag{Name: "secret", Usage: "only keys and certificates whose secret key is stored"},
				},
				Action: keysList,
			},
			{
				Name:      "delete",
				Usage:     "delete a key or certificate",
				ArgsUsage: "QUERY",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "yes", Usage: "confirm deleting a secret key"},
					&cli.BoolFlag{Name: "pgp", Usage: "QUERY names an OpenPGP key"},
					&cli.BoolFlag{Name: "smime", Usage: "QUERY names an X.509 certificate"},
				},
				Action: keysDelete,
			},
			keysRevokeCommand(),
			keysCRLCommand(),
			{
				Name:      "trust",
				Usage:     "make the certificate matching QUERY a trust anchor for S/MIME",
				ArgsUsage: "QUERY",
				Action:    func(c *cli.Context) error { return keysTrust(c, true) },
			},
			{
				Name:      "untrust",
				Usage:     "stop trusting the certificate matching QUERY (it stays stored)",
				ArgsUsage: "QUERY",
				Action:    func(c *cli.Context) error { return keysTrust(c, false) },
			},
			{
				Name:      "accept",
				Usage:     "accept the OpenPGP key matching QUERY, found on the network, for signatures (until then they are untrusted)",
				ArgsUsage: "QUERY",
				Action:    keysAccept,
			},
			keysLocateCommand(),
			keysRefreshCommand(),
			keysUploadCommand(),
			{
				Name:  "request",
				Usage: "make a key and write a PKCS#10 certificate request (PEM) for a public CA; import the issued certificate later",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "email", Usage: "the `ADDRESS` to certify"},
					&cli.StringFlag{Name: "name", Usage: "the subject's common `NAME`"},
					&cli.StringFlag{Name: "algo", Usage: "ecdsa-p256 (default), rsa3072, ed25519"},
					&cli.BoolFlag{Name: "no-passphrase", Usage: "store the private key unencrypted"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE`"},
				},
				Action: keysRequest,
			},
		}, keysEditCommands()...),
	}
}

func openStore(c *cli.Context) (*keystore.Store, error) {
	home := c.String("home")
	if home == "" {
		home = keystore.DefaultDir()
	}
	return keystore.Open(home)
}

func keysGenerate(c *cli.Context) error {
	kinds := 0
	for _, f := range []string{"pgp", "smime", "ca"} {
		if c.Bool(f) {
			kinds++
		}
	}
	if kinds != 1 {
		return usageErr("keys generate needs one of --pgp, --smime or --ca")
	}
	if c.Bool("smime") || c.Bool("ca") {
		return keysGenerateX509(c)
	}
	if c.String("uid") == "" {
		return usageErr("keys generate needs --uid \"Name <address>\"")
	}
	expires, err := parseExpiry(c.String("expires"))
	if err != nil {
		return err
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	algo := c.String("algo")
	if algo == "" {
		algo = "ed25519"
	}
	opts := keystore.GenerateOptions{
		UID: c.String("uid"), Profile: c.String("profile"), Algo: algo, Expires: expires,
	}
	if !c.Bool("no-passphrase") {
		pass, err := newPassphrases(c).get("the new key")
		if err != nil {
			return fmt.Errorf("%w (or --no-passphrase to store it unencrypted)", err)
		}
		opts.Passphrase = pass
	} else {
		opts.NoPassphrase = true
	}
	info, err := store.GeneratePGP(opts)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, info.Fingerprint)
	return nil
}

// parseExpiry reads 2y, 6m, 3w, 30d, a Go duration, or never/0.
func parseExpiry(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "never" || s == "0" {
		return 0, nil
	}
	unit := map[byte]time.Duration{'y': 365 * 24 * time.Hour, 'm': 30 * 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'd': 24 * time.Hour}
	if u, ok := unit[s[len(s)-1]]; ok {
		n, err := strconv.Atoi(s[:len(s)-1])
		if err == nil && n > 0 {
			return time.Duration(n) * u, nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, usageErr("--expires %q: use e.g. 2y, 6m, 3w, 30d or never", s)
}

func keysImport(c *cli.Context) error {
	store, err := openStore(c)
	if err != nil {
		return err
	}
	pass := newPassphrases(c)
	type input struct {
		name string
		data []byte
	}
	var inputs []input
	if c.NArg() == 0 {
		data, err := io.ReadAll(io.LimitReader(c.App.Reader, 256<<20))
		if err != nil {
			return fmt.Errorf("stdin: %w: %w", err, mailseal.ErrInput)
		}
		inputs = append(inputs, input{"stdin", data})
	}
	for _, name := range c.Args().Slice() {
		data, err := os.ReadFile(name)
		if err != nil {
			return fmt.Errorf("%w: %w", err, mailseal.ErrInput)
		}
		inputs = append(inputs, input{name, data})
	}
	// A file of both kinds (keys export --all) is imported as two.
	var split []input
	for _, in := range inputs {
		for _, part := range keystore.SplitMixed(in.data) {
			split = append(split, input{in.name, part})
		}
	}
	for _, in := range split {
		if keystore.LooksLikeX509(in.data) {
			if err := importX509(c, store, pass, p12Passwords(c), in.name, in.data); err != nil {
				return err
			}
			continue
		}
		var protect []byte
		if keystore.HasUnprotectedSecrets(in.data) && !c.Bool("no-passphrase") {
			p, err := pass.get("protecting the imported secret keys")
			if err != nil {
				return fmt.Errorf("%s: %w (or --no-passphrase to store them unencrypted)", in.name, err)
			}
			protect = p
		}
		// The keys imported before an error are reported too.
		results, err := store.ImportPGP(bytes.NewReader(in.data), protect)
		for _, r := range results {
			uid := ""
			if len(r.UserIDs) > 0 {
				uid = " " + uidText(r.UserIDs[0])
			}
			name := r.Fingerprint
			if name == "" {
				name = "(unreadable key)"
			}
			fmt.Fprintf(visible{c.App.ErrWriter}, "%s%s: %s\n", name, uid, oneLine(strings.Join(r.Changes, ", ")))
		}
		if err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
	}
	return nil
}

func keysExport(c *cli.Context) error {
	if c.Bool("revocation") {
		return keysExportRevocation(c)
	}
	all := c.Bool("all")
	if all == (c.NArg() > 0) {
		return usageErr("keys export needs one or more QUERYs, or --all")
	}
	kind, err := kindFlags(c)
	if err != nil {
		return err
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	// Which queries name which kind: --pgp or --smime, else whichever
	// kind a query matches (a usage error when it matches both).
	var pgpQueries, x509Queries []string
	for _, q := range c.Args().Slice() {
		isX509 := kind == mailseal.ProtocolSMIME
		if kind == "" {
			if isX509, err = queryIsX509(c, store, q); err != nil {
				return err
			}
		}
		if isX509 {
			x509Queries = append(x509Queries, q)
		} else {
			pgpQueries = append(pgpQueries, q)
		}
	}
	doPGP := len(pgpQueries) > 0 || all && kind != mailseal.ProtocolSMIME
	doX509 := len(x509Queries) > 0 || all && kind != mailseal.ProtocolOpenPGP
	secret := c.Bool("secret")
	if secret && doPGP && doX509 {
		return usageErr("keys export --secret writes one kind at a time: add --pgp or --smime")
	}
	var buf bytes.Buffer
	switch {
	case secret && doX509:
		if all || len(x509Queries) != 1 {
			return usageErr("keys export --secret --smime writes one PKCS#12 file: give one QUERY")
		}
		err = exportX509(c, store, x509Queries[0], &buf)
	case all && kind == "":
		// Both kinds, each skipped when the keystore holds none of it.
		errPGP := store.ExportAllPGP(&buf, secret)
		errX509 := store.ExportX509Certs(&buf, nil, true)
		switch {
		case errPGP != nil && !errors.Is(errPGP, mailseal.ErrNoKey):
			err = errPGP
		case errX509 != nil && !errors.Is(errX509, mailseal.ErrNoKey):
			err = errX509
		case errPGP != nil && errX509 != nil:
			err = fmt.Errorf("there are no keys or certificates to export: %w", mailseal.ErrNoKey)
		}
	default:
		if doPGP && all {
			err = store.ExportAllPGP(&buf, secret)
		} else if doPGP {
			err = store.ExportPGPKeys(&buf, pgpQueries, secret)
		}
		if err == nil && doX509 {
			if c.String("format") != "" && c.String("format") != "pem" {
				return usageErr("--format %s is for --secret with one certificate; certificates are exported as PEM", c.String("format"))
			}
			err = store.ExportX509Certs(&buf, x509Queries, all)
		}
	}
	if err != nil {
		return err
	}
	if name := c.String("output"); name != "" {
		return writeFileAtomic(name, buf.Bytes(), secret)
	}
	_, err = c.App.Writer.Write(buf.Bytes())
	return err
}

func keysList(c *cli.Context) error {
	if c.NArg() > 1 {
		return usageErr("keys list takes at most one QUERY")
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	query := c.Args().First()
	infos, err := store.ListPGP(query)
	if err != nil && !errors.Is(err, mailseal.ErrNoKey) {
		return err
	}
	certs, err := store.ListX509(query)
	if err != nil && !errors.Is(err, mailseal.ErrNoKey) {
		return err
	}
	switch kind, err := kindFlags(c); {
	case err != nil:
		return err
	case kind == mailseal.ProtocolSMIME:
		infos = nil
	case kind == mailseal.ProtocolOpenPGP:
		certs = nil
	}
	if c.Bool("secret") {
		infos = slices.DeleteFunc(infos, func(k keystore.KeyInfo) bool { return !k.HasSecret })
		certs = slices.DeleteFunc(certs, func(k keystore.CertInfo) bool { return !k.HasSecret })
	}
	if query != "" && len(infos) == 0 && len(certs) == 0 {
		return fmt.Errorf("no key or certificate matches %q: %w", query, mailseal.ErrNoKey)
	}
	if c.Bool("json") {
		if infos == nil {
			infos = []keystore.KeyInfo{}
		}
		if certs == nil {
			certs = []keystore.CertInfo{}
		}
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // user IDs keep their <>, as in the text listing
		return enc.Encode(struct {
			OpenPGP []keystore.KeyInfo  `json:"openpgp"`
			X509    []keystore.CertInfo `json:"x509"`
		}{infos, certs})
	}
	w := visible{c.App.Writer}
	for _, k := range infos {
		flags := []string{k.Capabilities}
		if k.HasSecret {
			flags = append(flags, "secret")
		}
		if k.Revoked {
			flags = append(flags, "revoked")
		}
		if k.Expired {
			flags = append(flags, "expired")
		}
		exp := "never expires"
		if k.Expires != nil {
			exp = "expires " + k.Expires.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(w, "pgp v%d %s [%s] created %s, %s\n", k.Version, k.Fingerprint, strings.Join(flags, " "),
			k.Created.UTC().Format("2006-01-02"), exp)
		for _, uid := range k.UserIDs {
			var unbound *mailseal.UserIDError
			if _, err := mailseal.UserIDAddress(uid); errors.As(err, &unbound) {
				// Quoted: what makes it bind none may be a character
				// that hides or rearranges text.
				fmt.Fprintf(w, "    %q (%s; it binds to none)\n", uid, unbound.Reason)
				continue
			}
			fmt.Fprintf(w, "    %s\n", uidText(uid))
		}
	}
	printCerts(w, certs)
	return nil
}

func keysAccept(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("keys accept needs one QUERY")
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	fpr, p, err := store.AcceptPGP(c.Args().First())
	if err != nil {
		return err
	}
	if !p.FromNetwork() {
		fmt.Fprintf(c.App.Writer, "%s: from %s, trusted already\n", fpr, p.Source)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "%s: %s, accepted\n", fpr, p.Name())
	return nil
}

func keysDelete(c *cli.Context) error {
	store, x509, err := queryStore(c)
	if err != nil {
		return err
	}
	if x509 {
		return store.DeleteX509(c.Args().First(), c.Bool("yes"))
	}
	return store.DeletePGP(c.Args().First(), c.Bool("yes"))
}

// queryStore opens the keystore for a keys command that takes one QUERY
// and says whether it names an X.509 certificate (else an OpenPGP key).
func queryStore(c *cli.Context) (*keystore.Store, bool, error) {
	if c.NArg() != 1 {
		return nil, false, usageErr("keys %s needs one QUERY", c.Command.Name)
	}
	store, err := openStore(c)
	if err != nil {
		return nil, false, err
	}
	x509, err := queryIsX509(c, store, c.Args().First())
	return store, x509, err
}
