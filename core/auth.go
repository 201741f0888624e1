package core

// AuthReport is the domain's verdict on a message (package auth): did the
// domain send it (DKIM, SPF, DMARC, ARC), apart from whether a person
// signed it (Report.Status). Report.Auth carries it for verify --auth.
type AuthReport struct {
	// Verdict is the domain verdict: the DMARC result (pass, fail, none,
	// temperror, permerror) when DMARC was evaluated, else "none".
	Verdict string `json:"verdict"`
	// Domain is the domain of the single From address ("" without one).
	Domain string       `json:"domain,omitempty"`
	DKIM   []DKIMResult `json:"dkim"`
	// SPF is set when the connecting client is known (--client-ip, --received-hop).
	SPF   *SPFResult   `json:"spf,omitempty"`
	DMARC *DMARCResult `json:"dmarc,omitempty"`
	// ARC is the ARC chain's validation (RFC 8617), read only.
	ARC *ARCResult `json:"arc,omitempty"`
	// AuthenticationResults is the value of the RFC 8601
	// Authentication-Results field for these results (with an authserv-id).
	AuthenticationResults string `json:"authentication_results,omitempty"`
	// Warnings qualify the results: a body length limit, a signature not
	// checked, a From the domain checks cannot use.
	Warnings []string `json:"warnings,omitempty"`
}

// Results of the domain checks, as RFC 8601 names them.
const (
	AuthPass      = "pass"
	AuthFail      = "fail"
	AuthSoftFail  = "softfail"
	AuthNeutral   = "neutral"
	AuthNone      = "none"
	AuthPolicy    = "policy" // DKIM: verified or not, not acceptable (a body length limit)
	AuthTempError = "temperror"
	AuthPermError = "permerror"
)

// DKIMResult is the check of one DKIM-Signature field (RFC 6376).
type DKIMResult struct {
	Domain     string `json:"domain"`               // d=
	Selector   string `json:"selector"`             // s=
	Algorithm  string `json:"algorithm"`            // a=: rsa-sha256, ed25519-sha256
	Identifier string `json:"identifier,omitempty"` // i=
	// Canonicalization is c= as header/body ("relaxed/simple").
	Canonicalization string `json:"canonicalization,omitempty"`
	// Result: pass, fail, policy, temperror or permerror.
	Result string `json:"result"`
	// Reason says why the result is not pass.
	Reason string `json:"reason,omitempty"`
	// SignedHeaders are the header field names h= lists, as written.
	SignedHeaders []string `json:"signed_headers,omitempty"`
	// BodyLength is l=, the number of body bytes signed, when the
	// signature has one; text after them is not covered (a warning).
	BodyLength *int64 `json:"body_length,omitempty"`
}

// SPFResult is the SPF check (RFC 7208) of the client that handed the
// message over.
type SPFResult struct {
	// Result: pass, fail, softfail, neutral, none, temperror, permerror.
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
	// Domain is the domain checked: the MAIL FROM's, else the HELO name.
	Domain   string `json:"domain"`
	ClientIP string `json:"client_ip"`
	HELO     string `json:"helo,omitempty"`
	MailFrom string `json:"mail_from,omitempty"`
	// Source says where the client came from: "options" or "received:N".
	Source string `json:"source"`
}

// DMARCResult is the DMARC evaluation (RFC 7489) of the From domain.
type DMARCResult struct {
	// Result: pass (an aligned DKIM or SPF pass), fail, none (no
	// policy), temperror, permerror.
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
	// Domain is the From domain; PolicyDomain where the record was found
	// (the From domain or its organizational domain).
	Domain       string `json:"domain"`
	PolicyDomain string `json:"policy_domain,omitempty"`
	OrgDomain    string `json:"org_domain,omitempty"`
	// Policy is the policy that applies: p=, or sp= for a subdomain
	// whose record is its organizational domain's (none, quarantine, reject).
	Policy string `json:"policy,omitempty"`
	// Disposition is what the policy asks for this message: none when it
	// passes, else Policy.
	Disposition string `json:"disposition,omitempty"`
	// Percent is pct= (the share of failing mail the policy applies to).
	Percent int `json:"percent,omitempty"`
	// DKIMAlignment and SPFAlignment are the modes: relaxed or strict.
	DKIMAlignment string `json:"dkim_alignment,omitempty"`
	SPFAlignment  string `json:"spf_alignment,omitempty"`
	// AlignedDKIM is the d= of a passing DKIM signature aligned with the
	// From domain; AlignedSPF the passing SPF domain aligned with it.
	AlignedDKIM string `json:"aligned_dkim,omitempty"`
	AlignedSPF  string `json:"aligned_spf,omitempty"`
}

// ARCResult is the validation of the message's ARC chain (RFC 8617):
// read only, mailseal adds no ARC set.
type ARCResult struct {
	// Result: pass, fail, none (no ARC fields), temperror.
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
	// OldestPass (set when Result is pass) is RFC 8617's oldest-pass: the
	// oldest instance from which on every ARC-Message-Signature still
	// verifies, 0 when all do; above 0, hops before it saw another message.
	OldestPass *int `json:"oldest_pass,omitempty"`
	// Sealers are the ARC sets, instance 1 (the first hop) first; when
	// Result is not pass, what they say (d=, s=, cv=) is unverified.
	Sealers []ARCSealer `json:"sealers,omitempty"`
}

// ARCSealer is one ARC set: who sealed it and what it says.
type ARCSealer struct {
	Instance int    `json:"instance"`
	Domain   string `json:"domain"`   // the ARC-Seal's d=
	Selector string `json:"selector"` // the ARC-Seal's s=
	// Seal is the ARC-Seal's check: pass or fail ("" when not reached).
	Seal string `json:"seal,omitempty"`
	// ChainValidation is the cv= the sealer recorded: none, pass or fail.
	ChainValidation string `json:"cv"`
	// AuthenticationResults is what that hop found (its
	// ARC-Authentication-Results value), set only when the chain passes:
	// a failed chain's are unverified claims (RFC 8617), not findings.
	AuthenticationResults string `json:"authentication_results,omitempty"`
}
