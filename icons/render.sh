#!/bin/sh
# Regenerate every PNG in png/ from the SVG sources in src/.
#   needs: rsvg-convert   (Debian: apt-get install -y librsvg2-bin)
#   usage: ./render.sh            (run from anywhere)
# To change a design, edit gen-svg.py, run `python3 gen-svg.py`, then this.
set -eu
cd "$(dirname "$0")"
command -v rsvg-convert >/dev/null 2>&1 || {
    echo "render.sh: rsvg-convert not found (apt-get install -y librsvg2-bin)" >&2
    exit 1
}

STATES="stopped starting idle working working-1 working-2 working-3 working-4 \
working-5 working-6 working-7 working-8 working-9 working-9plus attention error"
APP=opencode-nexus
SIZES="16 22 24 32 48 64"
APP_SIZES="$SIZES 128 256"
# The web app (the remote gateway's manifest) wants 192 and 512 too: the app icon only.
WEB_SIZES="192 512"

# $1 = source dir (src, src/mono, src/mono-dark), $2 = output dir
render_set() {
    src=$1 out=$2
    rm -rf "$out"
    for size in $APP_SIZES; do
        mkdir -p "$out/$size"
        names=$APP
        case " $SIZES " in *" $size "*) names="$STATES $APP" ;; esac
        for name in $names; do
            svg="$src/$name.svg"
            # at 16 px the count digits don't fit: the badge becomes a dot
            case "$size:$name" in
                16:working-[0-9]*) svg="$src/16/working-count.svg" ;;
            esac
            rsvg-convert -w "$size" -h "$size" -o "$out/$size/$name.png" "$svg"
        done
    done
}

render_set src png
for size in $WEB_SIZES; do
    mkdir -p "png/$size"
    rsvg-convert -w "$size" -h "$size" -o "png/$size/$APP.png" "src/$APP.svg"
done
render_set src/mono png/mono
render_set src/mono-dark png/mono-dark
echo "rendered $(find png -name '*.png' | wc -l) PNGs into $(pwd)/png"
