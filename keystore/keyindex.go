package keystore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/pgp"
)

// The key-ID index lets decryption and verification find the certificates
// and secret keys of a message, and encryption and signing the
// certificates of an address, without reading every stored one:
//
//	<home>/pgp.keyids   "mailseal pgp key IDs 5", then for each cert-d
//	                    subdirectory "dir XX MTIME", a "file NAME TAG" line
//	                    for each certificate file, the "KEYID FINGERPRINT"
//	                    lines of its certificates and their "addr
//	                    FINGERPRINT ADDRESS" lines; last, an "end" line
//
// ADDRESS is the addressDigest of the address core.UserIDAddress reads
// from one of the certificate's user ID packets, signed or not: the index
// names the certificates whose user IDs might bind an address, and
// PGPForAddress reads those and checks them. TAG is the file's size and
// modification and change times: a certificate rewritten in place, which
// leaves its directory's time as it was, is read again too.
//
// MTIME is the subdirectory's modification time in nanoseconds. Writing,
// replacing or removing a certificate, by mailseal or by another tool
// sharing the directory, changes the modification time of its
// subdirectory: only that subdirectory is read again (the key packets of
// its certificates; no signature is checked, the index only says where to
// look) and the index is written back. So the cost of a look-up does not
// grow with the size of the other certificates. A subdirectory that
// changed within keyIndexSettle is read again at each look-up until it
// settles, since a further change within the file system's timestamp
// granularity would not change its time.
const (
	keyIndexName  = "pgp.keyids"
	keyIndexMagic = "mailseal pgp key IDs 5"
)

// maxIndexFile bounds what an index read takes in (pgp.keyids,
// x509.index): one larger, or a link to an endless file, is not read (and
// the look-up reads the certificates). It holds some 250,000
// certificates' lines.
const maxIndexFile = 64 << 20

// keyIndexSettle: a variable for the tests. keyIndexNow is the key
// index's clock, which the tests move on to make a directory settled (they
// set its modification times back, as no one can set a change time).
var (
	keyIndexSettle = 2 * time.Second
	keyIndexNow    = time.Now
)

// CertIndex finds stored certificates, or with Secrets the stored secret
// keys (locked), by the key ID of their primary key or a subkey; it is a
// pgp.CertFinder. A key is read when first asked for; one that cannot be
// read is not found. It is safe for concurrent use.
type CertIndex struct {
	s      *Store
	ids    *keyIDTable
	secret bool
	mu     sync.Mutex
	found  map[string]*openpgp.Entity // by fingerprint; nil: unreadable or absent
	all    bool                       // secret: every secret key was read (key ID 0)
}

// keyIDTable loads the index once for the certificate and secret-key
// lookups that share it.
type keyIDTable struct {
	once sync.Once
	s    *Store
	ids  map[uint64][]string
}

func (t *keyIDTable) get() map[uint64][]string {
	t.once.Do(func() { t.ids = t.s.keyIDs() })
	return t.ids
}

// PGPCertIndex returns the key-ID lookup over the stored certificates.
func (s *Store) PGPCertIndex() *CertIndex {
	return &CertIndex{s: s, ids: &keyIDTable{s: s}, found: map[string]*openpgp.Entity{}}
}

// Secrets returns the lookup of the stored secret keys, locked, sharing the
// index of c. A secret key is found through its certificate's key IDs; key
// ID 0 (an anonymous recipient) finds every secret key.
func (c *CertIndex) Secrets() *CertIndex {
	return &CertIndex{s: c.s, ids: c.ids, secret: true, found: map[string]*openpgp.Entity{}}
}

// PGPKeyring is the keyring for reading messages with the stored keys:
// certificates and secret keys are found by key ID and read only when a
// message needs them; a locked secret key is unlocked with a passphrase
// from pass. The caller may add a Password function and session keys.
func (s *Store) PGPKeyring(pass PassphraseFunc) pgp.Keyring {
	certs := s.PGPCertIndex()
	return pgp.Keyring{
		Certs:   certs,
		Secrets: certs.Secrets(),
		Unlock:  func(e *openpgp.Entity) error { return Unlock(e, pass) },
	}
}

// EntitiesById returns the stored certificates (or secret keys) that hold
// a key with the key ID id.
func (c *CertIndex) EntitiesById(id uint64) []*openpgp.Entity {
	if c.secret && id == 0 {
		return c.allSecrets()
	}
	fprs := c.ids.get()[id]
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*openpgp.Entity
	for _, fpr := range fprs {
		ent, ok := c.found[fpr]
		if !ok {
			ent = c.read(fpr)
			c.found[fpr] = ent
		}
		if ent != nil {
			out = append(out, ent)
		}
	}
	return out
}

func (c *CertIndex) read(fpr string) *openpgp.Entity {
	var ent *openpgp.Entity
	var err error
	if c.secret {
		ent, err = c.s.PGPSecret(fpr)
	} else {
		ent, err = c.s.entity(fpr)
	}
	if err != nil {
		return nil
	}
	return ent
}

func (c *CertIndex) allSecrets() []*openpgp.Entity {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.all {
		c.all = true
		files, _ := os.ReadDir(c.s.secretDir())
		for _, f := range files {
			fpr := strings.ToLower(f.Name())
			if _, ok := c.found[fpr]; ok || f.IsDir() || !isFingerprint(fpr) {
				continue
			}
			c.found[fpr] = c.read(fpr)
		}
	}
	var fprs []string
	for fpr, ent := range c.found {
		if ent != nil {
			fprs = append(fprs, fpr)
		}
	}
	sort.Strings(fprs)
	out := make([]*openpgp.Entity, len(fprs))
	for i, fpr := range fprs {
		out[i] = c.found[fpr]
	}
	return out
}

// indexDir is what the index holds for one cert-d subdirectory.
type indexDir struct {
	mtime int64 // nanoseconds
	ctime int64 // nanoseconds, where changeTime reads it (else 0)
	files []indexFile
	keys  []indexKey
	addrs []indexAddr
}

// indexFile is a certificate file of the subdirectory and its tag: its
// size and modification and change times, which a file written in place
// (not replaced by a new file, as mailseal and the cert-d draft write
// them) changes although its directory's time stays.
type indexFile struct {
	name, tag string
}

// changedAt is the later of the file's modification and change times: a
// file settles keyIndexSettle after it (a tool that sets the modification
// time back, tar x or rsync -a, still sets the change time).
func changedAt(info fs.FileInfo) time.Time {
	t := info.ModTime()
	if ct := time.Unix(0, changeTime(info)); ct.After(t) {
		return ct
	}
	return t
}

// fileTag is the tag of a certificate file.
func fileTag(info fs.FileInfo) string {
	return strconv.FormatInt(info.Size(), 10) + "." + strconv.FormatInt(info.ModTime().UnixNano(), 10) + "." +
		strconv.FormatInt(changeTime(info), 10)
}

// sameFiles reports whether the certificate files of the cert-d
// subdirectory dir, whose modification time has not changed since files
// was made (so no file was added, removed or renamed), still have the
// tags in files: whether none was written in place. root is the cert-d,
// opened once for all its subdirectories.
func sameFiles(root *dirFiles, dir string, files []indexFile) bool {
	for _, f := range files {
		info, err := root.stat(dir + "/" + f.name)
		if err != nil || fileTag(info) != f.tag {
			return false
		}
	}
	return true
}

// certFiles lists the certificate files of the cert-d subdirectory dir
// with their tags (sorted by name), and the latest time one of them
// changed (changedAt); ok is false when the directory cannot be read.
func (s *Store) certFiles(root *dirFiles, dir string) (files []indexFile, latest time.Time, ok bool) {
	entries, err := os.ReadDir(filepath.Join(s.certDir(), dir))
	if err != nil {
		return nil, time.Time{}, false
	}
	for _, f := range entries {
		fpr := dir + f.Name()
		if f.IsDir() || !isFingerprint(fpr) {
			continue
		}
		// Through a link, as the file is read.
		info, err := root.stat(dir + "/" + f.Name())
		if err != nil {
			continue // removed since the listing
		}
		files = append(files, indexFile{f.Name(), fileTag(info)})
		if t := changedAt(info); t.After(latest) {
			latest = t
		}
	}
	return files, latest, true
}

type indexKey struct {
	id  uint64
	fpr string
}

// indexAddr is an address a user ID of the certificate fpr names (its
// addressDigest).
type indexAddr struct {
	fpr, addr string
}

// keyIDs is keyIndex's key IDs.
func (s *Store) keyIDs() map[uint64][]string {
	ids, _, _ := s.keyIndex()
	return ids
}

// keyIndex reads the index, reading again the subdirectories that changed
// since it was written (all of them if it is missing or damaged), and
// writes it back if that changed it. It returns the fingerprints of the
// certificates by key ID and by the addressDigest of the addresses their
// user IDs name, and whether every subdirectory had settled (else some
// were read again, and will be at each call until they settle).
func (s *Store) keyIndex() (ids map[uint64][]string, addrs map[string][]string, settled bool) {
	path := filepath.Join(s.dir, keyIndexName)
	s.indexMu.Lock()
	old := s.index
	s.indexMu.Unlock()
	if old == nil {
		old = readKeyIndex(path)
	}
	entries, err := os.ReadDir(s.certDir())
	if err != nil {
		return map[uint64][]string{}, map[string][]string{}, false
	}
	root, err := openDirFiles(s.certDir())
	if err != nil {
		return map[uint64][]string{}, map[string][]string{}, false
	}
	defer root.close()
	now := keyIndexNow()
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 2 && isHex(e.Name()) {
			dirs = append(dirs, e.Name())
		}
	}
	// Each subdirectory is checked on its own: a stat of it and of every
	// file the index names there, read again if anything changed.
	checked := make([]checkedDir, len(dirs))
	check := func(i int) {
		name := dirs[i]
		info, err := root.stat(name)
		if err != nil || !info.IsDir() {
			return // removed (or replaced) since the listing
		}
		mt, ct := info.ModTime(), changeTime(info)
		// A file added or removed changes the directory's times; its
		// change time also when a tool sets the modification time back
		// (rsync -a, tar x).
		if d, ok := old[name]; ok && d.mtime == mt.UnixNano() && d.ctime == ct && sameFiles(root, name, d.files) {
			checked[i] = checkedDir{dir: d, kept: true}
			return
		}
		files, latest, ok := s.certFiles(root, name)
		if !ok {
			return // removed since the listing
		}
		d := s.scanIndexDir(name, files)
		d.mtime, d.ctime = mt.UnixNano(), ct
		settled := now.Sub(changedAt(info)) >= keyIndexSettle && now.Sub(latest) >= keyIndexSettle
		checked[i] = checkedDir{dir: d, read: true, settled: settled}
	}
	forEachParallel(len(dirs), s.statWorkers(), check)
	fresh := map[string]indexDir{} // settled subdirectories: written to the index
	var unsettled []indexDir
	changed := false
	for i, c := range checked {
		switch {
		case c.kept:
			fresh[dirs[i]] = c.dir
		case c.read && !c.settled:
			unsettled = append(unsettled, c.dir)
		case c.read:
			fresh[dirs[i]] = c.dir
			changed = true
		}
	}
	if len(fresh) != len(old) {
		changed = true // a subdirectory went away or has not settled
	}
	if changed {
		_ = writeAtomic(path, formatKeyIndex(fresh), 0o600) // an unwritten index is rebuilt next time
	}
	s.indexMu.Lock()
	s.index = fresh
	s.indexMu.Unlock()
	nk, na := 0, 0
	for _, d := range fresh {
		nk, na = nk+len(d.keys), na+len(d.addrs)
	}
	ids, addrs = make(map[uint64][]string, nk), make(map[string][]string, na)
	add := func(d indexDir) {
		for _, k := range d.keys {
			ids[k.id] = append(ids[k.id], k.fpr)
		}
		for _, a := range d.addrs {
			addrs[a.addr] = append(addrs[a.addr], a.fpr)
		}
	}
	for _, d := range fresh {
		add(d)
	}
	for _, d := range unsettled {
		add(d)
	}
	return ids, addrs, len(unsettled) == 0
}

// checkedDir is what keyIndex found of one cert-d subdirectory: the
// index's entry kept, or the subdirectory read again (settled: no change
// for keyIndexSettle), or neither (it went away).
type checkedDir struct {
	dir                 indexDir
	kept, read, settled bool
}

// parallelMin is the least number of items (cert-d subdirectories for
// keyIndex, files for listCertFiles) checked on more than one goroutine:
// each check is system calls (a stat per file, 2-3 µs each on the 2-core
// machine of BENCHMARKS.md), which run side by side on other cores;
// BenchmarkKeyIndexChecks and BenchmarkX509Listing compare.
const parallelMin = 64

// statWorkers is how many goroutines check a directory's files: as many
// as Go runs at once, at most 4.
func (s *Store) statWorkers() int {
	if s.statWorkerCount != 0 {
		return s.statWorkerCount
	}
	return min(runtime.GOMAXPROCS(0), 4)
}

// forEachParallel calls f(0) ... f(n-1), on workers goroutines when n is
// at least parallelMin, else in turn.
func forEachParallel(n, workers int, f func(int)) {
	if n < parallelMin || workers < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// scanIndexDir reads the key IDs of the certificate files of the cert-d
// subdirectory dir (tagged before they are read, so that a change while
// they are read shows at the next look-up) from their key packets, and the
// addresses of their user ID packets (no signature is checked).
func (s *Store) scanIndexDir(dir string, files []indexFile) indexDir {
	var out []indexKey
	var addrs []indexAddr
	for _, f := range files {
		fpr := dir + f.name
		data, err := s.readKeyFile(s.certPath(fpr))
		if err != nil {
			continue
		}
		seen := map[uint64]bool{}
		seenAddr := map[string]bool{}
		addKey := func(id uint64) {
			if !seen[id] {
				seen[id] = true
				out = append(out, indexKey{id, fpr})
			}
		}
		// As pgp.ValidUserIDs reads go-crypto's Identity names (a user ID
		// packet's bytes as a string).
		addUserID := func(uid string) {
			if a, _ := core.UserIDAddress(uid); a != "" && !seenAddr[core.AddressKey(a)] {
				seenAddr[core.AddressKey(a)] = true
				addrs = append(addrs, indexAddr{fpr, addressDigest(a)})
			}
		}
		// The packets as go-crypto reads them (every length encoding,
		// partial ones too), their contents not parsed: a key packet as
		// publicPacket reads it (secret key material is skipped, not
		// validated), a user ID as go-crypto names an Identity.
		r := packet.NewOpaqueReader(bytes.NewReader(data))
		for {
			op, err := r.Next()
			if err != nil {
				break // the end, or damage: what was read so far is indexed
			}
			switch tag := int(op.Tag); {
			case tag == tagUserID:
				addUserID(string(op.Contents))
			case isKeyPacket(tag):
				if _, key, err := publicPacket(rawPacket{tag: tag, body: op.Contents}); err == nil {
					addKey(key.KeyId)
				}
			}
		}
	}
	return indexDir{files: files, keys: out, addrs: addrs}
}

// addressDigest is what the index holds for an address: the SHA-256 of its
// core.AddressKey, a line of fixed length whatever the address (two
// addresses with one digest would only make a look-up read more).
func addressDigest(addr string) string {
	sum := sha256.Sum256([]byte(core.AddressKey(addr)))
	return hex.EncodeToString(sum[:])
}

func formatKeyIndex(dirs map[string]indexDir) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n", keyIndexMagic)
	for _, name := range slices.Sorted(maps.Keys(dirs)) {
		d := dirs[name]
		fmt.Fprintf(&b, "dir %s %d %d\n", name, d.mtime, d.ctime)
		for _, f := range d.files {
			fmt.Fprintf(&b, "file %s %s\n", f.name, f.tag)
		}
		for _, k := range d.keys {
			fmt.Fprintf(&b, "%016x %s\n", k.id, k.fpr)
		}
		for _, a := range d.addrs {
			fmt.Fprintf(&b, "addr %s %s\n", a.fpr, a.addr)
		}
	}
	b.WriteString("end\n")
	return b.Bytes()
}

// readKeyIndex reads the index at path; nil if it is missing or
// malformed.
func readKeyIndex(path string) map[string]indexDir {
	data, err := atomicfile.ReadFile(path, maxIndexFile)
	if err != nil {
		return nil
	}
	first, text, _ := strings.Cut(string(data), "\n")
	// The last line is "end": an index cut short (a copy that stopped)
	// could otherwise read as a directory whose certificates name fewer
	// keys or addresses, with every file's tag as it is.
	text, complete := strings.CutSuffix(text, "end\n")
	if first != keyIndexMagic || !complete || text != "" && !strings.HasSuffix(text, "\n") {
		return nil
	}
	dirs := map[string]indexDir{}
	cur, d := "", indexDir{} // the subdirectory being read, added to dirs at the next
	for len(text) > 0 {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		if rest, ok := strings.CutPrefix(line, "dir "); ok {
			name, times, _ := strings.Cut(rest, " ")
			mt, ct, _ := strings.Cut(times, " ")
			m, err1 := strconv.ParseInt(mt, 10, 64)
			c, err2 := strconv.ParseInt(ct, 10, 64)
			if _, dup := dirs[name]; err1 != nil || err2 != nil || dup || name == cur || len(name) != 2 || !isHex(name) {
				return nil
			}
			if cur != "" {
				dirs[cur] = d
			}
			cur, d = name, indexDir{mtime: m, ctime: c, keys: []indexKey{}}
			continue
		}
		if cur == "" {
			return nil
		}
		if rest, ok := strings.CutPrefix(line, "file "); ok {
			name, tag, _ := strings.Cut(rest, " ")
			if len(name)+2 != 40 && len(name)+2 != 64 || !isHex(name) || tag == "" || strings.Contains(tag, " ") {
				return nil
			}
			d.files = append(d.files, indexFile{name, tag})
			continue
		}
		if rest, ok := strings.CutPrefix(line, "addr "); ok {
			fpr, addr, _ := strings.Cut(rest, " ")
			if len(addr) != 64 || !isHex(addr) || !isFingerprint(fpr) || !strings.HasPrefix(fpr, cur) {
				return nil
			}
			d.addrs = append(d.addrs, indexAddr{fpr, addr})
			continue
		}
		idHex, fpr, found := strings.Cut(line, " ")
		id, err := strconv.ParseUint(idHex, 16, 64)
		if !found || err != nil || len(idHex) != 16 || !isFingerprint(fpr) || !strings.HasPrefix(fpr, cur) {
			return nil
		}
		d.keys = append(d.keys, indexKey{id, fpr})
	}
	if cur != "" {
		dirs[cur] = d
	}
	return dirs
}

// readStored reads a file the keystore stores (a certificate, a key, a
// CRL, a revocation, a DKIM key): one that is not a regular file, such as
// a named pipe or a device put among them, is an error rather than a
// wait or an endless read, and none may be larger than an import.
func readStored(path string) ([]byte, error) { return atomicfile.ReadFile(path, maxImport) }

// readKeyFile reads a certificate or secret key file, counting what it
// reads (see Store.keyBytesRead).
func (s *Store) readKeyFile(path string) ([]byte, error) {
	data, err := readStored(path)
	s.keyBytesRead.Add(int64(len(data)))
	return data, err
}
