#!/usr/bin/env bash
# Runs every test: unit tests, fuzz seeds, CLI scripts and the interop tests
# against gpg, gpgsm, openssl, sqop and a real SMTP server (Debian's
# python3-aiosmtpd). Installs the peers from Debian's packages when they are
# missing (needs root or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

# Formatting: every Go file as gofmt writes it.
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "not gofmt-formatted (run gofmt -w on them):" >&2
  echo "$unformatted" >&2
  exit 1
fi

# Build and vet (tests included) for linux, darwin and windows on amd64 and
# arm64, this machine's target among them: a failure stops here.
bash scripts/crossbuild.sh

need=()
command -v gpg >/dev/null 2>&1 || need+=(gnupg)
command -v gpgsm >/dev/null 2>&1 || need+=(gpgsm)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v sqop >/dev/null 2>&1 || need+=(sqop)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || need+=(python3-aiosmtpd)
/usr/bin/python3 -c 'import dkim' >/dev/null 2>&1 || need+=(python3-dkim)
/usr/bin/python3 -c 'import spf' >/dev/null 2>&1 || need+=(python3-spf)
command -v sq >/dev/null 2>&1 || need+=(sq)
[ -x /usr/lib/gnupg/gpg-wks-client ] || need+=(gpg-wks-client)
command -v unbound >/dev/null 2>&1 || need+=(unbound)
command -v ldns-signzone >/dev/null 2>&1 || need+=(ldnsutils)
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
command -v groff >/dev/null 2>&1 || need+=(groff-base)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}"
fi

go test -count=1 -timeout 30m ./...
# The base64, CRC-24, AES (CFB, CTR) and line-ending (check, LF to CRLF) code without its assembly, as other
# processors run it.
go test -count=1 -tags purego ./internal/b64lines ./internal/armor ./internal/aesmode ./internal/crlf
# The goroutine pipelines and their users, under the race detector.
go test -race -count=1 -timeout 10m ./internal/stage ./internal/spool ./internal/flow ./internal/batch
# The keystore's look-ups from many goroutines (a batch's, and the stats
# of the key index and the X.509 listing side by side), under it too.
go test -race -count=1 -timeout 10m -run 'Concurrent|SideBySide|X509Index' ./keystore

# The interoperability matrix with the peers CI has (gpg, gpgsm, openssl);
# scripts/interop.sh without --ci adds sqop, pgpainless-cli, rnp and sq.
bash scripts/interop.sh --ci
