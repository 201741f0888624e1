package locate

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

func (l *Locator) vksBase() string {
	if l.VKS != "" {
		return strings.TrimSuffix(l.VKS, "/")
	}
	return DefaultVKS
}

// VKSByEmail asks the Verifying Key Server for addr's key
// (/vks/v1/by-email/ADDR). The server gives out only user IDs their owner
// verified; the key must still have one bound to addr.
func (l *Locator) VKSByEmail(ctx context.Context, addr string) ([]Found, error) {
	if _, _, err := splitAddr(addr); err != nil {
		return nil, err
	}
	ctx, cancel := l.deadline(ctx)
	defer cancel()
	u := l.vksBase() + "/vks/v1/by-email/" + url.PathEscape(addr)
	data, err := l.get(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("vks: %w", err)
	}
	found, err := l.keysFor(data, addr, MethodVKS, u)
	if err != nil {
		return nil, fmt.Errorf("vks: %w", err)
	}
	return found, nil
}
