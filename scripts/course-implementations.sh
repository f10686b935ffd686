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
set -eu
DIR=${1:-course-implementations}
mkdir -p "$DIR"

# name  repository  commit  (seed 000 Part I / 004: web server and client)
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
EOF
