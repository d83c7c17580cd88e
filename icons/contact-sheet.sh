#!/bin/bash
# Build a contact sheet of the rendered PNGs (run ./render.sh first) for
# eyeballing legibility: every state at 16/22/32/64 px on light and dark
# panels, colour and monochrome, magnified 2x without smoothing.
#   needs: ImageMagick (apt-get install -y imagemagick)
#   usage: ./contact-sheet.sh [OUT.png]     (default /tmp/icons-contact-sheet.png)
set -eu
cd "$(dirname "$0")"
out=${1:-/tmp/icons-contact-sheet.png}
IM=/usr/bin  # prefer Debian's ImageMagick over any stand-in earlier on PATH
[ -x $IM/montage ] || IM=$(dirname "$(command -v montage)")
names=(stopped starting idle working working-1 working-3 working-9plus attention error opencode-nexus)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cells=()
# set:background pairs — colour icons on light and dark, mono on its panel
for row in png:#ffffff png:#d6d9de png:#2b2b2b png:#000000 png/mono:#2b2b2b png/mono-dark:#e8e8e8; do
    set=${row%%:*} bg=${row#*:}
    for size in 16 22 32 64; do
        for n in "${names[@]}"; do
            f=$tmp/$(printf %04d ${#cells[@]}).png
            $IM/convert -size 72x72 "xc:$bg" "$set/$size/$n.png" -gravity center -composite "$f"
            cells+=("$f")
        done
    done
done
$IM/montage "${cells[@]}" -tile ${#names[@]}x -geometry +1+1 -background '#808080' "$tmp/sheet.png"
$IM/convert "$tmp/sheet.png" -filter point -resize 200% "$out"
echo "$out"
