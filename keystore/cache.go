package keystore

import (
	"errors"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal"
)

// A Session keeps what its look-ups found and validated — the recipient
// keys of an address, the signer of a From address, whether an address has
// a signer, the S/MIME trust (anchors, intermediates, CRLs) and engine,
// the S/MIME decryption identities, and the certificates and secret keys
// found by key ID — so that a batch of messages looks up and validates
// each key once, not once per message.
//
// What it keeps is dropped when the keystore changes. Every write to the
// keystore (by mailseal or another tool sharing the directory: import,
// generate, delete, trust, a revocation, a changed expiry or passphrase)
// replaces or removes a file, and so changes the modification time of the
// directory that holds it. The session's stamp of the keystore is the
// modification times of each directory in the key directory and of each
// directory in those (the cert-d's subdirectories, x509/certs, ...), and
// of provenance.json (keystoreStamp); the outbox, the Autocrypt peer state
// (written by verify --autocrypt for every message of a batch) and the
// caches the look-ups write and check themselves (the indexes, the records
// of checked self-signatures) are not part of it. The stamp is taken again at
// most every cacheRecheck, or every stampRecheckFactor times as long as it
// last took to take if that is longer, up to stampRecheckMax (a keystore
// of thousands of OpenPGP certificates has some 260 directories to stat:
// 2.75 ms, which every 10 ms was a fifth of a small message's time), so a
// change is seen by the look-ups that start that long after it. A stamp with a time within cacheSettle of when it
// was taken is not trusted (a second change within the file system's
// timestamp granularity would leave the time as it is): until it settles,
// nothing is kept and every look-up reads the keystore.
//
// Validation depends on the time: what was validated is kept for at most
// cacheTTL of the policy's time (a fixed Policy.Now keeps it while the
// keystore is unchanged).
var (
	cacheRecheck = 10 * time.Millisecond
	// stampRecheckFactor bounds the time spent taking stamps to about a
	// twentieth of a session's; stampRecheckMax bounds the interval that
	// gives (a stamp slowed once by a stalled disk must not stop the
	// rechecks).
	stampRecheckFactor time.Duration = 20
	stampRecheckMax                  = time.Second
	cacheSettle                      = keyIndexSettle
	cacheTTL                         = 10 * time.Second
)

// keyCache is a Session's cache. Its zero value is empty.
type keyCache struct {
	mu      sync.Mutex
	off     bool      // no caching (benchmarks compare against it)
	stamp   uint64    // of the keystore when the entries were made
	settled bool      // stamp can be trusted
	checked time.Time // when stamp was taken
	took    time.Duration
	gen     uint64 // counts stamp changes; key-ID finders compare it
	entries map[string]cacheEntry

	// misses counts the look-ups that read the keystore, stamps the
	// stamps taken; tests read them.
	misses, stamps atomic.Int64
}

type cacheEntry struct {
	at    time.Time // the policy time of the validation
	value any
}

// keystoreStamp sums the names and the modification (and, where
// changeTime reads them, change) times of the directories in the key
// directory and of the directories in those (through links, as the
// look-ups read them), and of provenance.json, and reports whether all of
// them changed (changedAt) more than cacheSettle before now.
//
// Left out are what the look-ups do not read or read only as caches they
// check themselves: the outbox, autocrypt/, the records of checked
// self-signatures (pgp.verified/) and the key directory's own times,
// which change with every file renamed into it, such as the indexes
// (pgp.keyids, x509.index) — except where change times are not read
// (changeTime), since there only the key directory's time shows a
// directory moved into it with its times kept. The look-ups write those caches; had they
// counted, the first look-ups of a process would drop what the session
// keeps, and keep nothing for cacheSettle after. A directory added to or
// removed from the key directory changes the names summed.
func (s *Store) keystoreStamp(now time.Time) (sum uint64, settled bool, err error) {
	h := fnv.New64a()
	settled = true
	var buf []byte
	add := func(rel string, info fs.FileInfo) {
		mt := info.ModTime()
		buf = append(buf[:0], rel...)
		buf = strconv.AppendInt(buf, mt.UnixNano(), 36)
		// The change time too, where it is read: a file added with the
		// directory's modification time set back (rsync -a, tar x).
		buf = append(buf, '.')
		buf = strconv.AppendInt(buf, changeTime(info), 36)
		buf = append(buf, 0)
		h.Write(buf)
		if now.Sub(changedAt(info)) < cacheSettle {
			settled = false
		}
	}
	home, err := os.Stat(s.dir)
	if err != nil {
		return 0, false, err
	}
	if changeTime(home) == 0 {
		// Where change times are not read, a directory moved into place
		// with its times kept (rsync -a, a restore) would show only in
		// the key directory's own time.
		add("", home)
	}
	top, err := os.ReadDir(s.dir)
	if err != nil {
		return 0, false, err
	}
	for _, e := range top {
		switch e.Name() {
		case "outbox", "autocrypt", verifiedDirName:
			continue
		case filepath.Base(s.provenanceFile()):
			info, err := os.Stat(s.provenanceFile())
			if err != nil {
				settled = false // removed since the listing
				continue
			}
			add(e.Name(), info)
			continue
		}
		info, err := dirInfo(filepath.Join(s.dir, e.Name()), e)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				settled = false // removed since the listing
				continue
			}
			return 0, false, err
		}
		if info == nil {
			continue
		}
		add(e.Name(), info)
		if !s.stampInner(e.Name(), add) {
			settled = false
		}
	}
	return h.Sum64(), settled, nil
}

// stampInner adds the directories in the directory name of the keystore
// to a stamp, each stat'ed relative to it; false if one could not be.
func (s *Store) stampInner(name string, add func(string, fs.FileInfo)) bool {
	dir := filepath.Join(s.dir, name)
	inner, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	d, err := openDirFiles(dir)
	if err != nil {
		return false
	}
	defer d.close()
	ok := true
	for _, f := range inner {
		if !f.IsDir() && f.Type()&fs.ModeSymlink == 0 {
			continue
		}
		// Through a link, as dirInfo.
		info, err := d.stat(f.Name())
		switch {
		case err != nil && f.Type()&fs.ModeSymlink != 0 && errors.Is(err, fs.ErrNotExist):
			// a dangling link is nothing the readers see
		case err != nil:
			ok = false
		case info.IsDir():
			add(name+"/"+f.Name(), info)
		}
	}
	return ok
}

// dirInfo is the FileInfo of the directory entry e at path, through a
// link (a directory kept elsewhere and linked in, as the readers follow
// it), or nil if it is not a directory.
func dirInfo(path string, e fs.DirEntry) (fs.FileInfo, error) {
	switch {
	case e.IsDir():
		return e.Info()
	case e.Type()&fs.ModeSymlink != 0:
		info, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil // a dangling link is nothing the readers see
		}
		if err != nil || !info.IsDir() {
			return nil, err
		}
		return info, nil
	}
	return nil, nil
}

// current brings the cache up to date with the keystore and says whether
// it may be used. It returns the generation of the entries.
func (se *Session) current() (usable bool, gen uint64) {
	c := &se.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.currentLocked()
}

func (c *keyCache) currentLocked() (bool, uint64) {
	return c.settled && !c.off, c.gen
}

// refresh takes the keystore's stamp again when cacheRecheck has passed
// since the last, and drops the entries if it changed or has not settled.
func (se *Session) refresh() {
	c := &se.cache
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	recheck := c.recheckLocked()
	if c.off || (!c.checked.IsZero() && now.Sub(c.checked) < recheck && now.After(c.checked)) {
		return
	}
	start := time.Now() // not counting the wait for the lock
	sum, settled, err := se.store.keystoreStamp(now)
	c.checked, c.took = now, time.Since(start)
	c.stamps.Add(1)
	if err != nil {
		sum, settled = 0, false
	}
	if sum != c.stamp || c.gen == 0 {
		c.gen++
		c.entries = nil
	}
	if !settled {
		c.entries = nil
	}
	c.stamp, c.settled = sum, settled
}

// recheckLocked is how long the stamp is trusted: cacheRecheck, or
// stampRecheckFactor times as long as it last took, up to
// stampRecheckMax. The caller holds c.mu.
func (c *keyCache) recheckLocked() time.Duration {
	return min(max(cacheRecheck, stampRecheckFactor*c.took), stampRecheckMax)
}

// invalidate drops what the session keeps, after it changed the keystore
// itself (the stamp may not show a change made within cacheRecheck).
func (se *Session) invalidate() {
	c := &se.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.entries = nil
	c.checked = time.Time{}
}

// cached returns what is kept under key, or calls find and keeps its
// result (when ok) for as long as the keystore is unchanged.
func cached[T any](se *Session, key string, find func() (T, bool, error)) (T, error) {
	if se == nil || se.store == nil {
		var zero T
		return zero, errZeroSession
	}
	se.refresh()
	at := se.opts.Policy.Time()
	c := &se.cache
	c.mu.Lock()
	usable, gen := c.currentLocked()
	if usable {
		if e, ok := c.entries[key]; ok {
			if d := at.Sub(e.at); d >= 0 && d < cacheTTL {
				c.mu.Unlock()
				return e.value.(T), nil
			}
		}
	}
	c.mu.Unlock()
	c.misses.Add(1)
	v, keep, err := find()
	if err != nil || !keep || !usable {
		return v, err
	}
	c.mu.Lock()
	if c.gen == gen && c.settled {
		if c.entries == nil {
			c.entries = map[string]cacheEntry{}
		}
		c.entries[key] = cacheEntry{at: at, value: v}
	}
	c.mu.Unlock()
	return v, nil
}

// recipientsResult is what RecipientKeys found for an address.
type recipientsResult struct {
	keys    []mailseal.Recipient
	refused string
}

// keyIDFinder is a pgp.CertFinder over the stored certificates or secret
// keys that starts again from the keystore when the keystore's stamp
// changes (the index and the keys it read may be stale). Each Keys() has
// its own, so secret keys unlocked in place are not shared.
type keyIDFinder struct {
	se     *Session
	secret bool
	certs  *keyIDFinder // the secret finder shares its certificate finder's index

	mu    sync.Mutex
	gen   uint64
	index *CertIndex
}

// current is the index for the cache's generation.
func (f *keyIDFinder) current() *CertIndex {
	f.se.refresh()
	_, gen := f.se.current()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.index != nil && f.gen == gen {
		return f.index
	}
	f.se.cache.misses.Add(1)
	if f.secret {
		f.index = f.certs.current().Secrets()
	} else {
		f.index = f.se.store.PGPCertIndex()
	}
	f.gen = gen
	return f.index
}

func (f *keyIDFinder) EntitiesById(id uint64) []*openpgp.Entity {
	return f.current().EntitiesById(id)
}

// CertSource is CertIndex.CertSource: without it the pgp engine, which
// asks the CertFinder it is given (pgp.CertSources), would count a key
// from the network as trusted on the Session's path.
func (f *keyIDFinder) CertSource(fpr string) (string, bool) {
	return f.current().CertSource(fpr)
}
