package keystore

import (
	"bytes"
	"path/filepath"
	"strings"
	"time"

	"github.com/mailseal/mailseal/autocrypt"
	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/pgp"
)

// Autocrypt is the keystore's Autocrypt peer state, in its autocrypt/
// directory: what correspondents' Autocrypt headers said (Level 1). The
// keys there are not keystore keys: they are used for nothing until a
// caller takes one, and never for checking signatures.
func (s *Store) Autocrypt() autocrypt.Store {
	return autocrypt.Store{Dir: filepath.Join(s.dir, "autocrypt")}
}

// AutocryptPeer is the recommendation for one address with what it rests
// on.
type AutocryptPeer struct {
	Addr           string                   `json:"addr"`
	Recommendation autocrypt.Recommendation `json:"recommendation"`
	// Fingerprint is the key the recommendation would encrypt to; Source
	// says where it came from: "autocrypt" (the peer's own header) or
	// "gossip" (another sender's Autocrypt-Gossip). Both empty for
	// disable.
	Fingerprint        string    `json:"fingerprint,omitempty"`
	Source             string    `json:"source,omitempty"`
	PreferEncrypt      bool      `json:"prefer_encrypt"`
	LastSeen           time.Time `json:"last_seen,omitzero"`
	AutocryptTimestamp time.Time `json:"autocrypt_timestamp,omitzero"`
	GossipTimestamp    time.Time `json:"gossip_timestamp,omitzero"`
}

// AutocryptStatus is the recommendation for a message to addrs (Level 1's
// aggregate) and for each address. A key counts only if policy accepts it
// for encryption now (not revoked, not expired, an accepted algorithm).
type AutocryptStatus struct {
	Recommendation autocrypt.Recommendation `json:"recommendation"`
	Peers          []AutocryptPeer          `json:"peers"`
}

// AutocryptStatus computes the Autocrypt recommendation for addrs.
// selfMutual is the sender's own prefer-encrypt=mutual, replyToEncrypted
// whether the message answers an encrypted one.
func (s *Store) AutocryptStatus(addrs []string, selfMutual, replyToEncrypted bool, policy core.Policy) (AutocryptStatus, error) {
	engine := pgp.New(policy)
	usable := func(keydata []byte) bool {
		e, err := autocrypt.ReadKey(keydata)
		return err == nil && engine.CheckRecipient(e) == nil
	}
	opts := autocrypt.RecommendOptions{SelfMutual: selfMutual, ReplyToEncrypted: replyToEncrypted, Usable: usable}
	store := s.Autocrypt()
	var st AutocryptStatus
	var recs []autocrypt.Recommendation
	for _, a := range addrs {
		a = strings.ToLower(strings.TrimSpace(a))
		p, err := store.Peer(a)
		if err != nil {
			return st, err
		}
		r, key := p.Recommend(opts)
		peer := AutocryptPeer{Addr: a, Recommendation: r}
		if p != nil {
			peer.PreferEncrypt, peer.LastSeen, peer.AutocryptTimestamp, peer.GossipTimestamp = p.PreferEncrypt, p.LastSeen, p.AutocryptTimestamp, p.GossipTimestamp
		}
		if key != nil {
			if e, err := autocrypt.ReadKey(key); err == nil {
				peer.Fingerprint = pgp.Fingerprint(e.PrimaryKey)
			}
			peer.Source = "autocrypt"
			if !bytes.Equal(key, p.PublicKey) {
				peer.Source = "gossip"
			}
		}
		st.Peers = append(st.Peers, peer)
		recs = append(recs, r)
	}
	st.Recommendation = autocrypt.Aggregate(recs)
	return st, nil
}
