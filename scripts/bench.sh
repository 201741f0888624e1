#!/usr/bin/env bash
# Times mailseal against gpg, sq, rnp and openssl cms (each installed from
# Debian's packages when missing) as whole processes, on the same inputs, in
# one run, and writes BENCHMARKS.md.
#
#   scripts/bench.sh            attachments of 1 KiB, 1 MiB and 100 MiB, 7 pairs (5 at 100 MiB);
#                               writes BENCHMARKS.md
#   SIZE=4MiB PAIRS=2 scripts/bench.sh   a smoke run: the sizes given (1K, 4MiB, 10M, 100MiB,
#                               ...; several separated by spaces), PAIRS pairs each, small
#                               batches; prints the report, writes nothing
#   scripts/bench.sh --quick    the same as SIZE=1MiB PAIRS=3
#   GIB=1 scripts/bench.sh      (or --gib) a 1 GiB attachment, sign+encrypt and decrypt+verify,
#                               3 pairs (PAIRS to change): slow (minutes); writes
#                               docs/benchmark-gib.md, which the full run includes
#
# Method (issue 16). Each comparison runs mailseal and the peer in turn,
# A B A B ..., after one warm-up run of each, so that both see the same
# machine; it reports the median wall time of each, their range (min-max),
# and the median of the pairs' ratios peer/mailseal (above 1: mailseal is
# faster). MB/s is 10^6 bytes of the plaintext MIME message (the input of
# sign and encrypt, what decrypt gives back) per second of the median.
# Peers run with their defaults and with their fastest fair settings: gpg
# -z0 (no compression; mailseal compresses nothing) armored, as mailseal's
# PGP/MIME is, and binary; sq armored and --binary; rnp -z0 armored;
# openssl cms with and without -stream. Input forms (a file with LF line
# endings, a pipe, -o FILE) are each paired with the CRLF file (for -o
# FILE, its output redirected to a file by the shell). Batch
# rows run one process over an mbox and give messages per second and the
# peak RSS (from /usr/bin/time, of the largest process).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0 gib=0
[ "${1:-}" = "--quick" ] && quick=1
[ "${1:-}" = "--gib" ] || [ "${GIB:-0}" = 1 ] && gib=1
# SIZE (or the older BENCH_SIZES) and PAIRS (BENCH_PAIRS) make a smoke run.
SIZE=${SIZE:-${BENCH_SIZES:-}} PAIRS=${PAIRS:-${BENCH_PAIRS:-}}
[ -n "$SIZE" ] && [ $gib -eq 0 ] && quick=1

need=()
command -v gpg >/dev/null || need+=(gnupg)
command -v openssl >/dev/null || need+=(openssl)
command -v sq >/dev/null || need+=(sq)
command -v rnp >/dev/null && command -v rnpkeys >/dev/null || need+=(rnp)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
have_rnp=0; command -v rnp >/dev/null && command -v rnpkeys >/dev/null && have_rnp=1

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
R="$W/rnp"
if [ $have_rnp -eq 1 ]; then
  mkdir -p -m 700 "$R"
  rnpkeys --homedir "$R" --import "$W/gpg-alice.key" >/dev/null 2>&1
  rnpkeys --homedir "$R" --import "$W/gpg-bob.key" >/dev/null 2>&1
fi
# S/MIME: RSA-2048 certificates from one CA (what most mail certificates are).
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
# S/MIME with ECDSA P-256 certificates, for the batch rows (RSA-2048's
# private-key operation bounds a batch that signs or decrypts).
MSE() { MAILSEAL_HOME="$W/mse" "$MS" "$@"; }
MSE keys generate --ca --name "Bench EC CA" --no-passphrase >/dev/null
MSE keys trust "Bench EC CA" >/dev/null 2>&1
for who in alice bob; do
  MSE keys generate --smime --email "$who@example.org" --issuer "Bench EC CA" --no-passphrase >/dev/null
done
# And with an Ed25519 signing certificate (RFC 8419) for Alice; Bob's is
# P-256, since an Ed25519 key cannot be encrypted to.
MSD() { MAILSEAL_HOME="$W/msd" "$MS" "$@"; }
MSD keys generate --ca --name "Bench EC CA" --no-passphrase >/dev/null
MSD keys trust "Bench EC CA" >/dev/null 2>&1
MSD keys generate --smime --algo ed25519 --email alice@example.org --issuer "Bench EC CA" --no-passphrase >/dev/null
MSD keys generate --smime --email bob@example.org --issuer "Bench EC CA" --no-passphrase >/dev/null

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
bytes_of() { # 1K, 4KiB, 1M, 4MiB, 100M, 1G, 1GiB, 12345: binary units
  local v=${1%iB} n unit
  n=${v%[KMG]} unit=${v#"$n"}
  case "$n" in ''|*[!0-9]*) echo "unknown size $1 (e.g. 1K 4MiB 100M 1G)" >&2; exit 2;; esac
  case $unit in K) echo $((n << 10));; M) echo $((n << 20));; G) echo $((n << 30));; *) echo "$n";; esac
}
if [ $gib -eq 1 ]; then sizes=(1G); elif [ $quick -eq 1 ]; then sizes=(1M); else sizes=(1K 1M 100M); fi
[ -n "$SIZE" ] && [ $gib -eq 0 ] && read -r -a sizes <<< "$SIZE"
for sz in "${sizes[@]}"; do bytes_of "$sz" >/dev/null; done
pairs_for() { # how many pairs at a size
  if [ -n "$PAIRS" ]; then echo "$PAIRS"; elif [ $quick -eq 1 ] || [ "$1" = 1G ]; then echo 3;
  elif [ "$(bytes_of "$1")" -ge $((100 << 20)) ]; then echo 5; else echo 7; fi
}
for sz in "${sizes[@]}"; do mkmsg "$(bytes_of "$sz")" "$W/msg-$sz.eml"; done

# run1 CMD : one run of the shell command CMD (stdout discarded); appends
# "nanoseconds peak_rss_kib" to the file $out, or "nan 0" if it failed.
run1() {
  local s0 s1 m
  s0=$(date +%s%N)
  if ! /usr/bin/time -f '%M' -o "$W/t" sh -c "$1" > /dev/null 2>"$W/err"; then
    echo "FAILED: $1 ($(tail -1 "$W/err"))" >&2
    echo "nan 0" >> "$out"; return
  fi
  s1=$(date +%s%N)
  m=$(tail -1 "$W/t")
  echo "$((s1 - s0)) $m" >> "$out"
}
# stats FILE : "median min max rss" of the runs in FILE (seconds, KiB;
# nan when a run failed).
stats() {
  if grep -q '^nan' "$1"; then echo "nan nan nan 0"; return; fi
  local rss; rss=$(awk '{print $2}' "$1" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
  sort -n "$1" | awk -v rss="$rss" '{t[NR]=$1/1e9} END{n=NR
    printf "%.4f %.4f %.4f %d\n", (n%2 ? t[(n+1)/2] : (t[n/2]+t[n/2+1])/2), t[1], t[n], rss }'
}
# pairs N A B : N pairs of runs A B A B ... after a warm-up of each (B may
# be empty: A alone); prints "A-stats | B-stats | median ratio B/A".
pairs() {
  local n=$1 a=$2 b=$3 i
  out="$W/warm"; : > "$out"; run1 "$a"; [ -n "$b" ] && run1 "$b"
  : > "$W/pa"; : > "$W/pb"
  for ((i = 0; i < n; i++)); do
    out="$W/pa"; run1 "$a"
    if [ -n "$b" ]; then out="$W/pb"; run1 "$b"; fi
  done
  local ratio="-"
  if [ -n "$b" ] && ! grep -q '^nan' "$W/pa" "$W/pb"; then
    ratio=$(paste "$W/pa" "$W/pb" | awk '{print $3 / $1}' | sort -g | awk '{a[NR]=$1} END{printf "%.2f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
  fi
  local sb="nan nan nan 0"; [ -n "$b" ] && sb=$(stats "$W/pb")
  echo "$(stats "$W/pa") | $sb | $ratio"
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
  for f in pgp-enc pgp-encsig smime-encsig; do tr -d '\r' < "$W/ms-$f-$sz.eml" > "$W/ms-$f-$sz.lf.eml"; done
  tr -d '\r' < "$m" > "$W/msg-$sz.lf.eml"
  G --armor --detach-sign -u alice@example.org -o "$W/gpg-$sz.asc" "$m"
  G --detach-sign -u alice@example.org -o "$W/gpg-$sz.sig" "$m"
  G --armor -e -r bob@example.org -o "$W/gpg-enc-$sz.asc" "$m"
  G -z0 --armor -e -r bob@example.org -o "$W/gpg-z0-enc-$sz.asc" "$m"
  G -z0 -e -r bob@example.org -o "$W/gpg-z0-enc-$sz.gpg" "$m"
  G --armor -e -s -u alice@example.org -r bob@example.org -o "$W/gpg-encsig-$sz.asc" "$m"
  G -z0 --armor -e -s -u alice@example.org -r bob@example.org -o "$W/gpg-z0-encsig-$sz.asc" "$m"
  G -z0 -e -s -u alice@example.org -r bob@example.org -o "$W/gpg-z0-encsig-$sz.gpg" "$m"
  sq sign --detached --signer-key "$W/gpg-alice.key" --output "$W/sq-$sz.sig" "$m"
  sq encrypt --recipient-cert "$W/gpg-bob.cert" --output "$W/sq-enc-$sz.asc" "$m"
  sq encrypt --recipient-cert "$W/gpg-bob.cert" --signer-key "$W/gpg-alice.key" --output "$W/sq-encsig-$sz.asc" "$m"
  sq encrypt --binary --recipient-cert "$W/gpg-bob.cert" --signer-key "$W/gpg-alice.key" --output "$W/sq-encsig-$sz.pgp" "$m"
  if [ $have_rnp -eq 1 ]; then
    rnp --homedir "$R" --notty -e -s -u alice@example.org -r bob@example.org -z 0 --armor --output "$W/rnp-encsig-$sz.asc" "$m" 2>/dev/null
    rnp --homedir "$R" --notty --sign --detach --armor -u alice@example.org --output "$W/rnp-$sz.asc" "$m" 2>/dev/null
  fi
  openssl cms -sign -binary -signer "$S/alice.pem" -inkey "$S/alice.key" -in "$m" -out "$W/ossl-signed-$sz.eml" 2>/dev/null
  openssl cms -encrypt -binary -aes-256-gcm -in "$m" -out "$W/ossl-enc-$sz.eml" "$S/bob.pem" 2>/dev/null
  openssl cms -sign -binary -signer "$S/alice.pem" -inkey "$S/alice.key" -in "$m" 2>/dev/null |
    openssl cms -encrypt -binary -aes-256-gcm -out "$W/ossl-encsig-$sz.eml" "$S/bob.pem" 2>/dev/null
}

results="$W/results" forms="$W/forms"
: > "$results"; : > "$forms"
# compare PROTOCOL OP SIZE PEER MAILSEAL_CMD PEER_CMD : one comparison row.
compare() {
  local r; r=$(pairs "$np" "$5" "$6")
  echo "$1|$2|$3|$4|$r" >> "$results"
}
# form PROTOCOL OP SIZE FORM CRLF_CMD FORM_CMD : an input form against the CRLF file.
form() {
  local r; r=$(pairs "$np" "$5" "$6")
  echo "$1|$2|$3|$4|$r" >> "$forms"
}

bench_size() {
  local sz=$1 m="$W/msg-$sz.eml" w="$W"
  np=$(pairs_for "$sz")
  echo "size $sz: preparing inputs..." >&2
  prep "$sz"
  echo "size $sz: timing, $np pairs each..." >&2
  local ms="'$MS'" g="gpg --batch --quiet --yes --trust-model always" rn="rnp --homedir '$R' --notty"
  local sqk="--signer-key '$w/gpg-alice.key'" sqc="--recipient-cert '$w/gpg-bob.cert'"
  # OpenPGP
  local a="exec $ms sign --pgp < '$m'"
  compare openpgp sign "$sz" "gpg (armored)" "$a" "exec $g --armor --detach-sign -u alice@example.org -o - '$m'"
  compare openpgp sign "$sz" "gpg (binary)" "$a" "exec $g --detach-sign -u alice@example.org -o - '$m'"
  compare openpgp sign "$sz" "sq" "$a" "exec sq sign --detached $sqk '$m'"
  [ $have_rnp -eq 0 ] || compare openpgp sign "$sz" "rnp" "$a" "exec $rn --sign --detach --armor -u alice@example.org --output - '$m'"
  a="exec $ms verify < '$w/ms-pgp-signed-$sz.eml'"
  compare openpgp verify "$sz" "gpg (armored)" "$a" "exec $g --verify '$w/gpg-$sz.asc' '$m'"
  compare openpgp verify "$sz" "gpg (binary)" "$a" "exec $g --verify '$w/gpg-$sz.sig' '$m'"
  compare openpgp verify "$sz" "sq" "$a" "exec sq verify --detached '$w/sq-$sz.sig' --signer-cert '$w/gpg-alice.cert' '$m'"
  [ $have_rnp -eq 0 ] || compare openpgp verify "$sz" "rnp" "$a" "exec $rn --verify '$w/rnp-$sz.asc' --source '$m'"
  a="exec $ms encrypt --pgp --no-self < '$m'"
  compare openpgp encrypt "$sz" "gpg (default: zlib, armored)" "$a" "exec $g --armor -e -r bob@example.org -o - '$m'"
  compare openpgp encrypt "$sz" "gpg -z0 (armored)" "$a" "exec $g -z0 --armor -e -r bob@example.org -o - '$m'"
  compare openpgp encrypt "$sz" "gpg -z0 (binary)" "$a" "exec $g -z0 -e -r bob@example.org -o - '$m'"
  compare openpgp encrypt "$sz" "sq" "$a" "exec sq encrypt $sqc '$m'"
  a="exec $ms decrypt < '$w/ms-pgp-enc-$sz.eml'"
  compare openpgp decrypt "$sz" "gpg (default: zlib, armored)" "$a" "exec $g -d -o - '$w/gpg-enc-$sz.asc'"
  compare openpgp decrypt "$sz" "gpg -z0 (armored)" "$a" "exec $g -d -o - '$w/gpg-z0-enc-$sz.asc'"
  compare openpgp decrypt "$sz" "gpg -z0 (binary)" "$a" "exec $g -d -o - '$w/gpg-z0-enc-$sz.gpg'"
  compare openpgp decrypt "$sz" "sq" "$a" "exec sq decrypt --recipient-key '$w/gpg-bob.key' '$w/sq-enc-$sz.asc'"
  a="exec $ms encrypt --pgp --no-self --sign < '$m'"
  compare openpgp sign+encrypt "$sz" "gpg (default: zlib, armored)" "$a" "exec $g --armor -e -s -u alice@example.org -r bob@example.org -o - '$m'"
  compare openpgp sign+encrypt "$sz" "gpg -z0 (armored)" "$a" "exec $g -z0 --armor -e -s -u alice@example.org -r bob@example.org -o - '$m'"
  compare openpgp sign+encrypt "$sz" "gpg -z0 (binary)" "$a" "exec $g -z0 -e -s -u alice@example.org -r bob@example.org -o - '$m'"
  compare openpgp sign+encrypt "$sz" "sq (armored)" "$a" "exec sq encrypt $sqc $sqk '$m'"
  compare openpgp sign+encrypt "$sz" "sq (binary)" "$a" "exec sq encrypt --binary $sqc $sqk '$m'"
  [ $have_rnp -eq 0 ] || compare openpgp sign+encrypt "$sz" "rnp -z0 (armored)" "$a" "exec $rn -e -s -u alice@example.org -r bob@example.org -z 0 --armor --output - '$m'"
  a="exec $ms decrypt < '$w/ms-pgp-encsig-$sz.eml'"
  compare openpgp decrypt+verify "$sz" "gpg (default: zlib, armored)" "$a" "exec $g -d -o - '$w/gpg-encsig-$sz.asc'"
  compare openpgp decrypt+verify "$sz" "gpg -z0 (armored)" "$a" "exec $g -d -o - '$w/gpg-z0-encsig-$sz.asc'"
  compare openpgp decrypt+verify "$sz" "gpg -z0 (binary)" "$a" "exec $g -d -o - '$w/gpg-z0-encsig-$sz.gpg'"
  compare openpgp decrypt+verify "$sz" "sq (armored)" "$a" "exec sq decrypt --recipient-key '$w/gpg-bob.key' --signer-cert '$w/gpg-alice.cert' '$w/sq-encsig-$sz.asc'"
  compare openpgp decrypt+verify "$sz" "sq (binary)" "$a" "exec sq decrypt --recipient-key '$w/gpg-bob.key' --signer-cert '$w/gpg-alice.cert' '$w/sq-encsig-$sz.pgp'"
  [ $have_rnp -eq 0 ] || compare openpgp decrypt+verify "$sz" "rnp -z0 (armored)" "$a" "exec $rn -d --output - '$w/rnp-encsig-$sz.asc'"
  # OpenPGP between v6 keys (SEIPDv2, AES-256-GCM): mailseal alone.
  local h6="MAILSEAL_HOME='$w/ms6'"
  compare openpgp-v6 sign+encrypt "$sz" "-" "$h6 exec $ms encrypt --pgp --no-self --sign < '$m'" ""
  compare openpgp-v6 decrypt+verify "$sz" "-" "$h6 exec $ms decrypt < '$w/ms6-encsig-$sz.eml'" ""
  # S/MIME
  local o="openssl cms" sk="-signer '$S/alice.pem' -inkey '$S/alice.key'"
  a="exec $ms sign --smime < '$m'"
  compare smime sign "$sz" "openssl" "$a" "exec $o -sign -binary $sk -in '$m'"
  compare smime sign "$sz" "openssl -stream" "$a" "exec $o -sign -binary -stream $sk -in '$m'"
  compare smime verify "$sz" "openssl" "exec $ms verify --no-system-roots < '$w/ms-smime-signed-$sz.eml'" \
    "exec $o -verify -binary -CAfile '$S/ca.pem' -in '$w/ossl-signed-$sz.eml'"
  a="exec $ms encrypt --smime --no-self < '$m'"
  compare smime encrypt "$sz" "openssl" "$a" "exec $o -encrypt -binary -aes-256-gcm -in '$m' '$S/bob.pem'"
  compare smime encrypt "$sz" "openssl -stream" "$a" "exec $o -encrypt -binary -stream -aes-256-gcm -in '$m' '$S/bob.pem'"
  compare smime decrypt "$sz" "openssl" "exec $ms decrypt < '$w/ms-smime-enc-$sz.eml'" \
    "exec $o -decrypt -recip '$S/bob.pem' -inkey '$S/bob.key' -in '$w/ossl-enc-$sz.eml'"
  a="exec $ms encrypt --smime --no-self --sign < '$m'"
  compare smime sign+encrypt "$sz" "openssl" "$a" "$o -sign -binary $sk -in '$m' | $o -encrypt -binary -aes-256-gcm '$S/bob.pem'"
  compare smime sign+encrypt "$sz" "openssl -stream" "$a" "$o -sign -binary -stream $sk -in '$m' | $o -encrypt -binary -stream -aes-256-gcm '$S/bob.pem'"
  compare smime decrypt+verify "$sz" "openssl" "exec $ms decrypt --no-system-roots < '$w/ms-smime-encsig-$sz.eml'" \
    "$o -decrypt -recip '$S/bob.pem' -inkey '$S/bob.key' -in '$w/ossl-encsig-$sz.eml' | $o -verify -CAfile '$S/ca.pem'"

  # Input forms, each against the CRLF file (issue 16: within 10 %).
  for p in pgp smime; do
    local proto=openpgp nsr=""; [ $p = smime ] && proto=smime nsr=--no-system-roots
    a="exec $ms encrypt --$p --no-self --sign < '$m'"
    form "$proto" sign+encrypt "$sz" "LF file" "$a" "exec $ms encrypt --$p --no-self --sign < '$w/msg-$sz.lf.eml'"
    form "$proto" sign+encrypt "$sz" "pipe" "$a" "cat '$m' | $ms encrypt --$p --no-self --sign"
    # -o FILE against the same output written to a file by the shell:
    # both pay the file system, which /dev/null does not (143 MB to ext4
    # cost 0.13 s more than to /dev/null, however written).
    form "$proto" sign+encrypt "$sz" "-o FILE" "$a > '$w/out-shell.eml'" "exec $ms encrypt --$p --no-self --sign -o '$w/out.eml' < '$m'"
    a="exec $ms decrypt $nsr < '$w/ms-$p-encsig-$sz.eml'"
    form "$proto" decrypt+verify "$sz" "LF file" "$a" "exec $ms decrypt $nsr < '$w/ms-$p-encsig-$sz.lf.eml'"
    form "$proto" decrypt+verify "$sz" "pipe" "$a" "cat '$w/ms-$p-encsig-$sz.eml' | $ms decrypt $nsr"
    form "$proto" decrypt+verify "$sz" "-o FILE" "$a > '$w/out-shell.eml'" "exec $ms decrypt $nsr -o '$w/out.eml' < '$w/ms-$p-encsig-$sz.eml'"
  done
}

# Report tables.
msize() { stat -c %s "$W/msg-$1.eml"; }
mbs() { awk -v b="$1" -v t="$2" 'BEGIN{ if (t == "nan" || t <= 0) print "-"; else printf "%.1f", b / 1e6 / t }'; }
mib() { awk -v k="$1" 'BEGIN{ if (k <= 0) print "-"; else printf "%.1f", k / 1024 }'; }
table() {
  echo "| protocol | operation | size | peer (setting) | mailseal s (min-max) | MB/s | RSS MiB | peer s (min-max) | MB/s | RSS MiB | peer / mailseal |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  while IFS='|' read -r proto op sz peer a b ratio; do
    read -r am amin amax arss <<< "$a"; read -r bm bmin bmax brss <<< "$b"
    local n; n=$(msize "$sz")
    local bcol="- | - | -"
    [ "$bm" != nan ] && bcol="$bm ($bmin-$bmax) | $(mbs "$n" "$bm") | $(mib "$brss")"
    printf '| %s | %s | %s | %s | %s (%s-%s) | %s | %s | %s | %s |\n' "$proto" "$op" "$sz" "$peer" "$am" "$amin" "$amax" \
      "$(mbs "$n" "$am")" "$(mib "$arss")" "$bcol" "$(echo "$ratio" | tr -d ' ')"
  done < "$results"
}
forms_table() {
  echo "| protocol | operation | size | input | CRLF file s (min-max) | this input s (min-max) | MB/s | RSS MiB | this / CRLF file |"
  echo "|---|---|---|---|---|---|---|---|---|"
  while IFS='|' read -r proto op sz form a b ratio; do
    read -r am amin amax _ <<< "$a"; read -r bm bmin bmax brss <<< "$b"
    printf '| %s | %s | %s | %s | %s (%s-%s) | %s (%s-%s) | %s | %s | %s |\n' "$proto" "$op" "$sz" "$form" "$am" "$amin" "$amax" \
      "$bm" "$bmin" "$bmax" "$(mbs "$(msize "$sz")" "$bm")" "$(mib "$brss")" "$(echo "$ratio" | tr -d ' ')"
  done < "$forms"
}
header() {
  echo "Whole processes on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo)),"
  echo "$(date -u +%Y-%m-%d); mailseal $("$MS" sop version | cut -d' ' -f2), $(gpg --version | head -1), $(sq --version 2>&1 | head -1),"
  if [ $have_rnp -eq 1 ]; then
    echo "$(rnp --version | head -1 | sed 's/^/rnp /;s/^rnp rnp/rnp/'), $(openssl version)."
  else
    echo "rnp not installed, $(openssl version)."
  fi
  echo "Each row pairs mailseal with the peer, A B A B ... after a warm-up of each: median wall time and its"
  echo "range over the runs, MB/s = 10^6 bytes of the plaintext MIME message (a base64 attachment of the given"
  echo "size) per second of the median, peak RSS (median of the runs), and the median of the pairs' ratios"
  echo "peer time / mailseal time (above 1: mailseal is faster)."
}

if [ $gib -eq 1 ]; then
  sz=1G m="$W/msg-1G.eml" np=$(pairs_for 1G) w="$W"
  echo "size $sz: preparing inputs..." >&2
  "$MS" encrypt --pgp --no-self --sign < "$m" > "$W/ms-pgp-encsig-$sz.eml"
  "$MS" encrypt --smime --no-self --sign < "$m" > "$W/ms-smime-encsig-$sz.eml" 2>/dev/null
  G -z0 --armor -e -s -u alice@example.org -r bob@example.org -o "$W/gpg-z0-encsig-$sz.asc" "$m"
  openssl cms -sign -binary -stream -signer "$S/alice.pem" -inkey "$S/alice.key" -in "$m" 2>/dev/null |
    openssl cms -encrypt -binary -stream -aes-256-gcm -out "$W/ossl-encsig-$sz.eml" "$S/bob.pem" 2>/dev/null
  echo "size $sz: timing, $np pairs each..." >&2
  g="gpg --batch --quiet --yes --trust-model always" o="openssl cms"
  compare openpgp sign+encrypt "$sz" "gpg -z0 (armored)" "exec '$MS' encrypt --pgp --no-self --sign < '$m'" \
    "exec $g -z0 --armor -e -s -u alice@example.org -r bob@example.org -o - '$m'"
  compare openpgp decrypt+verify "$sz" "gpg -z0 (armored)" "exec '$MS' decrypt < '$w/ms-pgp-encsig-$sz.eml'" "exec $g -d -o - '$w/gpg-z0-encsig-$sz.asc'"
  compare smime sign+encrypt "$sz" "openssl -stream" "exec '$MS' encrypt --smime --no-self --sign < '$m'" \
    "$o -sign -binary -stream -signer '$S/alice.pem' -inkey '$S/alice.key' -in '$m' | $o -encrypt -binary -stream -aes-256-gcm '$S/bob.pem'"
  compare smime decrypt+verify "$sz" "openssl" "exec '$MS' decrypt --no-system-roots < '$w/ms-smime-encsig-$sz.eml'" \
    "$o -decrypt -recip '$S/bob.pem' -inkey '$S/bob.key' -in '$w/ossl-encsig-$sz.eml' | $o -verify -CAfile '$S/ca.pem'"
  {
    echo "A 1 GiB attachment ("'`scripts/bench.sh --gib`'", $np pairs; the message is $(msize 1G) bytes):"
    echo
    table
  } > docs/benchmark-gib.md
  cat docs/benchmark-gib.md
  exit 0
fi
for sz in "${sizes[@]}"; do bench_size "$sz"; done

# Many small messages, one process each, mailseal and the peer in turn.
echo "small messages..." >&2
small="$W/small.eml"; mkmsg 2048 "$small"
n=100; [ $quick -eq 1 ] && n=20
smallrate() { # smallrate CMD_A CMD_B : "A_per_s B_per_s", n runs each, interleaved; "failed" for a command that failed once
  local i ta=0 tb=0 s0 s1 fa=0 fb=0
  for ((i = 0; i < n; i++)); do
    s0=$(date +%s%N); sh -c "$1" > /dev/null 2>&1 || fa=1; s1=$(date +%s%N); ta=$((ta + s1 - s0))
    s0=$(date +%s%N); sh -c "$2" > /dev/null 2>&1 || fb=1; s1=$(date +%s%N); tb=$((tb + s1 - s0))
  done
  awk -v n=$n -v a=$ta -v b=$tb -v fa=$fa -v fb=$fb 'BEGIN{
    if (fa) printf "failed "; else printf "%.0f ", n / (a / 1e9)
    if (fb) print "failed"; else printf "%.0f\n", n / (b / 1e9) }'
}
read -r ms_small gpg_small < <(smallrate "exec '$MS' encrypt --pgp --no-self --sign < '$small'" \
  "exec gpg --batch --yes --trust-model always --armor -z0 -e -s -u alice@example.org -r bob@example.org -o - '$small'")
read -r mss_small ossl_small < <(smallrate "exec '$MS' encrypt --smime --no-self --sign < '$small'" \
  "openssl cms -sign -binary -signer '$S/alice.pem' -inkey '$S/alice.key' -in '$small' | openssl cms -encrypt -binary -aes-256-gcm '$S/bob.pem'")
# The same with many other people's keys stored: nk OpenPGP certificates in
# a copy of mailseal's keystore and in a gpg keybox, and nk S/MIME
# certificates beside them (scripts/genkeys makes them).
echo "small messages, many keys stored..." >&2
nk=2000; [ $quick -eq 1 ] && nk=200
go run ./scripts/genkeys "$nk" > "$W/others.pgp"
go run ./scripts/genkeys -x509 "$nk" > "$W/others.pem"
cp -a "$W/ms" "$W/msk"
MAILSEAL_HOME="$W/msk" "$MS" keys import "$W/others.pgp" >/dev/null 2>&1
MAILSEAL_HOME="$W/msk" "$MS" keys import "$W/others.pem" >/dev/null 2>&1
GK="$W/gnupgk"; mkdir -p -m 700 "$GK"
GNUPGHOME="$GK" G --import "$W/gpg-alice.key" "$W/gpg-bob.key" "$W/others.pgp" 2>/dev/null
sleep 2 # the key directories settle (keystore's keyIndexSettle), and the first run saves the key index
MAILSEAL_HOME="$W/msk" "$MS" encrypt --pgp --no-self --sign < "$small" >/dev/null
read -r msk_small gpgk_small < <(smallrate "MAILSEAL_HOME='$W/msk' exec '$MS' encrypt --pgp --no-self --sign < '$small'" \
  "GNUPGHOME='$GK' exec gpg --batch --yes --trust-model always --armor -z0 -e -s -u alice@example.org -r bob@example.org -o - '$small'")
read -r mssk_small mss1_small < <(smallrate "MAILSEAL_HOME='$W/msk' exec '$MS' encrypt --smime --no-self --sign < '$small'" \
  "exec '$MS' encrypt --smime --no-self --sign < '$small'")

# Batch mode: one process over an mbox of small messages, encrypt+sign and
# decrypt+verify, for each protocol (S/MIME with RSA-2048, with ECDSA
# P-256 certificates, and with an Ed25519 signer); 3 runs each, the median.
nb=2000; [ $quick -eq 1 ] && nb=200
for ((i = 0; i < nb; i++)); do printf 'From alice@example.org Sun Nov 22 10:00:00 2026\n'; tr -d '\r' < "$small"; echo; done > "$W/batch-plain.mbox"
batch_row() { # batch_row LABEL HOME ARGS... : "| LABEL | msgs/s (min-max) | RSS |"
  local label=$1 home=$2; shift 2
  out="$W/pb"; : > "$out"
  local i
  for ((i = 0; i < 3; i++)); do
    rm -rf "$W/batch-out"
    run1 "MAILSEAL_HOME='$home' exec '$MS' $* -o '$W/batch-out' --quiet"
  done
  read -r t tmin tmax rss <<< "$(stats "$out")"
  awk -v l="$label" -v n=$nb -v t="$t" -v a="$tmin" -v b="$tmax" -v r="$rss" 'BEGIN{
    if (t == "nan") { printf "| %s | failed | - |\n", l; exit }
    printf "| %s | %.0f (%.0f-%.0f) | %.1f |\n", l, n / t, n / b, n / a, r / 1024 }'
}
batch_rows=""
for spec in "openpgp|$W/ms|--pgp" "smime RSA-2048|$W/ms|--smime" "smime ECDSA P-256|$W/mse|--smime" \
  "smime Ed25519 signer, P-256 recipient|$W/msd|--smime"; do
  IFS='|' read -r label home flag <<< "$spec"
  rm -f "$W/batch-enc.mbox"
  MAILSEAL_HOME="$home" "$MS" encrypt "$flag" --sign --no-self --batch "$W/batch-plain.mbox" -o "$W/batch-enc.mbox" --quiet
  batch_rows+="$(batch_row "$label encrypt+sign" "$home" encrypt "$flag" --sign --no-self --batch "'$W/batch-plain.mbox'")"$'\n'
  batch_rows+="$(batch_row "$label decrypt+verify" "$home" decrypt --no-system-roots --batch "'$W/batch-enc.mbox'")"$'\n'
done
# And an mbox holding the largest signed and encrypted message: memory stays flat.
bigsz=${sizes[${#sizes[@]}-1]}
{ printf 'From alice@example.org Sun Nov 22 10:00:00 2026\n'; tr -d '\r' < "$W/ms-pgp-encsig-$bigsz.eml"; echo; } > "$W/batch-big.mbox"
out="$W/pb"; : > "$out"; rm -rf "$W/batch-out"
run1 "exec '$MS' decrypt --batch '$W/batch-big.mbox' -o '$W/batch-out' --quiet"
read -r big_t _ _ big_rss <<< "$(stats "$out")"

{
  echo "# Benchmarks"
  echo
  echo "Measured by \`$([ -n "$SIZE$PAIRS" ] && echo "SIZE='${sizes[*]}' PAIRS=$PAIRS ")scripts/bench.sh$([ $quick -eq 1 ] && [ -z "$SIZE" ] && echo ' --quick')\` (sizes ${sizes[*]})."
  header
  echo "mailseal works on whole MIME messages (parsing, 7-bit safety, RFC 9788 header protection); gpg, sq,"
  echo "rnp and openssl are given the same file as opaque bytes."
  echo
  table
  echo
  echo "Input forms, each paired with the same message as a CRLF file on stdin (issue 16: within 10 %);"
  echo "-o FILE is paired with the CRLF file's output written by the shell to a file (\`> FILE\`), the others"
  echo "with output to /dev/null:"
  echo
  forms_table
  echo
  echo "Small messages (a 2 KiB attachment), sign+encrypt, one process per message, $n of each in turn:"
  echo
  echo "| tool | messages/s |"
  echo "|---|---|"
  echo "| mailseal encrypt --pgp --sign | $ms_small |"
  echo "| gpg -z0 --armor -e -s | $gpg_small |"
  echo "| mailseal encrypt --smime --sign | $mss_small |"
  echo "| openssl cms -sign \| openssl cms -encrypt | $ossl_small |"
  echo "| mailseal encrypt --pgp --sign, $nk other OpenPGP and $nk other S/MIME certificates stored | $msk_small |"
  echo "| gpg -z0 --armor -e -s, the same $nk other OpenPGP keys in its keybox | $gpgk_small |"
  echo "| mailseal encrypt --smime --sign, the same keystore (in turn with the keystore of its own keys alone: $mss1_small) | $mssk_small |"
  echo
  echo "Batch mode, one process over an mbox of $nb small messages (a 2 KiB attachment), on every core,"
  echo "3 runs (messages/s of the median, and of the slowest-fastest run; peak RSS):"
  echo
  echo "| protocol, operation | messages/s | peak RSS MiB |"
  echo "|---|---|---|"
  printf '%s' "$batch_rows"
  echo
  echo "An mbox holding the signed and encrypted $bigsz message: decrypt --batch -o in $big_t s, peak RSS $(mib "$big_rss") MiB."
  if [ -f docs/benchmark-gib.md ] && [ $quick -eq 0 ]; then echo; cat docs/benchmark-gib.md; fi
  if [ -f docs/benchmark-notes.md ]; then echo; cat docs/benchmark-notes.md; fi
} > "$W/BENCHMARKS.md"
cat "$W/BENCHMARKS.md"
if [ $quick -eq 0 ]; then cp "$W/BENCHMARKS.md" BENCHMARKS.md; echo "written to BENCHMARKS.md" >&2; fi
