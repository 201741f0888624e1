package auth

import (
	"container/list"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"
)

// How long a Cache keeps an answer.
const (
	// CacheMaxTTL caps the time any answer is kept, whatever its TTL.
	CacheMaxTTL = time.Hour
	// CacheDefaultTTL is for answers whose TTL the resolver behind the
	// cache does not tell (the system resolver, System()).
	CacheDefaultTTL = time.Minute
	// CacheNegativeTTL is for a name or record that does not exist (and
	// for a name that cannot be one): kept briefly, since it may be
	// published any time.
	CacheNegativeTTL = 30 * time.Second
	// CacheFailureTTL is for a lookup that failed for now (SERVFAIL, a
	// timeout, offline): RFC 9520 asks for at least a second, so that a
	// server that does not answer is not asked again for each message.
	CacheFailureTTL = 5 * time.Second
)

// CacheOptions bound a Cache; zero fields are the defaults.
type CacheOptions struct {
	// MaxEntries is how many answers are kept (0: 10,000); the least
	// recently used go first.
	MaxEntries int
	// MaxBytes bounds the size of the answers kept (0: 16 MiB).
	MaxBytes int
	// Parallel is how many lookups may wait for the resolver behind the
	// cache at once (0: 8); more callers wait their turn.
	Parallel int
}

// Cache is a Resolver that keeps the answers of another across many
// checks (mailseal verify --batch --auth: a mailbox of mail from the same
// domains looks each key and policy up once). An answer is kept for its
// TTL when the resolver behind tells it (a DNSResolver does), capped at
// CacheMaxTTL, else for CacheDefaultTTL; "no such name or record" for
// CacheNegativeTTL, a temporary failure for CacheFailureTTL; an answer
// with TTL 0 is not kept. Callers asking for the same name at once share
// one lookup. A lookup cut short by its caller's context is not kept.
// A Cache is safe for use by many goroutines.
type Cache struct {
	up   Resolver
	max  CacheOptions
	sem  chan struct{}
	now  func() time.Time // time.Now; tests move it
	mu   sync.Mutex
	ents map[cacheKey]*cacheEntry
	lru  *list.List // of *cacheEntry kept, most recently used in front
	size int        // the bytes of the answers kept (estimated)
}

type lookupKind uint8

const (
	lookupTXT lookupKind = iota
	lookupMX
	lookupIP
	lookupAddr
)

// ttlResolver is a Resolver that tells how long its answers may be kept
// (a negative duration: it cannot tell).
type ttlResolver interface {
	lookupTTL(ctx context.Context, kind lookupKind, name string) (any, time.Duration, error)
}

type cacheKey struct {
	kind lookupKind
	name string
}

type cacheEntry struct {
	key     cacheKey
	done    chan struct{} // closed when the lookup has ended
	val     any
	err     error
	shared  bool // the lookup ended on its own (not by its caller's context)
	expires time.Time
	size    int
	elem    *list.Element // in lru while kept
}

// NewCache keeps the answers of up.
func NewCache(up Resolver, o CacheOptions) *Cache {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 16 << 20
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	return &Cache{up: up, max: o, sem: make(chan struct{}, o.Parallel), now: time.Now,
		ents: map[cacheKey]*cacheEntry{}, lru: list.New()}
}

// LookupTXT is up's LookupTXT, kept.
func (c *Cache) LookupTXT(ctx context.Context, name string) ([]string, error) {
	v, err := c.lookup(ctx, lookupTXT, name)
	txts, _ := v.([]string)
	return txts, err
}

// LookupMX is up's LookupMX, kept.
func (c *Cache) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	v, err := c.lookup(ctx, lookupMX, name)
	mxs, _ := v.([]*net.MX)
	return mxs, err
}

// LookupIPAddr is up's LookupIPAddr, kept.
func (c *Cache) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	v, err := c.lookup(ctx, lookupIP, host)
	addrs, _ := v.([]net.IPAddr)
	return addrs, err
}

// LookupAddr is up's LookupAddr, kept.
func (c *Cache) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	v, err := c.lookup(ctx, lookupAddr, addr)
	names, _ := v.([]string)
	return names, err
}

// Len is the number of answers kept.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Cache) lookup(ctx context.Context, kind lookupKind, name string) (any, error) {
	key := cacheKey{kind, strings.ToLower(strings.TrimSuffix(name, "."))}
	// Each turn either returns, waits for a lookup in flight to end (and
	// then the answer is kept or shared), or makes the lookup; only a
	// lookup its caller gave up on sends the waiters round again, and
	// they give up with their own contexts.
	for {
		c.mu.Lock()
		e := c.ents[key]
		if e != nil {
			select {
			case <-e.done:
				if c.now().Before(e.expires) {
					c.lru.MoveToFront(e.elem)
					c.mu.Unlock()
					return copyAnswer(e.val), e.err
				}
				c.drop(e)
				e = nil
			default:
			}
		}
		if e != nil { // in flight
			c.mu.Unlock()
			select {
			case <-e.done:
				if e.shared {
					return copyAnswer(e.val), e.err
				}
				continue
			case <-ctx.Done():
				return nil, canceled(name, ctx)
			}
		}
		e = &cacheEntry{key: key, done: make(chan struct{})}
		c.ents[key] = e
		c.mu.Unlock()

		val, ttl, err := c.fetch(ctx, kind, name)

		c.mu.Lock()
		e.val, e.err, e.shared = val, err, ctx.Err() == nil
		if e.shared && ttl > 0 {
			e.expires, e.size = c.now().Add(ttl), answerSize(key, val)
			e.elem = c.lru.PushFront(e)
			c.size += e.size
			for c.lru.Len() > c.max.MaxEntries || (c.size > c.max.MaxBytes && c.lru.Len() > 1) {
				c.drop(c.lru.Back().Value.(*cacheEntry))
			}
		} else {
			delete(c.ents, key)
		}
		close(e.done)
		c.mu.Unlock()
		return copyAnswer(val), err
	}
}

// drop forgets e (c.mu held).
func (c *Cache) drop(e *cacheEntry) {
	if c.ents[e.key] == e {
		delete(c.ents, e.key)
	}
	if e.elem != nil {
		c.lru.Remove(e.elem)
		c.size -= e.size
		e.elem = nil
	}
}

// fetch asks the resolver behind, at most Parallel at once, and says how
// long the answer may be kept.
func (c *Cache) fetch(ctx context.Context, kind lookupKind, name string) (any, time.Duration, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, canceled(name, ctx)
	}
	defer func() { <-c.sem }()
	var val any
	ttl := time.Duration(-1)
	var err error
	if tr, ok := c.up.(ttlResolver); ok {
		val, ttl, err = tr.lookupTTL(ctx, kind, name)
	} else {
		switch kind {
		case lookupTXT:
			val, err = c.up.LookupTXT(ctx, name)
		case lookupMX:
			val, err = c.up.LookupMX(ctx, name)
		case lookupIP:
			val, err = c.up.LookupIPAddr(ctx, name)
		default:
			val, err = c.up.LookupAddr(ctx, name)
		}
	}
	var de *net.DNSError
	switch {
	case err != nil && errors.As(err, &de) && (de.IsTemporary || de.IsTimeout):
		ttl = CacheFailureTTL
	case err != nil:
		ttl = CacheNegativeTTL
	case ttl < 0:
		ttl = CacheDefaultTTL
	case ttl > CacheMaxTTL:
		ttl = CacheMaxTTL
	}
	return val, ttl, err
}

// canceled is the error of a lookup its caller's context ended.
func canceled(name string, ctx context.Context) error {
	return &net.DNSError{Err: "lookup abandoned: " + context.Cause(ctx).Error(), Name: name, IsTemporary: true,
		IsTimeout: errors.Is(ctx.Err(), context.DeadlineExceeded)}
}

// copyAnswer gives each caller an answer of its own to change.
func copyAnswer(v any) any {
	switch a := v.(type) {
	case []string:
		return append([]string(nil), a...)
	case []net.IPAddr:
		return append([]net.IPAddr(nil), a...)
	case []*net.MX:
		out := make([]*net.MX, len(a))
		for i, mx := range a {
			c := *mx
			out[i] = &c
		}
		return out
	}
	return v
}

// answerSize estimates the memory an answer takes.
func answerSize(key cacheKey, v any) int {
	n := 64 + len(key.name)
	switch a := v.(type) {
	case []string:
		for _, s := range a {
			n += 16 + len(s)
		}
	case []net.IPAddr:
		n += 40 * len(a)
	case []*net.MX:
		for _, mx := range a {
			n += 32 + len(mx.Host)
		}
	}
	return n
}
