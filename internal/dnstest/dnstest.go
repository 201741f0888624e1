// Package dnstest runs a DNS server on loopback for tests (github.com/miekg/dns):
// UDP and TCP on one port, answering from records the test adds, NXDOMAIN
// for names it knows nothing of, SERVFAIL or silence for names the test
// marks so. Tests of DKIM, SPF and DMARC point a resolver at Addr and never
// touch the network.
package dnstest

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Server is a running test DNS server.
type Server struct {
	Addr string // 127.0.0.1:PORT

	mu       sync.Mutex
	records  map[string][]dns.RR // by lower-case FQDN
	servfail map[string]bool
	silent   map[string]bool
	queries  int
	counts   map[string]int // by "name TYPE"
	udp, tcp *dns.Server
}

// Start listens on a free loopback port (UDP and TCP) and serves.
func Start() (*Server, error) {
	s := &Server{records: map[string][]dns.RR{}, servfail: map[string]bool{}, silent: map[string]bool{}, counts: map[string]int{}}
	pc, ln, err := Listen()
	if err != nil {
		return nil, err
	}
	s.Addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	return s, nil
}

// Close stops the server.
func (s *Server) Close() {
	s.udp.Shutdown()
	s.tcp.Shutdown()
}

// Add adds records written as zone-file lines ("example.org. TXT \"v=spf1 -all\"",
// "mail.example.org. A 192.0.2.1"); a name without a final dot is taken as
// fully qualified.
func (s *Server) Add(lines ...string) error {
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			return fmt.Errorf("dnstest: %q: %w", l, err)
		}
		if rr == nil {
			continue
		}
		s.add(rr)
	}
	return nil
}

// TXT adds a TXT record of any length, split into strings of 255 bytes.
func (s *Server) TXT(name, value string) {
	var parts []string
	for len(value) > 255 {
		parts = append(parts, value[:255])
		value = value[255:]
	}
	parts = append(parts, value)
	s.add(&dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}, Txt: parts})
}

func (s *Server) add(rr dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := strings.ToLower(dns.Fqdn(rr.Header().Name))
	rr.Header().Name = name
	s.records[name] = append(s.records[name], rr)
}

// ServFail makes every query for name answer SERVFAIL (a temporary error).
func (s *Server) ServFail(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servfail[strings.ToLower(dns.Fqdn(name))] = true
}

// Silent makes queries for name go unanswered (the resolver times out).
func (s *Server) Silent(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.silent[strings.ToLower(dns.Fqdn(name))] = true
}

// Queries is the number of queries answered or dropped so far.
func (s *Server) Queries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries
}

// QueryCounts is how many queries each name and type had so far, keyed
// "name. TYPE" ("sel._domainkey.example.org. TXT"), the name in lower case.
func (s *Server) QueryCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	s.queries++
	s.counts[name+" "+dns.TypeToString[q.Qtype]]++
	silent, fail := s.silent[name], s.servfail[name]
	rrs, known := s.records[name]
	var answer []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype {
			answer = append(answer, dns.Copy(rr))
		}
	}
	s.mu.Unlock()
	if silent {
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	switch {
	case fail:
		m.Rcode = dns.RcodeServerFailure
	case !known:
		m.Rcode = dns.RcodeNameError
	default:
		m.Answer = answer
	}
	size := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		size = int(opt.UDPSize())
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// Listen listens on UDP and TCP at one port of 127.0.0.1, for a DNS
// server: a free UDP port, and TCP at its number, which another socket
// may hold already (a test run's connections take ephemeral TCP ports),
// so another port is tried then.
func Listen() (net.PacketConn, net.Listener, error) {
	var err error
	for range 100 {
		var pc net.PacketConn
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			return nil, nil, err
		}
		var ln net.Listener
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			return pc, ln, nil
		}
		pc.Close()
	}
	return nil, nil, fmt.Errorf("dnstest: no port free for both UDP and TCP: %w", err)
}
