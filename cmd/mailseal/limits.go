package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal"
)

// limitFlags set the limits that protect against hostile input; the
// error that hits one names its flag (limitHint).
var limitFlags = []cli.Flag{
	&cli.StringFlag{Name: "max-size", Usage: "refuse messages larger than `SIZE` (default 4GiB; K, M, G, KiB, MiB, GiB)"},
	&cli.StringFlag{Name: "max-decompressed", Usage: "refuse OpenPGP compressed data that expands beyond `SIZE` (default 256MiB)"},
	&cli.IntFlag{Name: "max-parts", Usage: "refuse messages of more than `N` MIME parts", DefaultText: "10000"},
	&cli.IntFlag{Name: "max-depth", Usage: "refuse multipart nesting deeper than `N` levels", DefaultText: "32"},
	&cli.StringFlag{Name: "max-header-size", Usage: "refuse a MIME part whose header is larger than `SIZE` (default 1MiB)"},
}

// limitFlagOf names the flag of each limit a core.LimitError names.
var limitFlagOf = map[string]string{
	"MaxSize":         "--max-size",
	"MaxDecompressed": "--max-decompressed",
	"MaxParts":        "--max-parts",
	"MaxDepth":        "--max-depth",
	"MaxHeaderBytes":  "--max-header-size",
}

// limitHint adds to an error that hit a limit the flag that raises it
// (once).
func limitHint(err error) error {
	var le *mailseal.LimitError
	var h hinted
	if !errors.As(err, &le) || errors.As(err, &h) {
		return err
	}
	if flag, ok := limitFlagOf[le.Limit]; ok {
		return hinted{fmt.Errorf("%w (if the message is genuine, %s raises the limit)", err, flag)}
	}
	return err
}

// hinted is an error limitHint has added its flag to.
type hinted struct{ error }

func (h hinted) Unwrap() error { return h.error }

// readLimits reads the limit flags into the parse limits and the policy.
func (s *session) readLimits() error {
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"max-size", &s.limits.MaxSize}, {"max-decompressed", &s.policy.MaxDecompressed}} {
		if v := s.c.String(f.name); v != "" {
			n, err := parseSize(v)
			if err != nil {
				return usageErr("--%s %q: %v", f.name, v, err)
			}
			*f.dst = n
		}
	}
	if v := s.c.String("max-header-size"); v != "" {
		n, err := parseSize(v)
		if err != nil || n > 1<<30 {
			return usageErr("--max-header-size %q: want a size up to 1GiB", v)
		}
		s.limits.MaxHeaderBytes = int(n)
	}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"max-parts", &s.limits.MaxParts}, {"max-depth", &s.limits.MaxDepth}} {
		if s.c.IsSet(f.name) {
			if n := s.c.Int(f.name); n > 0 {
				*f.dst = n
			} else {
				return usageErr("--%s %d: want a positive number", f.name, n)
			}
		}
	}
	return nil
}

// parseSize reads a size: a number of bytes, optionally with K, M, G
// (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func parseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1}} {
		if strings.HasSuffix(strings.ToUpper(s), strings.ToUpper(u.suffix)) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, errors.New("want a positive size such as 4GiB, 500M or 1048576")
	}
	return n * mult, nil
}
