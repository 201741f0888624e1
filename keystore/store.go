// Package keystore is mailseal's local key directory — OpenPGP keys and
// X.509 certificates with their private keys in one place — and the place
// that selects keys for addresses.
//
//	<home>/pgp.cert.d/<2 hex>/<38 or 62 hex>   OpenPGP certificates (Shared OpenPGP Certificate Directory)
//	<home>/pgp.cert.d/writelock                 locked by every writer
//	<home>/pgp.keys/<FINGERPRINT>               OpenPGP secret keys, encrypted, mode 0600
//	<home>/pgp.keyids                           key ID and address -> certificate index (see keyIndex)
//	<home>/pgp.verified/<FINGERPRINT>[.secret]  which self-signatures of a key file verified (see verified.go)
//	<home>/pgp.revocs/<FINGERPRINT>.rev         revocation certificates made at generation, mode 0600
//	<home>/x509/certs/<SHA-256>.pem             X.509 certificates
//	<home>/x509/keys/<id>.p12                   their private keys, PKCS#12 under the passphrase
//	<home>/x509/trust/<SHA-256>.pem             trust anchors (keys trust)
//	<home>/x509/crls/<id>.crl                   CRLs
//	<home>/x509.index                           address, key and "may issue" index of x509/certs (see x509index.go)
//
// Open (or OpenDefault, the CLI's directory) gives a Store: import,
// generate, list, export, delete and trust keys. A Session on it selects
// keys for messages: RecipientKeys for an address and protocol, Signer for
// a From address (or SignerMatching for a query), Keys for mailseal.Open,
// and Trust for S/MIME validation. A Session is a mailseal.KeyFinder, so
// the protocol choices of package mailseal (ChooseRecipients, PlanSend)
// run on it. It asks for each passphrase once (SessionOptions.Passphrase)
// and keeps what it unlocked.
//
// Every write is atomic (temporary file, fsync, rename, fsync of the
// directory) and happens under the writer lock, held across
// read-merge-write, so concurrent imports lose nothing.
package keystore

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/internal/filelock"
	"github.com/mailseal/mailseal/internal/userdir"
)

// Store is an open key directory.
type Store struct {
	dir string
	// keyBytesRead counts the bytes of certificate and secret key files
	// read through readKeyFile, so that tests can check that a look-up
	// reads only the keys it needs.
	keyBytesRead atomic.Int64
	// certDirReads counts readCertDir's listings of an X.509 directory,
	// for the same reason.
	certDirReads atomic.Int64
	// statWorkerCount, when not 0, is how many goroutines stat the files
	// of the key index and the X.509 listing (statWorkers), for tests and
	// benchmarks that compare the ways.
	statWorkerCount int

	// index is the key index as this Store last read or wrote it, so
	// that its next look-up checks the subdirectories' times without
	// reading the file again (see keyIndex).
	indexMu sync.Mutex
	index   map[string]indexDir
	// x509Index is the X.509 index as this Store last read or wrote it.
	x509Index map[string]certSummary

	// provenanceKept is provenance.json as a look-up last parsed it
	// (see provenance).
	provenanceMu   sync.Mutex
	provenanceKept *keptProvenance
	// provenanceReads counts the reads of provenance.json; tests read it.
	provenanceReads atomic.Int64

	// x509Parsed are the X.509 certificates this Store parsed, by
	// directory and file name (see readCertDir).
	x509Mu     sync.Mutex
	x509Parsed map[string]map[string]parsedCert
}

// DefaultDir is $MAILSEAL_HOME, else $XDG_DATA_HOME/mailseal, else
// ~/.local/share/mailseal (%AppData%\mailseal on Windows), else (no home
// directory) .mailseal in the working directory.
func DefaultDir() string {
	if d := os.Getenv("MAILSEAL_HOME"); d != "" {
		return d
	}
	d, err := userdir.Data()
	if err != nil {
		return filepath.Join(".", ".mailseal")
	}
	return d
}

// Open opens the key directory dir, creating it (mode 0700) if needed.
func Open(dir string) (*Store, error) {
	s := &Store{dir: dir}
	for _, d := range []string{dir, s.certDir(), s.secretDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("keystore: %w: %w", err, core.ErrUsage)
		}
	}
	return s, nil
}

// Dir is the key directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) certDir() string   { return filepath.Join(s.dir, "pgp.cert.d") }
func (s *Store) secretDir() string { return filepath.Join(s.dir, "pgp.keys") }

// certPath is the cert-d path of a fingerprint (lower-case hex).
func (s *Store) certPath(fpr string) string {
	return filepath.Join(s.certDir(), fpr[:2], fpr[2:])
}

func (s *Store) secretPath(fpr string) string {
	return filepath.Join(s.secretDir(), upper(fpr))
}

// lock takes the cert-d writer lock; the returned function releases it.
func (s *Store) lock() (func(), error) {
	if s.dir == "" {
		// Not made by Open: every path would be in the working directory.
		return nil, fmt.Errorf("keystore: a zero Store has no directory: make it with keystore.Open: %w", core.ErrUsage)
	}
	unlock, err := filelock.Lock(filepath.Join(s.certDir(), "writelock"))
	if err != nil {
		return nil, fmt.Errorf("keystore: lock: %w", err)
	}
	return unlock, nil
}

// writeAtomic replaces path with data (see internal/atomicfile), creating
// its directory if needed.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, perm, data)
}

// OpenDefault opens the keystore in DefaultDir.
func OpenDefault() (*Store, error) { return Open(DefaultDir()) }
