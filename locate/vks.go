package locate

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/mailseal/mailseal/core"
	"github.com/mailseal/mailseal/internal/armor"
	"github.com/mailseal/mailseal/internal/upperhex"
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

// VKSByFingerprint asks the Verifying Key Server for the key with
// fingerprint fpr (/vks/v1/by-fingerprint/FPR). The answer must be that
// one key; it may have no user ID (the server strips unverified ones).
// Of its user IDs only those bound to addr are kept ("": none).
func (l *Locator) VKSByFingerprint(ctx context.Context, fpr, addr string) (Found, error) {
	fpr = strings.ToUpper(fpr)
	if b, err := hex.DecodeString(fpr); err != nil || (len(b) != 20 && len(b) != 32) {
		return Found{}, fmt.Errorf("vks: %q is not a key fingerprint: %w", fpr, core.ErrUsage)
	}
	ctx, cancel := l.deadline(ctx)
	defer cancel()
	u := l.vksBase() + "/vks/v1/by-fingerprint/" + fpr
	data, err := l.get(ctx, u)
	if err != nil {
		return Found{}, fmt.Errorf("vks: %w", err)
	}
	bin, err := l.binaryKeys(data, u)
	if err != nil {
		return Found{}, fmt.Errorf("vks: %w", err)
	}
	key, uids, err := onlyKey(bin, fpr, addr)
	if err != nil {
		return Found{}, fmt.Errorf("vks: %s: %w", u, err)
	}
	return Found{Address: addr, Method: MethodVKS, Source: u, Fetched: l.now().UTC(), Fingerprint: fpr,
		UserIDs: uids, MatchesAddress: len(uids) > 0, Key: key}, nil
}

// onlyKey checks that bin is the one public key with fingerprint fpr and
// returns it with only the user IDs bound to addr (and their signatures);
// user attributes go too. It works on packets, not on go-crypto entities,
// which refuse a v4 key without user IDs.
func onlyKey(bin []byte, fpr, addr string) ([]byte, []string, error) {
	var out bytes.Buffer
	var uids []string
	r := packet.NewOpaqueReader(bytes.NewReader(bin))
	keep, primary := true, false
	for {
		op, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("unreadable key: %w", err)
		}
		switch op.Tag {
		case 6: // public key
			if primary {
				return nil, nil, fmt.Errorf("the answer holds more than the key %s; refused", fpr)
			}
			primary = true
			p, err := op.Parse()
			pk, ok := p.(*packet.PublicKey)
			if err != nil || !ok || upperhex.Encode(pk.Fingerprint) != fpr {
				return nil, nil, fmt.Errorf("the answer is not the key %s; refused", fpr)
			}
		case 5, 7: // secret key, secret subkey
			return nil, nil, errors.New("the answer holds a secret key; refused")
		case 13: // user ID
			keep = false
			p, err := op.Parse()
			if u, ok := p.(*packet.UserId); err == nil && ok && addr != "" {
				if a, err := core.UserIDAddress(u.Id); err == nil && core.SameAddress(a, addr) {
					keep = true
					uids = append(uids, u.Id)
				}
			}
		case 17: // user attribute
			keep = false
		case 2: // a signature belongs to what precedes it
		default:
			keep = true
		}
		if !primary {
			return nil, nil, fmt.Errorf("the answer does not start with a public key; refused")
		}
		if keep {
			if err := op.Serialize(&out); err != nil {
				return nil, nil, err
			}
		}
	}
	if !primary {
		return nil, nil, errors.New("no OpenPGP key in the answer")
	}
	return out.Bytes(), uids, nil
}

// VKSUpload is what a Verifying Key Server said to an upload: the key's
// fingerprint and, for each address of its user IDs, its status
// ("unpublished", "pending" after a verification mail was asked for,
// "published", "revoked").
type VKSUpload struct {
	Fingerprint string            `json:"key_fpr"`
	Status      map[string]string `json:"status"`
	Token       string            `json:"-"`
}

// UploadVKS uploads key (binary or armored public key) to the Verifying
// Key Server (/vks/v1/upload) and asks it to send a verification mail to
// each address not yet published (/vks/v1/request-verify): the server
// publishes a user ID only once its owner follows the link.
func (l *Locator) UploadVKS(ctx context.Context, key []byte) (*VKSUpload, error) {
	bin, err := l.binaryKeys(key, "the key")
	if err != nil {
		return nil, fmt.Errorf("vks upload: %w", err)
	}
	var ab bytes.Buffer
	aw := armor.NewWriter(&ab, "PGP PUBLIC KEY BLOCK")
	aw.Write(bin)
	if err := aw.Close(); err != nil {
		return nil, fmt.Errorf("vks upload: %w", err)
	}
	ctx, cancel := l.deadline(ctx)
	defer cancel()
	var up struct {
		VKSUpload
		Token string `json:"token"`
	}
	if err := l.postJSON(ctx, "/vks/v1/upload", map[string]string{"keytext": ab.String()}, &up); err != nil {
		return nil, err
	}
	res := up.VKSUpload
	res.Token = up.Token
	var ask []string
	for a, st := range res.Status {
		if st == "unpublished" {
			ask = append(ask, a)
		}
	}
	sort.Strings(ask)
	if len(ask) > 0 && res.Token != "" {
		var ver struct {
			Status map[string]string `json:"status"`
		}
		req := map[string]any{"token": res.Token, "addresses": ask}
		if err := l.postJSON(ctx, "/vks/v1/request-verify", req, &ver); err != nil {
			return &res, err
		}
		for a, st := range ver.Status {
			res.Status[a] = st
		}
	}
	return &res, nil
}

// postJSON posts body as JSON to the key server's path and reads its JSON
// answer (at most Limits.MaxBytes) into out; an error answer's "error"
// field is the error.
func (l *Locator) postJSON(ctx context.Context, path string, body, out any) error {
	u := l.vksBase() + path
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mailseal")
	resp, err := l.client().Do(req)
	if err != nil {
		return fmt.Errorf("vks: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, l.Limits.withDefaults().MaxBytes+1))
	if err != nil {
		return fmt.Errorf("vks: %s: %w", u, err)
	}
	if int64(len(data)) > l.Limits.withDefaults().MaxBytes {
		return fmt.Errorf("vks: %s: refused an answer of more than %s", u, core.SizeName(l.Limits.withDefaults().MaxBytes))
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("vks: %s: %s: %s", u, resp.Status, e.Error)
		}
		return fmt.Errorf("vks: %s: %s", u, resp.Status)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("vks: %s: unreadable answer: %w", u, err)
	}
	return nil
}
