package keystore

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// The key-ID index lets decryption and verification find the certificate
// of a signer without reading every stored certificate:
//
//	<home>/pgp.keyids   "mailseal pgp key IDs 1 STAMP", then "KEYID FINGERPRINT" lines
//
// STAMP sums up the cert-d subdirectories (names and modification times).
// Writing, replacing or removing a certificate, by mailseal or by another
// tool sharing the directory, changes the modification time of its
// subdirectory and so the stamp; an index whose stamp differs is rebuilt
// from the key packets of every certificate (no signature is checked for
// that: the index only says where to look) and written back.
const (
	keyIndexName  = "pgp.keyids"
	keyIndexMagic = "mailseal pgp key IDs 1"
	// keyIndexSettle: an index is not written while a subdirectory changed
	// this recently, since a change within the file system's timestamp
	// granularity would not change the stamp.
	keyIndexSettle = 2 * time.Second
)

// CertIndex finds stored certificates by the key ID of their primary key
// or a subkey (it is a pgp.CertFinder). Certificates are read when first
// asked for; one that cannot be read is not found. It is safe for
// concurrent use.
type CertIndex struct {
	s     *Store
	once  sync.Once
	ids   map[uint64][]string // key ID -> fingerprints
	mu    sync.Mutex
	certs map[string]*openpgp.Entity
}

// PGPCertIndex returns the key-ID lookup over the stored certificates.
func (s *Store) PGPCertIndex() *CertIndex {
	return &CertIndex{s: s, certs: map[string]*openpgp.Entity{}}
}

// EntitiesById returns the stored certificates that hold a key with the
// key ID id.
func (c *CertIndex) EntitiesById(id uint64) []*openpgp.Entity {
	c.once.Do(func() { c.ids = c.s.keyIDs() })
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*openpgp.Entity
	for _, fpr := range c.ids[id] {
		ent, ok := c.certs[fpr]
		if !ok {
			ent, _ = c.s.entity(fpr)
			c.certs[fpr] = ent
		}
		if ent != nil {
			out = append(out, ent)
		}
	}
	return out
}

// keyIDs reads the index, rebuilding it if it is missing, damaged or stale.
func (s *Store) keyIDs() map[uint64][]string {
	path := filepath.Join(s.dir, keyIndexName)
	stamp, settled, err := s.certDirStamp()
	if err == nil {
		if ids, ok := readKeyIndex(path, stamp); ok {
			return ids
		}
	}
	ids := s.scanKeyIDs()
	if err == nil && settled {
		_ = writeAtomic(path, formatKeyIndex(stamp, ids), 0o600) // an unwritten index is rebuilt next time
	}
	return ids
}

// certDirStamp sums up the names and modification times of the cert-d
// subdirectories; settled is false if one changed within keyIndexSettle.
func (s *Store) certDirStamp() (stamp string, settled bool, err error) {
	entries, err := os.ReadDir(s.certDir())
	if err != nil {
		return "", false, err
	}
	h := sha256.New()
	settled = true
	now := time.Now()
	for _, e := range entries { // sorted by name
		if !e.IsDir() || len(e.Name()) != 2 || !isHex(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return "", false, err
		}
		mt := info.ModTime()
		if now.Sub(mt) < keyIndexSettle {
			settled = false
		}
		fmt.Fprintf(h, "%s %d\n", e.Name(), mt.UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil)[:16]), settled, nil
}

// scanKeyIDs reads the key packets of every stored certificate.
func (s *Store) scanKeyIDs() map[uint64][]string {
	ids := map[uint64][]string{}
	for _, fpr := range s.certFingerprints() {
		data, err := os.ReadFile(s.certPath(fpr))
		if err != nil {
			continue
		}
		seen := map[uint64]bool{}
		packets := packet.NewReader(bytes.NewReader(data))
		for {
			p, err := packets.Next()
			if err != nil { // io.EOF, or damage: the keys read so far are indexed
				break
			}
			if pk, ok := p.(*packet.PublicKey); ok && !seen[pk.KeyId] {
				seen[pk.KeyId] = true
				ids[pk.KeyId] = append(ids[pk.KeyId], fpr)
			}
		}
	}
	return ids
}

func formatKeyIndex(stamp string, ids map[uint64][]string) []byte {
	keys := make([]uint64, 0, len(ids))
	for id := range ids {
		keys = append(keys, id)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s\n", keyIndexMagic, stamp)
	for _, id := range keys {
		for _, fpr := range ids[id] {
			fmt.Fprintf(&b, "%016x %s\n", id, fpr)
		}
	}
	return b.Bytes()
}

// readKeyIndex reads the index at path; ok is false if it is missing,
// malformed or made for another stamp.
func readKeyIndex(path, stamp string) (ids map[uint64][]string, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() || sc.Text() != keyIndexMagic+" "+stamp {
		return nil, false
	}
	ids = map[uint64][]string{}
	for sc.Scan() {
		idHex, fpr, found := strings.Cut(sc.Text(), " ")
		id, err := strconv.ParseUint(idHex, 16, 64)
		if !found || err != nil || len(idHex) != 16 || (len(fpr) != 40 && len(fpr) != 64) || !isHex(fpr) {
			return nil, false
		}
		ids[id] = append(ids[id], fpr)
	}
	if sc.Err() != nil {
		return nil, false
	}
	return ids, true
}
