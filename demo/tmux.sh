#!/usr/bin/env bash
# Four real peer processes in four tmux panes, on a copy of demo/ in a temporary directory:
# p1's full-screen UI (left), p2..p4 headless with a chunk delay (right), so a serving peer can be
# killed mid-transfer with Ctrl-C in its pane. Usage: bash demo/tmux.sh [CHUNK_DELAY_MS] (default 40)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
delay=${1:-40}
cargo build --release --quiet --manifest-path "$here/../Cargo.toml"
bin="$here/../target/release/p2p-tui"
work=$(mktemp -d "${TMPDIR:-/tmp}/p2p-demo.XXXXXX")
cp -r "$here/peer_settings.txt" "$here/p1" "$here/p2" "$here/p3" "$here/p4" "$work/"
session="p2p-tui-$$"
tmux new-session -d -s "$session" -x "$(tput cols 2>/dev/null || echo 180)" -y "$(tput lines 2>/dev/null || echo 50)" \
  -c "$work" "$bin --peer p1"
for p in p2 p3 p4; do
  tmux split-window -t "$session" -h -c "$work" "$bin --peer $p --headless --chunk-delay $delay; read -r -p 'peer $p stopped; Enter closes the pane'"
done
tmux select-layout -t "$session" main-vertical
tmux select-pane -t "$session:0.0"
echo "peers in $work; detach with Ctrl-b d, kill a serving peer with Ctrl-C in its pane"
exec tmux attach -t "$session"
