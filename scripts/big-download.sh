#!/usr/bin/env bash
# Downloads a large random file from three headless peers with a --line peer and reports the
# rate, the SHA-256 check and the downloader's peak RSS (VmHWM from /proc, sampled at the end
# by GNU time's %M). Loopback only. Usage: scripts/big-download.sh [SIZE_MIB] (default 1024)
set -euo pipefail
size_mib=${1:-1024}
bin=${BIN:-target/release/p2p-tui}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
base=$((40000 + RANDOM % 20000))
for i in 1 2 3 4; do
  echo "p$i 127.0.0.1 $((base + i))" >> "$work/peer_settings.txt"
  mkdir -p "$work/p$i/served_files"
done
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$work/p2/served_files/big.bin"
for i in 3 4; do ln "$work/p2/served_files/big.bin" "$work/p$i/served_files/big.bin"; done
for i in 2 3 4; do
  "$bin" --peer "p$i" --headless --settings "$work/peer_settings.txt" --dir "$work/p$i" 2>/dev/null &
done
for i in 2 3 4; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$((base + i))") 2>/dev/null && break; sleep 0.05; done
done
start=$(date +%s.%N)
echo "#DOWNLOAD big.bin p2 p3 p4" | /usr/bin/time -f "%M" -o "$work/rss" \
  "$bin" --peer p1 --line --settings "$work/peer_settings.txt" --dir "$work/p1" ${P2P_TUI_ARGS:-} > /dev/null
end=$(date +%s.%N)
want=$(sha256sum < "$work/p2/served_files/big.bin" | cut -d' ' -f1)
got=$(sha256sum < "$work/p1/served_files/big.bin" | cut -d' ' -f1)
secs=$(echo "$end - $start" | bc -l)
printf 'size: %d MiB  time: %.1f s  rate: %.1f MB/s  downloader peak RSS: %d KiB  sha256 %s\n' \
  "$size_mib" "$secs" "$(echo "$size_mib * 1.048576 / $secs" | bc -l)" "$(cat "$work/rss")" \
  "$([ "$want" = "$got" ] && echo match || echo MISMATCH)"
