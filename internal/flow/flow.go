// Package flow is the message-level logic above the engines: it finds the
// signed or encrypted entity in a parsed message, hands the bytes to the
// protocol engine, and applies the rules that do not depend on the protocol:
// only the root of a message counts as signed or is decrypted, unprotected
// text around a protected part makes the result partial, a signer must be
// the single From address (core.Report.Assess), a structure readers
// could take two ways is not judged, and what could mislead a reader of a
// signed message (display names, Reply-To, text around the signed part) is
// a warning. The CLI calls this package; it never branches on protocol
// details itself.
package flow

import (
	"fmt"
	"io"
	"strings"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/stage"
	"github.com/mailseal/mailseal/mime"
)

// Kind is what an entity is, cryptographically.
type Kind int

const (
	KindPlain     Kind = iota
	KindSigned         // multipart/signed
	KindEncrypted      // multipart/encrypted
	KindInline         // text/plain holding inline armored OpenPGP blocks
)

// Found is a protected entity located in a message.
type Found struct {
	Entity   *mime.Entity
	Kind     Kind
	Protocol string // core.ProtocolOpenPGP or core.ProtocolSMIME
}

// Detector recognises the protected entities a protocol engine can handle.
type Detector interface {
	// Detect reports whether e is a signed or encrypted entity of this
	// protocol. It may read e's body (inline blocks).
	Detect(e *mime.Entity) (Kind, bool)
	Protocol() string
}

// A siblingDetector also recognises a part by its place in its parent: a
// part that alone is an attachment but beside its siblings is the
// message's protected content, damaged (the encrypted.asc of mixed-up
// PGP/MIME whose first part holds text).
type siblingDetector interface {
	DetectChild(parent, child *mime.Entity) (Kind, bool)
}

func detectAmongSiblings(detectors []Detector, parent, child *mime.Entity) (Found, bool) {
	for _, d := range detectors {
		if sd, ok := d.(siblingDetector); ok {
			if k, ok := sd.DetectChild(parent, child); ok {
				return Found{Entity: child, Kind: k, Protocol: d.Protocol()}, true
			}
		}
	}
	return Found{}, false
}

// Locate walks the message depth-first and returns every protected entity,
// outermost first. Children of a protected entity are not searched: their
// content is the engine's business.
func Locate(m *mime.Message, detectors []Detector) []Found {
	var found []Found
	var walk func(e *mime.Entity)
	walk = func(e *mime.Entity) {
		for _, d := range detectors {
			if k, ok := d.Detect(e); ok {
				found = append(found, Found{Entity: e, Kind: k, Protocol: d.Protocol()})
				return
			}
		}
		for _, c := range e.Children {
			if f, ok := detectAmongSiblings(detectors, e, c); ok {
				found = append(found, f)
				continue
			}
			walk(c)
		}
	}
	walk(m.Root)
	return found
}

// Unprotected lists the leaf parts of the message outside the protected
// entity at path (for a partial report), e.g. "part 1 (text/html)".
func Unprotected(m *mime.Message, protected string) []string {
	var out []string
	for _, e := range m.Entities() {
		if e.IsMultipart() || e.Path == protected || isWithin(e.Path, protected) {
			continue
		}
		if isWithin(protected, e.Path) {
			continue // an ancestor of the protected part
		}
		name := "part " + e.Path
		if e.Path == "" {
			name = "root"
		}
		out = append(out, fmt.Sprintf("%s (%s)", name, e.MediaType))
	}
	return out
}

// isWithin reports whether path p lies inside the entity at path anc.
func isWithin(p, anc string) bool {
	if anc == "" {
		return true
	}
	return strings.HasPrefix(p, anc+".")
}

// Senders extracts the From and Sender addresses that a signer is bound to.
// From holds one entry per mailbox of the field, "" for a display name
// without an address: a From that is only a name, or holds several
// addresses, binds no signer (a sender mismatch, not unreadable input).
func Senders(h mime.Header) (core.Senders, error) {
	var s core.Senders
	for _, b := range h.Mailboxes("From") {
		s.From = append(s.From, b.Address)
	}
	if h.Get("Sender") != "" {
		sender, err := h.Addresses("Sender")
		if err != nil {
			return s, fmt.Errorf("Sender: %w", err)
		}
		if len(sender) != 1 {
			return s, fmt.Errorf("Sender holds %d addresses: %w", len(sender), core.ErrInput)
		}
		s.Sender = sender[0]
	}
	return s, nil
}

// copyBody copies a message body into an engine's writer through a
// buffer sized to the message (stage.ReadBufferSize, up to 64 KiB): a
// small message allocates no more than it needs (io.Copy's 32 KiB was a
// fifth of the bytes a small message allocated, BenchmarkSessionEncryptSign),
// and a large one, read straight from its file, is read in 64 KiB system
// calls, not 8 KiB ones.
func copyBody(dst io.Writer, src io.Reader) (int64, error) {
	return io.CopyBuffer(dst, src, make([]byte, stage.ReadBufferSize(src, copyBuffer)))
}

// copyBuffer is the largest buffer copyBody copies through.
const copyBuffer = 64 << 10
