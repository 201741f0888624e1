package autocrypt

import (
	"fmt"
	"time"
)

// A Recommendation says whether to encrypt to a peer (Level 1's
// ui-recommendation), from the least to the most encouraging.
type Recommendation int

const (
	// Disable: no usable key; encryption is not possible.
	Disable Recommendation = iota
	// Discourage: a key, but the peer may not read encrypted mail (only a
	// gossiped key, or the peer has sent mail without Autocrypt for more
	// than 35 days since its last header).
	Discourage
	// Available: encryption is possible; not on by default.
	Available
	// Encrypt: encrypt by default.
	Encrypt
)

var recommendationNames = [...]string{"disable", "discourage", "available", "encrypt"}

func (r Recommendation) String() string {
	if r < 0 || int(r) >= len(recommendationNames) {
		return fmt.Sprintf("Recommendation(%d)", int(r))
	}
	return recommendationNames[r]
}

// MarshalText writes the name ("encrypt").
func (r Recommendation) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// staleAfter is how much older than the last message the last Autocrypt
// header may be before encryption is discouraged.
const staleAfter = 35 * 24 * time.Hour

// RecommendOptions are the facts a recommendation depends on besides the
// peer's state.
type RecommendOptions struct {
	// SelfMutual: the sender's own account prefers encryption (mutual).
	SelfMutual bool
	// ReplyToEncrypted: the message is a reply to an encrypted message.
	ReplyToEncrypted bool
	// Usable reports whether a key (keydata) can be encrypted to: not
	// revoked, not expired, with an encryption key. Nil: every key is.
	Usable func(keydata []byte) bool
}

// Recommend gives the recommendation for one recipient and the key to
// encrypt to (nil for Disable). p may be nil: nothing is known of the
// peer.
func (p *Peer) Recommend(opts RecommendOptions) (Recommendation, []byte) {
	if p == nil {
		return Disable, nil
	}
	usable := func(k []byte) bool { return len(k) > 0 && (opts.Usable == nil || opts.Usable(k)) }
	public, gossip := p.PublicKey, p.GossipKey
	if !usable(public) {
		public = nil
	}
	if !usable(gossip) {
		gossip = nil
	}
	var pre Recommendation
	var key []byte
	switch {
	case public == nil && gossip == nil:
		return Disable, nil
	case public == nil:
		pre, key = Discourage, gossip
	case p.LastSeen.Sub(p.AutocryptTimestamp) > staleAfter:
		pre, key = Discourage, public
	default:
		pre, key = Available, public
	}
	if opts.ReplyToEncrypted || pre == Available && p.PreferEncrypt && opts.SelfMutual {
		return Encrypt, key
	}
	return pre, key
}

// Aggregate combines the recommendations for the recipients of one
// message: Disable if any is, Encrypt if all are, else Discourage if any
// is, else Available. No recipients: Disable.
func Aggregate(recs []Recommendation) Recommendation {
	if len(recs) == 0 {
		return Disable
	}
	all, discourage := true, false
	for _, r := range recs {
		switch r {
		case Disable:
			return Disable
		case Discourage:
			discourage = true
		}
		if r != Encrypt {
			all = false
		}
	}
	switch {
	case all:
		return Encrypt
	case discourage:
		return Discourage
	}
	return Available
}
