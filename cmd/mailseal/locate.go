package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
	"github.com/mailseal/mailseal/keystore"
	"github.com/mailseal/mailseal/locate"
	"github.com/mailseal/mailseal/pgp"
)

// networkFlags say how key look-ups reach the network (keys locate, keys
// refresh, keys upload, encrypt/send --locate).
var networkFlags = []cli.Flag{
	&cli.StringFlag{Name: "resolver", Usage: "ask the DNS server at `HOST[:PORT]` (DANE and SMIMEA need one; also for WKD's openpgpkey. name)"},
	&cli.BoolFlag{Name: "resolver-validates", Usage: "believe the AD bit (DNSSEC-validated) of the --resolver, which must be a validating resolver on this machine named by its loopback address (unbound: --resolver 127.0.0.1); without it no DANE answer counts as validated"},
	&cli.StringFlag{Name: "vks", Usage: "the Verifying Key Server's `URL` (default " + locate.DefaultVKS + ")"},
	&cli.StringFlag{Name: "https-ca", Usage: "verify Web Key Directories and key servers against the CA certificates in `FILE` instead of the system roots"},
	&cli.StringSliceFlag{Name: "connect", Usage: "`HOST=ADDR[:PORT]`: connect to HOST at ADDR instead of where DNS points (the certificate is still checked for HOST; repeatable)"},
}

// locateFlags are encrypt's and send's.
var locateFlags = []cli.Flag{
	&cli.BoolFlag{Name: "locate", Usage: "look up the OpenPGP key (or S/MIME certificate) of each recipient without a valid one, Bcc included (WKD, DANE, keys.openpgp.org, SMIMEA: each learns the address it is asked for), store it with where it came from, and encrypt to it"},
	&cli.StringFlag{Name: "locate-methods", Usage: "with --locate: ask these methods in this order, the first that finds a key the last: `LIST` of " + methodList},
}

// locateOptions reads --locate and the network flags (nil without
// --locate; those flags without it are a usage error).
func locateOptions(c *cli.Context) (*keystore.SessionLocate, error) {
	if !c.Bool("locate") {
		for _, f := range append([]cli.Flag{locateFlags[1]}, networkFlags...) {
			if name := f.Names()[0]; c.IsSet(name) && hasFlag(c, "locate") {
				return nil, usageErr("--%s goes with --locate", name)
			}
		}
		return nil, nil
	}
	methods, err := methodsFlag(c, "locate-methods")
	if err != nil {
		return nil, err
	}
	l, err := locator(c)
	if err != nil {
		return nil, err
	}
	return &keystore.SessionLocate{Locator: l, Methods: methods}, nil
}

// hasFlag says whether the command has the flag name.
func hasFlag(c *cli.Context, name string) bool {
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// newlyLocated are the keys --locate found and stored since the last call.
func (s *session) newlyLocated() []keystore.Located {
	got := s.keys.Located(s.shown)
	s.shown += len(got)
	var out []keystore.Located
	for _, a := range got {
		if a.OK() {
			out = append(out, a)
		}
	}
	return out
}

// printLocated says on stderr which keys --locate found where.
func (s *session) printLocated(located []keystore.Located) {
	printLocated(s.c.App.ErrWriter, "located ", located)
}

// locator is the Locator the network flags describe.
func locator(c *cli.Context) (*locate.Locator, error) {
	l := &locate.Locator{VKS: c.String("vks")}
	if v := l.VKS; v != "" && !strings.HasPrefix(v, "https://") {
		return nil, usageErr("--vks %q: want an https:// URL", v)
	}
	if r := c.String("resolver"); r != "" {
		d, err := locate.ResolverAt(r, c.Bool("resolver-validates"))
		if err != nil {
			return nil, usageErr("--resolver-validates: %v", err)
		}
		l.DNS = d
	} else if c.Bool("resolver-validates") {
		return nil, usageErr("--resolver-validates goes with --resolver 127.0.0.1[:PORT] (a validating resolver on this machine, such as unbound)")
	}
	var roots *x509.CertPool
	if ca := c.String("https-ca"); ca != "" {
		data, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--https-ca: %w: %w", err, mailseal.ErrUsage)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(data) {
			return nil, usageErr("--https-ca %s holds no PEM certificate", ca)
		}
	}
	var dial func(ctx context.Context, network, addr string) (net.Conn, error)
	if list := c.StringSlice("connect"); len(list) > 0 {
		hosts := map[string]string{}
		for _, m := range list {
			host, to, ok := strings.Cut(m, "=")
			if !ok || host == "" || to == "" {
				return nil, usageErr("--connect %q: want HOST=ADDR or HOST=ADDR:PORT", m)
			}
			hosts[host] = to
		}
		dial = locate.HostDialer(hosts)
	}
	if roots != nil || dial != nil {
		l.HTTP = locate.NewHTTPClient(dial, roots)
	}
	return l, nil
}

// methodList is what --methods and --locate-methods accept.
const methodList = "local (the keystore), autocrypt (what verify --autocrypt learned), wkd, dane, vks (OpenPGP keys), " +
	"smimea (S/MIME certificates) (default wkd,dane,vks,smimea)"

// methodsFlag reads a list of look-up methods.
func methodsFlag(c *cli.Context, name string) ([]string, error) {
	m, err := locate.ParseMethods(c.String(name))
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", name, err)
	}
	return m, nil
}

func keysLocateCommand() *cli.Command {
	return &cli.Command{
		Name:      "locate",
		Usage:     "find the OpenPGP keys and S/MIME certificates of ADDRs (WKD, DANE, keys.openpgp.org, SMIMEA, the keystore) and, with --import, store them with where they came from",
		ArgsUsage: "ADDR...",
		Description: "Each method is asked in the order given; each answer is printed: the key's fingerprint, its user ID\n" +
			"for the address, where it came from and when. A key stored with --import records its source (keys\n" +
			"list --json shows it); its signatures count as untrusted until keys accept (encryption to it works\n" +
			"at once). A certificate from an SMIMEA record is encrypted to when it has a path to a trust anchor,\n" +
			"or when its record is DANE-EE (usage 3), a validating resolver on this machine vouched for it\n" +
			"(--resolver 127.0.0.1 --resolver-validates), and that was at most 7 days ago (a look-up confirms it anew).\n" +
			"Exit code 3 when nothing was found (or stored) for an address.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "methods", Usage: "ask these methods, in this order: `LIST` of " + methodList},
			&cli.BoolFlag{Name: "import", Usage: "store the keys found, with their provenance"},
			&cli.BoolFlag{Name: "json", Usage: "print the answers as one JSON array"},
		}, networkFlags...),
		Action: keysLocate,
	}
}

func keysLocate(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErr("keys locate needs one or more ADDRs")
	}
	for _, a := range c.Args().Slice() {
		if err := locate.CheckAddress(a); err != nil {
			return err
		}
	}
	methods, err := methodsFlag(c, "methods")
	if err != nil {
		return err
	}
	l, err := locator(c)
	if err != nil {
		return err
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	all := []keystore.Located{}
	var none []string
	for _, a := range c.Args().Slice() {
		got, err := store.Locate(context.Background(), l, a, keystore.LocateOptions{Methods: methods, Import: c.Bool("import")})
		all = append(all, got...)
		if err != nil {
			return err
		}
		if !keystore.AnyOK(got) {
			none = append(none, a)
		}
		if !c.Bool("json") {
			printLocated(c.App.Writer, "", got)
		}
	}
	if c.Bool("json") {
		if err := writeJSON(c.App.Writer, all); err != nil {
			return err
		}
	}
	if len(none) > 0 {
		return fmt.Errorf("no key found for %s: %w", strings.Join(none, ", "), mailseal.ErrNoKey)
	}
	return nil
}

// printLocated writes one line per answer, each in one write (batch
// workers share stderr), what came from the network shown escaped.
func printLocated(out io.Writer, prefix string, got []keystore.Located) {
	for _, a := range got {
		var w strings.Builder
		w.WriteString(prefix)
		if !a.OK() {
			fmt.Fprintf(&w, "%s %s: %s\n", a.Address, a.Method, oneLine(a.Error))
			io.WriteString(visible{out}, w.String())
			continue
		}
		fmt.Fprintf(&w, "%s %s: %s", a.Address, a.Method, a.Fingerprint)
		if len(a.UserIDs) > 0 {
			fmt.Fprintf(&w, " %q", a.UserIDs[0])
		}
		fmt.Fprintf(&w, " from %s", a.Source)
		if a.DNSSEC {
			fmt.Fprint(&w, " (DNSSEC)")
		}
		if a.Protocol == mailseal.ProtocolSMIME {
			usage := "PKIX-EE"
			if a.DANEUsage == locate.UsageDANEEE {
				usage = "DANE-EE"
			}
			fmt.Fprintf(&w, " (S/MIME certificate, %s)", usage)
		}
		if !a.Fetched.IsZero() {
			fmt.Fprintf(&w, " at %s", a.Fetched.UTC().Format(time.RFC3339))
		}
		if a.Imported {
			fmt.Fprintf(&w, "; stored: %s", oneLine(strings.Join(a.Changes, ", ")))
		}
		w.WriteString("\n")
		io.WriteString(visible{out}, w.String())
	}
}

func keysRefreshCommand() *cli.Command {
	return &cli.Command{
		Name:      "refresh",
		Usage:     "fetch OpenPGP keys found on the network again from where they came, and merge revocations, new subkeys and expiry changes",
		ArgsUsage: "QUERY... | --all",
		Description: "Each key is asked for at the source its provenance records (WKD and DANE for the same address,\n" +
			"a key server by fingerprint); keys imported by hand or generated are skipped. Exit code 3 when a\n" +
			"key could not be fetched again.",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "all", Usage: "every stored OpenPGP key"},
			&cli.BoolFlag{Name: "json", Usage: "print what was done as one JSON array"},
		}, networkFlags...),
		Action: keysRefresh,
	}
}

func keysRefresh(c *cli.Context) error {
	if c.Bool("all") == (c.NArg() > 0) {
		return usageErr("keys refresh needs one or more QUERYs, or --all")
	}
	l, err := locator(c)
	if err != nil {
		return err
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	res, err := store.Refresh(context.Background(), l, c.Args().Slice(), c.Bool("all"))
	if err != nil {
		return err
	}
	var failed []string
	for _, r := range res {
		if r.Error != "" {
			failed = append(failed, r.Fingerprint)
		}
	}
	if c.Bool("json") {
		if res == nil {
			res = []keystore.Refreshed{}
		}
		if err := writeJSON(c.App.Writer, res); err != nil {
			return err
		}
	} else {
		w := visible{c.App.Writer}
		for _, r := range res {
			switch {
			case r.Skipped != "":
				fmt.Fprintf(w, "%s: skipped (%s)\n", r.Fingerprint, r.Skipped)
			case r.Error != "":
				fmt.Fprintf(w, "%s (%s): %s\n", r.Fingerprint, strings.TrimSpace(r.Source+" "+r.Address), oneLine(r.Error))
			default:
				fmt.Fprintf(w, "%s (%s): %s\n", r.Fingerprint, strings.TrimSpace(r.Source+" "+r.Address), strings.Join(r.Changes, ", "))
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d key(s) could not be refreshed: %s: %w", len(failed), strings.Join(failed, ", "), mailseal.ErrNoKey)
	}
	return nil
}

func keysUploadCommand() *cli.Command {
	return &cli.Command{
		Name:      "upload",
		Usage:     "upload the OpenPGP key matching QUERY (public part) to a Verifying Key Server, which mails each address a link to publish it",
		ArgsUsage: "QUERY",
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the server's answer as JSON"},
		}, networkFlags...),
		Action: keysUpload,
	}
}

func keysUpload(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("keys upload needs one QUERY")
	}
	l, err := locator(c)
	if err != nil {
		return err
	}
	store, err := openStore(c)
	if err != nil {
		return err
	}
	e, err := store.FindOnePGP(c.Args().First())
	if err != nil {
		return err
	}
	var key bytes.Buffer
	if err := store.ExportPGP(&key, pgp.Fingerprint(e.PrimaryKey), false); err != nil {
		return err
	}
	res, err := l.UploadVKS(context.Background(), key.Bytes())
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, res)
	}
	addrs := make([]string, 0, len(res.Status))
	for a := range res.Status {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	w := visible{c.App.Writer}
	fmt.Fprintln(w, res.Fingerprint)
	for _, a := range addrs {
		fmt.Fprintf(w, "    %s: %s\n", a, res.Status[a])
	}
	return nil
}

func wkdCommand() *cli.Command {
	return &cli.Command{
		Name:  "wkd",
		Usage: "publish OpenPGP keys in a Web Key Directory",
		Subcommands: []*cli.Command{{
			Name:      "generate",
			Usage:     "write the Web Key Directory of --domain for the stored keys matching QUERYs (all without) under --out",
			ArgsUsage: "[QUERY...]",
			Description: "DIR/advanced is the web root of openpgpkey.DOMAIN (the advanced method), DIR/direct the web\n" +
				"root of DOMAIN (the direct method); each holds the policy file and one file per address, named\n" +
				"by its hash, with the keys bound to that address and only their user IDs for it.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "domain", Usage: "the mail `DOMAIN` the directory is for", Required: true},
				&cli.StringFlag{Name: "out", Usage: "write the trees under `DIR`", Required: true},
			},
			Action: wkdGenerate,
		}},
	}
}

func wkdGenerate(c *cli.Context) error {
	store, err := openStore(c)
	if err != nil {
		return err
	}
	var certs bytes.Buffer
	if c.NArg() == 0 {
		err = store.ExportAllPGP(&certs, false)
	} else {
		err = store.ExportPGPKeys(&certs, c.Args().Slice(), false)
	}
	if err != nil {
		return err
	}
	addrs, err := locate.GenerateWKD(c.String("out"), c.String("domain"), certs.Bytes())
	if err != nil {
		return err
	}
	w := visible{c.App.Writer}
	for _, a := range addrs {
		local, _, _ := strings.Cut(a, "@")
		fmt.Fprintf(w, "%s hu/%s\n", a, locate.WKDHash(local))
	}
	return nil
}

func daneCommand() *cli.Command {
	return &cli.Command{
		Name:  "dane",
		Usage: "publish keys and certificates in DNS (DANE)",
		Subcommands: []*cli.Command{{
			Name:      "record",
			Usage:     "print the zone-file lines publishing the key or certificate matching QUERY: OPENPGPKEY (RFC 7929) or SMIMEA (RFC 8162), one per address",
			ArgsUsage: "QUERY",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "pgp", Usage: "QUERY names an OpenPGP key"},
				&cli.BoolFlag{Name: "smime", Usage: "QUERY names an X.509 certificate"},
			},
			Action: daneRecord,
		}},
	}
}

func daneRecord(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErr("dane record needs one QUERY")
	}
	store, isX509, err := queryStore(c)
	if err != nil {
		return err
	}
	lines, err := store.DANERecords(c.Args().First(), isX509)
	if err != nil {
		return err
	}
	for _, l := range lines {
		fmt.Fprintln(c.App.Writer, l)
	}
	return nil
}

// writeJSON writes v as one line of JSON, user IDs with their <> as they are.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
