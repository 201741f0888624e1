package x509path

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Extension OIDs this package processes.
var (
	oidSubjectDirectoryAttributes = asn1.ObjectIdentifier{2, 5, 29, 9}
	oidSubjectKeyID               = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidKeyUsage                   = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidSubjectAltName             = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidIssuerAltName              = asn1.ObjectIdentifier{2, 5, 29, 18}
	oidBasicConstraints           = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidCRLNumber                  = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidReasonCode                 = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidHoldInstructionCode        = asn1.ObjectIdentifier{2, 5, 29, 23}
	oidInvalidityDate             = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidDeltaCRLIndicator          = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDistributionPoint   = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidCertificateIssuer          = asn1.ObjectIdentifier{2, 5, 29, 29}
	oidNameConstraints            = asn1.ObjectIdentifier{2, 5, 29, 30}
	oidCRLDistributionPoints      = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidCertificatePolicies        = asn1.ObjectIdentifier{2, 5, 29, 32}
	oidPolicyMappings             = asn1.ObjectIdentifier{2, 5, 29, 33}
	oidAuthorityKeyID             = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidPolicyConstraints          = asn1.ObjectIdentifier{2, 5, 29, 36}
	oidExtKeyUsage                = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidFreshestCRL                = asn1.ObjectIdentifier{2, 5, 29, 46}
	oidInhibitAnyPolicy           = asn1.ObjectIdentifier{2, 5, 29, 54}
	oidAuthorityInfoAccess        = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 1}
	oidSubjectInfoAccess          = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 11}
)

// anyPolicy is the special policy OID 2.5.29.32.0.
const anyPolicy = "2.5.29.32.0"

var knownCertExtensions = []asn1.ObjectIdentifier{
	oidSubjectDirectoryAttributes, oidSubjectKeyID, oidKeyUsage, oidSubjectAltName,
	oidIssuerAltName, oidBasicConstraints, oidNameConstraints, oidCRLDistributionPoints,
	oidCertificatePolicies, oidPolicyMappings, oidAuthorityKeyID, oidPolicyConstraints,
	oidExtKeyUsage, oidFreshestCRL, oidInhibitAnyPolicy, oidAuthorityInfoAccess, oidSubjectInfoAccess,
}

// certInfo is what path validation needs from one certificate, parsed once.
type certInfo struct {
	cert            *x509.Certificate
	subject, issuer distinguishedName
	selfIssued      bool
	hasKeyUsage     bool
	isCA            bool // basicConstraints present with cA true
	hasEKU          bool // extendedKeyUsage present
	ekus            []asn1.ObjectIdentifier

	sans           []generalName
	nameConstraint *nameConstraints

	hasPolicies     bool
	policies        []string // policy OIDs, in order
	mappings        [][2]string
	requireExplicit int // -1: absent
	inhibitMapping  int // -1: absent
	inhibitAny      int // -1: absent

	distributionPoints []distributionPoint // nil: no CRLDistributionPoints extension
	unknownCritical    []string
}

type nameConstraints struct {
	permitted, excluded []generalName
}

// distributionPoint is one DistributionPoint of a CRLDistributionPoints
// extension (or the implied one when the extension is absent).
type distributionPoint struct {
	fullName     []generalName
	relativeName []string // nameRelativeToCRLIssuer; nil if absent
	hasName      bool
	reasons      reasonMask // allReasons when absent
	crlIssuer    []generalName
}

// reasonMask holds ReasonFlags bits: bit k set for reason k (1..8).
type reasonMask uint16

const allReasons reasonMask = 0x1fe

func parseReasonFlags(s cryptobyte.String) (reasonMask, error) {
	var bs asn1.BitString
	if !s.ReadASN1BitString(&bs) {
		return 0, errors.New("malformed reason flags")
	}
	var m reasonMask
	for k := 1; k <= 8; k++ {
		if bs.At(k) == 1 {
			m |= 1 << k
		}
	}
	return m, nil
}

func newCertInfo(c *x509.Certificate) (*certInfo, error) {
	info := &certInfo{cert: c, requireExplicit: -1, inhibitMapping: -1, inhibitAny: -1}
	var err error
	if info.subject, err = parseName(c.RawSubject); err != nil {
		return nil, fmt.Errorf("subject: %v", err)
	}
	if info.issuer, err = parseName(c.RawIssuer); err != nil {
		return nil, fmt.Errorf("issuer: %v", err)
	}
	info.selfIssued = info.subject.equal(info.issuer)
	info.isCA = c.BasicConstraintsValid && c.IsCA
	for _, e := range c.Extensions {
		known := false
		for _, k := range knownCertExtensions {
			if e.Id.Equal(k) {
				known = true
			}
		}
		if !known && e.Critical {
			info.unknownCritical = append(info.unknownCritical, e.Id.String())
		}
		var perr error
		switch {
		case e.Id.Equal(oidKeyUsage):
			info.hasKeyUsage = true
		case e.Id.Equal(oidSubjectAltName):
			info.sans, perr = parseGeneralNamesExt(e.Value)
		case e.Id.Equal(oidExtKeyUsage):
			info.hasEKU = true
			info.ekus, perr = parseEKU(e.Value)
		case e.Id.Equal(oidNameConstraints):
			info.nameConstraint, perr = parseNameConstraints(e.Value)
		case e.Id.Equal(oidCertificatePolicies):
			info.hasPolicies = true
			info.policies, perr = parsePolicies(e.Value)
		case e.Id.Equal(oidPolicyMappings):
			info.mappings, perr = parsePolicyMappings(e.Value)
		case e.Id.Equal(oidPolicyConstraints):
			info.requireExplicit, info.inhibitMapping, perr = parsePolicyConstraints(e.Value)
		case e.Id.Equal(oidInhibitAnyPolicy):
			s := cryptobyte.String(e.Value)
			if !s.ReadASN1Integer(&info.inhibitAny) || !s.Empty() || info.inhibitAny < 0 {
				perr = errors.New("malformed")
			}
		case e.Id.Equal(oidCRLDistributionPoints):
			info.distributionPoints, perr = parseDistributionPoints(e.Value)
			if perr == nil && info.distributionPoints == nil {
				info.distributionPoints = []distributionPoint{}
			}
		}
		if perr != nil {
			return nil, fmt.Errorf("extension %s: %v", e.Id, perr)
		}
	}
	return info, nil
}

func parseGeneralNamesExt(der []byte) ([]generalName, error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errors.New("malformed GeneralNames")
	}
	return parseGeneralNames(seq)
}

func parseNameConstraints(der []byte) (*nameConstraints, error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errors.New("malformed")
	}
	nc := &nameConstraints{}
	for i, dst := range []*[]generalName{&nc.permitted, &nc.excluded} {
		var subtrees cryptobyte.String
		var present bool
		tag := cbasn1.Tag(i).ContextSpecific().Constructed()
		if !seq.ReadOptionalASN1(&subtrees, &present, tag) {
			return nil, errors.New("malformed subtrees")
		}
		for !subtrees.Empty() {
			var subtree cryptobyte.String
			var base cryptobyte.String
			var baseTag cbasn1.Tag
			if !subtrees.ReadASN1(&subtree, cbasn1.SEQUENCE) ||
				!subtree.ReadAnyASN1Element(&base, &baseTag) {
				return nil, errors.New("malformed subtree")
			}
			names, err := parseGeneralNames(base)
			if err != nil {
				return nil, err
			}
			*dst = append(*dst, names...)
		}
	}
	return nc, nil
}

func parseEKU(der []byte) ([]asn1.ObjectIdentifier, error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errors.New("malformed")
	}
	var out []asn1.ObjectIdentifier
	for !seq.Empty() {
		var oid asn1.ObjectIdentifier
		if !seq.ReadASN1ObjectIdentifier(&oid) {
			return nil, errors.New("malformed key purpose")
		}
		out = append(out, oid)
	}
	return out, nil
}

func parsePolicies(der []byte) ([]string, error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errors.New("malformed")
	}
	var out []string
	seen := map[string]bool{}
	for !seq.Empty() {
		var info cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !seq.ReadASN1(&info, cbasn1.SEQUENCE) || !info.ReadASN1ObjectIdentifier(&oid) {
			return nil, errors.New("malformed policy information")
		}
		if seen[oid.String()] {
			return nil, fmt.Errorf("policy %s listed twice", oid)
		}
		seen[oid.String()] = true
		out = append(out, oid.String())
	}
	return out, nil
}

func parsePolicyMappings(der []byte) ([][2]string, error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errors.New("malformed")
	}
	var out [][2]string
	for !seq.Empty() {
		var m cryptobyte.String
		var from, to asn1.ObjectIdentifier
		if !seq.ReadASN1(&m, cbasn1.SEQUENCE) || !m.ReadASN1ObjectIdentifier(&from) ||
			!m.ReadASN1ObjectIdentifier(&to) {
			return nil, errors.New("malformed mapping")
		}
		out = append(out, [2]string{from.String(), to.String()})
	}
	return out, nil
}

func parsePolicyConstraints(der []byte) (requireExplicit, inhibitMapping int, err error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return 0, 0, errors.New("malformed")
	}
	requireExplicit, inhibitMapping = -1, -1
	for i, dst := range []*int{&requireExplicit, &inhibitMapping} {
		var v cryptobyte.String
		var present bool
		if !seq.ReadOptionalASN1(&v, &present, cbasn1.Tag(i).ContextSpecific()) {
			return 0, 0, errors.New("malformed")
		}
		if present {
			n, ok := smallNonNegative(v)
			if !ok {
				return 0, 0, errors.New("malformed skip count")
			}
			*dst = n
		}
	}
	return requireExplicit, inhibitMapping, nil
}

// smallNonNegative decodes the content octets of a small INTEGER.
func smallNonNegative(v []byte) (int, bool) {
	if len(v) == 0 || len(v) > 4 || v[0]&0x80 != 0 {
		return 0, false
	}
	n := 0
	for _, b := range v {
		n = n<<8 | int(b)
	}
	return n, true
}

// parseDistributionPointName reads the content of a DistributionPointName
// CHOICE (fullName [0] or nameRelativeToCRLIssuer [1]).
func parseDistributionPointName(s cryptobyte.String, dp *distributionPoint) error {
	var v cryptobyte.String
	var tag cbasn1.Tag
	if !s.ReadAnyASN1(&v, &tag) || !s.Empty() {
		return errors.New("malformed distribution point name")
	}
	dp.hasName = true
	switch tag {
	case cbasn1.Tag(0).ContextSpecific().Constructed():
		names, err := parseGeneralNames(v)
		if err != nil {
			return err
		}
		dp.fullName = names
	case cbasn1.Tag(1).ContextSpecific().Constructed():
		rdn, err := parseRDNContent(v)
		if err != nil {
			return err
		}
		dp.relativeName = rdn
	default:
		return errors.New("unknown distribution point name form")
	}
	return nil
}

func parseDistributionPoints(der []byte) ([]distributionPoint, error) {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return nil, errors.New("malformed")
	}
	var out []distributionPoint
	for !seq.Empty() {
		var dpSeq cryptobyte.String
		if !seq.ReadASN1(&dpSeq, cbasn1.SEQUENCE) {
			return nil, errors.New("malformed distribution point")
		}
		dp := distributionPoint{reasons: allReasons}
		var v cryptobyte.String
		var present bool
		if !dpSeq.ReadOptionalASN1(&v, &present, cbasn1.Tag(0).ContextSpecific().Constructed()) {
			return nil, errors.New("malformed distribution point")
		}
		if present {
			if err := parseDistributionPointName(v, &dp); err != nil {
				return nil, err
			}
		}
		if !dpSeq.ReadOptionalASN1(&v, &present, cbasn1.Tag(1).ContextSpecific()) {
			return nil, errors.New("malformed reasons")
		}
		if present {
			// Re-wrap the implicit BIT STRING content.
			var b cryptobyte.Builder
			b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes(v) })
			raw, err := b.Bytes()
			if err != nil {
				return nil, err
			}
			m, err := parseReasonFlags(cryptobyte.String(raw))
			if err != nil {
				return nil, err
			}
			dp.reasons = m
		}
		if !dpSeq.ReadOptionalASN1(&v, &present, cbasn1.Tag(2).ContextSpecific().Constructed()) {
			return nil, errors.New("malformed cRLIssuer")
		}
		if present {
			names, err := parseGeneralNames(v)
			if err != nil {
				return nil, err
			}
			dp.crlIssuer = names
		}
		out = append(out, dp)
	}
	return out, nil
}
