package x509path

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/mailseal/mailseal/internal/dn"
)

// validator runs one Verify call, or the validation of a CRL signer's
// path inside it (depth > 0).
type validator struct {
	opts  Options
	depth int // nesting of CRL-signer validations
	state *verifyState
}

// verifyState is shared by a Verify call and its nested CRL-signer
// validations: parsed certificates and CRLs, CRL-signer results, and the
// work budget that bounds the whole search.
type verifyState struct {
	workLeft  int
	infos     map[*x509.Certificate]*certInfo
	crls      map[*x509.RevocationList]*crlInfo
	signerRes map[string]signerResult // by certificate DER + anchor DER
}

type signerResult struct {
	key crypto.PublicKey
	err error
}

// pathResult is a validated path.
type pathResult struct {
	chain   []*x509.Certificate // leaf first, anchor last
	leafKey crypto.PublicKey    // the leaf's key, DSA parameters inherited
	// warnings: revocation status unknown (Options.CRLsOptional)
	warnings []string
}

func newValidator(opts Options) *validator {
	return &validator{opts: opts, state: &verifyState{
		workLeft:  maxWork,
		infos:     map[*x509.Certificate]*certInfo{},
		crls:      map[*x509.RevocationList]*crlInfo{},
		signerRes: map[string]signerResult{},
	}}
}

// spend takes units of work (a signature check, a certificate processed)
// from the budget; false when it is used up.
func (v *validator) spend(units int) bool {
	v.state.workLeft -= units
	return v.state.workLeft >= 0
}

func (v *validator) info(c *x509.Certificate) (*certInfo, error) {
	if in, ok := v.state.infos[c]; ok {
		return in, nil
	}
	in, err := newCertInfo(c)
	if err != nil {
		return nil, certError(c, "unparsable: %v", err)
	}
	v.state.infos[c] = in
	return in, nil
}

// verifyPath searches for a path from leaf to one of opts.Roots that
// validates, trying alternatives depth-first.
func (v *validator) verifyPath(leaf *x509.Certificate) (*pathResult, error) {
	leafInfo, err := v.info(leaf)
	if err != nil {
		return nil, err
	}
	for _, r := range v.opts.Roots {
		if r != nil && bytes.Equal(r.Raw, leaf.Raw) {
			// Trusted as it is: a path of its own, no issuer to check.
			if err := checkAlone(leafInfo, v.opts.Time); err != nil {
				return nil, certError(leaf, "trust anchor %v", err)
			}
			if err := v.opts.signaturePolicy(time.Time{}).CheckKey(leaf.PublicKey); err != nil {
				return nil, certError(leaf, "trust anchor: %w", err)
			}
			return &pathResult{chain: []*x509.Certificate{leaf}, leafKey: leaf.PublicKey}, nil
		}
	}
	search := &pathSearch{v: v, budget: maxPathsTried}
	res := search.extend([]*certInfo{leafInfo})
	if res != nil {
		return res, nil
	}
	if v.state.workLeft < 0 {
		return nil, certError(leaf, "path search limit reached (too many candidate certificates or CRLs)")
	}
	if search.firstErr != nil {
		return nil, search.firstErr
	}
	if search.cut {
		// Not "no path": one may lie past where the search stopped.
		return nil, certError(leaf, "path search limit reached (a chain deeper than %d certificates, or too many candidate issuers)", maxPathDepth)
	}
	if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) && leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil {
		// Its own issuer: there is nothing to find, only to trust.
		return nil, noPath(leaf, "self-signed and not a trust anchor")
	}
	if top := search.untrustedTop; top != nil {
		return nil, noPath(leaf, "no path to a trust anchor (its chain ends at the CA %q, which is not a trust anchor)", dn.String(top.Subject))
	}
	return nil, noPath(leaf, "no path to a trust anchor (issuer %q not found among the roots and intermediates)", dn.String(leaf.Issuer))
}

type pathSearch struct {
	v        *validator
	budget   int   // complete paths that may still be validated
	steps    int   // partial paths extended so far
	firstErr error // from the first complete path that failed (the most direct one)
	// untrustedTop is the first self-issued certificate a partial path
	// reached that is not an anchor: a CA the caller has but does not
	// trust, which the error names.
	untrustedTop *x509.Certificate
	// cut says a limit (depth, steps, budget) stopped the search somewhere
	// before it had tried every candidate.
	cut bool
}

// extend tries every issuer candidate of the last certificate of path.
func (s *pathSearch) extend(path []*certInfo) *pathResult {
	last := path[len(path)-1]
	if len(path) > 1 && s.untrustedTop == nil && last.issuer.equal(last.subject) {
		s.untrustedTop = last.cert
	}
	s.steps++
	if len(path) >= maxPathDepth || s.steps > maxSearchSteps || s.v.state.workLeft < 0 {
		s.cut = true
		return nil
	}
	// Anchors first: the shortest path wins when it validates.
	for _, r := range s.v.opts.Roots {
		if s.budget <= 0 || s.v.state.workLeft < 0 {
			s.cut = true
			return nil
		}
		if r == nil {
			continue
		}
		ri, err := s.v.info(r)
		if err != nil || !issuerCandidate(last, ri) {
			continue
		}
		s.budget--
		res, err := s.v.validate(path, ri)
		if err == nil {
			return res
		}
		if s.firstErr == nil {
			s.firstErr = err
		}
	}
	for _, c := range s.v.opts.Intermediates {
		if s.budget <= 0 || s.v.state.workLeft < 0 {
			s.cut = true
			return nil
		}
		if c == nil || isRoot(s.v.opts.Roots, c) || inPath(path, c) {
			continue
		}
		ci, err := s.v.info(c)
		if err != nil || !issuerCandidate(last, ci) {
			continue
		}
		if res := s.extend(append(path[:len(path):len(path)], ci)); res != nil {
			return res
		}
	}
	return nil
}

func isRoot(roots []*x509.Certificate, c *x509.Certificate) bool {
	for _, r := range roots {
		if r != nil && bytes.Equal(r.Raw, c.Raw) {
			return true
		}
	}
	return false
}

func inPath(path []*certInfo, c *x509.Certificate) bool {
	for _, p := range path {
		if bytes.Equal(p.cert.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// issuerCandidate: the names chain, and the key identifiers, where both are
// present, agree.
func issuerCandidate(child, issuer *certInfo) bool {
	if !child.issuer.equal(issuer.subject) {
		return false
	}
	aki, ski := child.cert.AuthorityKeyId, issuer.cert.SubjectKeyId
	return len(aki) == 0 || len(ski) == 0 || bytes.Equal(aki, ski)
}

// policyState is the policy part of the RFC 5280 §6.1 state variables.
type policyState struct {
	tree           *policyTree
	explicitPolicy int
	inhibitAny     int
	policyMapping  int
}

// validate runs the RFC 5280 §6.1 basic path validation on path (leaf
// first, last certificate issued by anchor), then the revocation checks.
func (v *validator) validate(path []*certInfo, anchor *certInfo) (*pathResult, error) {
	n := len(path)
	opts := v.opts
	if !v.spend(n + 1) {
		return nil, certError(path[0].cert, "path search limit reached (too many candidate certificates or CRLs)")
	}
	// Certificates in RFC order: certs[0] is issued by the anchor, certs[n-1] is the leaf.
	certs := make([]*certInfo, n)
	for i := range path {
		certs[n-1-i] = path[i]
	}
	workingKey := anchor.cert.PublicKey
	if workingKey == nil {
		return nil, certError(anchor.cert, "trust anchor with an unusable public key")
	}
	if err := opts.signaturePolicy(time.Time{}).CheckKey(workingKey); err != nil {
		return nil, certError(anchor.cert, "trust anchor: %w", err)
	}
	if err := v.checkAnchor(anchor, certs[0]); err != nil {
		return nil, err
	}
	workingIssuer := anchor.subject
	// The anchor's pathLenConstraint and name constraints bind the whole
	// path, as those of a CA certificate bind the path below it.
	pathLen := pathLimit{left: n}
	pathLen.apply(anchor, true)
	ps := policyState{tree: newPolicyTree(), explicitPolicy: n + 1, inhibitAny: n + 1, policyMapping: n + 1}
	var constraints []boundConstraints
	if anchor.nameConstraint != nil {
		constraints = append(constraints, boundConstraints{anchor.nameConstraint, describeCA(anchor, true)})
	}
	keys := make([]crypto.PublicKey, n) // each certificate's effective key
	issuerKeys := make([]crypto.PublicKey, n)

	for i, ci := range certs {
		c := ci.cert
		last := i == n-1
		// 6.1.3 (a): signature, validity, (revocation later), name chaining.
		if !ci.issuer.equal(workingIssuer) {
			return nil, certError(c, "issuer name does not match the subject of its issuer")
		}
		if err := checkSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature, workingKey, opts.signaturePolicy(c.NotBefore)); err != nil {
			return nil, certError(c, "signature: %w", err)
		}
		if err := checkAlone(ci, opts.Time); err != nil {
			return nil, certError(c, "%v", err)
		}
		key, err := effectiveKey(c, workingKey)
		if err != nil {
			return nil, certError(c, "public key: %v", err)
		}
		if err := opts.signaturePolicy(time.Time{}).CheckKey(key); err != nil {
			return nil, certError(c, "%w", err)
		}
		issuerKeys[i], keys[i] = workingKey, key
		// 6.1.3 (b), (c): name constraints.
		if !ci.selfIssued || last {
			if err := checkNameConstraints(ci, constraints); err != nil {
				return nil, certError(c, "name constraints: %v", err)
			}
		}
		// 6.1.3 (d)-(f): policies.
		if err := ps.processCertificate(ci, i+1, n); err != nil {
			return nil, certError(c, "%v", err)
		}
		if last {
			break
		}
		// 6.1.4: preparation for certificate i+1.
		if err := ps.prepare(ci); err != nil {
			return nil, certError(c, "%v", err)
		}
		workingIssuer = ci.subject
		workingKey = key
		if ci.nameConstraint != nil {
			constraints = append(constraints, boundConstraints{ci.nameConstraint, describeCA(ci, false)})
		}
		if !ci.isCA {
			return nil, certError(c, "not a CA certificate (basicConstraints cA missing or false) but issued %q", subjectString(certs[i+1].cert))
		}
		if !ci.selfIssued {
			if err := pathLen.take(); err != nil {
				return nil, certError(c, "%v", err)
			}
		}
		pathLen.apply(ci, false)
		if err := checkCertSign(ci); err != nil {
			return nil, certError(c, "%v", err)
		}
		if !opts.SkipSMIMEChecks {
			if err := checkEmailEKU(ci); err != nil {
				return nil, certError(c, "%v, so this CA cannot certify S/MIME certificates", err)
			}
		}
	}
	// 6.1.5 wrap-up.
	if err := ps.wrapUp(certs[n-1]); err != nil {
		return nil, certError(certs[n-1].cert, "%v", err)
	}

	// 6.3: revocation of every certificate but the anchor.
	var warnings []string
	for i, ci := range certs {
		var issuer *certInfo
		if i == 0 {
			issuer = anchor
		} else {
			issuer = certs[i-1]
		}
		if err := v.checkRevocation(ci, keys[i], issuer, issuerKeys[i], anchor); err != nil {
			var ce *CertificateError
			if v.opts.CRLsOptional && errors.As(err, &ce) && ce.RevocationUnknown {
				warnings = append(warnings, ce.Subject+": "+ce.Reason)
				continue
			}
			return nil, err
		}
	}
	chain := make([]*x509.Certificate, 0, n+1)
	for _, p := range path {
		chain = append(chain, p.cert)
	}
	chain = append(chain, anchor.cert)
	return &pathResult{chain: chain, leafKey: keys[n-1], warnings: warnings}, nil
}

// checkAlone makes the checks of one certificate that need no issuer:
// validity at t and no unknown critical extension.
func checkAlone(ci *certInfo, t time.Time) error {
	c := ci.cert
	if t.Before(c.NotBefore) {
		return fmt.Errorf("not valid before %s", c.NotBefore.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if t.After(c.NotAfter) {
		return fmt.Errorf("expired at %s", c.NotAfter.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if len(ci.unknownCritical) > 0 {
		return fmt.Errorf("unknown critical extension %v", ci.unknownCritical)
	}
	return nil
}

// checkCertSign: keyUsage, when present, allows signing certificates.
func checkCertSign(ci *certInfo) error {
	if ci.hasKeyUsage && ci.cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return errors.New("key usage does not allow keyCertSign")
	}
	return nil
}

// checkAnchor applies a trust anchor's own constraints, those that do not
// depend on the path below it (see the package documentation): validity at
// Options.Time, no unknown critical extension, basicConstraints (when
// present) with cA true, keyUsage (when present) with keyCertSign and, for
// S/MIME, the extended key usage. first is the certificate it issued.
func (v *validator) checkAnchor(anchor, first *certInfo) error {
	c := anchor.cert
	if err := checkAlone(anchor, v.opts.Time); err != nil {
		return certError(c, "trust anchor %v", err)
	}
	if c.BasicConstraintsValid && !c.IsCA {
		return certError(c, "trust anchor is not a CA certificate (basicConstraints cA false) but issued %q", subjectString(first.cert))
	}
	if err := checkCertSign(anchor); err != nil {
		return certError(c, "trust anchor %v", err)
	}
	if !v.opts.SkipSMIMEChecks {
		if err := checkEmailEKU(anchor); err != nil {
			return certError(c, "trust anchor %v, so it cannot certify S/MIME certificates", err)
		}
	}
	return nil
}

// describeCA names a CA certificate in an error about a constraint it set.
func describeCA(ci *certInfo, anchor bool) string {
	if anchor {
		return fmt.Sprintf("trust anchor %q", subjectString(ci.cert))
	}
	return fmt.Sprintf("%q", subjectString(ci.cert))
}

// pathLimit is max_path_length (RFC 5280 §6.1.2 (k)) with the certificate
// whose pathLenConstraint set it.
type pathLimit struct {
	left  int
	limit int    // the pathLenConstraint that set left
	from  string // describeCA of its certificate; "" while none has
}

// apply lowers the limit to ci's pathLenConstraint, if that is smaller
// (RFC 5280 §6.1.4 (m)).
func (l *pathLimit) apply(ci *certInfo, anchor bool) {
	c := ci.cert
	if c.BasicConstraintsValid && c.MaxPathLen >= 0 && (c.MaxPathLen > 0 || c.MaxPathLenZero) && c.MaxPathLen < l.left {
		l.left, l.limit, l.from = c.MaxPathLen, c.MaxPathLen, describeCA(ci, anchor)
	}
}

// take counts a CA certificate that is not self-issued (§6.1.4 (l)).
func (l *pathLimit) take() error {
	if l.left <= 0 {
		if l.from == "" {
			return errors.New("path length constraint exceeded")
		}
		return fmt.Errorf("path length constraint of %s exceeded (pathLenConstraint %d)", l.from, l.limit)
	}
	l.left--
	return nil
}

func (ps *policyState) processCertificate(ci *certInfo, depth, n int) error {
	if ps.tree != nil && ci.hasPolicies {
		allowAny := ps.inhibitAny > 0 || (depth < n && ci.selfIssued)
		ps.tree.addLevel(ci.policies, allowAny)
	} else if !ci.hasPolicies {
		ps.tree = nil
	}
	if ps.tree != nil && ps.tree.empty() {
		ps.tree = nil
	}
	if ps.explicitPolicy <= 0 && ps.tree == nil {
		return errors.New("no valid certificate policy, and an explicit policy is required")
	}
	return nil
}

func (ps *policyState) prepare(ci *certInfo) error {
	for _, m := range ci.mappings {
		if m[0] == anyPolicy || m[1] == anyPolicy {
			return errors.New("policy mapping to or from anyPolicy")
		}
	}
	if ps.tree != nil && len(ci.mappings) > 0 {
		ps.tree.applyMappings(ci.mappings, ps.policyMapping > 0)
		if ps.tree.empty() {
			ps.tree = nil
		}
	}
	if !ci.selfIssued {
		for _, p := range []*int{&ps.explicitPolicy, &ps.policyMapping, &ps.inhibitAny} {
			if *p > 0 {
				*p--
			}
		}
	}
	if ci.requireExplicit >= 0 && ci.requireExplicit < ps.explicitPolicy {
		ps.explicitPolicy = ci.requireExplicit
	}
	if ci.inhibitMapping >= 0 && ci.inhibitMapping < ps.policyMapping {
		ps.policyMapping = ci.inhibitMapping
	}
	if ci.inhibitAny >= 0 && ci.inhibitAny < ps.inhibitAny {
		ps.inhibitAny = ci.inhibitAny
	}
	return nil
}

func (ps *policyState) wrapUp(leaf *certInfo) error {
	if ps.explicitPolicy > 0 {
		ps.explicitPolicy--
	}
	if leaf.requireExplicit == 0 {
		ps.explicitPolicy = 0
	}
	// user-initial-policy-set is any-policy: the intersection is the tree itself.
	if ps.explicitPolicy <= 0 && (ps.tree == nil || ps.tree.empty()) {
		return errors.New("no valid certificate policy, and an explicit policy is required")
	}
	return nil
}
