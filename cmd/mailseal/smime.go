package main

import (
	"crypto"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mailseal/mailseal/smime"
)

// S/MIME flags of the message commands.
var (
	smimeFlag      = &cli.BoolFlag{Name: "smime", Usage: "use S/MIME (RFC 8551)"}
	smimeSignFlags = []cli.Flag{
		&cli.BoolFlag{Name: "opaque", Usage: "S/MIME: encapsulate the content (application/pkcs7-mime signed-data) instead of multipart/signed"},
		&cli.StringFlag{Name: "hash", Usage: "S/MIME: signature hash `sha256|sha384|sha512` (default sha256; sha512 for Ed25519)"},
		&cli.BoolFlag{Name: "pss", Usage: "S/MIME: sign with RSASSA-PSS (RSA keys)"},
		&cli.BoolFlag{Name: "skid", Usage: "S/MIME: identify the signer by subjectKeyIdentifier instead of issuer and serial number"},
	}
	smimeEncryptFlags = []cli.Flag{
		&cli.StringFlag{Name: "cipher", Usage: "S/MIME: `aes256-gcm` (default), aes128-gcm, or for legacy recipients aes256-cbc, aes128-cbc"},
		&cli.BoolFlag{Name: "rsa-oaep", Usage: "S/MIME: RSAES-OAEP key transport to RSA recipients instead of PKCS #1 v1.5"},
	}
	verifyFlags = []cli.Flag{
		&cli.StringFlag{Name: "at", Usage: "judge signatures and certificates at `TIME` (RFC 3339 or YYYY-MM-DD) instead of now"},
		&cli.StringFlag{Name: "accept-sha1-before", Usage: "accept SHA-1 signatures (and certificates) made before `DATE`, for old mail; the date is the signer's claim"},
		&cli.BoolFlag{Name: "no-system-roots", Usage: "S/MIME: trust only the anchors in the keystore (keys trust), not the system's"},
		&cli.BoolFlag{Name: "require-crls", Usage: "S/MIME: fail certificates no CRL in the keystore or message covers (default: warn)"},
		&cli.BoolFlag{Name: "autocrypt", Usage: "learn from the message's Autocrypt headers (and Autocrypt-Gossip inside encrypted mail) for mailseal autocrypt status"},
	}
)

// parseTime reads --at.
func parseTime(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usageErr("--at %q: want RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02)", v)
}

// smimeSignOptions reads --opaque, --hash, --pss, --skid.
func (s *session) smimeSignOptions() (smime.SignOptions, error) {
	opts := smime.SignOptions{Opaque: s.c.Bool("opaque"), PSS: s.c.Bool("pss"), SubjectKeyID: s.c.Bool("skid")}
	switch strings.ToLower(s.c.String("hash")) {
	case "":
	case "sha256", "sha-256":
		opts.Hash = crypto.SHA256
	case "sha384", "sha-384":
		opts.Hash = crypto.SHA384
	case "sha512", "sha-512":
		opts.Hash = crypto.SHA512
	default:
		return opts, usageErr("--hash %q: want sha256, sha384 or sha512", s.c.String("hash"))
	}
	return opts, nil
}

func (s *session) smimeEncryptOptions() (smime.EncryptOptions, error) {
	c, err := smime.ParseCipher(s.c.String("cipher"))
	if err != nil {
		return smime.EncryptOptions{}, err
	}
	return smime.EncryptOptions{Cipher: c, RSAOAEP: s.c.Bool("rsa-oaep")}, nil
}
