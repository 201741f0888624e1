package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
		Usage: "manage the keystore: generate, import, export, list, delete",
		Subcommands: []*cli.Command{
			{
				Name:  "generate",
				Usage: "generate a key pair and print its fingerprint",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "pgp", Usage: "an OpenPGP key"},
					&cli.StringFlag{Name: "uid", Usage: "user ID, e.g. `\"Alice <alice@example.org>\"`"},
					&cli.StringFlag{Name: "profile", Value: "default", Usage: "default (v4, read by gpg 2.2 and mail clients) or rfc9580 (v6, AEAD)"},
					&cli.StringFlag{Name: "algo", Value: "ed25519", Usage: "ed25519, rsa3072 or rsa4096"},
					&cli.StringFlag{Name: "expires", Value: "never", Usage: "validity, e.g. 2y, 6m, 30d, or never"},
					&cli.BoolFlag{Name: "no-passphrase", Usage: "store the secret key unencrypted"},
				},
				Action: keysGenerate,
			},
			{
				Name:      "import",
				Usage:     "import keys (armored or binary, public or secret) from FILEs or stdin",
				ArgsUsage: "[FILE...]",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "no-passphrase", Usage: "store unprotected secret keys as they are"},
				},
				Action: keysImport,
			},
			{
				Name:      "export",
				Usage:     "export a key, armored",
				ArgsUsage: "QUERY",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "secret", Usage: "export the secret key (as stored: encrypted with its passphrase)"},
					&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE`"},
				},
				Action: keysExport,
			},
			{
				Name:      "list",
				Usage:     "list keys",
				ArgsUsage: "[QUERY]",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "as JSON"}},
				Action:    keysList,
			},
			{
				Name:      "delete",
				Usage:     "delete a key",
				ArgsUsage: "QUERY",
				Flags:     []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "confirm deleting a secret key"}},
				Action:    keysDelete,
			},
		},
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
	if !c.Bool("pgp") {
		return usageErr("keys generate needs --pgp (S/MIME certificates are not supported yet)")
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
	opts := keystore.GenerateOptions{
		UID: c.String("uid"), Profile: c.String("profile"), Algo: c.String("algo"), Expires: expires,
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
	for _, in := range inputs {
		var protect []byte
		if keystore.HasUnprotectedSecrets(in.data) && !c.Bool("no-passphrase") {
			p, err := pass.get("protecting the imported secret keys")
			if err != nil {
				return fmt.Errorf("%s: %w (or --no-passphrase to store them unencrypted)", in.name, err)
			}
			protect = p
		}
		results, err := store.ImportPGP(bytes.NewReader(in.data), protect)
		if err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
		for _, r := range results {
			uid := ""
			if len(r.UserIDs) > 0 {
				uid = " " + r.UserIDs[0]
			}
			name := r.Fingerprint
			if name == "" {
				name = "(unreadable key)"
			}
			fmt.Fprintf(c.App.ErrWriter, "%s%s: %s\n", name, uid, strings.Join(r.Changes, ", "))
		}
	}
	return nil
}

func keysExport(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("keys export needs one QUERY")
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := store.ExportPGP(&buf, c.Args().First(), c.Bool("secret")); err != nil {
		return err
	}
	if name := c.String("output"); name != "" {
		return os.WriteFile(name, buf.Bytes(), 0o600)
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
	infos, err := store.ListPGP(c.Args().First())
	if err != nil {
		return err
	}
	if c.Bool("json") {
		if infos == nil {
			infos = []keystore.KeyInfo{}
		}
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	w := c.App.Writer
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
			fmt.Fprintf(w, "    %s\n", uid)
		}
	}
	return nil
}

func keysDelete(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("keys delete needs one QUERY")
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	return store.DeletePGP(c.Args().First(), c.Bool("yes"))
}
