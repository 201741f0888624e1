package submit

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mailseal/mailseal/internal/atomicfile"
	"github.com/mailseal/mailseal/internal/filelock"
)

// Outbox is a directory of messages waiting for submission. Each entry is
// two files, 0600 and written atomically:
//
//	ID.eml   the message as it will be sent (written first)
//	ID.json  its envelope, when it was queued and the last failure (written
//	         last: an entry is in the outbox once its ID.json exists)
//
// and a directory delivered/ of one file per Message-ID and recipient set
// that was sent (see below).
//
// Delivery is exactly once, or held for a person to decide; never twice:
//
//   - Delivery is claimed per entry: the deliverer holds an exclusive lock
//     on the open ID.eml (flock; LockFileEx on Windows) from before the
//     first byte is sent until the entry is removed or its failure
//     recorded. A second process, or a second claim in the same one, finds
//     the entry busy and leaves it alone, so concurrent flushes never send
//     an entry twice. The operating system drops the lock when the process
//     ends, however it ends.
//   - Before the line that ends the message's data, after which the server
//     may hold it, ID.json records the entry as in flight. A definite
//     answer clears the mark: 250 removes the entry, a 4xx or 5xx keeps it
//     with the error. An entry found in flight and not claimed — its
//     deliverer was killed, or the connection broke before the answer —
//     may have been delivered. Postfix and msmtpq send such a message
//     again (at least once, a duplicate now and then); the outbox does
//     not: it holds the entry, Flush reports it, and a person sends it with
//     Resend or removes it with Drop once they know whether it arrived.
//   - An entry with a MessageID is delivered under a lock on its key (the
//     Message-ID and the set of recipients), held across the SMTP
//     transaction, and after the server's 250 the key is recorded in
//     delivered/ before the entry is removed. An entry whose key is
//     recorded is removed unsent: a message queued twice (a script that
//     ran send again) is delivered once, also when two flushes take the
//     two entries at the same time, and a deliverer killed between the
//     record and the removal leaves nothing to send again. The records are
//     kept for keyRetention.
//
// A deliverer killed before the end of the data leaves the entry as it
// was: the next flush sends it.
type Outbox struct{ Dir string }

// Item is one waiting message.
type Item struct {
	ID       string
	Envelope Envelope
	Queued   time.Time
	// LastError is the reason of the last failed attempt.
	LastError string
	// InFlight is when the end of the message was sent without a definite
	// answer recorded (see Outbox): while a deliverer holds the entry it is
	// being delivered; otherwise it may have been delivered, and it is not
	// sent again unless Resend says so.
	InFlight time.Time
	// Damaged is why the entry cannot be read (a *DamagedError); such an
	// entry is never delivered.
	Damaged error
}

// itemFile is ID.json.
type itemFile struct {
	Envelope  Envelope  `json:"envelope"`
	Queued    time.Time `json:"queued"`
	LastError string    `json:"last_error,omitempty"`
	InFlight  time.Time `json:"in_flight,omitzero"`
}

// Limits of an entry: an ID.json larger than maxMetaSize, an address longer
// than maxAddressLen (RFC 5321's limit of a path) or an envelope with more
// than maxRecipients recipients is damaged.
const (
	maxMetaSize   = 1 << 20
	maxAddressLen = 256
	maxRecipients = 10000
	// maxMessageIDLen is the longest Message-ID: a header line (RFC 5322).
	maxMessageIDLen = 998
)

// idTime is the layout of the time an entry's ID begins with.
const idTime = "20060102T150405"

// keyRetention is how long a delivered Message-ID and recipient set is
// remembered: a copy of it queued again within that time is not sent.
const keyRetention = 90 * 24 * time.Hour

var (
	// ErrBusy: another process (or another claim in this one) is
	// delivering the entry.
	ErrBusy = errors.New("already being delivered by another process")
	// ErrGone: the entry is no longer in the outbox; another process
	// delivered it.
	ErrGone = errors.New("no longer in the outbox (delivered by another process)")
	// ErrDuplicate: a message with the entry's Message-ID and recipients
	// was delivered before; the entry was removed unsent.
	ErrDuplicate = errors.New("already delivered")
)

// DamagedError is an outbox entry that cannot be read; it is not delivered.
type DamagedError struct {
	Dir, ID string
	Err     error
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("outbox entry %s is damaged (%v) and is not sent: look at %s.json and %s.eml in %s, then remove them",
		e.ID, e.Err, e.ID, e.ID, e.Dir)
}

func (e *DamagedError) Unwrap() error { return e.Err }

func (o Outbox) path(id, ext string) string { return filepath.Join(o.Dir, id+ext) }

func (o Outbox) damaged(id string, format string, args ...any) error {
	return &DamagedError{Dir: o.Dir, ID: id, Err: fmt.Errorf(format, args...)}
}

// Put stores a message and its envelope and returns the new entry claimed
// by the caller, so that no concurrent flush can take it: deliver it with
// Claim.Deliver, or Release it to leave it for a later flush.
func (o Outbox) Put(env Envelope, msg []byte) (*Claim, error) {
	if err := checkEnvelope(env); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if len(msg) == 0 {
		return nil, errors.New("outbox: an empty message")
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	id := time.Now().UTC().Format(idTime) + "-" + hex.EncodeToString(rnd[:])
	if err := atomicfile.WriteBytes(o.path(id, ".eml"), 0o600, msg); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	// Without ID.json nobody else looks at ID.eml: the lock is ours.
	f, err := filelock.TryOpen(o.path(id, ".eml"))
	if err != nil {
		os.Remove(o.path(id, ".eml"))
		return nil, fmt.Errorf("outbox: %w", err)
	}
	c := &Claim{box: o, Item: Item{ID: id, Envelope: env, Queued: time.Now().UTC()}, f: f, fresh: true}
	if err := c.writeMeta(); err != nil {
		f.Close()
		os.Remove(o.path(id, ".eml"))
		return nil, err
	}
	return c, nil
}

// PutAll stores n messages, all or none: next(i) makes the i-th envelope
// and message. It returns the n entries claimed by the caller (deliver
// them, or Release them for a later flush). When a message cannot be made
// or stored, the entries stored before it are removed, so that nothing of
// the set is sent; one that cannot be removed is named in the error (a
// later flush would send it).
func (o Outbox) PutAll(n int, next func(i int) (Envelope, []byte, error)) ([]*Claim, error) {
	claims := make([]*Claim, 0, n)
	for i := range n {
		env, msg, err := next(i)
		var c *Claim
		if err == nil {
			c, err = o.Put(env, msg)
		}
		if err != nil {
			for _, c := range claims {
				if derr := c.Discard(); derr != nil {
					err = fmt.Errorf("%w; a copy queued already could not be removed (%v): remove %s.json from %s, or a later flush sends it", err, derr, c.ID, o.Dir)
				}
			}
			return nil, err
		}
		claims = append(claims, c)
	}
	return claims, nil
}

// checkEnvelope accepts an envelope that SMTP and sendmail can be given:
// at least one recipient, and addresses without control characters or
// angle brackets, no longer than a path may be. From may be empty (the
// null sender).
func checkEnvelope(env Envelope) error {
	if len(env.To) == 0 {
		return errors.New("the envelope has no recipient")
	}
	if len(env.To) > maxRecipients {
		return fmt.Errorf("the envelope has %d recipients, more than %d", len(env.To), maxRecipients)
	}
	if err := checkAddress(env.From); err != nil {
		return fmt.Errorf("envelope sender: %w", err)
	}
	if len(env.MessageID) > maxMessageIDLen || strings.IndexFunc(env.MessageID, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return fmt.Errorf("a Message-ID of %d bytes or with control characters", len(env.MessageID))
	}
	for _, to := range env.To {
		if to == "" {
			return errors.New("an empty envelope recipient")
		}
		if err := checkAddress(to); err != nil {
			return fmt.Errorf("envelope recipient: %w", err)
		}
	}
	return nil
}

func checkAddress(a string) error {
	if len(a) > maxAddressLen {
		return fmt.Errorf("an address of %d bytes, longer than %d", len(a), maxAddressLen)
	}
	if i := strings.IndexFunc(a, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '<' || r == '>' }); i >= 0 {
		return fmt.Errorf("the address %q holds %q", a, a[i])
	}
	return nil
}

// parseMeta reads an ID.json: a JSON object with a valid envelope.
func parseMeta(data []byte) (itemFile, error) {
	var f itemFile
	if len(data) > maxMetaSize {
		return f, fmt.Errorf("larger than %d bytes", maxMetaSize)
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return f, err
	}
	if err := checkEnvelope(f.Envelope); err != nil {
		return f, err
	}
	return f, nil
}

// readMeta reads and parses ID.json; fs.ErrNotExist when there is none.
func (o Outbox) readMeta(id string) (itemFile, error) {
	data, err := atomicfile.ReadFile(o.path(id, ".json"), maxMetaSize)
	if errors.Is(err, atomicfile.ErrTooLarge) {
		return itemFile{}, o.damaged(id, "%s.json: %v", id, err)
	}
	if err != nil {
		return itemFile{}, err // fs.ErrNotExist: delivered meanwhile
	}
	meta, err := parseMeta(data)
	if err != nil {
		return meta, o.damaged(id, "%s.json: %v", id, err)
	}
	return meta, nil
}

// List returns the waiting messages, oldest first, damaged ones included
// (with Damaged set).
func (o Outbox) List() ([]Item, error) {
	entries, err := os.ReadDir(o.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	var items []Item
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(id, ".") {
			continue
		}
		meta, err := o.readMeta(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // delivered meanwhile
		}
		it := Item{ID: id, Envelope: meta.Envelope, Queued: meta.Queued, LastError: meta.LastError, InFlight: meta.InFlight}
		var de *DamagedError
		switch {
		case errors.As(err, &de):
			it.Damaged = err
			// Put names entries by the time they were queued.
			if len(id) >= len(idTime) {
				it.Queued, _ = time.Parse(idTime, id[:len(idTime)])
			}
		case err != nil:
			return nil, fmt.Errorf("outbox: %w", err)
		}
		items = append(items, it)
	}
	// Oldest first by the time recorded in the entry (IDs name only the
	// second), the ID breaking ties.
	sort.Slice(items, func(i, j int) bool {
		if !items[i].Queued.Equal(items[j].Queued) {
			return items[i].Queued.Before(items[j].Queued)
		}
		return items[i].ID < items[j].ID
	})
	return items, nil
}

// A Claim is an outbox entry held for delivery by this process: until it is
// released, every other Claim of the entry fails with ErrBusy.
type Claim struct {
	box Outbox
	Item
	f *os.File // ID.eml, locked
	// fresh: queued by this claim (Put) and not tried yet. Only such an
	// entry goes on a setup error: its sender sees the error and still has
	// the message; one that waited (a flush after a temporary failure)
	// stays until the setting is fixed.
	fresh bool
}

// Claim takes the entry id for delivery. It fails with ErrBusy while
// another claim holds it, with ErrGone once it has left the outbox, and
// with a *DamagedError when it cannot be read.
func (o Outbox) Claim(id string) (*Claim, error) {
	if strings.ContainsAny(id, `/\`) || id == "" || id[0] == '.' {
		return nil, fmt.Errorf("outbox: %q is not an entry name", id)
	}
	f, err := filelock.TryOpen(o.path(id, ".eml"))
	if errors.Is(err, filelock.ErrLocked) {
		return nil, fmt.Errorf("outbox: %s: %w", id, ErrBusy)
	}
	if err != nil {
		// ID.eml goes only after ID.json: without ID.json the entry was
		// delivered; with it, the message file is missing or unreadable.
		if _, serr := os.Lstat(o.path(id, ".json")); errors.Is(serr, fs.ErrNotExist) {
			return nil, fmt.Errorf("outbox: %s: %w", id, ErrGone)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, o.damaged(id, "%s.eml is missing", id)
		}
		return nil, fmt.Errorf("outbox: %w", err)
	}
	c := &Claim{box: o, Item: Item{ID: id}, f: f}
	if err := c.check(); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

// check, with the lock held, makes sure the entry is still the one whose
// file is locked (its deliverer may have removed it between our open and
// our lock) and reads its envelope.
func (c *Claim) check() error {
	id := c.ID
	held, err := c.f.Stat()
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	now, err := os.Lstat(c.box.path(id, ".eml"))
	if errors.Is(err, fs.ErrNotExist) || err == nil && now.Mode().IsRegular() && !os.SameFile(held, now) {
		return fmt.Errorf("outbox: %s: %w", id, ErrGone)
	}
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	meta, err := c.box.readMeta(id)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("outbox: %s: %w", id, ErrGone)
	}
	if err != nil {
		return err
	}
	if !now.Mode().IsRegular() {
		return c.box.damaged(id, "%s.eml is not a regular file", id)
	}
	if held.Size() == 0 {
		return c.box.damaged(id, "%s.eml is empty", id)
	}
	c.Envelope, c.Queued, c.LastError, c.InFlight = meta.Envelope, meta.Queued, meta.LastError, meta.InFlight
	return nil
}

func (c *Claim) writeMeta() error {
	data, err := json.MarshalIndent(itemFile{Envelope: c.Envelope, Queued: c.Queued, LastError: c.LastError, InFlight: c.InFlight}, "", "  ")
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := atomicfile.WriteBytes(c.box.path(c.ID, ".json"), 0o600, data); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// Deliver submits the entry and releases the claim. Accepted for every
// recipient, the entry leaves the outbox; otherwise it stays, with the
// failure recorded, and the error (an *Error) says why. An entry found in
// flight is not sent: the error (an *Error with Uncertain set) says to
// Resend or Drop it. An entry whose Message-ID and recipients were
// delivered before is removed unsent, with an error wrapping ErrDuplicate.
func (c *Claim) Deliver(t Transport) error { return c.deliver(t, false) }

func (c *Claim) deliver(t Transport, resend bool) error {
	defer c.Release()
	if c.f == nil {
		return fmt.Errorf("outbox: %s: the claim was released", c.ID)
	}
	var key *os.File
	if k := dedupeKey(c.Envelope); k != "" {
		var err error
		if key, err = c.box.lockKey(k); err != nil {
			return temporary("outbox: %s: %v", c.ID, err)
		}
		defer key.Close()
		if rec, ok := deliveredRecord(key); ok {
			if err := c.box.remove(c.ID); err != nil {
				return &Error{ByHand: true, Err: fmt.Errorf("%s is a copy of a message already delivered (%s), but it could not be removed from the outbox (%v): remove %s.json and %s.eml from %s", c.ID, rec, err, c.ID, c.ID, c.box.Dir)}
			}
			return fmt.Errorf("outbox: %s: %w (%s; same Message-ID and recipients): not sent again, removed from the outbox", c.ID, ErrDuplicate, rec)
		}
	}
	if !c.InFlight.IsZero() && !resend {
		return &Error{Uncertain: true, ByHand: true, Err: fmt.Errorf("in flight since %s: the whole message was sent then and no answer was recorded (the connection broke, or the sender was stopped), so it may have been delivered and is not sent again by itself; once you know whether it arrived: mailseal send --resend %s, or mailseal send --drop %s",
			c.InFlight.Format(time.RFC3339), c.ID, c.ID)}
	}
	if _, err := c.f.Seek(0, io.SeekStart); err != nil {
		return temporary("reading %s.eml: %v", c.ID, err)
	}
	commit := func() error {
		c.InFlight = time.Now().UTC()
		return c.writeMeta()
	}
	// Only a Reader: the transport sees the message, not the locked file.
	err := t.Send(c.Envelope, struct{ io.Reader }{c.f}, commit)
	if err == nil {
		if key != nil {
			// Recorded before the entry goes: killed in between, the
			// entry is found delivered, not in flight.
			markDelivered(key, c.ID) // unrecorded, only a copy queued again is not recognised
		}
		if err := c.box.remove(c.ID); err != nil {
			return &Error{ByHand: true, Err: fmt.Errorf("the server accepted %s, but it could not be removed from the outbox (%v): remove %s.json and %s.eml from %s, or a later flush sends it again",
				c.ID, err, c.ID, c.ID, c.box.Dir)}
		}
		return nil
	}
	if se := (*Error)(nil); errors.As(err, &se) && se.Uncertain {
		// The mark stays: held until a person decides.
		c.LastError = err.Error()
		c.writeMeta()
		return &Error{Uncertain: true, ByHand: true, Err: fmt.Errorf("%v; it stays in the outbox, and is not sent again by itself: once you know whether it arrived, mailseal send --resend %s, or mailseal send --drop %s", se.Err, c.ID, c.ID)}
	}
	c.InFlight = time.Time{} // the answer was definite, or the end was never sent
	if se := (*Error)(nil); errors.As(err, &se) && !se.Temporary && c.fresh {
		// A definite refusal (a setup error, a 5xx, a refused AUTH) of
		// the copy just queued: a later flush would fail the same, so the
		// entry goes, and the error says what to fix; the caller still
		// has the message. An entry that waited is nobody's copy but this
		// one: it stays (below).
		if rerr := c.box.remove(c.ID); rerr != nil {
			return &Error{ByHand: true, Err: fmt.Errorf("%v; and %s could not be removed from the outbox (%v): remove %s.json and %s.eml from %s", err, c.ID, rerr, c.ID, c.ID, c.box.Dir)}
		}
		return &Error{Setup: se.Setup, Dropped: true, ByHand: true, Err: se.Err}
	}
	c.LastError = err.Error()
	c.writeMeta() // the entry stays whether or not its last error is recorded
	return err
}

// Release gives up the claim and leaves the entry in the outbox.
func (c *Claim) Release() {
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}

// Discard removes the entry without sending it and releases the claim.
func (c *Claim) Discard() error {
	defer c.Release()
	if c.f == nil {
		return fmt.Errorf("outbox: %s: the claim was released", c.ID)
	}
	return c.box.remove(c.ID)
}

// remove deletes an entry, ID.json first: once it is gone the entry is.
func (o Outbox) remove(id string) error {
	if err := os.Remove(o.path(id, ".json")); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := os.Remove(o.path(id, ".eml")); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// FlushResult says what a Flush did.
type FlushResult struct {
	Sent int // accepted for every recipient and removed from the outbox
	Busy int // being delivered by another process: left to it
	// Duplicates are entries removed unsent: their Message-ID and
	// recipients were delivered before.
	Duplicates int
	// InFlight are entries held because they may have been delivered (see
	// Outbox); they are among the failures the error names.
	InFlight int
}

// Flush tries to submit every waiting message that no other process is
// delivering, claiming each in turn; a message leaves the outbox only when
// it was accepted for every recipient, or when it is a copy of one that
// was. The error, an *Error (temporary if any failure was), names the
// messages that stay in the outbox and why; a damaged entry, and one held
// in flight, is a failure that sending again does not cure. Entries
// another process holds are counted in Busy and are no failure.
func (o Outbox) Flush(t Transport) (FlushResult, error) {
	var res FlushResult
	items, err := o.List()
	if err != nil {
		return res, err
	}
	o.pruneKeys(time.Now())
	var fails failures
	for _, it := range items {
		if it.Damaged != nil {
			fails.add(it, it.Damaged)
			continue
		}
		c, err := o.Claim(it.ID)
		switch {
		case errors.Is(err, ErrBusy):
			res.Busy++
			continue
		case errors.Is(err, ErrGone):
			continue
		case err != nil:
			fails.add(it, err)
			continue
		}
		err = c.Deliver(t)
		var se *Error
		switch {
		case err == nil:
			res.Sent++
		case errors.Is(err, ErrDuplicate):
			res.Duplicates++
		case errors.As(err, &se) && se.Uncertain:
			res.InFlight++
			fails.add(c.Item, err)
		default:
			fails.add(c.Item, err)
		}
	}
	return res, fails.err()
}

// Resend delivers the entries ids now, in order, also those held in flight
// (a person made sure that they did not arrive), unless an entry's
// Message-ID and recipients were delivered since. done is called for each
// entry that does not stay in the outbox because of its delivery: nil when
// it was sent, an error wrapping ErrDuplicate when it was removed unsent,
// and for an ID that could not be claimed, Claim's error (ErrGone, ErrBusy,
// a *DamagedError). The error, like Flush's, is an *Error naming the
// entries whose delivery failed, all of them, with one verdict: temporary
// only if every failure is.
func (o Outbox) Resend(t Transport, ids []string, done func(id string, err error)) error {
	var fails failures
	for _, id := range ids {
		c, err := o.Claim(id)
		if err != nil {
			done(id, err)
			continue
		}
		switch err := c.deliver(t, true); {
		case err == nil || errors.Is(err, ErrDuplicate):
			done(id, err)
		default:
			fails.add(c.Item, err)
		}
	}
	return fails.err()
}

// Drop removes the entry id unsent: ErrBusy while it is being delivered,
// ErrGone when it is not in the outbox. A damaged entry is removed too.
func (o Outbox) Drop(id string) error {
	c, err := o.Claim(id)
	var de *DamagedError
	switch {
	case errors.As(err, &de):
		// Nobody delivers a damaged entry; what there is of it goes.
		for _, ext := range []string{".json", ".eml"} {
			if err := os.Remove(o.path(id, ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("outbox: %w", err)
			}
		}
		return nil
	case err != nil:
		return err
	}
	return c.Discard()
}

// DeliverAll delivers claimed entries in order (releasing every claim),
// calls sent with the index of each one accepted (duplicate: removed
// unsent, its Message-ID and recipients delivered before), and returns an
// *Error naming those that stay in the outbox, like Flush.
func DeliverAll(t Transport, claims []*Claim, sent func(i int, duplicate bool)) error {
	var fails failures
	for i, c := range claims {
		err := c.Deliver(t)
		switch {
		case err == nil:
			sent(i, false)
		case errors.Is(err, ErrDuplicate):
			sent(i, true)
		default:
			fails.add(c.Item, err)
		}
	}
	return fails.err()
}

// dedupeKey names an envelope's Message-ID and recipient set (the
// addresses compared without case, each once, in any order): the file
// name of its record in delivered/. "" when there is no Message-ID.
func dedupeKey(env Envelope) string {
	id := strings.TrimSpace(env.MessageID)
	if id == "" {
		return ""
	}
	rcpts := make([]string, 0, len(env.To))
	seen := map[string]bool{}
	for _, r := range env.To {
		r = strings.ToLower(strings.TrimSpace(r))
		if !seen[r] {
			seen[r] = true
			rcpts = append(rcpts, r)
		}
	}
	sort.Strings(rcpts)
	h := sha256.New()
	h.Write([]byte(id))
	for _, r := range rcpts {
		h.Write([]byte{0})
		h.Write([]byte(r))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (o Outbox) keyDir() string { return filepath.Join(o.Dir, "delivered") }

// lockKey opens and locks the record of key, waiting while another
// deliverer holds it. The record is removed only by pruneKeys, so a lock
// won on a record removed meanwhile is given up and taken again.
func (o Outbox) lockKey(key string) (*os.File, error) {
	if err := os.MkdirAll(o.keyDir(), 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(o.keyDir(), key)
	for range 100 {
		f, err := filelock.Create(path)
		if err != nil {
			return nil, err
		}
		held, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if now, err := os.Stat(path); err == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("the record %s keeps being replaced", path)
}

// deliveredRecord reads a locked key record: what it says ("delivered at
// TIME as ID") and whether the key was delivered. An empty record was
// never delivered.
func deliveredRecord(f *os.File) (string, bool) {
	data, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, 512), 512))
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return "", false
	}
	when, id, _ := strings.Cut(strings.TrimSpace(string(data)), " ")
	return fmt.Sprintf("delivered at %s as %s", when, id), true
}

// markDelivered records in a locked key record that entry id was
// delivered.
func markDelivered(f *os.File, id string) error {
	if _, err := f.WriteAt([]byte(time.Now().UTC().Format(time.RFC3339)+" "+id+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

// pruneKeys removes the key records older than keyRetention that nobody
// holds.
func (o Outbox) pruneKeys(now time.Time) {
	entries, err := os.ReadDir(o.keyDir())
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || now.Sub(info.ModTime()) < keyRetention {
			continue
		}
		path := filepath.Join(o.keyDir(), e.Name())
		f, err := filelock.TryOpen(path)
		if err != nil {
			continue
		}
		os.Remove(path)
		f.Close()
	}
}

// failures collects the entries that stay in the outbox.
type failures struct {
	lines []string
	// dropped are the copies not kept (Error.Dropped).
	dropped []string
	temp    bool
	// resend: sending again may cure some entry's failure.
	resend bool
	// uncertain: some entry may have been delivered (held in flight).
	uncertain bool
}

// add records a failed entry. Failures are temporary unless the transport
// said otherwise or the entry is damaged; sending again may cure them
// unless the entry is damaged or the failure says ByHand.
func (f *failures) add(it Item, err error) {
	var se *Error
	var de *DamagedError
	line := it.ID
	switch {
	case errors.As(err, &de):
		// Its envelope is not to be trusted, nor shown.
	case errors.As(err, &se) && se.Dropped:
		f.dropped = append(f.dropped, "to "+strings.Join(it.Envelope.To, ", ")+": "+se.Err.Error())
		return
	case errors.As(err, &se):
		f.temp = f.temp || se.Temporary
		f.resend = f.resend || !se.ByHand
		f.uncertain = f.uncertain || se.Uncertain
		err = se.Err
		line += " to " + strings.Join(it.Envelope.To, ", ")
	default:
		f.temp, f.resend = true, true
		line += " to " + strings.Join(it.Envelope.To, ", ")
	}
	f.lines = append(f.lines, line+": "+err.Error())
}

func (f *failures) err() error {
	var parts []string
	if len(f.dropped) > 0 {
		parts = append(parts, fmt.Sprintf("%d message(s) refused and not kept in the outbox (send again once that is fixed): %s", len(f.dropped), strings.Join(f.dropped, "; ")))
	}
	if len(f.lines) > 0 {
		parts = append(parts, fmt.Sprintf("%d message(s) still in the outbox: %s", len(f.lines), strings.Join(f.lines, "; ")))
	}
	if len(parts) == 0 {
		return nil
	}
	// Temporary only when nothing was refused for good and nothing is
	// held in flight: the exit code (75) must not tell a caller that
	// everything will go later.
	return &Error{Temporary: f.temp && len(f.dropped) == 0 && !f.uncertain, ByHand: !f.resend, Uncertain: f.uncertain, Dropped: len(f.dropped) > 0, Err: errors.New(strings.Join(parts, "; "))}
}
