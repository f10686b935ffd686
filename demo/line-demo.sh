#!/usr/bin/env bash
# Four peers from demo/ in one terminal: p2, p3, p4 headless in the background, p1's line console
# in front. Works on a copy in a temporary directory on free ports, removed at the end (also on
# Ctrl-C, SIGTERM or SIGHUP), so demo/ stays clean.
# Usage: bash demo/line-demo.sh [--chunk-delay MS]   (the flags go to the serving peers)
# The binary: $P2P_TUI, else p2p-tui on PATH, else `cargo build --release` here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
find_bin
make_copy
cleanup() {
  trap - EXIT INT TERM HUP
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
cd "$work"
for p in p2 p3 p4; do
  "$bin" --peer "$p" --headless "$@" 2>"$work/$p.log" &
done
wait_for_servers
echo "demo network in $work (removed at exit; server logs: $work/p2.log ...); try:"
echo "  #FILELIST p2 p3 p4    #UPLOAD f2.txt p2 p3    #DOWNLOAD f1.txt p2 p3 p4    #DOWNLOAD ocean.txt"
"$bin" --peer p1 --line
