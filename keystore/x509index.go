package keystore

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mailseal/mailseal/internal/atomicfile"
)

// The X.509 index lets a look-up parse only the stored certificates it
// may need — those naming an address, those that may sign a certificate
// or a CRL, those whose private key is stored — instead of every one,
// once per process:
//
//	<home>/x509.index   "mailseal x509 index 2", then a line
//	                    "file NAME TAG FLAG KEYID ADDRESS,..." for each
//	                    certificate file of x509/certs
//
// TAG is the file's tag (fileTag: size, modification and change times,
// through a link), FLAG "i" when the certificate may sign a certificate or
// a CRL (mayIssue) and "-" when not, KEYID the keyID of its public key
// (the name of its private key's file in x509/keys; "-" for a key Go
// cannot encode), and the ADDRESSes the addressDigest of each address
// CertEmails reads from it ("-" for none). An index of format 1 (no
// KEYID) is not read, and is written anew. Every look-up
// lists the directory and takes each file's tag, as readCertDir does; a
// file whose tag is not the index's is read and parsed again, and the
// index written back. Only files that changed (changedAt) longer than
// keyIndexSettle ago are written to it, so that a file rewritten within the
// file system's timestamp granularity is read again until it settles.
// A name with white space is never indexed (it is read every time).
const (
	x509IndexName  = "x509.index"
	x509IndexMagic = "mailseal x509 index 2"
)

// certFile is a certificate file of an X.509 directory as listed.
type certFile struct {
	name, tag string
	// changed is changedAt: the file is settled keyIndexSettle after it.
	changed time.Time
}

func (f certFile) settled() bool { return time.Since(f.changed) >= keyIndexSettle }

// certSummary is what the index keeps of a certificate file.
type certSummary struct {
	tag    string
	issuer bool     // mayIssue
	key    string   // keyID of the public key, "" if none
	addrs  []string // addressDigest of each of CertEmails
}

// mayIssue reports whether c may sign a certificate or a CRL on a path:
// unless its key usage is given and allows neither keyCertSign nor
// cRLSign, which x509path (checkCertSign, the CRL signer's check) and
// crypto/x509's CheckSignatureFrom (chainOf) refuse, whatever else c is.
func mayIssue(c *x509.Certificate) bool {
	return c.KeyUsage == 0 || c.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0
}

func summarize(tag string, c *x509.Certificate) certSummary {
	sum := certSummary{tag: tag, issuer: mayIssue(c), key: keyID(c.PublicKey)}
	for _, a := range CertEmails(c) { // one address each
		sum.addrs = append(sum.addrs, addressDigest(a))
	}
	return sum
}

// listCertFiles lists the certificate files of dir (none if it is
// missing) with their tags, through links, as they will be read.
func listCertFiles(dir string, workers int) ([]certFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: %w", err)
	}
	d, err := openDirFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // removed since it was read
	}
	if err != nil {
		return nil, fmt.Errorf("keystore: x509: %w", err)
	}
	defer d.close()
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".pem") {
			names = append(names, e.Name())
		}
	}
	// The stats are system calls: side by side when there are many, as
	// the key index's (forEachParallel).
	infos := make([]fs.FileInfo, len(names))
	errs := make([]error, len(names))
	forEachParallel(len(names), workers, func(i int) {
		infos[i], errs[i] = d.stat(names[i])
	})
	var out []certFile
	for i, name := range names {
		if errors.Is(errs[i], fs.ErrNotExist) {
			continue // deleted since the directory was listed
		}
		if errs[i] != nil {
			return nil, fmt.Errorf("keystore: x509: %w", errs[i])
		}
		if infos[i].IsDir() {
			continue
		}
		out = append(out, certFile{name, fileTag(infos[i]), changedAt(infos[i])})
	}
	return out, nil
}

// parseCertFiles returns the certificates of files (listed in dir), read
// and parsed unless the Store kept them with the same tag. It keeps those
// whose files have settled (a file written a moment ago may be written
// again within the file system's timestamp granularity, its tag
// unchanged). A file deleted since the listing is left out. The maps of
// x509Parsed are never changed once stored (copied, changed and stored
// again), so that they can be read without the lock.
func (s *Store) parseCertFiles(dir string, files []certFile) ([]*x509.Certificate, error) {
	certs, err := s.parseEach(dir, files)
	if err != nil {
		return nil, err
	}
	out := certs[:0]
	for _, c := range certs {
		if c != nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// parseEach is parseCertFiles with a result for each file, nil for one
// deleted since the listing.
func (s *Store) parseEach(dir string, files []certFile) ([]*x509.Certificate, error) {
	s.x509Mu.Lock()
	known := s.x509Parsed[dir]
	s.x509Mu.Unlock()
	var out []*x509.Certificate
	var fresh []certFile
	var parsed []*x509.Certificate
	for _, f := range files {
		settled := f.settled()
		if p, ok := known[f.name]; ok && p.tag == f.tag && settled {
			out = append(out, p.cert)
			continue
		}
		c, err := readCertFile(filepath.Join(dir, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			out = append(out, nil)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		if settled {
			fresh, parsed = append(fresh, f), append(parsed, c)
		}
	}
	if len(fresh) > 0 {
		s.x509Mu.Lock()
		if s.x509Parsed == nil {
			s.x509Parsed = map[string]map[string]parsedCert{}
		}
		m := maps.Clone(s.x509Parsed[dir])
		if m == nil {
			m = map[string]parsedCert{}
		}
		for i, f := range fresh {
			m[f.name] = parsedCert{f.tag, parsed[i]}
		}
		s.x509Parsed[dir] = m
		s.x509Mu.Unlock()
	}
	return out, nil
}

// forgetParsed drops what the Store kept of dir's files that are not in
// files (deleted or renamed).
func (s *Store) forgetParsed(dir string, files []certFile) {
	s.x509Mu.Lock()
	defer s.x509Mu.Unlock()
	m := s.x509Parsed[dir]
	listed := make(map[string]bool, len(files))
	for _, f := range files {
		listed[f.name] = true
	}
	var kept map[string]parsedCert
	for name := range m {
		if !listed[name] {
			if kept == nil {
				kept = maps.Clone(m)
			}
			delete(kept, name)
		}
	}
	if kept != nil {
		s.x509Parsed[dir] = kept
	}
}

// storedCerts is a listing of x509/certs with the index's summary of each
// file: what a look-up parses is chosen from it.
type storedCerts struct {
	s     *Store
	files []certFile
	sums  map[string]certSummary
}

// certSource is where an X.509 look-up takes the stored certificates
// from: a listing made for the look-up (Store's methods), or one a Session
// keeps for a message (Session.x509Certs).
type certSource func() (*storedCerts, error)

// storedCertificates lists x509/certs and summarizes each file from the
// index, reading and parsing those it does not know (or knows with
// another tag), and writes the index back if that changed it.
func (s *Store) storedCertificates() (*storedCerts, error) {
	s.certDirReads.Add(1)
	dir := s.x509CertDir()
	files, err := listCertFiles(dir, s.statWorkers())
	if err != nil {
		return nil, err
	}
	s.forgetParsed(dir, files)
	path := filepath.Join(s.dir, x509IndexName)
	s.indexMu.Lock()
	old := s.x509Index
	s.indexMu.Unlock()
	if old == nil {
		old = readX509Index(path)
	}
	sums := make(map[string]certSummary, len(files))
	index := make(map[string]certSummary, len(files)) // settled: written
	var unknown []certFile
	for _, f := range files {
		if sum, ok := old[f.name]; ok && sum.tag == f.tag && f.settled() {
			sums[f.name], index[f.name] = sum, sum
			continue
		}
		unknown = append(unknown, f)
	}
	changed := len(index) != len(old) // a file went away (or has not settled)
	if len(unknown) > 0 {
		// Parsed in one call: the Store's map of parsed certificates is
		// copied once, not once per file.
		certs, err := s.parseEach(dir, unknown)
		if err != nil {
			return nil, err
		}
		for i, f := range unknown {
			if certs[i] == nil {
				continue // deleted since the listing
			}
			sum := summarize(f.tag, certs[i])
			sums[f.name] = sum
			if f.settled() && !strings.ContainsAny(f.name, " \t\r\n") {
				index[f.name] = sum
				changed = true
			}
		}
	}
	if changed {
		_ = writeAtomic(path, formatX509Index(index), 0o600) // an unwritten index is rebuilt next time
	}
	s.indexMu.Lock()
	s.x509Index = index
	s.indexMu.Unlock()
	return &storedCerts{s: s, files: files, sums: sums}, nil
}

// all parses every listed certificate.
func (c *storedCerts) all() ([]*x509.Certificate, error) {
	return c.where(func(certSummary) bool { return true })
}

// forAddress parses the listed certificates that name addr (as
// core.AddressKey compares addresses), and perhaps others.
func (c *storedCerts) forAddress(addr string) ([]*x509.Certificate, error) {
	d := addressDigest(addr)
	return c.where(func(sum certSummary) bool { return slices.Contains(sum.addrs, d) })
}

// issuers parses the listed certificates that may sign a certificate or
// a CRL (mayIssue).
func (c *storedCerts) issuers() ([]*x509.Certificate, error) {
	return c.where(func(sum certSummary) bool { return sum.issuer })
}

// withKeys parses the listed certificates whose public key's keyID is in
// ids.
func (c *storedCerts) withKeys(ids map[string]bool) ([]*x509.Certificate, error) {
	return c.where(func(sum certSummary) bool { return sum.key != "" && ids[sum.key] })
}

func (c *storedCerts) where(keep func(certSummary) bool) ([]*x509.Certificate, error) {
	var files []certFile
	for _, f := range c.files {
		if sum, ok := c.sums[f.name]; ok && keep(sum) {
			files = append(files, f)
		}
	}
	return c.s.parseCertFiles(c.s.x509CertDir(), files)
}

func formatX509Index(index map[string]certSummary) []byte {
	var b bytes.Buffer
	b.WriteString(x509IndexMagic + "\n")
	for _, name := range slices.Sorted(maps.Keys(index)) {
		sum := index[name]
		flag, key, addrs := "-", "-", "-"
		if sum.issuer {
			flag = "i"
		}
		if sum.key != "" {
			key = sum.key
		}
		if len(sum.addrs) > 0 {
			addrs = strings.Join(sum.addrs, ",")
		}
		fmt.Fprintf(&b, "file %s %s %s %s %s\n", name, sum.tag, flag, key, addrs)
	}
	return b.Bytes()
}

// readX509Index reads the index at path; nil if it is missing or
// malformed.
func readX509Index(path string) map[string]certSummary {
	data, err := atomicfile.ReadFile(path, maxIndexFile)
	if err != nil {
		return nil
	}
	all := string(data)
	first, text, _ := strings.Cut(all, "\n")
	// Every line ends in LF: one cut short (a copy that stopped) could
	// still read as a line, with fewer addresses.
	if first != x509IndexMagic || !strings.HasSuffix(all, "\n") {
		return nil
	}
	index := map[string]certSummary{} // not sized by its line count: a file of empty lines would ask for gigabytes
	for len(text) > 0 {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		// "file NAME TAG FLAG KEYID ADDRESS,...": fields cut in turn, a
		// seventh would be left in addrs (and fail its check).
		var word, name, tag, flag, key, addrs string
		word, line, _ = strings.Cut(line, " ")
		name, line, _ = strings.Cut(line, " ")
		tag, line, _ = strings.Cut(line, " ")
		flag, line, _ = strings.Cut(line, " ")
		key, addrs, _ = strings.Cut(line, " ")
		if word != "file" || !strings.HasSuffix(name, ".pem") || tag == "" || flag != "i" && flag != "-" || addrs == "" {
			return nil
		}
		if _, dup := index[name]; dup {
			return nil
		}
		sum := certSummary{tag: tag, issuer: flag == "i"}
		if key != "-" {
			if !isKeyID(key) {
				return nil
			}
			sum.key = key
		}
		if addrs != "-" {
			sum.addrs = strings.Split(addrs, ",")
			for _, a := range sum.addrs {
				if len(a) != 64 || !isHex(a) {
					return nil
				}
			}
		}
		index[name] = sum
	}
	return index
}
