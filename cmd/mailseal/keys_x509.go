package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/keystore"
)

// keysGenerateX509 is `keys generate --smime` and `keys generate --ca`.
func keysGenerateX509(c *cli.Context) error {
	if c.IsSet("uid") || c.IsSet("profile") {
		return usageErr("--uid and --profile are OpenPGP options; S/MIME takes --email and --name")
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	pass := newPassphrases(c)
	opts := keystore.X509Options{Email: c.String("email"), Name: c.String("name"), Algo: c.String("algo"),
		Issuer: c.String("issuer"), SelfSigned: c.Bool("self-signed"), Renew: c.String("renew"), NoPassphrase: c.Bool("no-passphrase"),
		IssuerPassphrase: pass.get}
	if c.IsSet("expires") {
		d, err := parseExpiry(c.String("expires"))
		if err != nil {
			return err
		}
		if d == 0 {
			return usageErr("--expires never: X.509 certificates need an end date (e.g. 2y)")
		}
		opts.Validity = d
	}
	if !opts.NoPassphrase {
		p, err := pass.get("the new private key")
		if err != nil {
			return fmt.Errorf("%w (or --no-passphrase to store it unencrypted)", err)
		}
		opts.Passphrase = p
	}
	var info *keystore.CertInfo
	if c.Bool("ca") {
		if opts.Name == "" {
			return usageErr("keys generate --ca needs --name \"Example CA\"")
		}
		if opts.Email != "" || opts.Issuer != "" || opts.SelfSigned || opts.Renew != "" {
			return usageErr("--email, --issuer, --self-signed and --renew are for --smime certificates")
		}
		info, err = store.GenerateCA(opts)
	} else {
		if opts.Email == "" && opts.Renew == "" {
			return usageErr("keys generate --smime needs --email ADDRESS (or --renew QUERY)")
		}
		if opts.Issuer == "" && !opts.SelfSigned && opts.Renew == "" {
			return usageErr("keys generate --smime needs --issuer QUERY (a CA in the keystore, see keys generate --ca) or --self-signed")
		}
		info, err = store.GenerateX509(opts)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, info.Fingerprint)
	return nil
}

// p12Passwords is the password of a PKCS#12 file being imported.
func p12Passwords(c *cli.Context) *passphrases {
	return &passphrases{file: c.String("p12-password-file"), fileFlag: "--p12-password-file", env: "MAILSEAL_P12_PASSWORD",
		noun: "PKCS#12 password", kind: mailseal.ErrLocked, stdin: c.App.Reader}
}

// keysRequest is `keys request`: a new key and a PKCS#10 request.
func keysRequest(c *cli.Context) error {
	if c.String("email") == "" {
		return usageErr("keys request needs --email ADDRESS")
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	pass := newPassphrases(c)
	opts := keystore.X509Options{Email: c.String("email"), Name: c.String("name"), Algo: c.String("algo"), NoPassphrase: c.Bool("no-passphrase")}
	if !opts.NoPassphrase {
		p, err := pass.get("the new private key")
		if err != nil {
			return fmt.Errorf("%w (or --no-passphrase to store it unencrypted)", err)
		}
		opts.Passphrase = p
	}
	csr, err := store.Request(opts)
	if err != nil {
		return err
	}
	return writeKeyOutput(c, csr, false)
}

// writeKeyOutput writes to -o FILE (atomically; 0600 if secret) or stdout.
func writeKeyOutput(c *cli.Context, data []byte, secret bool) error {
	if name := c.String("output"); name != "" {
		return writeFileAtomic(name, data, secret)
	}
	_, err := c.App.Writer.Write(data)
	return err
}

// importX509 imports certificates, PKCS#12 files and CRLs. A private key
// is stored under the keystore passphrase (pass); a PKCS#12 file opens
// with its own password (p12): --p12-password-file, MAILSEAL_P12_PASSWORD
// or a prompt. When neither is given and the keystore passphrase does not
// come from a prompt, the keystore passphrase is the file's password, as
// it was before the two were told apart.
func importX509(c *cli.Context, store *keystore.Store, pass, p12 *passphrases, name string, data []byte) error {
	var protect []byte
	if keystore.X509HasPrivateKey(data) && !c.Bool("no-passphrase") {
		p, err := pass.get("the private key of " + name + " (the keystore passphrase to store it under)")
		if err != nil {
			return fmt.Errorf("%s: %w (or --no-passphrase to store the key unencrypted)", name, err)
		}
		protect = p
	}
	password := p12.get
	if p12.interactive() && !pass.interactive() {
		password = pass.get
	}
	results, err := store.ImportX509(data, func(string) ([]byte, error) { return password(name) }, protect)
	if errors.Is(err, mailseal.ErrLocked) {
		return fmt.Errorf("%s: %w (the file's own password: --p12-password-file FILE or MAILSEAL_P12_PASSWORD)", name, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, r := range results {
		what := strings.Join(r.Changes, ", ")
		if what == "" {
			what = "unchanged"
		}
		subject := ""
		if len(r.UserIDs) > 0 {
			subject = " " + uidText(r.UserIDs[0])
		}
		fmt.Fprintf(c.App.ErrWriter, "%s%s: %s\n", r.Fingerprint, subject, what)
	}
	return nil
}

// queryIsX509 decides whether QUERY names an X.509 certificate or an
// OpenPGP key: --pgp/--smime, else whichever kind matches.
func queryIsX509(c *cli.Context, store *keystore.Store, query string) (bool, error) {
	switch {
	case c.Bool("pgp") && c.Bool("smime"):
		return false, usageErr("--pgp and --smime exclude each other")
	case c.Bool("pgp"):
		return false, nil
	case c.Bool("smime"):
		return true, nil
	}
	p, err := store.QueryProtocol(query)
	return p == mailseal.ProtocolSMIME, err
}

// exportX509 is keys export --secret of one certificate.
func exportX509(c *cli.Context, store *keystore.Store, query string, w io.Writer) error {
	format := strings.ToLower(c.String("format"))
	if format == "" && c.Bool("secret") {
		format = "p12"
	}
	if format == "pkcs12" {
		format = "p12"
	}
	return store.ExportX509(w, query, format, c.Bool("secret"), newPassphrases(c).get)
}

func keysTrust(c *cli.Context, trust bool) error {
	if c.NArg() != 1 {
		return usageErr("keys %s needs one QUERY", c.Command.Name)
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	var info *keystore.CertInfo
	if trust {
		info, err = store.Trust(c.Args().First())
	} else {
		info, err = store.Untrust(c.Args().First())
	}
	if err != nil {
		return err
	}
	verb := "trusted"
	if !trust {
		verb = "no longer trusted"
	}
	fmt.Fprintf(c.App.ErrWriter, "%s %s: %s\n", info.Fingerprint, info.Subject, verb)
	if trust && !info.CA && !info.SelfSigned {
		fmt.Fprintln(c.App.ErrWriter, "warning: this certificate is not a CA; it is trusted as an anchor for itself only")
	}
	return nil
}

// printCerts lists certificates, one block each.
func printCerts(w io.Writer, certs []keystore.CertInfo) {
	for _, ci := range certs {
		var flags []string
		if ci.CA {
			flags = append(flags, "ca")
		}
		if ci.Trusted {
			flags = append(flags, "trusted")
		}
		if ci.HasSecret {
			flags = append(flags, "secret")
		}
		if ci.Expired {
			flags = append(flags, "expired")
		}
		if ci.Revoked {
			flags = append(flags, "revoked")
		}
		fmt.Fprintf(w, "x509 %s %s [%s] valid %s to %s\n", ci.Algorithm, ci.Fingerprint, strings.Join(flags, " "),
			ci.Created.UTC().Format("2006-01-02"), ci.Expires.UTC().Format("2006-01-02"))
		fmt.Fprintf(w, "    subject %s\n    issuer  %s\n", ci.Subject, ci.Issuer)
		for _, e := range ci.Emails {
			fmt.Fprintf(w, "    %s\n", uidText(e))
		}
	}
}

// writeFileAtomic writes -o FILE atomically: 0600 when it holds secrets
// (a secret key, a revocation certificate), else as the umask allows
// (0644 under 022), as other tools' outputs are.
func writeFileAtomic(name string, data []byte, secret bool) error {
	perm := os.FileMode(0o666)
	if secret {
		perm = 0o600
	}
	return atomicfile.Write(name, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
