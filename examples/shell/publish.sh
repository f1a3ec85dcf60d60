#!/usr/bin/env bash
# Signs a uid for the browser and pushes a message for it, with redis-cli and openssl.
#
#   SIGN_SECRET=... [REDIS_URL=redis://127.0.0.1:6379] [KEY_PREFIX=Q/MSG] \
#     bash examples/shell/publish.sh <uid> <message> [<seconds until the signature expires>]
#
# Prints the query the page polls with: uid=42&sign=<hex>, or uid=42&exp=<unix seconds>&sign=<hex>.
# This one passes the uid into the query as it is, so it takes uids of letters, digits and ._~-
# only; the PHP, Python and Node examples encode any uid.
set -euo pipefail

fail() {
  echo "$1" >&2
  exit 2
}

[ $# -ge 2 ] && [ $# -le 3 ] || fail "Usage: publish.sh <uid> <message> [<seconds until the signature expires>]"
uid=$1
message=$2
ttl=${3:-}
secret=${SIGN_SECRET:-}
secret=${secret%%,*} # a list while a secret rotates: the first one signs
[ -n "$secret" ] || fail "Cannot sign: SIGN_SECRET is not set"
[[ $uid =~ ^[A-Za-z0-9._~-]{1,256}$ ]] ||
  fail "Cannot sign \"$uid\": this script takes uids of 1 to 256 letters, digits and ._~- only"
[ -n "$message" ] || fail "Cannot publish: the message is empty"

signed=$uid
query="uid=$uid"
if [ -n "$ttl" ]; then
  [[ $ttl =~ ^[1-9][0-9]{0,8}$ ]] || fail "Cannot sign: \"$ttl\" is not a whole number of seconds above 0"
  exp=$(($(date +%s) + ttl))
  signed=$(printf '%s\n%s' "$uid" "$exp")
  query="$query&exp=$exp"
fi
sign=$(printf '%s' "$signed" | openssl dgst -sha256 -hmac "$secret" | sed 's/^.* //')

# LPUSH Q/MSG<uid> <message>; the server pops the oldest first.
redis-cli -u "${REDIS_URL:-redis://127.0.0.1:6379}" --no-raw LPUSH "${KEY_PREFIX:-Q/MSG}$uid" "$message" |
  grep -q '^(integer) [0-9]' || {
  echo "Cannot publish: Redis at \"${REDIS_URL:-redis://127.0.0.1:6379}\" did not take the message" >&2
  exit 1
}
echo "$query&sign=$sign"
