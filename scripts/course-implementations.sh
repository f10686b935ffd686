#!/bin/sh
# Fetches the course implementations the checkers were run against (docs/checkers.md, "Course
# implementations"), each at the commit the findings are about, into DIR (default
# ./course-implementations). Their code is not part of p2p-tui: only these pins are.
#
#   scripts/course-implementations.sh [DIR]
#
# Then, for example (a classroom server serves the directory it is started in; read each
# program's host and port before running it, and keep it on loopback):
#   cd DIR/shaun210 && python3 server.py &      # 127.0.0.1:12345
#   p2p-tui --check-web 127.0.0.1:12345 --web-root DIR/shaun210
#   p2p-tui --check-get -- python3 DIR/shaun210/client.py
# Seed 002 (PA3; the course's tracker.py is in zifansi/src and ahmed, its timeout is 180 s):
#   cd DIR/zifansi/src && python3 tracker.py 127.0.0.1 9000 &
#   p2p-tui --check-tracker 127.0.0.1:9000 --tracker-timeout 180
#   cd DIR/zifansi/src && p2p-tui --check-sync -- python3 fileSynchronizer.py
set -eu
DIR=${1:-course-implementations}
mkdir -p "$DIR"

# name  repository  commit  (seed 000 Part I / 004: web server and client; seed 002: tracker.py and
# fileSynchronizer.py, from zifansi on)
while read -r name repo commit; do
    [ -z "$name" ] && continue
    if [ -d "$DIR/$name/.git" ]; then
        echo "$name: already in $DIR/$name"
        continue
    fi
    git init -q "$DIR/$name"
    git -C "$DIR/$name" fetch -q --depth 1 "https://github.com/$repo" "$commit"
    git -C "$DIR/$name" checkout -q FETCH_HEAD
    echo "$name: $repo at $commit"
done <<'EOF'
shaun210 shaun210/Lab1-ECSE-416---socket-programming ef05449d66aae0b9b3509a88943957393dc09d43
therealak12 therealak12/socket-hw 984c2d959b51d941689b8131c725c46dc1f6d636
egenedy97 egenedy97/PythonWebServer 5814aca583b9ccae28155701c6a675c26ec46a9c
ismailfaruk ismailfaruk/ECSE416--Telecommunication-Networks 6869b35197eb590d97aada694eae7ceb91a5fe80
tempeus Tempeus/ECSE-416-Telecommunication-Networks 90a372970e51c7f2c020fd6cd0db8de3df5e58f0
zifansi ZifanSi/p2p-file-synchronizer 76ec3d4678a94a6f6df38ebe4a72e3f6b5a98d9a
ahmed ahmed-z5645/Peer-To-Peer-File-Synchronizer 02293afcc301565df6ed825af48ac2fe1e28b5dd
alexx AlexxLee/Simple-P2P-File-Sharing-System 41e6aed8ceab5a453134ca6526ba64165d8a476e
dank dankunlee/P2P-File-Sharing 2435ae4613c60c96dbc0c85d73cb5d04aa51826b
rigel RigelYoung/p2p_file_synchronizer 58cc086883d60f3ba9fa42d5b63d3c956b06b52d
EOF
