#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# straitd's TCP test knob, its inputs: --tcp-impair SPEC and [Test]
# TcpImpair in the appliance file. Each bad value gets a clear error and a
# non-zero exit before EAL starts (no root, no ports); good values are
# announced loudly; the command line overrides the file.
#
#   tcp-impair-args.sh STRAITD
set -euo pipefail
straitd=$(readlink -f "${1:?straitd binary}")
work=$(mktemp -d /tmp/knob-args-XXXXXX)
trap 'rm -rf "$work"' EXIT
fails=0
conf() { # conf NAME [EXTRA LINES...]: an appliance file with extra lines
  local f=$work/$1.conf; shift
  printf '[Appliance]\nName = args\n[LAN]\nPort = net_null0\n[WAN]\nPort = net_null1\n' >"$f"
  for l in "$@"; do printf '%s\n' "$l" >>"$f"; done
  echo "$f"
}
# expect RC PATTERN ARGS...: straitd ARGS exits RC and prints PATTERN
expect() {
  local rc=$1 pat=$2; shift 2
  local out got=0
  out=$("$straitd" -- "$@" 2>&1) || got=$?
  if [ "$got" != "$rc" ] || ! grep -qF -- "$pat" <<<"$out"; then
    echo "FAIL: straitd -- $* -> exit $got (want $rc), output:" >&2
    echo "$out" | sed 's/^/    /' >&2
    echo "    (wanted: $pat)" >&2
    fails=$((fails + 1))
  else
    echo "ok: ${*: -1} -> $rc: $(grep -F -- "$pat" <<<"$out" | head -n 1)"
  fi
}
base=$(conf base)
# command line, bad
expect 2 'drop "150" is not a percentage 0..100' -c "$base" --check --tcp-impair drop=150
expect 2 'drop "-1" is not a percentage' -c "$base" --check --tcp-impair drop=-1
expect 2 'drop "1.23456" is not a percentage 0..100 (up to 4 decimals)' -c "$base" --check --tcp-impair drop=1.23456
expect 2 'dup "abc" is not a percentage' -c "$base" --check --tcp-impair dup=abc
expect 2 'reorder "" is not a percentage' -c "$base" --check --tcp-impair reorder=
expect 2 'unknown item "loss" (drop, dup, reorder, seed, dir)' -c "$base" --check --tcp-impair loss=1
expect 2 '"drop" is not key=value' -c "$base" --check --tcp-impair drop
expect 2 'drop given twice' -c "$base" --check --tcp-impair drop=1,drop=2
expect 2 'drop + dup + reorder is more than 100%' -c "$base" --check --tcp-impair drop=60,dup=30,reorder=20
expect 2 'seed "x" is not 0..18446744073709551615' -c "$base" --check --tcp-impair drop=1,seed=x
expect 2 'seed "18446744073709551616" is not' -c "$base" --check --tcp-impair drop=1,seed=18446744073709551616
expect 2 'dir "up" is not rx, tx or both' -c "$base" --check --tcp-impair drop=1,dir=up
expect 2 '--tcp-impair: empty' -c "$base" --check --tcp-impair ''
# command line, good: announced with the exact shares
expect 0 'drops 1.0000%, duplicates 1.0000%, reorders 2.0000% of the segments it receives and sends, seed 7' \
  -c "$base" --check --tcp-impair drop=1,dup=1,reorder=2,seed=7
expect 0 'drops 0.0001%, duplicates 0.0000%, reorders 0.0000% of the segments it sends, seed 1' \
  -c "$base" --check --tcp-impair drop=0.0001%,dir=tx
expect 0 'drops 100.0000%' -c "$base" --check --tcp-impair drop=100,dir=rx
# the file
expect 0 'drops 2.0000%' -c "$(conf good '[Test]' 'TcpImpair = drop=2, seed=3')" --check
expect 1 'bad.conf:8: [Test] TcpImpair: drop "200" is not a percentage 0..100' \
  -c "$(conf bad '[Test]' 'TcpImpair = drop=200')" --check
expect 1 'key.conf:8: [Test] Loss: unknown key (TcpImpair)' -c "$(conf key '[Test]' 'Loss = 1')" --check
expect 1 'twice.conf:9: [Test] TcpImpair: given twice' \
  -c "$(conf twice '[Test]' 'TcpImpair = drop=1' 'TcpImpair = drop=2')" --check
expect 1 'unknown section (Appliance, LAN, WAN, Test, Control)' -c "$(conf sec '[Tests]' 'TcpImpair = drop=1')" --check
# the command line overrides the file: off means no knob, and no warning
out=$("$straitd" -- -c "$work/good.conf" --check --tcp-impair off 2>&1)
if grep -q "impairment ON" <<<"$out"; then
  echo "FAIL: --tcp-impair off did not override [Test] TcpImpair" >&2; fails=$((fails + 1))
else
  echo "ok: --tcp-impair off overrides the file"
fi
out=$("$straitd" -- -c "$base" --check 2>&1)
if grep -q "impairment" <<<"$out"; then
  echo "FAIL: the knob is on by default" >&2; fails=$((fails + 1))
else
  echo "ok: off by default"
fi
[ $fails -eq 0 ] || { echo "FAIL: $fails case(s)" >&2; exit 1; }
echo "ok: every knob input checked"
