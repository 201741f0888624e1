package x509path

// policyNode is a node of the RFC 5280 §6.1.2 valid_policy_tree.
// Qualifiers are not tracked: nothing here reports them.
type policyNode struct {
	validPolicy string
	expected    map[string]bool
	parent      *policyNode
	children    []*policyNode
}

// policyTree is the valid_policy_tree, level by level: levels[0] holds the
// root anyPolicy node, levels[i] the nodes of depth i.
type policyTree struct {
	levels [][]*policyNode
}

func newPolicyTree() *policyTree {
	root := &policyNode{validPolicy: anyPolicy, expected: map[string]bool{anyPolicy: true}}
	return &policyTree{levels: [][]*policyNode{{root}}}
}

func (t *policyTree) empty() bool { return len(t.levels) == 0 || len(t.levels[0]) == 0 }

func (t *policyTree) addChild(parent *policyNode, policy string, expected map[string]bool) *policyNode {
	n := &policyNode{validPolicy: policy, expected: expected, parent: parent}
	parent.children = append(parent.children, n)
	return n
}

// addLevel processes a certificate's policies, RFC 5280 §6.1.3 (d).
func (t *policyTree) addLevel(policies []string, allowAnyPolicy bool) {
	parents := t.levels[len(t.levels)-1]
	var level []*policyNode
	hasAny := false
	for _, p := range policies {
		if p == anyPolicy {
			hasAny = true
			continue
		}
		// (d)(1)(i): children of nodes expecting p.
		matched := false
		for _, parent := range parents {
			if parent.expected[p] {
				level = append(level, t.addChild(parent, p, map[string]bool{p: true}))
				matched = true
			}
		}
		// (d)(1)(ii): else children of an anyPolicy node.
		if !matched {
			for _, parent := range parents {
				if parent.validPolicy == anyPolicy {
					level = append(level, t.addChild(parent, p, map[string]bool{p: true}))
				}
			}
		}
	}
	// (d)(2): anyPolicy in the certificate.
	if hasAny && allowAnyPolicy {
		for _, parent := range parents {
			for _, e := range sortedKeys(parent.expected) {
				present := false
				for _, ch := range parent.children {
					if ch.validPolicy == e {
						present = true
					}
				}
				if !present {
					level = append(level, t.addChild(parent, e, map[string]bool{e: true}))
				}
			}
		}
	}
	t.levels = append(t.levels, level)
	t.prune()
}

// applyMappings processes a certificate's policy mappings, RFC 5280 §6.1.4 (b).
func (t *policyTree) applyMappings(mappings [][2]string, mappingAllowed bool) {
	depth := len(t.levels) - 1
	issuerPolicies := map[string][]string{}
	var order []string
	for _, m := range mappings {
		if _, ok := issuerPolicies[m[0]]; !ok {
			order = append(order, m[0])
		}
		issuerPolicies[m[0]] = append(issuerPolicies[m[0]], m[1])
	}
	level := t.levels[depth]
	for _, idp := range order {
		subjects := issuerPolicies[idp]
		if !mappingAllowed {
			// (b)(2): delete the nodes of valid policy idp.
			kept := level[:0:0]
			for _, n := range level {
				if n.validPolicy == idp {
					n.parent.children = removeNode(n.parent.children, n)
					continue
				}
				kept = append(kept, n)
			}
			level = kept
			continue
		}
		found := false
		for _, n := range level {
			if n.validPolicy == idp {
				n.expected = setOf(subjects)
				found = true
			}
		}
		if !found {
			for _, n := range level {
				if n.validPolicy == anyPolicy && n.parent != nil {
					level = append(level, t.addChild(n.parent, idp, setOf(subjects)))
					break
				}
			}
		}
	}
	t.levels[depth] = level
	t.prune()
}

// prune removes nodes of depth below the deepest level that have no
// children, repeatedly; an empty deepest level empties the tree.
func (t *policyTree) prune() {
	for d := len(t.levels) - 2; d >= 0; d-- {
		kept := t.levels[d][:0:0]
		for _, n := range t.levels[d] {
			if len(n.children) == 0 {
				if n.parent != nil {
					n.parent.children = removeNode(n.parent.children, n)
				}
				continue
			}
			kept = append(kept, n)
		}
		t.levels[d] = kept
	}
}

func removeNode(nodes []*policyNode, n *policyNode) []*policyNode {
	out := nodes[:0:0]
	for _, x := range nodes {
		if x != n {
			out = append(out, x)
		}
	}
	return out
}

func setOf(values []string) map[string]bool {
	m := make(map[string]bool, len(values))
	for _, v := range values {
		m[v] = true
	}
	return m
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
