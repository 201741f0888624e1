package autocrypt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/internal/filelock"
)

// maxPeerFile bounds a peer file read back (two keys of at most
// MaxFieldSize each, base64 in JSON, fit many times over).
const maxPeerFile = 256 << 10

// A Store keeps peers in a directory: one JSON file per address (named by
// the SHA-256 of the address, so that no address makes a path), replaced
// atomically under the directory's lock, so that two processes ingesting
// mail at once lose nothing.
type Store struct {
	Dir string
}

func (s Store) path(addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(addr)))
	return filepath.Join(s.Dir, hex.EncodeToString(sum[:16])+".json")
}

// Peer returns the state kept for addr, nil if there is none.
func (s Store) Peer(addr string) (*Peer, error) {
	addr = strings.ToLower(addr)
	data, err := atomicfile.ReadFile(s.path(addr), maxPeerFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("autocrypt: %w (remove it to forget %s)", err, addr)
	}
	var p Peer
	if err := json.Unmarshal(data, &p); err != nil || p.Addr != addr {
		return nil, fmt.Errorf("autocrypt: %s is damaged (remove it to forget %s): %v", s.path(addr), addr, err)
	}
	return &p, nil
}

// update runs fn on the state of addr (a new Peer if none) under the
// store's lock and writes it back if fn reports a change.
func (s Store) update(addr string, fn func(p *Peer) bool) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return fmt.Errorf("autocrypt: %w", err)
	}
	unlock, err := filelock.Lock(filepath.Join(s.Dir, ".lock"))
	if err != nil {
		return fmt.Errorf("autocrypt: %w", err)
	}
	defer unlock()
	p, err := s.Peer(addr)
	if err != nil {
		return err
	}
	if p == nil {
		p = &Peer{Addr: strings.ToLower(addr)}
	}
	if !fn(p) {
		return nil
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("autocrypt: %w", err)
	}
	if err := atomicfile.WriteBytes(s.path(addr), 0o600, append(data, '\n')); err != nil {
		return fmt.Errorf("autocrypt: %w", err)
	}
	return nil
}

// Ingest updates the sender's state from a received message (ReadMessage)
// and, for encrypted mail, the gossiped peers' (ReadGossip of the
// decrypted content's header).
func (s Store) Ingest(in Incoming, gossip []Header) error {
	if in.From != "" {
		if err := s.update(in.From, func(p *Peer) bool { return p.Update(in.Date, in.Header) }); err != nil {
			return err
		}
	}
	for _, g := range gossip {
		if g.Addr == in.From {
			continue // the sender's own key comes from its Autocrypt header
		}
		if err := s.update(g.Addr, func(p *Peer) bool { return p.UpdateGossip(in.Date, g) }); err != nil {
			return err
		}
	}
	return nil
}

// Recommend is Peer.Recommend for each address and Aggregate over them,
// with the keys to encrypt to by address.
func (s Store) Recommend(addrs []string, opts RecommendOptions) (Recommendation, map[string]Recommendation, map[string][]byte, error) {
	each := map[string]Recommendation{}
	keys := map[string][]byte{}
	var recs []Recommendation
	for _, a := range addrs {
		p, err := s.Peer(a)
		if err != nil {
			return Disable, nil, nil, err
		}
		r, k := p.Recommend(opts)
		each[strings.ToLower(a)] = r
		if k != nil {
			keys[strings.ToLower(a)] = k
		}
		recs = append(recs, r)
	}
	return Aggregate(recs), each, keys, nil
}
