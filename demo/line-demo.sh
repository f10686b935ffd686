#!/usr/bin/env bash
# Four peers from demo/ in one terminal: p2, p3, p4 headless in the background, p1's line console
# in front. Works on a copy in a temporary directory, so demo/ stays clean.
# Usage: bash demo/line-demo.sh [--chunk-delay MS]   (the delay applies to the serving peers)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cargo build --release --quiet --manifest-path "$here/../Cargo.toml"
bin="$here/../target/release/p2p-tui"
work=$(mktemp -d "${TMPDIR:-/tmp}/p2p-demo.XXXXXX")
cp -r "$here/peer_settings.txt" "$here/p1" "$here/p2" "$here/p3" "$here/p4" "$work/"
cleanup() { kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
cd "$work"
for p in p2 p3 p4; do
  "$bin" --peer "$p" --headless "$@" 2>"$work/$p.log" &
done
# Wait (bounded) until the three servers accept connections.
for port in $(awk '$1 != "p1" && $1 !~ /^#/ {print $3}' peer_settings.txt); do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
done
echo "demo network in $work (server logs: $work/p2.log ...); try:"
echo "  #FILELIST p2 p3 p4    #UPLOAD f2.txt p2 p3    #DOWNLOAD f1.txt p2 p3 p4    #DOWNLOAD ocean.txt"
"$bin" --peer p1 --line
