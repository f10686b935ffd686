#!/usr/bin/env bash
# Web benchmark: wrk against `p2p-tui --web` and against nginx serving the same directory, in
# the same run, figures side by side.
#
#   scripts/bench-web.sh                 # 5 s per run, -t2 -c64, keep-alive
#   DURATION=10 CONNS=200 scripts/bench-web.sh
#
# Files: small.txt (2 kB), 1m.bin (1 MiB: kept in memory by --web and sent with sendfile) and
# 8m.bin (8 MiB: beyond the 4 MiB cache bound, streamed from disk). The p2p-tui binary is
# target/release/p2p-tui (built here with `cargo build --release` unless BIN names another);
# its access log goes to a file, as it would in production. nginx: 2 workers, access log off,
# sendfile on. wrk and nginx are installed with apt-get when missing (as root); without nginx
# the p2p-tui figures are still printed. On a shared machine run it under a lock so it does not
# measure someone's build (-o: the servers it starts must not inherit the lock):
#   flock -o /tmp/cargo.lock scripts/bench-web.sh
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${DURATION:-5}
threads=${THREADS:-2}
conns=${CONNS:-64}
rounds=${ROUNDS:-1}

need() { # need COMMAND PACKAGE: installs PACKAGE when COMMAND is missing, if it can
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing $2 (apt-get)..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null 2>&1 ||
      { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y "$2" >/dev/null 2>&1; } ||
      true
  fi
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}
need wrk wrk || { echo "wrk is needed: apt-get install wrk (as root)" >&2; exit 1; }
nginx_bin=
if need nginx nginx-light; then
  nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
else
  echo "nginx not available (apt-get install nginx-light as root): p2p-tui figures only" >&2
fi

if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet
  BIN=${CARGO_TARGET_DIR:-target}/release/p2p-tui
fi

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/www" "$work/nginx"
chmod 755 "$work" "$work/www" # nginx's workers run as another user when started as root
head -c 2048 /dev/urandom | base64 -w 76 | head -c 2048 > "$work/www/small.txt"
head -c $((1024 * 1024)) /dev/urandom > "$work/www/1m.bin"
head -c $((8 * 1024 * 1024)) /dev/urandom > "$work/www/8m.bin"
chmod 644 "$work/www/"*

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

p_port=$(free_port)
"$BIN" --web "127.0.0.1:$p_port" --www "$work/www" 2>"$work/p2p-tui.log" &
pids+=($!)
wait_port "$p_port" || { echo "p2p-tui --web did not start" >&2; cat "$work/p2p-tui.log" >&2; exit 1; }

n_port=
if [ -n "$nginx_bin" ]; then
  n_port=$(free_port)
  cat > "$work/nginx/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx/error.log;
daemon on;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server { listen 127.0.0.1:$n_port; root $work/www; }
}
EOF
  if "$nginx_bin" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" 2>"$work/nginx/start.err" && wait_port "$n_port"; then
    :
  else
    echo "nginx did not start ($(cat "$work/nginx/start.err")): p2p-tui figures only" >&2
    n_port=
  fi
fi

# run PORT PATH -> "req/s p99_ms MB/s"
run() {
  local out rps p99 mbs
  out=$(wrk -t"$threads" -c"$conns" -d"${duration}s" --latency "http://127.0.0.1:$1/$2")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
  mbs=$(awk '/^Transfer\/sec:/ {v=$2; if (v ~ /GB$/) {sub(/GB$/,"",v); v*=1024} else if (v ~ /MB$/) {sub(/MB$/,"",v)} else if (v ~ /KB$/) {sub(/KB$/,"",v); v/=1024}; print v}' <<<"$out")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then
    grep "Non-2xx\|Socket errors" <<<"$out" | sed "s|^|  (port $1, /$2) |" >&2
  fi
  echo "$rps $p99 $mbs"
}

echo "web benchmark: wrk -t$threads -c$conns -d${duration}s --latency, keep-alive, loopback, $(nproc) cores"
echo "p2p-tui: $BIN (access log to a file); nginx: ${nginx_bin:-none} $( [ -n "$nginx_bin" ] && "$nginx_bin" -v 2>&1 | sed 's|.*/||')"
printf '%-18s %-26s %-26s %s\n' "file" "p2p-tui --web" "nginx" "ratio (req/s, p99)"
for round in $(seq "$rounds"); do
  for f in small.txt 1m.bin 8m.bin; do
    read -r prps pp99 pmbs < <(run "$p_port" "$f")
    if [ -n "$n_port" ]; then
      read -r nrps np99 nmbs < <(run "$n_port" "$f")
      printf '%-18s %9.0f req/s p99 %6.2fms %9.0f req/s p99 %6.2fms %.2fx, %.2fx\n' \
        "$f" "$prps" "$pp99" "$nrps" "$np99" "$(echo "$prps / $nrps" | bc -l)" "$(echo "$pp99 / $np99" | bc -l)"
    else
      printf '%-18s %9.0f req/s p99 %6.2fms %s\n' "$f" "$prps" "$pp99" "(nginx skipped)"
    fi
  done
done
echo "access-log lines written by p2p-tui: $(grep -c '"GET ' "$work/p2p-tui.log" || true)"
