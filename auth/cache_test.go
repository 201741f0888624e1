package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Cache's clock that the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func cacheWithClock(up Resolver, o CacheOptions) (*Cache, *fakeClock) {
	c := NewCache(up, o)
	clock := &fakeClock{t: time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)}
	c.now = clock.now
	return c, clock
}

// TestCache: answers from the test DNS server are kept for their TTL
// (one query, however many lookups), a TTL of 0 not at all, a TTL above
// CacheMaxTTL for CacheMaxTTL; NXDOMAIN for CacheNegativeTTL, SERVFAIL
// for CacheFailureTTL; MX, A/AAAA and PTR too; names are case-blind;
// callers get answers of their own.
func TestCache(t *testing.T) {
	srv, up := testDNS(t)
	if err := srv.Add(`ttl60.example.org. 60 IN TXT "v=spf1 -all"`, `ttl0.example.org. 0 IN TXT "x"`,
		`long.example.org. 86400 IN TXT "y"`, `example.org. 300 IN MX 10 mail.example.org.`,
		`mail.example.org. 120 IN A 192.0.2.1`, `mail.example.org. 100 IN AAAA 2001:db8::1`,
		`1.2.0.192.in-addr.arpa. 300 IN PTR mail.example.org.`); err != nil {
		t.Fatal(err)
	}
	srv.ServFail("broken.example.org")
	c, clock := cacheWithClock(up, CacheOptions{})
	ctx := context.Background()
	queries := func(key string) int { return srv.QueryCounts()[key] }
	lookupN := func(name string, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			c.LookupTXT(ctx, name)
		}
	}

	lookupN("ttl60.example.org", 5)
	lookupN("TTL60.Example.Org.", 1)
	if q := queries("ttl60.example.org. TXT"); q != 1 {
		t.Fatalf("TTL 60: %d queries for 6 lookups", q)
	}
	txts, err := c.LookupTXT(ctx, "ttl60.example.org")
	if err != nil || len(txts) != 1 || txts[0] != "v=spf1 -all" {
		t.Fatalf("kept answer: %q, %v", txts, err)
	}
	txts[0] = "changed by a caller"
	if again, _ := c.LookupTXT(ctx, "ttl60.example.org"); again[0] != "v=spf1 -all" {
		t.Fatalf("a caller changed the kept answer: %q", again)
	}

	lookupN("ttl0.example.org", 3)
	if q := queries("ttl0.example.org. TXT"); q != 3 {
		t.Errorf("TTL 0: %d queries for 3 lookups, want 3 (not kept)", q)
	}
	lookupN("gone.example.org", 4)
	if q := queries("gone.example.org. TXT"); q != 1 {
		t.Errorf("NXDOMAIN: %d queries for 4 lookups", q)
	}
	if _, err := c.LookupTXT(ctx, "gone.example.org"); !isNotFound(err) {
		t.Errorf("kept NXDOMAIN: %v", err)
	}
	lookupN("broken.example.org", 4)
	if q := queries("broken.example.org. TXT"); q != 1 {
		t.Errorf("SERVFAIL: %d queries for 4 lookups", q)
	}
	if _, err := c.LookupTXT(ctx, "broken.example.org"); !isTemp(err) {
		t.Errorf("kept SERVFAIL: %v", err)
	}
	lookupN("long.example.org", 2)

	for i := 0; i < 3; i++ {
		if mx, err := c.LookupMX(ctx, "example.org"); err != nil || len(mx) != 1 || mx[0].Host != "mail.example.org." {
			t.Fatalf("MX: %v, %v", mx, err)
		}
		if ips, err := c.LookupIPAddr(ctx, "mail.example.org"); err != nil || len(ips) != 2 {
			t.Fatalf("A/AAAA: %v, %v", ips, err)
		}
		if names, err := c.LookupAddr(ctx, "192.0.2.1"); err != nil || len(names) != 1 {
			t.Fatalf("PTR: %v, %v", names, err)
		}
	}
	for _, k := range []string{"example.org. MX", "mail.example.org. A", "mail.example.org. AAAA", "1.2.0.192.in-addr.arpa. PTR"} {
		if q := queries(k); q != 1 {
			t.Errorf("%s: %d queries for 3 lookups", k, q)
		}
	}

	// Time passes: each answer goes when its time is up.
	clock.add(CacheFailureTTL + time.Second) // 6 s
	lookupN("broken.example.org", 1)
	lookupN("gone.example.org", 1)
	if q := queries("broken.example.org. TXT"); q != 2 {
		t.Errorf("SERVFAIL after %v: %d queries, want 2", CacheFailureTTL, q)
	}
	if q := queries("gone.example.org. TXT"); q != 1 {
		t.Errorf("NXDOMAIN after 6 s: %d queries, want 1", q)
	}
	clock.add(CacheNegativeTTL) // 36 s
	lookupN("gone.example.org", 1)
	lookupN("ttl60.example.org", 1)
	if q := queries("gone.example.org. TXT"); q != 2 {
		t.Errorf("NXDOMAIN after %v: %d queries, want 2", CacheNegativeTTL, q)
	}
	if q := queries("ttl60.example.org. TXT"); q != 1 {
		t.Errorf("TTL 60 after 36 s: %d queries, want 1", q)
	}
	clock.add(25 * time.Second) // 61 s
	lookupN("ttl60.example.org", 1)
	if q := queries("ttl60.example.org. TXT"); q != 2 {
		t.Errorf("TTL 60 after 61 s: %d queries, want 2", q)
	}
	c.LookupIPAddr(ctx, "mail.example.org") // A 120, AAAA 100: kept 100 s
	if q := queries("mail.example.org. A"); q != 1 {
		t.Errorf("A/AAAA after 61 s: %d queries, want 1", q)
	}
	clock.add(40 * time.Second) // 101 s
	c.LookupIPAddr(ctx, "mail.example.org")
	if q := queries("mail.example.org. A"); q != 2 {
		t.Errorf("A/AAAA after 101 s (the smaller TTL): %d queries, want 2", q)
	}
	clock.add(CacheMaxTTL) // the day-long TTL is capped
	lookupN("long.example.org", 1)
	if q := queries("long.example.org. TXT"); q != 2 {
		t.Errorf("TTL 86400 after %v: %d queries, want 2", CacheMaxTTL, q)
	}
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// countingResolver answers TXT lookups after a pause, as a resolver
// that tells no TTL (the system's), counting calls and the most in
// flight at once.
type countingResolver struct {
	mapResolver
	pause         time.Duration
	calls, active atomic.Int32
	mu            sync.Mutex
	maxActive     int32
	block         chan struct{} // when set, lookups wait for it or their context
}

func (r *countingResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	r.calls.Add(1)
	n := r.active.Add(1)
	defer r.active.Add(-1)
	r.mu.Lock()
	r.maxActive = max(r.maxActive, n)
	r.mu.Unlock()
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return nil, &net.DNSError{Err: ctx.Err().Error(), Name: name, IsTimeout: true, IsTemporary: true}
		}
	}
	time.Sleep(r.pause)
	return r.mapResolver.LookupTXT(ctx, name)
}

// TestCacheConcurrent: callers asking for one name at once share one
// lookup; lookups of many names run at most Parallel at once; a
// resolver that tells no TTL has its answers kept CacheDefaultTTL; the
// size cap drops the least recently used; a lookup its caller gave up on
// is not kept, and the callers waiting for it are not stuck with it.
func TestCacheConcurrent(t *testing.T) {
	ctx := context.Background()
	up := &countingResolver{mapResolver: mapResolver{}, pause: 20 * time.Millisecond}
	for i := 0; i < 20; i++ {
		up.mapResolver[fmt.Sprintf("n%d.example.org", i)] = []string{fmt.Sprint(i)}
	}
	c, clock := cacheWithClock(up, CacheOptions{Parallel: 3, MaxEntries: 10})

	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := c.LookupTXT(ctx, "n0.example.org"); err != nil || len(v) != 1 || v[0] != "0" {
				t.Errorf("shared lookup: %v, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("50 callers at once: %d lookups, want 1", n)
	}

	for i := 1; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.LookupTXT(ctx, fmt.Sprintf("n%d.example.org", i))
		}()
	}
	wg.Wait()
	if up.maxActive != 3 {
		t.Errorf("19 names at once: %d lookups in flight at the most, want 3 (Parallel)", up.maxActive)
	}
	if n := c.Len(); n != 10 {
		t.Errorf("%d answers kept, want 10 (MaxEntries)", n)
	}

	// The resolver tells no TTL: kept CacheDefaultTTL.
	before := up.calls.Load()
	c.LookupTXT(ctx, "n0.example.org") // dropped by the cap: asked again
	c.LookupTXT(ctx, "n0.example.org")
	clock.add(CacheDefaultTTL - time.Second)
	c.LookupTXT(ctx, "n0.example.org")
	if n := up.calls.Load() - before; n != 1 {
		t.Errorf("no TTL, before %v: %d lookups, want 1", CacheDefaultTTL, n)
	}
	clock.add(2 * time.Second)
	c.LookupTXT(ctx, "n0.example.org")
	if n := up.calls.Load() - before; n != 2 {
		t.Errorf("no TTL, after %v: %d lookups, want 2", CacheDefaultTTL, n)
	}

	// A caller gives up: its lookup is not kept; one waiting with time
	// left makes the lookup again and gets the answer.
	up.mapResolver["late.example.org"] = []string{"late"}
	up.block = make(chan struct{})
	before = up.calls.Load()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	errc := make(chan error, 1)
	go func() { _, err := c.LookupTXT(short, "late.example.org"); errc <- err }()
	for up.active.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	got := make(chan []string, 1)
	go func() { v, _ := c.LookupTXT(ctx, "late.example.org"); got <- v }()
	if err := <-errc; !isTemp(err) {
		t.Fatalf("the caller that gave up: %v, want a temporary error", err)
	}
	close(up.block)
	if v := <-got; len(v) != 1 || v[0] != "late" {
		t.Fatalf("the waiting caller: %v", v)
	}
	if n := up.calls.Load() - before; n != 2 {
		t.Errorf("%d lookups, want 2 (the abandoned one is not kept)", n)
	}
}
