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
)

// Outbox is a directory of messages waiting for submission: for each, the
// message as it will be sent (ID.eml) and its envelope (ID.json, written
// last, so a message is in the outbox only once both are complete). Files
// are 0600 and written atomically.
type Outbox struct{ Dir string }

// Item is one waiting message.
type Item struct {
	ID       string
	Envelope Envelope
	// LastError is the reason of the last failed attempt.
	LastError string `json:"last_error,omitempty"`
}

type itemFile struct {
	Envelope  Envelope  `json:"envelope"`
	Queued    time.Time `json:"queued"`
	LastError string    `json:"last_error,omitempty"`
}

func (o Outbox) path(id, ext string) string { return filepath.Join(o.Dir, id+ext) }

// Put stores a message and its envelope and returns its ID.
func (o Outbox) Put(env Envelope, msg []byte) (string, error) {
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	id := time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(rnd[:])
	if err := atomicfile.Write(o.path(id, ".eml"), 0o600, func(w io.Writer) error {
		_, err := w.Write(msg)
		return err
	}); err != nil {
		return "", fmt.Errorf("outbox: %w", err)
	}
	if err := o.writeMeta(id, itemFile{Envelope: env, Queued: time.Now().UTC()}); err != nil {
		os.Remove(o.path(id, ".eml"))
		return "", err
	}
	return id, nil
}

func (o Outbox) writeMeta(id string, f itemFile) error {
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(o.path(id, ".json"), 0o600, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return nil
}

// List returns the waiting messages, oldest first.
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
		data, err := os.ReadFile(o.path(id, ".json"))
		if err != nil {
			return nil, fmt.Errorf("outbox: %w", err)
		}
		var f itemFile
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("outbox: %s: %w", e.Name(), err)
		}
		items = append(items, Item{ID: id, Envelope: f.Envelope, LastError: f.LastError})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	return items, nil
}

// Remove deletes a message (after the server accepted it).
func (o Outbox) Remove(id string) error {
	if err := os.Remove(o.path(id, ".json")); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	return os.Remove(o.path(id, ".eml"))
}

// Flush tries to submit every waiting message; a message leaves the
// outbox only when it was accepted for every recipient. It returns how many
// were sent, and an *Error (temporary if any failure was) naming the
// failures.
func (o Outbox) Flush(t Transport) (int, error) {
	items, err := o.List()
	if err != nil {
		return 0, err
	}
	sent := 0
	var fails []string
	temp := false
	for _, it := range items {
		f, err := os.Open(o.path(it.ID, ".eml"))
		if err != nil {
			return sent, fmt.Errorf("outbox: %w", err)
		}
		err = t.Send(it.Envelope, f)
		f.Close()
		if err == nil {
			if err := o.Remove(it.ID); err != nil {
				return sent, err
			}
			sent++
			continue
		}
		var se *Error
		if !errors.As(err, &se) || se.Temporary {
			temp = true
		}
		fails = append(fails, it.ID+" to "+strings.Join(it.Envelope.To, ", ")+": "+err.Error())
		o.writeMeta(it.ID, itemFile{Envelope: it.Envelope, Queued: time.Now().UTC(), LastError: err.Error()})
	}
	if len(fails) > 0 {
		return sent, &Error{Temporary: temp, Err: fmt.Errorf("%d message(s) still in the outbox: %s", len(fails), strings.Join(fails, "; "))}
	}
	return sent, nil
}
