package autocrypt

import "time"

// A Peer is the Autocrypt state kept for one correspondent.
type Peer struct {
	// Addr is the peer's address, lower-cased.
	Addr string `json:"addr"`
	// LastSeen is the latest effective date of the peer's messages.
	LastSeen time.Time `json:"last_seen,omitzero"`
	// AutocryptTimestamp is the latest effective date of the peer's
	// messages with a valid Autocrypt header.
	AutocryptTimestamp time.Time `json:"autocrypt_timestamp,omitzero"`
	// PublicKey is the keydata of that header.
	PublicKey []byte `json:"public_key,omitempty"`
	// PreferEncrypt is that header's prefer-encrypt=mutual.
	PreferEncrypt bool `json:"prefer_encrypt"`
	// GossipTimestamp is the latest effective date of a message gossiping
	// a key for the peer, GossipKey that key.
	GossipTimestamp time.Time `json:"gossip_timestamp,omitzero"`
	GossipKey       []byte    `json:"gossip_key,omitempty"`
}

// Update applies a message from the peer, dated date, with its one valid
// Autocrypt header or nil (Level 1's update steps). It reports whether the
// state changed. A message older than the latest header changes nothing.
func (p *Peer) Update(date time.Time, h *Header) bool {
	if date.Before(p.AutocryptTimestamp) {
		return false
	}
	changed := false
	if date.After(p.LastSeen) {
		p.LastSeen = date
		changed = true
	}
	if h == nil {
		return changed
	}
	p.AutocryptTimestamp = date
	p.PublicKey = append([]byte(nil), h.KeyData...)
	p.PreferEncrypt = h.PreferEncrypt
	return true
}

// UpdateGossip applies an Autocrypt-Gossip header about the peer from a
// message dated date. It reports whether the state changed; gossip older
// than what is kept changes nothing. The key the peer sent itself is
// never touched.
func (p *Peer) UpdateGossip(date time.Time, h Header) bool {
	if p.GossipTimestamp.After(date) {
		return false
	}
	p.GossipTimestamp = date
	p.GossipKey = append([]byte(nil), h.KeyData...)
	return true
}
