package main

import (
	"encoding/json"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
)

func autocryptCommand() *cli.Command {
	return &cli.Command{
		Name:  "autocrypt",
		Usage: "Autocrypt (Level 1) state learned with verify/decrypt --autocrypt",
		Subcommands: []*cli.Command{{
			Name:      "status",
			Usage:     "whether to encrypt to ADDRs: disable, discourage, available or encrypt, and the key it rests on",
			ArgsUsage: "ADDR...",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "json", Usage: "print the status as one JSON object"},
				&cli.BoolFlag{Name: "mutual", Usage: "you prefer encryption too (prefer-encrypt=mutual): peers that say so get encrypt"},
				&cli.BoolFlag{Name: "reply-to-encrypted", Usage: "the message answers an encrypted one: encrypt wherever a key is known"},
			},
			Action: autocryptStatus,
		}},
	}
}

func autocryptStatus(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErr("autocrypt status needs one or more ADDRs")
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	st, err := store.AutocryptStatus(c.Args().Slice(), c.Bool("mutual"), c.Bool("reply-to-encrypted"), mailseal.DefaultPolicy())
	if err != nil {
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(st)
	}
	fmt.Fprintf(w, "%s\n", st.Recommendation)
	for _, p := range st.Peers {
		fmt.Fprintf(w, "%s %s", p.Addr, p.Recommendation)
		if p.Fingerprint != "" {
			fmt.Fprintf(w, " %s (%s)", p.Fingerprint, p.Source)
		}
		if p.PreferEncrypt {
			fmt.Fprint(w, " prefer-encrypt=mutual")
		}
		if !p.LastSeen.IsZero() {
			fmt.Fprintf(w, " last seen %s", p.LastSeen.UTC().Format("2006-01-02"))
		}
		fmt.Fprintln(w)
	}
	return nil
}
