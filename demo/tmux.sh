#!/usr/bin/env bash
# Four real peer processes in four tmux panes, on a copy of demo/ in a temporary directory on free
# ports: p1's full-screen UI (left), p2..p4 headless with a chunk delay (right), so a serving peer
# can be killed mid-transfer with Ctrl-C in its pane. Quitting p1 (q) closes every pane and
# removes the copy. Inside tmux it opens a new window; outside, a new session it attaches to.
# Usage: bash demo/tmux.sh [CHUNK_DELAY_MS] (default 40)
# The binary: $P2P_TUI, else p2p-tui on PATH, else `cargo build --release` here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
delay=${1:-40}
. "$here/common.sh"
find_bin
make_copy
# p1's pane ends the demo: it removes the copy, then its window (and the peers in it).
p1=$(printf '%q --peer p1; cd /; rm -rf %q; tmux kill-window' "$bin" "$work")
peer() {
  printf '%q --peer %s --headless --chunk-delay %q; read -r -p %q' \
    "$bin" "$1" "$delay" "peer $1 stopped; Enter closes the pane"
}
give_up() {
  tmux kill-window -t "$window" 2>/dev/null || true
  wait_for_peers_gone
  rm -rf "$work"
  echo "tmux.sh: $1" >&2
  exit 1
}
if [ -n "${TMUX:-}" ]; then
  window=$(tmux new-window -P -F '#{window_id}' -n p2p-demo -c "$work" "$p1")
else
  session="p2p-demo-$$"
  window=$(tmux new-session -d -P -F '#{window_id}' -s "$session" \
    -x "$(tput cols 2>/dev/null || echo 180)" -y "$(tput lines 2>/dev/null || echo 50)" \
    -c "$work" "$p1")
fi
for p in p2 p3 p4; do
  tmux split-window -t "$window" -h -c "$work" "$(peer "$p")" || give_up "cannot open a pane"
done
tmux select-layout -t "$window" main-vertical
tmux select-pane -t "$window.0"
echo "peers in $work; quit p1 (q) to end the demo, kill a serving peer with Ctrl-C in its pane"
if [ -z "${TMUX:-}" ]; then
  tmux attach -t "$session" || give_up "cannot attach to tmux session $session"
fi
