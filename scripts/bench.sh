#!/usr/bin/env bash
# Times mailseal against gpg, sq and openssl cms as whole processes, on the
# same inputs, in one run, and writes BENCHMARKS.md.
#
#   scripts/bench.sh            messages with 1 KiB, 1 MiB and 100 MiB attachments, 5 runs (3 at 100 MiB)
#   scripts/bench.sh --quick    1 KiB and 1 MiB only, 3 runs (a smoke test of the script)
#   scripts/bench.sh --gib      a 1 GiB attachment, sign+encrypt and decrypt+verify, 3 runs:
#                               writes docs/benchmark-gib.md, which the full run includes
#
# For each operation and size it prints the median wall time, MB/s of the
# message, the peak RSS, and each peer's time as a multiple of mailseal's
# (above 1: mailseal is faster). Then many small messages: one process per
# message, as a script calling the CLI does.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 gib=0
[ "${1:-}" = "--quick" ] && quick=1
[ "${1:-}" = "--gib" ] && gib=1

need=()
command -v gpg >/dev/null || need+=(gnupg)
command -v openssl >/dev/null || need+=(openssl)
command -v sq >/dev/null || need+=(sq)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
CGO_ENABLED=0 go build -tags urfave_cli_no_docs -o "$W/mailseal" ./cmd/mailseal
MS="$W/mailseal"
export MAILSEAL_HOME="$W/ms" GNUPGHOME="$W/gnupg"
mkdir -p -m 700 "$GNUPGHOME"

echo "setting up keys..." >&2
# OpenPGP: the same algorithms on every side (Ed25519 + X25519), no passphrases.
"$MS" keys generate --pgp --no-passphrase --uid "Alice <alice@example.org>" >/dev/null
"$MS" keys generate --pgp --no-passphrase --uid "Bob <bob@example.org>" >/dev/null
# The same people with RFC 9580 (v6) keys, which make SEIPDv2 with AES-GCM;
# neither gpg 2.2 nor sq 0.27 reads those, so these rows are mailseal's alone.
MS6() { MAILSEAL_HOME="$W/ms6" "$MS" "$@"; }
MS6 keys generate --pgp --profile rfc9580 --no-passphrase --uid "Alice <alice@example.org>" >/dev/null
MS6 keys generate --pgp --profile rfc9580 --no-passphrase --uid "Bob <bob@example.org>" >/dev/null
G() { gpg --batch --quiet --yes --pinentry-mode loopback --passphrase '' --trust-model always "$@"; }
for who in alice bob; do
  G --quick-gen-key "$who <$who@example.org>" ed25519 cert,sign never
  fpr=$(G --with-colons --list-keys "$who@example.org" | awk -F: '/^fpr/{print $10; exit}')
  G --quick-add-key "$fpr" cv25519 encr never
done
G --export-secret-keys alice@example.org > "$W/gpg-alice.key"; G --export alice@example.org > "$W/gpg-alice.cert"
G --export-secret-keys bob@example.org > "$W/gpg-bob.key"; G --export bob@example.org > "$W/gpg-bob.cert"
# S/MIME: RSA-2048 certificates from one CA.
S="$W/s"; mkdir -p "$S"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$S/ca.key" -out "$S/ca.pem" -subj "/CN=Bench CA" -days 2 \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
for who in alice bob; do
  openssl req -newkey rsa:2048 -nodes -keyout "$S/$who.key" -out "$S/$who.csr" -subj "/CN=$who" 2>/dev/null
  printf 'subjectAltName=email:%s@example.org\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=emailProtection\n' "$who" > "$S/$who.ext"
  openssl x509 -req -in "$S/$who.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" -CAcreateserial -days 2 -extfile "$S/$who.ext" -out "$S/$who.pem" 2>/dev/null
  openssl pkcs12 -export -in "$S/$who.pem" -inkey "$S/$who.key" -passout pass:pw -out "$S/$who.p12" 2>/dev/null
  MAILSEAL_PASSPHRASE=pw "$MS" keys import --no-passphrase "$S/$who.p12" 2>/dev/null
done
"$MS" keys import "$S/ca.pem" 2>/dev/null
"$MS" keys trust "Bench CA" 2>/dev/null

# Messages: text and an attachment of the given size (base64), Alice to Bob.
mkmsg() { # mkmsg BYTES OUT
  {
    printf 'From: alice@example.org\r\nTo: bob@example.org\r\nSubject: bench\r\nMIME-Version: 1.0\r\n'
    printf 'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n'
    printf -- '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n'
    head -c "$1" /dev/urandom | base64 -w 76 | sed 's/$/\r/'
    printf -- '--b--\r\n'
  } > "$2"
}
if [ $quick -eq 1 ]; then sizes=(1K 1M); elif [ $gib -eq 1 ]; then sizes=(1G); else sizes=(1K 1M 100M); fi
bytes_of() { case $1 in 1K) echo 1024;; 1M) echo 1048576;; 100M) echo 104857600;; 1G) echo 1073741824;; esac; }
for sz in "${sizes[@]}"; do mkmsg "$(bytes_of "$sz")" "$W/msg-$sz.eml"; done

# measure RUNS CMD... -> "median_seconds peak_rss_kib" (stdout of CMD discarded;
# wall time in nanoseconds from date, peak RSS from /usr/bin/time)
measure() {
  local runs=$1; shift
  local times=() rss=0 i
  for ((i = 0; i < runs; i++)); do
    local s0 s1
    s0=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$W/t" "$@" > /dev/null 2>"$W/err" || { echo "FAILED: $* ($(tail -1 "$W/err"))" >&2; echo "nan 0"; return; }
    s1=$(date +%s%N)
    read -r m < "$W/t"
    times+=("$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.3f", (b - a) / 1e9}')"); [ "$m" -gt "$rss" ] && rss=$m
  done
  local med; med=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  echo "$med $rss"
}

# Prepared inputs for the consuming operations.
prep() {
  local sz=$1 m="$W/msg-$sz.eml"
  "$MS" sign --pgp < "$m" > "$W/ms-pgp-signed-$sz.eml"
  "$MS" encrypt --pgp --no-self < "$m" > "$W/ms-pgp-enc-$sz.eml"
  "$MS" encrypt --pgp --no-self --sign < "$m" > "$W/ms-pgp-encsig-$sz.eml"
  "$MS" sign --smime < "$m" > "$W/ms-smime-signed-$sz.eml"
  "$MS" encrypt --smime --no-self < "$m" > "$W/ms-smime-enc-$sz.eml" 2>/dev/null
  "$MS" encrypt --smime --no-self --sign < "$m" > "$W/ms-smime-encsig-$sz.eml" 2>/dev/null
  MS6 encrypt --pgp --no-self < "$m" > "$W/ms6-enc-$sz.eml"
  MS6 encrypt --pgp --no-self --sign < "$m" > "$W/ms6-encsig-$sz.eml"
  G --armor --detach-sign -u alice@example.org -o "$W/gpg-$sz.sig" "$m"
  G --armor -e -r bob@example.org -o "$W/gpg-enc-$sz.asc" "$m"
  G --armor -e -s -u alice@example.org -r bob@example.org -o "$W/gpg-encsig-$sz.asc" "$m"
  sq sign --detached --signer-key "$W/gpg-alice.key" --output "$W/sq-$sz.sig" "$m"
  sq encrypt --recipient-cert "$W/gpg-bob.cert" --output "$W/sq-enc-$sz.asc" "$m"
  sq encrypt --recipient-cert "$W/gpg-bob.cert" --signer-key "$W/gpg-alice.key" --output "$W/sq-encsig-$sz.asc" "$m"
  openssl cms -sign -binary -signer "$S/alice.pem" -inkey "$S/alice.key" -in "$m" -out "$W/ossl-signed-$sz.eml" 2>/dev/null
  openssl cms -encrypt -binary -aes-256-gcm -in "$m" -out "$W/ossl-enc-$sz.eml" "$S/bob.pem" 2>/dev/null
  openssl cms -sign -binary -signer "$S/alice.pem" -inkey "$S/alice.key" -in "$m" 2>/dev/null |
    openssl cms -encrypt -binary -aes-256-gcm -out "$W/ossl-encsig-$sz.eml" "$S/bob.pem" 2>/dev/null
}

results="$W/results"
: > "$results"
row() { # row PROTOCOL OP SIZE TOOL MEDIAN RSS
  echo "$*" >> "$results"
}
bench_size() {
  local sz=$1 m="$W/msg-$sz.eml" runs=5
  [ "$sz" = 100M ] && runs=3
  [ $quick -eq 1 ] && runs=3
  echo "size $sz: preparing inputs..." >&2
  prep "$sz"
  echo "size $sz: timing..." >&2
  local r
  # OpenPGP
  r=$(measure $runs sh -c "'$MS' sign --pgp < '$m'"); row openpgp sign "$sz" mailseal $r
  r=$(measure $runs gpg --batch --yes --armor --detach-sign -u alice@example.org -o - "$m"); row openpgp sign "$sz" gpg $r
  r=$(measure $runs sq sign --detached --signer-key "$W/gpg-alice.key" "$m"); row openpgp sign "$sz" sq $r
  r=$(measure $runs sh -c "'$MS' verify < '$W/ms-pgp-signed-$sz.eml'"); row openpgp verify "$sz" mailseal $r
  r=$(measure $runs gpg --batch --verify "$W/gpg-$sz.sig" "$m"); row openpgp verify "$sz" gpg $r
  r=$(measure $runs sq verify --detached "$W/sq-$sz.sig" --signer-cert "$W/gpg-alice.cert" "$m"); row openpgp verify "$sz" sq $r
  r=$(measure $runs sh -c "'$MS' encrypt --pgp --no-self < '$m'"); row openpgp encrypt "$sz" mailseal $r
  r=$(measure $runs gpg --batch --yes --trust-model always --armor -e -r bob@example.org -o - "$m"); row openpgp encrypt "$sz" gpg $r
  r=$(measure $runs sq encrypt --recipient-cert "$W/gpg-bob.cert" "$m"); row openpgp encrypt "$sz" sq $r
  r=$(measure $runs sh -c "'$MS' decrypt < '$W/ms-pgp-enc-$sz.eml'"); row openpgp decrypt "$sz" mailseal $r
  r=$(measure $runs gpg --batch --yes -d -o - "$W/gpg-enc-$sz.asc"); row openpgp decrypt "$sz" gpg $r
  r=$(measure $runs sq decrypt --recipient-key "$W/gpg-bob.key" "$W/sq-enc-$sz.asc"); row openpgp decrypt "$sz" sq $r
  r=$(measure $runs sh -c "'$MS' encrypt --pgp --no-self --sign < '$m'"); row openpgp sign+encrypt "$sz" mailseal $r
  r=$(measure $runs gpg --batch --yes --trust-model always --armor -e -s -u alice@example.org -r bob@example.org -o - "$m"); row openpgp sign+encrypt "$sz" gpg $r
  r=$(measure $runs sq encrypt --recipient-cert "$W/gpg-bob.cert" --signer-key "$W/gpg-alice.key" "$m"); row openpgp sign+encrypt "$sz" sq $r
  r=$(measure $runs sh -c "'$MS' decrypt < '$W/ms-pgp-encsig-$sz.eml'"); row openpgp decrypt+verify "$sz" mailseal $r
  r=$(measure $runs gpg --batch --yes -d -o - "$W/gpg-encsig-$sz.asc"); row openpgp decrypt+verify "$sz" gpg $r
  r=$(measure $runs sq decrypt --recipient-key "$W/gpg-bob.key" --signer-cert "$W/gpg-alice.cert" "$W/sq-encsig-$sz.asc"); row openpgp decrypt+verify "$sz" sq $r
  # OpenPGP between v6 keys (SEIPDv2, AES-256-GCM)
  local h6="MAILSEAL_HOME='$W/ms6'"
  r=$(measure $runs sh -c "$h6 '$MS' encrypt --pgp --no-self < '$m'"); row openpgp-v6 encrypt "$sz" mailseal $r
  r=$(measure $runs sh -c "$h6 '$MS' decrypt < '$W/ms6-enc-$sz.eml'"); row openpgp-v6 decrypt "$sz" mailseal $r
  r=$(measure $runs sh -c "$h6 '$MS' encrypt --pgp --no-self --sign < '$m'"); row openpgp-v6 sign+encrypt "$sz" mailseal $r
  r=$(measure $runs sh -c "$h6 '$MS' decrypt < '$W/ms6-encsig-$sz.eml'"); row openpgp-v6 decrypt+verify "$sz" mailseal $r
  # S/MIME
  r=$(measure $runs sh -c "'$MS' sign --smime < '$m'"); row smime sign "$sz" mailseal $r
  r=$(measure $runs openssl cms -sign -binary -signer "$S/alice.pem" -inkey "$S/alice.key" -in "$m"); row smime sign "$sz" openssl $r
  r=$(measure $runs sh -c "'$MS' verify --no-system-roots < '$W/ms-smime-signed-$sz.eml'"); row smime verify "$sz" mailseal $r
  r=$(measure $runs openssl cms -verify -binary -CAfile "$S/ca.pem" -in "$W/ossl-signed-$sz.eml"); row smime verify "$sz" openssl $r
  r=$(measure $runs sh -c "'$MS' encrypt --smime --no-self < '$m'"); row smime encrypt "$sz" mailseal $r
  r=$(measure $runs openssl cms -encrypt -binary -aes-256-gcm -in "$m" "$S/bob.pem"); row smime encrypt "$sz" openssl $r
  r=$(measure $runs sh -c "'$MS' decrypt < '$W/ms-smime-enc-$sz.eml'"); row smime decrypt "$sz" mailseal $r
  r=$(measure $runs openssl cms -decrypt -recip "$S/bob.pem" -inkey "$S/bob.key" -in "$W/ossl-enc-$sz.eml"); row smime decrypt "$sz" openssl $r
  r=$(measure $runs sh -c "'$MS' encrypt --smime --no-self --sign < '$m'"); row smime sign+encrypt "$sz" mailseal $r
  r=$(measure $runs sh -c "openssl cms -sign -binary -signer '$S/alice.pem' -inkey '$S/alice.key' -in '$m' | openssl cms -encrypt -binary -aes-256-gcm '$S/bob.pem'"); row smime sign+encrypt "$sz" openssl $r
  r=$(measure $runs sh -c "'$MS' decrypt --no-system-roots < '$W/ms-smime-encsig-$sz.eml'"); row smime decrypt+verify "$sz" mailseal $r
  r=$(measure $runs sh -c "openssl cms -decrypt -recip '$S/bob.pem' -inkey '$S/bob.key' -in '$W/ossl-encsig-$sz.eml' | openssl cms -verify -CAfile '$S/ca.pem'"); row smime decrypt+verify "$sz" openssl $r
}

# --gib: a 1 GiB attachment, the round trip of each protocol (mailseal against gpg and openssl).
bench_gib() {
  local sz=1G m="$W/msg-1G.eml" runs=3 r
  echo "size $sz: preparing inputs..." >&2
  "$MS" encrypt --pgp --no-self --sign < "$m" > "$W/ms-pgp-encsig-$sz.eml"
  "$MS" encrypt --smime --no-self --sign < "$m" > "$W/ms-smime-encsig-$sz.eml" 2>/dev/null
  G --armor -e -s -u alice@example.org -r bob@example.org -o "$W/gpg-encsig-$sz.asc" "$m"
  openssl cms -sign -binary -signer "$S/alice.pem" -inkey "$S/alice.key" -in "$m" 2>/dev/null |
    openssl cms -encrypt -binary -aes-256-gcm -out "$W/ossl-encsig-$sz.eml" "$S/bob.pem" 2>/dev/null
  echo "size $sz: timing..." >&2
  r=$(measure $runs sh -c "'$MS' encrypt --pgp --no-self --sign < '$m'"); row openpgp sign+encrypt "$sz" mailseal $r
  r=$(measure $runs gpg --batch --yes --trust-model always --armor -e -s -u alice@example.org -r bob@example.org -o - "$m"); row openpgp sign+encrypt "$sz" gpg $r
  r=$(measure $runs sh -c "'$MS' decrypt < '$W/ms-pgp-encsig-$sz.eml'"); row openpgp decrypt+verify "$sz" mailseal $r
  r=$(measure $runs gpg --batch --yes -d -o - "$W/gpg-encsig-$sz.asc"); row openpgp decrypt+verify "$sz" gpg $r
  r=$(measure $runs sh -c "'$MS' encrypt --smime --no-self --sign < '$m'"); row smime sign+encrypt "$sz" mailseal $r
  r=$(measure $runs sh -c "openssl cms -sign -binary -signer '$S/alice.pem' -inkey '$S/alice.key' -in '$m' | openssl cms -encrypt -binary -aes-256-gcm '$S/bob.pem'"); row smime sign+encrypt "$sz" openssl $r
  r=$(measure $runs sh -c "'$MS' decrypt --no-system-roots < '$W/ms-smime-encsig-$sz.eml'"); row smime decrypt+verify "$sz" mailseal $r
  r=$(measure $runs sh -c "openssl cms -decrypt -recip '$S/bob.pem' -inkey '$S/bob.key' -in '$W/ossl-encsig-$sz.eml' | openssl cms -verify -CAfile '$S/ca.pem'"); row smime decrypt+verify "$sz" openssl $r
}
if [ $gib -eq 1 ]; then
  bench_gib
  mb() { awk -v b="$1" -v t="$2" 'BEGIN{ if (t == "nan" || t <= 0) print "-"; else printf "%.1f", b / 1048576 / t }'; }
  {
    echo "A 1 GiB attachment ("'`scripts/bench.sh --gib`'", $(date -u +%Y-%m-%d), median of 3 runs; the message is $(stat -c %s "$W/msg-1G.eml") bytes):"
    echo
    echo "| protocol | operation | tool | median s | MB/s | peak RSS MiB |"
    echo "|---|---|---|---|---|---|"
    while read -r proto op sz tool t rss; do
      printf '| %s | %s | %s | %s | %s | %.1f |\n' "$proto" "$op" "$tool" "$t" "$(mb "$(stat -c %s "$W/msg-1G.eml")" "$t")" "$(awk -v r="$rss" 'BEGIN{print r/1024}')"
    done < "$results"
  } > docs/benchmark-gib.md
  cat docs/benchmark-gib.md
  exit 0
fi
for sz in "${sizes[@]}"; do bench_size "$sz"; done

# Many small messages, one process each.
echo "small messages..." >&2
small="$W/small.eml"; mkmsg 2048 "$small"
n=100; [ $quick -eq 1 ] && n=20
rate() { # rate CMD... : messages per second over n runs
  local start end; start=$(date +%s.%N)
  for ((i = 0; i < n; i++)); do "$@" > /dev/null 2>&1; done
  end=$(date +%s.%N)
  awk -v n=$n -v s="$start" -v e="$end" 'BEGIN{printf "%.0f", n / (e - s)}'
}
ms_small=$(rate sh -c "'$MS' encrypt --pgp --no-self --sign < '$small'")
gpg_small=$(rate gpg --batch --yes --trust-model always --armor -e -s -u alice@example.org -r bob@example.org -o - "$small")
ossl_small=$(rate sh -c "openssl cms -sign -binary -signer '$S/alice.pem' -inkey '$S/alice.key' -in '$small' | openssl cms -encrypt -binary -aes-256-gcm '$S/bob.pem'")
mss_small=$(rate sh -c "'$MS' encrypt --smime --no-self --sign < '$small'")

# Batch mode: one process over an mbox of small signed and encrypted messages.
nb=2000; [ $quick -eq 1 ] && nb=200
"$MS" encrypt --pgp --no-self --sign < "$small" > "$W/one.eml"
for ((i = 0; i < nb; i++)); do printf 'From alice@example.org Sun Nov 22 10:00:00 2026\n'; tr -d '\r' < "$W/one.eml"; echo; done > "$W/batch.mbox"
batch_run() { # batch_run CMD... : "seconds messages/s peak_rss_MiB"
  local s0 s1 m; s0=$(date +%s%N); /usr/bin/time -f '%M' -o "$W/t" "$@" > /dev/null 2>&1; s1=$(date +%s%N)
  read -r m < "$W/t"
  awk -v n=$nb -v a="$s0" -v b="$s1" -v m="$m" 'BEGIN{t = (b - a) / 1e9; printf "%.2f %.0f %.1f\n", t, n / t, m / 1024}'
}
read -r _ ms_batch_verify ms_batch_verify_rss < <(batch_run "$MS" verify --batch "$W/batch.mbox")
read -r _ ms_batch_decrypt ms_batch_decrypt_rss < <(batch_run "$MS" decrypt --batch "$W/batch.mbox" -o "$W/batch-out.mbox")
# And an mbox holding the largest signed and encrypted message: memory stays flat.
bigsz=${sizes[${#sizes[@]}-1]}
{ printf 'From alice@example.org Sun Nov 22 10:00:00 2026\n'; tr -d '\r' < "$W/ms-pgp-encsig-$bigsz.eml"; echo; } > "$W/batch-big.mbox"
read -r ms_batch_big _ ms_batch_big_rss < <(batch_run "$MS" decrypt --batch "$W/batch-big.mbox" -o "$W/batch-big-out.mbox")

# Report.
mb() { awk -v b="$1" -v t="$2" 'BEGIN{ if (t == "nan" || t <= 0) print "-"; else printf "%.1f", b / 1048576 / t }'; }
table() {
  echo "| protocol | operation | size | tool | median s | MB/s | peak RSS MiB | peer time / mailseal time |"
  echo "|---|---|---|---|---|---|---|---|"
  while read -r proto op sz tool t rss; do
    local msz; msz=$(stat -c %s "$W/msg-$sz.eml")
    local base; base=$(awk -v p="$proto" -v o="$op" -v s="$sz" '$1==p && $2==o && $3==s && $4=="mailseal"{print $5}' "$results")
    local ratio="-"
    if [ "$tool" != mailseal ] && [ "$t" != nan ] && [ -n "$base" ]; then
      ratio=$(awk -v a="$t" -v b="$base" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "-" }')
    fi
    printf '| %s | %s | %s | %s | %s | %s | %.1f | %s |\n' "$proto" "$op" "$sz" "$tool" "$t" "$(mb "$msz" "$t")" "$(awk -v r="$rss" 'BEGIN{print r/1024}')" "$ratio"
  done < "$results"
}
{
  echo "# Benchmarks"
  echo
  echo "Measured by \`scripts/bench.sh$([ $quick -eq 1 ] && echo ' --quick')\` on $(date -u +%Y-%m-%d) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo))."
  echo "Whole processes, median of several runs; MB/s (MiB per second) of the whole message (a MIME message with a base64"
  echo "attachment of the given size); peak RSS from /usr/bin/time. mailseal $("$MS" sop version | cut -d' ' -f2),"
  echo "$(gpg --version | head -1), $(sq --version 2>&1 | head -1), $(openssl version)."
  echo "mailseal works on whole MIME messages (parsing, 7-bit safety, RFC 9788 header protection); gpg, sq"
  echo "and openssl are given the same file as opaque bytes."
  echo
  table
  echo
  echo "Small messages (a 2 KiB attachment), sign+encrypt, one process per message:"
  echo
  echo "| tool | messages/s |"
  echo "|---|---|"
  echo "| mailseal encrypt --pgp --sign | $ms_small |"
  echo "| gpg -e -s | $gpg_small |"
  echo "| mailseal encrypt --smime --sign | $mss_small |"
  echo "| openssl cms -sign \| openssl cms -encrypt | $ossl_small |"
  echo
  echo "Batch mode, one process over an mbox of $nb signed and encrypted messages, on every core:"
  echo
  echo "| operation | messages/s | peak RSS MiB |"
  echo "|---|---|---|"
  echo "| mailseal verify --batch (decrypt and verify each, JSON report per message) | $ms_batch_verify | $ms_batch_verify_rss |"
  echo "| mailseal decrypt --batch -o out.mbox | $ms_batch_decrypt | $ms_batch_decrypt_rss |"
  echo
  echo "An mbox holding the signed and encrypted $bigsz message: decrypt --batch -o out.mbox in $ms_batch_big s, peak RSS $ms_batch_big_rss MiB."
  if [ -f docs/benchmark-gib.md ]; then echo; cat docs/benchmark-gib.md; fi
  if [ -f docs/benchmark-notes.md ]; then echo; cat docs/benchmark-notes.md; fi
} > "$W/BENCHMARKS.md"
cat "$W/BENCHMARKS.md"
if [ $quick -eq 0 ]; then cp "$W/BENCHMARKS.md" BENCHMARKS.md; echo "written to BENCHMARKS.md" >&2; fi
