# Shared by demo/tmux.sh and demo/line-demo.sh (sourced, not run).

# The binary: $P2P_TUI, else p2p-tui on PATH, else a release build of this checkout.
find_bin() {
  if [ -n "${P2P_TUI:-}" ]; then
    bin=$P2P_TUI
  elif command -v p2p-tui >/dev/null 2>&1; then
    bin=$(command -v p2p-tui)
  else
    cargo build --release --quiet --manifest-path "$here/../Cargo.toml"
    bin="$here/../target/release/p2p-tui"
  fi
}

# A copy of demo/ in a new temporary directory ($work), its peers on free ports (not the fixed
# 50001-50004 of demo/peer_settings.txt, which another demo may be using).
make_copy() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/p2p-demo.XXXXXX")
  cp -r "$here/p1" "$here/p2" "$here/p3" "$here/p4" "$work/"
  local port=$((20000 + RANDOM % 11000)) id host _ line
  : >"$work/peer_settings.txt"
  while read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    read -r id host _ <<<"$line"
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    echo "$id 127.0.0.1 $port" >>"$work/peer_settings.txt"
    port=$((port + 1))
  done <"$here/peer_settings.txt"
}

# Waits (bounded) until every peer but p1 accepts connections.
wait_for_servers() {
  local port
  for port in $(awk '$1 != "p1" {print $3}' "$work/peer_settings.txt"); do
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  done
}

# Waits (bounded, 10 s) until no process runs in $work: a peer still starting when its window
# is killed could otherwise create its folder again after the copy is removed.
wait_for_peers_gone() {
  local cwd busy
  for _ in $(seq 100); do
    busy=
    for cwd in /proc/[0-9]*/cwd; do
      case "$(readlink "$cwd" 2>/dev/null)" in "$work" | "$work"/*) busy=1; break ;; esac
    done
    [ -z "$busy" ] && return 0
    sleep 0.1
  done
}
