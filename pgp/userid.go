package pgp

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/mailseal/mailseal/core"
)

// UserID is a user ID of a certificate read by core.UserIDAddress.
type UserID struct {
	ID string // as written in the certificate
	// Address is the address it binds; "" if none.
	Address string
	// Err says why a user ID that names an address binds none; it is to be
	// reported. Nil when it binds Address or names no address at all.
	Err error
}

// ValidUserIDs returns the user IDs of ent that are valid at t under cfg (a
// self-certification verifies and has not expired, and no self-revocation
// applies), sorted, each with the address it binds. Only these may match an
// address: for choosing recipients and signers, and for a signer's sender.
func ValidUserIDs(ent *openpgp.Entity, t time.Time, cfg *packet.Config) []UserID {
	var out []UserID
	for name, id := range ent.Identities {
		if id == nil {
			continue
		}
		self, err := id.Verify(t, cfg)
		if err != nil || uidRevoked(id, self, t) {
			continue
		}
		addr, err := core.UserIDAddress(name)
		out = append(out, UserID{ID: name, Address: addr, Err: err})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Addresses lists the distinct bound addresses of uids (sorted, as uids
// are) and the user IDs that name an address but bind none.
func Addresses(uids []UserID) (addrs, unbound []string) {
	addrs = []string{}
	seen := map[string]bool{}
	for _, u := range uids {
		switch {
		case u.Err != nil:
			unbound = append(unbound, u.ID)
		case u.Address != "" && !seen[u.Address]:
			seen[u.Address] = true
			addrs = append(addrs, u.Address)
		}
	}
	sort.Strings(addrs)
	return addrs, unbound
}

// Names returns the names the user IDs give, without repeats: the text
// before the address ("Alice Example" of "Alice Example <alice@...>", its
// quotes removed), or the whole of a user ID that names no address.
func Names(uids []UserID) []string {
	var out []string
	for _, u := range uids {
		name := u.ID
		if i := strings.LastIndexByte(name, '<'); i >= 0 {
			name = name[:i]
		} else if strings.Contains(name, "@") {
			continue // a bare address
		}
		name = strings.TrimSpace(strings.Trim(strings.TrimSpace(name), `"`))
		if name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// uidRevoked reports whether a revocation of id made no earlier than its
// self-signature self applies at t. go-crypto's own check (in Verify)
// ignores a revocation made after t, and remembers that verdict in the
// entity; but the revoker's clock may run a little ahead (gpg dates a new
// self-signature one second after the previous one when both fall in the
// same second), so a revocation up to core.MaxClockSkew after t counts.
func uidRevoked(id *openpgp.Identity, self *packet.Signature, t time.Time) bool {
	for _, r := range id.Revocations {
		sig := r.Packet
		if sig.CreationTime.Unix() < self.CreationTime.Unix() || sig.CreationTime.After(t.Add(core.MaxClockSkew)) {
			continue
		}
		if id.Primary.PrimaryKey.VerifyUserIdSignature(id.Name, id.Primary.PrimaryKey, sig) == nil {
			return true
		}
	}
	return false
}
