package main

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/keystore"
)

// keysRevokeCommand is `keys revoke`: one command for both kinds of key.
func keysRevokeCommand() *cli.Command {
	return &cli.Command{
		Name: "revoke",
		Usage: "revoke an OpenPGP key (signed with its secret key, or --use-stored) or an X.509 certificate " +
			"issued by a CA in the keystore (listed in the CA's next CRL, see keys crl)",
		ArgsUsage: "QUERY",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "`compromised`, superseded or retired (default: no reason, which OpenPGP treats as compromised)"},
			&cli.StringFlag{Name: "message", Usage: "OpenPGP: a `TEXT` saying more about the reason"},
			&cli.BoolFlag{Name: "use-stored", Usage: "OpenPGP: apply the revocation certificate made by keys generate (no passphrase needed)"},
			&cli.BoolFlag{Name: "pgp", Usage: "QUERY names an OpenPGP key"},
			&cli.BoolFlag{Name: "smime", Usage: "QUERY names an X.509 certificate"},
		},
		Action: keysRevoke,
	}
}

// keysCRLCommand is `keys crl`.
func keysCRLCommand() *cli.Command {
	return &cli.Command{
		Name:  "crl",
		Usage: "issue a CRL of a CA in the keystore listing the certificates keys revoke revoked; the keystore validates with it",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "ca", Usage: "the CA certificate (`QUERY`) whose CRL to issue"},
			&cli.StringFlag{Name: "next-update", Value: "30d", Usage: "how long the CRL is current, e.g. 30d, 1w, 6m"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the CRL (PEM) to `FILE` to publish it"},
		},
		Action: keysCRL,
	}
}

func keysRevoke(c *cli.Context) error {
	reason, err := keystore.ParseRevocationReason(c.String("reason"))
	if err != nil {
		return err
	}
	store, x509, err := queryStore(c)
	if err != nil {
		return err
	}
	opts := keystore.RevokeOptions{Reason: reason, Message: c.String("message"), UseStored: c.Bool("use-stored")}
	w := c.App.ErrWriter
	if x509 {
		if opts.Message != "" {
			return usageErr("--message is for OpenPGP keys: a CRL has no place for it")
		}
		rev, err := store.RevokeX509(c.Args().First(), opts)
		if err != nil {
			return err
		}
		if !rev.New {
			fmt.Fprintf(w, "%s %s: already revoked on %s\n", rev.Certificate.Fingerprint, rev.Certificate.Subject, rev.Time.Format(time.DateOnly))
		} else {
			fmt.Fprintf(w, "%s %s: revoked by %s\n", rev.Certificate.Fingerprint, rev.Certificate.Subject, rev.Issuer.Subject)
		}
		fmt.Fprintf(w, "issue the CA's CRL to make it known: mailseal keys crl --ca %s -o crl.pem\n", rev.Issuer.Fingerprint)
		return nil
	}
	if !opts.UseStored {
		opts.Passphrase = newPassphrases(c).get
	}
	info, added, err := store.RevokePGP(c.Args().First(), opts)
	if err != nil {
		return err
	}
	uid := ""
	if len(info.UserIDs) > 0 {
		uid = " " + uidText(info.UserIDs[0])
	}
	if !added {
		fmt.Fprintf(w, "%s%s: already revoked by this revocation certificate; nothing changed\n", info.Fingerprint, uid)
		return nil
	}
	fmt.Fprintf(w, "%s%s: revoked\n", info.Fingerprint, uid)
	fmt.Fprintf(w, "send the revoked key to those who have it: mailseal keys export %s\n", info.Fingerprint)
	return nil
}

func keysCRL(c *cli.Context) error {
	if c.NArg() != 0 {
		return usageErr("keys crl takes no arguments; name the CA with --ca QUERY")
	}
	if c.String("ca") == "" {
		return usageErr("keys crl needs --ca QUERY (a CA in the keystore, see keys generate --ca)")
	}
	next, err := parseExpiry(c.String("next-update"))
	if err != nil {
		return err
	}
	if next == 0 {
		return usageErr("--next-update never: a CRL needs a next update (e.g. 30d)")
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	der, crl, err := store.IssueCRL(keystore.CRLOptions{CA: c.String("ca"), NextUpdate: next, Passphrase: newPassphrases(c).get})
	if err != nil {
		return err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	if name := c.String("output"); name != "" {
		// A CRL is public: the file is readable by all (the umask permitting).
		if err := atomicfile.Write(name, 0o644, func(w io.Writer) error { _, err := w.Write(out); return err }); err != nil {
			return err
		}
	} else if _, err := c.App.Writer.Write(out); err != nil {
		return err
	}
	fmt.Fprintf(c.App.ErrWriter, "CRL %s of %s: %d revoked, next update %s; the keystore uses it now\n",
		crl.Number, crl.Issuer, len(crl.RevokedCertificateEntries), crl.NextUpdate.UTC().Format(time.DateOnly))
	return nil
}

// keysExportRevocation is `keys export --revocation QUERY`.
func keysExportRevocation(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("keys export --revocation needs one QUERY")
	}
	for _, f := range []string{"secret", "smime", "format"} {
		if c.IsSet(f) {
			return usageErr("--revocation exports an OpenPGP revocation certificate; --%s does not go with it", f)
		}
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := store.RevocationCertificate(&buf, c.Args().First(), newPassphrases(c).get); err != nil {
		return err
	}
	// Importing it revokes the key: a secret file, like a key's.
	if err := writeKeyOutput(c, buf.Bytes(), true); err != nil {
		return err
	}
	fmt.Fprintln(c.App.ErrWriter, strings.TrimSpace(`
importing this revocation certificate (mailseal keys import, gpg --import) revokes the key without its
passphrase: keep it safe, apart from the key`))
	return nil
}
