#!/bin/sh
# Build mailseal and install it under PREFIX (default /usr/local): the
# binary in $PREFIX/bin, the man pages in $PREFIX/share/man/man1, and the
# bash, zsh and fish completions under $PREFIX/share. The man pages and
# completions are made by the binary itself (mailseal man, mailseal
# completion), from its CLI definition. DESTDIR is prepended for packaging.
#
#   scripts/install.sh                  # into /usr/local
#   PREFIX=$HOME/.local scripts/install.sh
set -eu
cd "$(dirname "$0")/.."
PREFIX=${PREFIX:-/usr/local}
root=${DESTDIR:-}$PREFIX
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

CGO_ENABLED=0 go build -tags urfave_cli_no_docs -o "$tmp/mailseal" ./cmd/mailseal
install -d "$root/bin" "$root/share/man/man1" \
	"$root/share/bash-completion/completions" "$root/share/zsh/site-functions" \
	"$root/share/fish/vendor_completions.d"
install -m 0755 "$tmp/mailseal" "$root/bin/mailseal"
"$tmp/mailseal" man --dir "$tmp/man"
install -m 0644 "$tmp"/man/*.1 "$root/share/man/man1/"
"$tmp/mailseal" completion bash > "$tmp/mailseal.bash"
"$tmp/mailseal" completion zsh > "$tmp/_mailseal"
"$tmp/mailseal" completion fish > "$tmp/mailseal.fish"
install -m 0644 "$tmp/mailseal.bash" "$root/share/bash-completion/completions/mailseal"
install -m 0644 "$tmp/_mailseal" "$root/share/zsh/site-functions/_mailseal"
install -m 0644 "$tmp/mailseal.fish" "$root/share/fish/vendor_completions.d/mailseal.fish"
echo "installed mailseal into $root (bin, share/man/man1, completions)"
