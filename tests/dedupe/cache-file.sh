#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# cache-file.sh BIN [ROUNDS] - strait-dedupe with --cache-file, as an operator
# runs it: a second process continues the first one's cache at both ends;
# two ends seeded from the same files agree; a decoder that does not hold
# the stream's cache says so and --peer starts a new epoch; a damaged file
# is discarded with a message. Then ROUNDS (default 12) rounds of kill -9
# at a random moment of an encode or a decode: every byte a killed decoder
# wrote is right, and the next run (--peer with the decoder's state, as a
# channel start does) continues or starts a new epoch and decodes exactly.
set -u
BIN=$1
ROUNDS=${2:-12}
# tmpfs if there is one: the runs sync their files
T=$(mktemp -d -p "$( [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")")
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails+1)); }

# inputs: 4 MB of random blocks; b shares most of a's blocks
python3 - "$T" <<'PY'
import random, sys
r = random.Random(5)
blocks = [r.randbytes(4096) for _ in range(1024)]
open(sys.argv[1] + "/a", "wb").write(b"".join(blocks))
for i in range(0, 1024, 50):
    blocks[i] = r.randbytes(4096)
open(sys.argv[1] + "/b", "wb").write(b"".join(blocks) + r.randbytes(100000))
PY
state() { # the cache file's state for --peer ("0:0..." if unusable)
  local s
  s=$("$BIN" info --cache-file "$1" 2>/dev/null | sed -n 's/.*"state":"\([0-9]*:[0-9a-f]*\)".*/\1/p')
  echo "${s:-0:0000000000000000}"
}
size() { stat -c %s "$1"; }

# 1. restart: a second encoder and a second decoder continue the first ones'
"$BIN" encode --cache 8M --cache-file "$T/F" "$T/a" > "$T/s1" || fail "encode 1"
"$BIN" encode --cache-file "$T/F" --stats "$T/st.json" "$T/b" > "$T/s2" || fail "encode 2"
"$BIN" decode --cache 8M --cache-file "$T/G" < "$T/s1" | cmp -s - "$T/a" || fail "decode 1"
"$BIN" decode --cache-file "$T/G" < "$T/s2" | cmp -s - "$T/b" || fail "decode 2"
[ "$(size "$T/s2")" -lt 400000 ] || fail "restart: second stream $(size "$T/s2") bytes"
python3 - "$T/st.json" <<'PY' || fail "restart stats"
import json, sys
c = json.load(open(sys.argv[1]))["cache_file"]
assert c["status"] == "loaded" and c["continued"] and c["start"] != c["end"], c
PY
[ "$(state "$T/F")" = "$(state "$T/G")" ] || fail "states differ after restart"
echo "ok   restart: second stream $(size "$T/s2") bytes for $(size "$T/b")"

# 2. seeded from the same file at both ends: same state, first stream small
"$BIN" seed --cache 8M --cache-file "$T/F2" "$T/a" > "$T/seed.json" || fail "seed F2"
"$BIN" seed --cache 8M --cache-file "$T/G2" "$T/a" > /dev/null || fail "seed G2"
[ "$(state "$T/F2")" = "$(state "$T/G2")" ] || fail "seeded states differ"
grep -q "\"state\":\"$(state "$T/F2")\"" "$T/seed.json" || fail "seed prints another state than info"
"$BIN" encode --cache-file "$T/F2" "$T/b" > "$T/s3" || fail "encode seeded"
"$BIN" decode --cache-file "$T/G2" < "$T/s3" | cmp -s - "$T/b" || fail "decode seeded"
[ "$(size "$T/s3")" -lt 400000 ] || fail "seeded: stream $(size "$T/s3") bytes"
echo "ok   seeded: first stream $(size "$T/s3") bytes for $(size "$T/b")"

# 3. a decoder that lacks the cache refuses, and says how to go on
"$BIN" decode --cache 8M --cache-file "$T/H" < "$T/s2" > "$T/o" 2> "$T/e"
if [ $? -ne 1 ] || [ "$(wc -l < "$T/e")" -ne 1 ] || ! grep -q -- "--peer 0:0000000000000000" "$T/e" || [ -s "$T/o" ]; then
  fail "state mismatch: $(cat "$T/e")"
else
  echo "ok   state mismatch: $(cat "$T/e")"
fi
"$BIN" encode --cache-file "$T/F" --peer "$(state "$T/H")" "$T/b" > "$T/s4" || fail "encode --peer"
"$BIN" decode --cache-file "$T/H" < "$T/s4" | cmp -s - "$T/b" || fail "decode after --peer"
[ "$(state "$T/F")" = "$(state "$T/H")" ] || fail "states differ after a new epoch"
echo "ok   --peer: new epoch $(state "$T/F")"

# 4. damaged files: discarded with one line, then a new epoch decodes
truncate -s 100000 "$T/G"
"$BIN" decode --cache 8M --cache-file "$T/G" < "$T/s2" > /dev/null 2> "$T/e"
grep -q "discarded" "$T/e" && grep -q -- "--peer" "$T/e" || fail "truncated file: $(cat "$T/e")"
echo "ok   truncated: $(head -n 1 "$T/e")"
echo "     then: $(tail -n 1 "$T/e")"
printf 'XXXXXXXX' | dd of="$T/F" bs=1 seek=4100 conv=notrunc 2>/dev/null
"$BIN" encode --cache-file "$T/F" "$T/a" > "$T/s5" 2> "$T/e" || fail "encode on a corrupt file"
grep -q "discarded" "$T/e" || fail "corrupt file: $(cat "$T/e")"
"$BIN" decode --cache-file "$T/G" < "$T/s5" 2>/dev/null | cmp -s - "$T/a" || fail "decode after discard"
echo "ok   corrupt: $(cat "$T/e")"
"$BIN" info --cache-file "$T/G" --verify > "$T/i.json" || fail "info --verify"
grep -q '"usable":true' "$T/i.json" && grep -q '"bad_entries":0' "$T/i.json" || fail "info json: $(cat "$T/i.json")"
echo "ok   info --verify"

# 5. kill -9 at a random moment, ROUNDS times: a moment within 0.8 x what
# one run takes here (from start-up to the last sync)
{ head -c 1500000 /dev/urandom; cat "$T/a"; } > "$T/in"
t0=$(date +%s%N)
"$BIN" encode --cache-file "$T/F2" "$T/in" > "$T/k"
t1=$(date +%s%N)
"$BIN" decode --cache-file "$T/G2" < "$T/k" > /dev/null
enc_ms=$(( (t1 - t0) / 1000000 + 1 )); dec_ms=$(( ($(date +%s%N) - t1) / 1000000 + 1 ))
killed_enc=0; killed_dec=0; discards=0; continued=0
for r in $(seq 1 "$ROUNDS"); do
  # new bytes (inserted, evicting old ones), then a (references)
  { head -c $((1500000 + r * 4096)) /dev/urandom; cat "$T/a"; } > "$T/in"
  in=in
  ms=$(( (r * 7919 % 97) * ($((r % 3)) ? enc_ms : dec_ms) * 8 / 970 ))
  delay=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  peer=$(state "$T/G")
  : > "$T/k"; : > "$T/o"
  if [ $((r % 3)) -ne 0 ]; then
    # the encoder dies; the decoder gets what it wrote
    "$BIN" encode --cache-file "$T/F" --peer "$peer" "$T/$in" > "$T/k" 2> "$T/e" &
    pid=$!; sleep "$delay"; kill -9 "$pid" 2>/dev/null && killed_enc=$((killed_enc+1)); wait "$pid" 2>/dev/null
    [ -n "${DEBUG:-}" ] && echo "round $r: encoder, delay $delay, $(size "$T/k") bytes written"
  else
    "$BIN" encode --cache-file "$T/F" --peer "$peer" "$T/$in" > "$T/k" 2> "$T/e" || fail "round $r: encode"
  fi
  grep -q discarded "$T/e" && discards=$((discards+1))
  "$BIN" decode --cache-file "$T/G" < "$T/k" > "$T/o" 2> "$T/e" &
  pid=$!
  if [ $((r % 3)) -eq 0 ]; then
    sleep "$delay"; kill -9 "$pid" 2>/dev/null && killed_dec=$((killed_dec+1))
    [ -n "${DEBUG:-}" ] && echo "round $r: decoder, delay $delay, $(size "$T/o") bytes written"
  fi
  wait "$pid" 2>/dev/null
  cmp -s -n "$(size "$T/o")" "$T/o" "$T/$in" || fail "round $r: a wrong byte"
  grep -q discarded "$T/e" && discards=$((discards+1))
  # the next run: continues or a new epoch, and exact
  peer=$(state "$T/G")
  "$BIN" encode --cache-file "$T/F" --peer "$peer" --stats "$T/st.json" "$T/b" > "$T/s" 2> "$T/e" || fail "round $r: encode after"
  grep -q discarded "$T/e" && discards=$((discards+1))
  grep -q '"continued":true' "$T/st.json" && continued=$((continued+1))
  "$BIN" decode --cache-file "$T/G" < "$T/s" 2> "$T/e" | cmp -s - "$T/b" || fail "round $r: not exact after the kill: $(cat "$T/e")"
  grep -q discarded "$T/e" && discards=$((discards+1))
done
echo "ok   $ROUNDS rounds (encode ${enc_ms} ms, decode ${dec_ms} ms): $killed_enc encoders and $killed_dec decoders killed, $discards files discarded, $continued runs continued the cache"
[ "$fails" -eq 0 ] || exit 1
echo "cache-file ok"
