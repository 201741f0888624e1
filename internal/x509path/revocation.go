package x509path

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/mailseal/mailseal/internal/dn"
)

// reasonRemoveFromCRL is CRLReason removeFromCRL (delta CRLs only).
const reasonRemoveFromCRL = 8

var knownCRLExtensions = []asn1.ObjectIdentifier{
	oidAuthorityKeyID, oidCRLNumber, oidDeltaCRLIndicator, oidIssuingDistributionPoint,
	oidFreshestCRL, oidIssuerAltName,
}

var knownCRLEntryExtensions = []asn1.ObjectIdentifier{
	oidReasonCode, oidInvalidityDate, oidCertificateIssuer, oidHoldInstructionCode,
}

// crlInfo is a CRL parsed for RFC 5280 §6.3.
type crlInfo struct {
	crl    *x509.RevocationList
	issuer distinguishedName
	err    error // the CRL must not be used

	number     *big.Int // cRLNumber, nil if absent
	isDelta    bool
	baseNumber *big.Int // deltaCRLIndicator

	idpRaw          []byte // issuingDistributionPoint value, nil if absent
	idpName         *distributionPoint
	onlyUserCerts   bool
	onlyCACerts     bool
	onlyAttrCerts   bool
	indirect        bool
	onlySomeReasons reasonMask

	entries []crlEntry
}

type crlEntry struct {
	serial *big.Int
	issuer distinguishedName
	reason int
}

func isKnown(oid asn1.ObjectIdentifier, known []asn1.ObjectIdentifier) bool {
	for _, k := range known {
		if oid.Equal(k) {
			return true
		}
	}
	return false
}

func (v *validator) crlInfo(rl *x509.RevocationList) *crlInfo {
	if in, ok := v.state.crls[rl]; ok {
		return in
	}
	in := parseCRLInfo(rl)
	v.state.crls[rl] = in
	return in
}

func parseCRLInfo(rl *x509.RevocationList) *crlInfo {
	in := &crlInfo{crl: rl, number: rl.Number, onlySomeReasons: allReasons}
	var err error
	if in.issuer, err = parseName(rl.RawIssuer); err != nil {
		in.err = fmt.Errorf("unparsable issuer: %v", err)
		return in
	}
	for _, e := range rl.Extensions {
		if !isKnown(e.Id, knownCRLExtensions) {
			if e.Critical {
				in.err = fmt.Errorf("unknown critical CRL extension %s", e.Id)
				return in
			}
			continue
		}
		switch {
		case e.Id.Equal(oidDeltaCRLIndicator):
			in.isDelta = true
			in.baseNumber = new(big.Int)
			s := cryptobyte.String(e.Value)
			if !s.ReadASN1Integer(in.baseNumber) || !s.Empty() {
				in.err = errors.New("malformed deltaCRLIndicator")
				return in
			}
		case e.Id.Equal(oidIssuingDistributionPoint):
			in.idpRaw = e.Value
			if err := in.parseIDP(e.Value); err != nil {
				in.err = fmt.Errorf("issuingDistributionPoint: %v", err)
				return in
			}
		}
	}
	entryIssuer := in.issuer
	for _, e := range rl.RevokedCertificateEntries {
		for _, x := range e.Extensions {
			if !isKnown(x.Id, knownCRLEntryExtensions) {
				if x.Critical {
					in.err = fmt.Errorf("unknown critical CRL entry extension %s (serial %s)", x.Id, e.SerialNumber)
					return in
				}
				continue
			}
			if x.Id.Equal(oidCertificateIssuer) && in.indirect {
				names, err := parseGeneralNamesExt(x.Value)
				if err != nil {
					in.err = fmt.Errorf("certificateIssuer: %v", err)
					return in
				}
				entryIssuer = nil
				for _, g := range names {
					if g.kind == gnDirectory {
						entryIssuer = g.dn
						break
					}
				}
			}
		}
		in.entries = append(in.entries, crlEntry{serial: e.SerialNumber, issuer: entryIssuer, reason: e.ReasonCode})
	}
	return in
}

func (in *crlInfo) parseIDP(der []byte) error {
	s := cryptobyte.String(der)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() {
		return errors.New("malformed")
	}
	var v cryptobyte.String
	var present bool
	if !seq.ReadOptionalASN1(&v, &present, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return errors.New("malformed distribution point")
	}
	if present {
		dp := &distributionPoint{}
		if err := parseDistributionPointName(v, dp); err != nil {
			return err
		}
		in.idpName = dp
	}
	flags := []*bool{1: &in.onlyUserCerts, 2: &in.onlyCACerts, 4: &in.indirect, 5: &in.onlyAttrCerts}
	for tag := 1; tag <= 5; tag++ {
		if !seq.ReadOptionalASN1(&v, &present, cbasn1.Tag(tag).ContextSpecific()) {
			return errors.New("malformed")
		}
		if !present {
			continue
		}
		if tag == 3 {
			var b cryptobyte.Builder
			b.AddASN1(cbasn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes(v) })
			raw, err := b.Bytes()
			if err != nil {
				return err
			}
			m, err := parseReasonFlags(cryptobyte.String(raw))
			if err != nil {
				return err
			}
			in.onlySomeReasons = m
			continue
		}
		if len(v) != 1 {
			return errors.New("malformed boolean")
		}
		*flags[tag] = v[0] != 0
	}
	if !seq.Empty() {
		return errors.New("trailing data")
	}
	return nil
}

// names resolves a distribution point name to general names; a
// nameRelativeToCRLIssuer is appended to base.
func (dp *distributionPoint) names(base distinguishedName) []generalName {
	if dp.relativeName != nil {
		return []generalName{{kind: gnDirectory, dn: base.appendRDN(dp.relativeName)}}
	}
	return dp.fullName
}

func anyNameMatches(a, b []generalName) bool {
	for _, x := range a {
		for _, y := range b {
			if x.equal(y) {
				return true
			}
		}
	}
	return false
}

func directoryNames(names []generalName) []distinguishedName {
	var out []distinguishedName
	for _, g := range names {
		if g.kind == gnDirectory {
			out = append(out, g.dn)
		}
	}
	return out
}

// checkRevocation determines the revocation status of ci (RFC 5280 §6.3):
// revoked, or not revoked for all reasons, or else an error.
// ownKey is ci's key and issuer/issuerKey its issuer in the path.
func (v *validator) checkRevocation(ci *certInfo, ownKey crypto.PublicKey, issuer *certInfo, issuerKey crypto.PublicKey, anchor *certInfo) error {
	dps := ci.distributionPoints
	if len(dps) == 0 {
		dps = []distributionPoint{{reasons: allReasons}}
	}
	var covered reasonMask
	var notes []string
	// Every applicable CRL is read, also after others cover every reason:
	// an earlier CRL of the issuer, still current, lacks the revocations
	// made since, and which one comes first is the caller's order (a
	// replayed old CRL, or one a signed message carries, must not hide a
	// revocation a newer one lists). A certificate on hold in an earlier
	// CRL stays revoked until that CRL expires.
	for _, dp := range dps {
		for _, rl := range v.opts.CRLs {
			if rl == nil {
				continue
			}
			in := v.crlInfo(rl)
			if in.isDelta || !v.crlIssuerMatches(ci, dp, in) {
				continue
			}
			if in.err != nil {
				notes = append(notes, "CRL of "+dn.String(rl.Issuer)+": "+in.err.Error())
				continue
			}
			interim, err := v.crlScope(ci, dp, in)
			if err != nil {
				notes = append(notes, "CRL of "+dn.String(rl.Issuer)+": "+err.Error())
				continue
			}
			key, err := v.crlSignerKey(in, ci, ownKey, issuer, issuerKey, anchor)
			if err != nil {
				notes = append(notes, "CRL of "+dn.String(rl.Issuer)+": "+err.Error())
				continue
			}
			delta := v.findDelta(in, key)
			revoked, reason, where := false, 0, ""
			if delta != nil {
				if e := delta.lookup(ci); e != nil {
					if e.reason != reasonRemoveFromCRL {
						revoked, reason, where = true, e.reason, "delta CRL"
					}
					goto decided
				}
			}
			if e := in.lookup(ci); e != nil && e.reason != reasonRemoveFromCRL {
				revoked, reason, where = true, e.reason, "CRL"
			}
		decided:
			if revoked {
				return certError(ci.cert, "revoked (%s) according to the %s of %s", reasonName(reason), where, dn.String(rl.Issuer))
			}
			covered |= interim
		}
	}
	if covered != allReasons {
		msg := "no CRL for it: revocation status unknown"
		if covered != 0 {
			msg = "CRLs do not cover all revocation reasons: revocation status unknown"
		}
		if len(notes) > 0 {
			msg += " (" + strings.Join(notes, "; ") + ")"
		}
		return &CertificateError{Subject: subjectString(ci.cert), Reason: msg, RevocationUnknown: true}
	}
	return nil
}

// crlIssuerMatches is RFC 5280 §6.3.3 (b)(1).
func (v *validator) crlIssuerMatches(ci *certInfo, dp distributionPoint, in *crlInfo) bool {
	if len(dp.crlIssuer) > 0 {
		for _, dn := range directoryNames(dp.crlIssuer) {
			if dn.equal(in.issuer) {
				return in.indirect
			}
		}
		return false
	}
	return in.issuer.equal(ci.issuer)
}

// crlScope checks the CRL's validity time and issuing distribution point
// against ci and dp, and returns the reasons it covers (§6.3.3 (a), (b)(2), (c)).
func (v *validator) crlScope(ci *certInfo, dp distributionPoint, in *crlInfo) (reasonMask, error) {
	rl := in.crl
	t := v.opts.Time
	if t.Before(rl.ThisUpdate) {
		return 0, fmt.Errorf("not yet valid (thisUpdate %s)", rl.ThisUpdate.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if !rl.NextUpdate.IsZero() && t.After(rl.NextUpdate) {
		return 0, fmt.Errorf("out of date (nextUpdate %s)", rl.NextUpdate.UTC().Format("2006-01-02 15:04:05Z"))
	}
	if in.idpName != nil {
		idpNames := in.idpName.names(in.issuer)
		var dpNames []generalName
		if dp.hasName {
			base := ci.issuer
			if dns := directoryNames(dp.crlIssuer); len(dns) > 0 {
				base = dns[0]
			}
			dpNames = dp.names(base)
		} else if len(dp.crlIssuer) > 0 {
			dpNames = dp.crlIssuer
		} else {
			dpNames = []generalName{{kind: gnDirectory, dn: ci.issuer}}
		}
		if !anyNameMatches(idpNames, dpNames) {
			return 0, errors.New("its issuing distribution point does not match the certificate's distribution point")
		}
	}
	switch {
	case in.onlyUserCerts && ci.isCA:
		return 0, errors.New("covers only end-entity certificates")
	case in.onlyCACerts && !ci.isCA:
		return 0, errors.New("covers only CA certificates")
	case in.onlyAttrCerts:
		return 0, errors.New("covers only attribute certificates")
	}
	return in.onlySomeReasons & dp.reasons, nil
}

// lookup finds ci's entry in the CRL.
func (in *crlInfo) lookup(ci *certInfo) *crlEntry {
	for i := range in.entries {
		e := &in.entries[i]
		if e.serial != nil && e.serial.Cmp(ci.cert.SerialNumber) == 0 && e.issuer.equal(ci.issuer) {
			return e
		}
	}
	return nil
}

// findDelta returns the newest usable delta CRL for the complete CRL base,
// signed with key (§5.2.4, §6.3.3 (c), (d)).
func (v *validator) findDelta(base *crlInfo, key crypto.PublicKey) *crlInfo {
	if base.number == nil {
		return nil
	}
	var best *crlInfo
	for _, rl := range v.opts.CRLs {
		if rl == nil {
			continue
		}
		d := v.crlInfo(rl)
		if d.err != nil || !d.isDelta || !d.issuer.equal(base.issuer) || !bytes.Equal(d.idpRaw, base.idpRaw) {
			continue
		}
		if d.number == nil || d.baseNumber.Cmp(base.number) > 0 || d.number.Cmp(base.number) <= 0 {
			continue
		}
		if v.opts.Time.Before(rl.ThisUpdate) || (!rl.NextUpdate.IsZero() && v.opts.Time.After(rl.NextUpdate)) {
			continue
		}
		if len(base.crl.AuthorityKeyId) > 0 && len(rl.AuthorityKeyId) > 0 && !bytes.Equal(base.crl.AuthorityKeyId, rl.AuthorityKeyId) {
			continue
		}
		if !v.spend(1) || checkSignature(rl.SignatureAlgorithm, rl.RawTBSRevocationList, rl.Signature, key, v.opts.signaturePolicy(rl.ThisUpdate)) != nil {
			continue
		}
		if best == nil || d.number.Cmp(best.number) > 0 {
			best = d
		}
	}
	return best
}

// crlSignerKey finds the certificate that signed the CRL and checks it
// (§6.3.3 (f), (g)): its name matches the CRL issuer, key usage allows
// cRLSign, its path leads to the same anchor, and the signature verifies.
func (v *validator) crlSignerKey(in *crlInfo, ci *certInfo, ownKey crypto.PublicKey, issuer *certInfo, issuerKey crypto.PublicKey, anchor *certInfo) (crypto.PublicKey, error) {
	rl := in.crl
	var lastErr error
	try := func(cand *certInfo, key crypto.PublicKey) bool {
		if !cand.subject.equal(in.issuer) {
			return false
		}
		if len(rl.AuthorityKeyId) > 0 && len(cand.cert.SubjectKeyId) > 0 && !bytes.Equal(rl.AuthorityKeyId, cand.cert.SubjectKeyId) {
			return false
		}
		if cand.hasKeyUsage && cand.cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
			lastErr = fmt.Errorf("signer %q lacks the cRLSign key usage", subjectString(cand.cert))
			return false
		}
		if key == nil {
			var err error
			if key, err = v.validatedSignerKey(cand, anchor); err != nil {
				lastErr = err
				return false
			}
		}
		if err := v.opts.signaturePolicy(time.Time{}).CheckKey(key); err != nil {
			lastErr = fmt.Errorf("signer %q: %w", subjectString(cand.cert), err)
			return false
		}
		if !v.spend(1) {
			lastErr = errors.New("path search limit reached")
			return false
		}
		if err := checkSignature(rl.SignatureAlgorithm, rl.RawTBSRevocationList, rl.Signature, key, v.opts.signaturePolicy(rl.ThisUpdate)); err != nil {
			lastErr = fmt.Errorf("signature: %w", err)
			return false
		}
		return true
	}
	// The certificate's own issuer, already validated as part of the path.
	if try(issuer, issuerKey) {
		return issuerKey, nil
	}
	if issuer != anchor && try(anchor, anchor.cert.PublicKey) {
		return anchor.cert.PublicKey, nil
	}
	// A CRL issuer's certificate may be covered by the indirect CRL it
	// issues itself (PKITS 4.14.30); its key is validated by this path.
	if try(ci, ownKey) {
		return ownKey, nil
	}
	seen := map[string]bool{string(issuer.cert.Raw): true, string(anchor.cert.Raw): true, string(ci.cert.Raw): true}
	for _, c := range v.opts.Intermediates {
		if c == nil || seen[string(c.Raw)] {
			continue
		}
		seen[string(c.Raw)] = true
		cand, err := v.info(c)
		if err != nil {
			continue
		}
		if try(cand, nil) {
			key, _ := v.validatedSignerKey(cand, anchor)
			return key, nil
		}
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no certificate of the CRL issuer %q to check it with", dn.String(rl.Issuer))
	}
	return nil, lastErr
}

// validatedSignerKey validates a CRL signer's own path to anchor, with
// revocation checks, and returns its key (memoised).
func (v *validator) validatedSignerKey(cand, anchor *certInfo) (crypto.PublicKey, error) {
	id := string(cand.cert.Raw) + "\x00" + string(anchor.cert.Raw)
	if r, ok := v.state.signerRes[id]; ok {
		return r.key, r.err
	}
	var res signerResult
	if v.depth >= maxCRLSignerDepth {
		res.err = fmt.Errorf("CRL signer %q: too many nested CRL signer paths", subjectString(cand.cert))
	} else {
		opts := v.opts
		opts.Roots = []*x509.Certificate{anchor.cert}
		opts.SkipSMIMEChecks = true
		opts.Email = ""
		sub := &validator{opts: opts, depth: v.depth + 1, state: v.state}
		// Mark in progress to stop cycles.
		v.state.signerRes[id] = signerResult{err: fmt.Errorf("CRL signer %q: its validation depends on itself", subjectString(cand.cert))}
		p, err := sub.verifyPath(cand.cert)
		var ce *CertificateError
		switch {
		case errors.As(err, &ce):
			res.err = fmt.Errorf("CRL signer path: certificate %q: %s", ce.Subject, ce.Reason)
		case err != nil:
			res.err = fmt.Errorf("CRL signer path: %v", err)
		default:
			res.key = p.leafKey
		}
	}
	v.state.signerRes[id] = res
	return res.key, res.err
}

func reasonName(r int) string {
	names := []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
		"cessationOfOperation", "certificateHold", "unused reason 7", "removeFromCRL", "privilegeWithdrawn", "aACompromise"}
	if r >= 0 && r < len(names) {
		return names[r]
	}
	return fmt.Sprintf("reason %d", r)
}
