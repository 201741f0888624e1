package submit

import (
	"crypto/rand"
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
// Delivery is claimed per entry: the deliverer holds an exclusive lock on
// the open ID.eml (flock; LockFileEx on Windows) from before the first byte
// is sent until the entry is removed or its failure recorded. A second
// process, or a second claim in the same one, finds the entry busy and
// leaves it alone, so concurrent flushes never send an entry twice. The
// operating system drops the lock when the process ends, however it ends:
// an entry whose deliverer was killed is claimed by the next flush. The
// window that remains is inherent: a deliverer killed after the server
// accepted the message and before ID.json was removed leaves the entry,
// and the next flush sends it again (at least once, never lost).
type Outbox struct{ Dir string }

// Item is one waiting message.
type Item struct {
	ID       string
	Envelope Envelope
	Queued   time.Time
	// LastError is the reason of the last failed attempt.
	LastError string
	// Damaged is why the entry cannot be read (a *DamagedError); such an
	// entry is never delivered.
	Damaged error
}

// itemFile is ID.json.
type itemFile struct {
	Envelope  Envelope  `json:"envelope"`
	Queued    time.Time `json:"queued"`
	LastError string    `json:"last_error,omitempty"`
}

// Limits of an entry: an ID.json larger than maxMetaSize, an address longer
// than maxAddressLen (RFC 5321's limit of a path) or an envelope with more
// than maxRecipients recipients is damaged.
const (
	maxMetaSize   = 1 << 20
	maxAddressLen = 256
	maxRecipients = 10000
)

var (
	// ErrBusy: another process (or another claim in this one) is
	// delivering the entry.
	ErrBusy = errors.New("already being delivered by another process")
	// ErrGone: the entry is no longer in the outbox; another process
	// delivered it.
	ErrGone = errors.New("no longer in the outbox (delivered by another process)")
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
	id := time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(rnd[:])
	if err := atomicfile.WriteBytes(o.path(id, ".eml"), 0o600, msg); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	// Without ID.json nobody else looks at ID.eml: the lock is ours.
	f, err := filelock.TryOpen(o.path(id, ".eml"))
	if err != nil {
		os.Remove(o.path(id, ".eml"))
		return nil, fmt.Errorf("outbox: %w", err)
	}
	c := &Claim{box: o, Item: Item{ID: id, Envelope: env, Queued: time.Now().UTC()}, f: f}
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
	f, err := os.Open(o.path(id, ".json"))
	if err != nil {
		return itemFile{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxMetaSize+1))
	if err != nil {
		return itemFile{}, o.damaged(id, "reading %s.json: %v", id, err)
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
		it := Item{ID: id, Envelope: meta.Envelope, Queued: meta.Queued, LastError: meta.LastError}
		var de *DamagedError
		switch {
		case errors.As(err, &de):
			it.Damaged = err
		case err != nil:
			return nil, fmt.Errorf("outbox: %w", err)
		}
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	return items, nil
}

// A Claim is an outbox entry held for delivery by this process: until it is
// released, every other Claim of the entry fails with ErrBusy.
type Claim struct {
	box Outbox
	Item
	f *os.File // ID.eml, locked
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
	c.Envelope, c.Queued, c.LastError = meta.Envelope, meta.Queued, meta.LastError
	return nil
}

func (c *Claim) writeMeta() error {
	data, err := json.MarshalIndent(itemFile{Envelope: c.Envelope, Queued: c.Queued, LastError: c.LastError}, "", "  ")
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
// failure recorded, and the error (an *Error) says why.
func (c *Claim) Deliver(t Transport) error {
	defer c.Release()
	if c.f == nil {
		return fmt.Errorf("outbox: %s: the claim was released", c.ID)
	}
	if _, err := c.f.Seek(0, io.SeekStart); err != nil {
		return temporary("reading %s.eml: %v", c.ID, err)
	}
	// Only a Reader: the transport sees the message, not the locked file.
	err := t.Send(c.Envelope, struct{ io.Reader }{c.f})
	if err == nil {
		if err := c.box.remove(c.ID); err != nil {
			return &Error{ByHand: true, Err: fmt.Errorf("the server accepted %s, but it could not be removed from the outbox (%v): remove %s.json and %s.eml from %s, or a later flush sends it again",
				c.ID, err, c.ID, c.ID, c.box.Dir)}
		}
		return nil
	}
	if se := (*Error)(nil); errors.As(err, &se) && se.Setup {
		// Nothing was sent and a later flush would fail the same: the
		// entry goes, and the error says what to set.
		if rerr := c.box.remove(c.ID); rerr != nil {
			return &Error{ByHand: true, Err: fmt.Errorf("%v; and %s could not be removed from the outbox (%v): remove %s.json and %s.eml from %s", err, c.ID, rerr, c.ID, c.ID, c.box.Dir)}
		}
		return err
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
}

// Flush tries to submit every waiting message that no other process is
// delivering, claiming each in turn; a message leaves the outbox only when
// it was accepted for every recipient. The error, an *Error (temporary if
// any failure was), names the messages that stay in the outbox and why; a
// damaged entry is a permanent failure. Entries another process holds are
// counted in Busy and are no failure.
func (o Outbox) Flush(t Transport) (FlushResult, error) {
	var res FlushResult
	items, err := o.List()
	if err != nil {
		return res, err
	}
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
		if err := c.Deliver(t); err != nil {
			fails.add(c.Item, err)
			continue
		}
		res.Sent++
	}
	return res, fails.err()
}

// DeliverAll delivers claimed entries in order (releasing every claim),
// calls sent with the index of each one accepted, and returns an *Error
// naming those that stay in the outbox, like Flush.
func DeliverAll(t Transport, claims []*Claim, sent func(i int)) error {
	var fails failures
	for i, c := range claims {
		if err := c.Deliver(t); err != nil {
			fails.add(c.Item, err)
			continue
		}
		sent(i)
	}
	return fails.err()
}

// failures collects the entries that stay in the outbox.
type failures struct {
	lines []string
	temp  bool
	// resend: sending again may cure some entry's failure.
	resend bool
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
	case errors.As(err, &se):
		f.temp = f.temp || se.Temporary
		f.resend = f.resend || !se.ByHand
		err = se.Err
		line += " to " + strings.Join(it.Envelope.To, ", ")
	default:
		f.temp, f.resend = true, true
		line += " to " + strings.Join(it.Envelope.To, ", ")
	}
	f.lines = append(f.lines, line+": "+err.Error())
}

func (f *failures) err() error {
	if len(f.lines) == 0 {
		return nil
	}
	return &Error{Temporary: f.temp, ByHand: !f.resend, Err: fmt.Errorf("%d message(s) still in the outbox: %s", len(f.lines), strings.Join(f.lines, "; "))}
}
