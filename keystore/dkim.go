package keystore

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/mailseal/mailseal/auth"
	"github.com/mailseal/mailseal/core"
)

// DKIM signing keys live in <home>/dkim/<domain>/<selector>.pem as PKCS #8
// PEM, mode 0600, not encrypted: a DKIM key signs for a domain on paths
// where nobody is there to type a passphrase (send from a script,
// sendmail called by a mail server), as OpenDKIM and rspamd keep theirs;
// a leaked key is replaced by publishing a new selector. The directory
// is 0700, as the rest of the keystore.

func (s *Store) dkimDir() string { return filepath.Join(s.dir, "dkim") }

// dnsName is compiled when first used, not at start-up (issue 16: a run
// pays only for what it uses).
var dnsName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?$`)
})

// dkimPath is where the key of selector at domain is, after checking that
// both are DNS names (so neither can name another path).
func (s *Store) dkimPath(domain, selector string) (string, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if len(domain) > 253 || !dnsName().MatchString(domain) || !strings.Contains(domain, ".") {
		return "", fmt.Errorf("DKIM domain %q: want a domain name such as example.org: %w", domain, core.ErrUsage)
	}
	if len(selector) > 63 || !dnsName().MatchString(strings.ToLower(selector)) {
		return "", fmt.Errorf("DKIM selector %q: want a DNS name such as mail2026: %w", selector, core.ErrUsage)
	}
	return filepath.Join(s.dkimDir(), domain, strings.ToLower(selector)+".pem"), nil
}

// GenerateDKIM makes a DKIM key (auth.AlgoEd25519 or auth.AlgoRSA2048)
// for selector at domain and stores it; an existing one is not replaced
// (a usage error: take a new selector).
func (s *Store) GenerateDKIM(domain, selector, algo string) (crypto.Signer, error) {
	path, err := s.dkimPath(domain, selector)
	if err != nil {
		return nil, err
	}
	key, err := auth.GenerateDKIMKey(algo)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("keystore: dkim: %w", err)
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("keystore: a DKIM key for selector %s at %s exists already; publish a new selector to replace it: %w", selector, domain, core.ErrUsage)
	}
	if err := writeAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return nil, fmt.Errorf("keystore: dkim: %w", err)
	}
	return key, nil
}

// DKIMKey is the stored DKIM key of selector at domain (ErrNoKey if none).
func (s *Store) DKIMKey(domain, selector string) (crypto.Signer, error) {
	path, err := s.dkimPath(domain, selector)
	if err != nil {
		return nil, err
	}
	data, err := readStored(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no DKIM key for selector %s at %s (make one with mailseal dkim keygen): %w", selector, domain, core.ErrNoKey)
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: dkim: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("keystore: dkim: %s holds no PKCS #8 private key: %w", path, core.ErrInput)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keystore: dkim: %s: %v: %w", path, err, core.ErrInput)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keystore: dkim: %s: not a signing key: %w", path, core.ErrInput)
	}
	return signer, nil
}

// DKIMKeys lists the stored DKIM keys as "selector._domainkey.domain".
func (s *Store) DKIMKeys() ([]string, error) {
	domains, err := os.ReadDir(s.dkimDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range domains {
		files, err := os.ReadDir(filepath.Join(s.dkimDir(), d.Name()))
		if err != nil {
			continue
		}
		for _, f := range files {
			if sel, ok := strings.CutSuffix(f.Name(), ".pem"); ok {
				out = append(out, sel+"._domainkey."+d.Name())
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
