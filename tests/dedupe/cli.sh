#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# cli.sh BIN - strait-dedupe's command line: a round trip with --stats, one
# with --rate (the level follows a drain rate; its stats), one with
# --window (a smaller literal window at both ends), then each error
# case must exit non-zero with exactly one line on stderr.
set -u
BIN=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0

head -c 300000 /dev/urandom > "$T/a"
{ head -c 200000 "$T/a"; seq 1 20000; } > "$T/b"
: > "$T/empty"

# round trip of three inputs (one empty), stats JSON as documented
"$BIN" encode --cache 4M --stats "$T/s.json" "$T/a" "$T/empty" "$T/b" > "$T/s" || { echo "encode failed"; exit 1; }
"$BIN" decode --cache 4MiB < "$T/s" > "$T/out" || { echo "decode failed"; exit 1; }
cat "$T/a" "$T/empty" "$T/b" | cmp -s - "$T/out" || { echo "round trip differs"; exit 1; }
python3 - "$T/s.json" "$T/s" <<'PY' || exit 1
import json, os, sys
s = json.load(open(sys.argv[1]))
size = os.path.getsize(sys.argv[2])
assert s["bytes_out"] == size, (s["bytes_out"], size)
assert s["bytes_in"] == sum(i["bytes_in"] for i in s["inputs"])
assert s["bytes_out"] == sum(i["bytes_out"] for i in s["inputs"])
assert [i["bytes_in"] for i in s["inputs"]][0] == 300000
assert all("seconds" in i and "path" in i for i in s["inputs"])
c = s["cache"]
for k in ("capacity", "used_bytes", "entries", "index_bytes",
          "index_bytes_per_cached_byte", "hits", "misses"):
    assert k in c, k
assert c["capacity"] == 4 << 20 and c["hits"] > 0
assert s["inputs"][2]["bytes_out"] < 100000   # 200 KB of b is a's prefix
PY

# a drain rate: same bytes back; the stats say the rate, the link's time
# and where the level ended
"$BIN" encode --cache 4M --rate 2.5M --stats "$T/r.json" "$T/b" "$T/a" > "$T/r" || { echo "encode --rate failed"; exit 1; }
"$BIN" decode --cache 4M < "$T/r" | cmp -s <(cat "$T/b" "$T/a") - || { echo "--rate round trip differs"; exit 1; }
python3 - "$T/r.json" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))["rate"]
assert r["bits_per_s"] == 2500000, r
assert abs(r["link_seconds"] - json.load(open(sys.argv[1]))["bytes_out"] * 8 / 2.5e6) < 1e-6, r
assert "level_end" in r and "level_changes" in r and r["mb_per_s"] > 0, r
PY

# a window budget: 2 MiB at a 32 MiB cache (default 4 MiB); a decoder of
# the default or of 2 MiB takes it, header byte 6 says 21
"$BIN" encode --cache 32M --window 2M "$T/a" "$T/b" > "$T/w" || { echo "encode --window failed"; exit 1; }
[ "$(od -An -tu1 -j6 -N1 "$T/w" | tr -d ' ')" = 21 ] || { echo "--window 2M: header byte 6 is not 21"; exit 1; }
"$BIN" decode --cache 32M < "$T/w" | cmp -s <(cat "$T/a" "$T/b") - || { echo "--window round trip differs"; exit 1; }
"$BIN" decode --cache 32M --window 2M < "$T/w" | cmp -s <(cat "$T/a" "$T/b") - || { echo "--window 2M decoder differs"; exit 1; }
"$BIN" encode --cache 32M "$T/a" > "$T/w4" || exit 1

# expect STATUS NAME CMD... : exits with STATUS, one line on stderr
expect() {
  local want=$1 name=$2; shift 2
  "$@" > "$T/o" 2> "$T/e" < "${STDIN:-/dev/null}"
  local rc=$? lines
  lines=$(wc -l < "$T/e")
  if [ "$rc" -ne "$want" ] || [ "$lines" -ne 1 ]; then
    echo "FAIL $name: exit $rc (want $want), $lines stderr lines:"; cat "$T/e"; fails=$((fails+1))
  else
    echo "ok   $name: $(cat "$T/e")"
  fi
}

head -c 1000 "$T/s" > "$T/trunc"
cp "$T/s" "$T/corrupt"; printf '\xff\xff\xff\xff' | dd of="$T/corrupt" bs=1 seek=5000 conv=notrunc 2>/dev/null
head -c 48 /dev/zero > "$T/zero"

expect 2 "no command"       "$BIN"
expect 2 "unknown command"  "$BIN" frobnicate
expect 2 "no input"         "$BIN" encode
expect 1 "missing file"     "$BIN" encode "$T/nope"
expect 2 "bad size"         "$BIN" encode --cache 12Q "$T/a"
expect 2 "size overflow"    "$BIN" encode --cache 99999999999999G "$T/a"
expect 2 "bad rate"         "$BIN" encode --rate fast "$T/a"
expect 2 "rate too small"   "$BIN" encode --rate 1 "$T/a"
expect 2 "rate on decode"   "$BIN" decode --rate 1M
expect 2 "window not pow2"  "$BIN" encode --window 3M "$T/a"
expect 2 "window too small" "$BIN" encode --window 1M "$T/a"
expect 1 "window > cache/8" "$BIN" encode --cache 32M --window 8M "$T/a"
expect 2 "window on seed"   "$BIN" seed --cache-file "$T/sf" --window 2M "$T/a"
expect 1 "cache too small"  "$BIN" encode --cache 1000 "$T/a"
expect 1 "chunk 0:0:0"      "$BIN" encode --chunk 0:0:0 "$T/a"
expect 1 "chunk min 0"      "$BIN" encode --chunk 0:2K:16K "$T/a"
head -c 1048576 /dev/urandom > "$T/garbage.cache"
expect 1 "verify unusable"  "$BIN" info --cache-file "$T/garbage.cache" --verify
expect 1 "stats unwritable" "$BIN" encode --stats "$T/no/dir/s.json" "$T/a"
expect 2 "decode extra arg" "$BIN" decode "$T/s"
STDIN="$T/empty"   expect 1 "decode empty"     "$BIN" decode --cache 4M
STDIN="$T/zero"    expect 1 "decode not ours"  "$BIN" decode --cache 4M
STDIN="$T/s"       expect 1 "cache mismatch"   "$BIN" decode --cache 8M
STDIN="$T/trunc"   expect 1 "truncated"        "$BIN" decode --cache 4M
STDIN="$T/corrupt" expect 1 "corrupt"          "$BIN" decode --cache 4M
STDIN="$T/w4"      expect 1 "window > decoder" "$BIN" decode --cache 32M --window 2M
[ "$fails" -eq 0 ] || exit 1
echo "cli ok"
