#!/usr/bin/env bash
# Fetches the course implementations the checkers were run against (students' public solutions
# to the seeds' assignments), each pinned to the commit that was checked. Only their repository
# and commit are kept here, never their code. It fetches and nothing else: read a program before
# you run it, and point it at loopback.
#
#   scripts/course-implementations.sh [DIR]        # default: /tmp/course-implementations
#
# Then, for example (seed 002, PA3):
#   cd DIR/zifansi/src && python3 tracker.py 127.0.0.1 9000 &       # its peer timeout is 180 s
#   p2p-tui --check-tracker 127.0.0.1:9000 --tracker-timeout 180
#   cd DIR/zifansi/src && p2p-tui --check-sync -- python3 fileSynchronizer.py
# What the checkers found in each: docs/checkers.md.
set -euo pipefail
dir=${1:-/tmp/course-implementations}

# name  repository  commit  what it holds
implementations=(
  "zifansi https://github.com/ZifanSi/p2p-file-synchronizer 76ec3d4678a94a6f6df38ebe4a72e3f6b5a98d9a seed-002 src/tracker.py (the course's tracker) and src/fileSynchronizer.py"
  "ahmed https://github.com/ahmed-z5645/Peer-To-Peer-File-Synchronizer 02293afcc301565df6ed825af48ac2fe1e28b5dd seed-002 tracker.py (the course's tracker) and fileSynchronizer.py"
  "alexx https://github.com/AlexxLee/Simple-P2P-File-Sharing-System 41e6aed8ceab5a453134ca6526ba64165d8a476e seed-002 tracker.py and fileSynchronizer.py"
  "dank https://github.com/dankunlee/P2P-File-Sharing 2435ae4613c60c96dbc0c85d73cb5d04aa51826b seed-002 tracker.py and fileSynchronizer.py"
  "rigel https://github.com/RigelYoung/p2p_file_synchronizer 58cc086883d60f3ba9fa42d5b63d3c956b06b52d seed-002 tracker.py and fileSynchronizer.py (an md5/blockNum variant)"
)

mkdir -p "$dir"
for line in "${implementations[@]}"; do
  read -r name url commit _ <<<"$line"
  target="$dir/$name"
  if [ -d "$target/.git" ] && [ "$(git -C "$target" rev-parse HEAD 2>/dev/null)" = "$commit" ]; then
    echo "$name: $commit already in $target"
    continue
  fi
  rm -rf "$target"
  git init -q "$target"
  git -C "$target" fetch -q --depth 1 "$url" "$commit"
  git -C "$target" -c advice.detachedHead=false checkout -q FETCH_HEAD
  echo "$name: $url at $commit in $target"
done
