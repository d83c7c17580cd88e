#!/usr/bin/env python3
"""Write the icon SVG sources: src/*.svg, src/mono/*.svg, src/mono-dark/*.svg.

Every icon lives on one 32x32 grid (at 16 px one unit is half a pixel, so the
4-unit strokes are 2 px wide). The base mark is a rounded square holding a
terminal prompt ">_". Each state changes the *shape* of the mark as well as
its colour, so states stay apart for colour-blind users and on monochrome
panels:

  stopped    hollow grey square, small ">" (nothing running)
  starting   open ring (3/4 circle, like a spinner) around a small ">"
  idle       solid teal square, white ">_"
  working    solid blue square, three white dots (the "typing" indicator)
  working-N  working + a white count badge in the top-right corner
  attention  amber speech bubble with a big "!" (the agent is asking you)
  error      solid red square with a white "x"

The colour icons draw white glyphs on top of the shapes; the monochrome
("symbolic") icons use one colour and knock the glyphs out of the shapes.

Edit the constants below, then run:  python3 gen-svg.py && ./render.sh
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- palette ---------------------------------------------------------------
GREY = "#858c96"                      # stopped (mid grey: reads on light and dark)
TEAL, TEAL_DK = "#14a38b", "#0b6e5d"  # brand, idle, starting
BLUE, BLUE_DK = "#2f7cf6", "#1a4fb0"  # working
AMBER, AMBER_DK = "#ffb020", "#8a4b00"  # attention
RED, RED_DK = "#e5484d", "#9b1c20"    # error
WHITE = "#ffffff"
INK = "#2b1800"                       # glyph on amber
MONO = {"mono": "#f5f5f5",            # symbolic, for dark panels (the usual case)
        "mono-dark": "#2e3436"}       # symbolic, for light panels

# ---- geometry --------------------------------------------------------------
STROKE = 4
SQUARE = '<rect x="2.5" y="2.5" width="27" height="27" rx="7"{a}/>'
HOLLOW = '<rect x="4" y="4" width="24" height="24" rx="6"{a}/>'
# open ring, gap in the top-right quarter (a spinner / "coming up")
RING = '<path d="M28 16 A12 12 0 1 1 16 4"{a}/>'
BUBBLE = ('<path d="M8.5 1.5 H23.5 A7 7 0 0 1 30.5 8.5 V19.5 A7 7 0 0 1 23.5 26.5 '
          'H12.5 L5.5 31 V25.6 A7 7 0 0 1 1.5 19.5 V8.5 A7 7 0 0 1 8.5 1.5 Z"{a}/>')

PROMPT = "M7.5 10 L13.5 16 L7.5 22"    # ">" in the solid square
CURSOR = "M17 22 H24"                  # "_"
SMALL_PROMPT = "M12 11 L17 16 L12 21"  # ">" inside the hollow square / ring
CROSS = "M10 10 L22 22 M22 10 L10 22"
DOTS_R = 2.7
DOTS = (9, 16, 23)                     # x centres of the working dots
DOTS_Y, DOTS_Y_BADGE = 16, 21.5        # lowered when a badge sits top-right

BADGE_C, BADGE_R, BADGE_GAP = (23.5, 8.5), 7.5, 2.2
SMALL_BADGE_C, SMALL_BADGE_R = (24.5, 7.5), 5.5  # 16 px count badge: a plain dot
BADGE_RING, SMALL_BADGE_RING = 1.6, 2.4

# digits as strokes in a 6x10 box, so no font is needed to render them
DIGITS = {
    "1": "M1.2 2.2 L3.6 0.2 V10",
    "2": "M0.4 2.6 C0.9 0.2 5.6 -0.3 5.6 2.9 C5.6 5.2 0.4 7.4 0.4 10 H5.8",
    "3": "M0.6 0.3 H5.4 L2.6 4 C6.6 3.8 6.6 10 2.9 10 C1.7 10 0.9 9.6 0.3 8.9",
    "4": "M4.4 10 V0.2 L0.2 6.9 H6",
    "5": "M5.4 0.3 H1.1 L0.7 4.6 C1.4 4 2.2 3.8 3 3.8 C6.3 3.8 6.3 10 3 10 "
         "C1.7 10 0.9 9.6 0.3 8.9",
    "6": "M5 0.5 C2.1 -0.1 0.3 2.8 0.3 6.6 C0.3 9 1.5 10 3 10 C4.6 10 5.7 8.8 5.7 7 "
         "C5.7 5.2 4.6 4.1 3 4.1 C1.7 4.1 0.8 4.8 0.3 5.9",
    "7": "M0.2 0.3 H5.8 L2.2 10",
    "8": "M3 4.7 C0.6 4.7 0.6 0.2 3 0.2 C5.4 0.2 5.4 4.7 3 4.7 "
         "C0.1 4.7 0.1 10 3 10 C5.9 10 5.9 4.7 3 4.7 Z",
    "9": "M1 9.5 C3.9 10.1 5.7 7.2 5.7 3.4 C5.7 1 4.5 0 3 0 C1.4 0 0.3 1.2 0.3 3 "
         "C0.3 4.8 1.4 5.9 3 5.9 C4.3 5.9 5.2 5.2 5.7 4.1",
    "+": "M3 2.5 V7.5 M0.5 5 H5.5",
}


# ---- element helpers -------------------------------------------------------
def stroke(d, color, width=STROKE):
    return (f'<path d="{d}" fill="none" stroke="{color}" stroke-width="{width}" '
            'stroke-linecap="round" stroke-linejoin="round"/>')


def dots(color, y):
    return [f'<circle cx="{x}" cy="{y}" r="{DOTS_R}" fill="{color}"/>' for x in DOTS]


def exclam(color, cx=16, cy=14, h=18, w=4.4, gap=1.8):
    top, bot = cy - h / 2, cy + h / 2
    r = w / 2 + 0.2                    # the dot is a little heavier than the stem
    stem_end = bot - 2 * r - gap - w / 2
    return [stroke(f"M{cx} {top + w / 2:g} V{stem_end:g}", color, w),
            f'<circle cx="{cx}" cy="{bot - r:g}" r="{r:g}" fill="{color}"/>']


def text(s, cx, cy, color, scale=1.0, width=2.3):
    """Stroke-drawn digits / '+', centred on (cx, cy)."""
    adv, gap = 6 * scale, 0.8
    x0 = cx - (len(s) * adv + (len(s) - 1) * gap) / 2
    out = []
    for i, ch in enumerate(s):
        x, y = x0 + i * (adv + gap), cy - 5 * scale
        out.append(f'<path transform="translate({x:g} {y:g}) scale({scale:g})" '
                   f'd="{DIGITS[ch]}" fill="none" stroke="{color}" '
                   f'stroke-width="{width / scale:.3g}" stroke-linecap="round" '
                   'stroke-linejoin="round"/>')
    return out


def badge(count):
    """(shape, cut-out) for the count badge: a disc, or a pill for '9+'."""
    (cx, cy), r, g = BADGE_C, BADGE_R, BADGE_GAP
    if count is None:  # 16 px: plain dot
        (cx, cy), r, g = SMALL_BADGE_C, SMALL_BADGE_R, 1.6
    if count is None or len(count) == 1:
        return (f'<circle cx="{cx}" cy="{cy}" r="{r}"{{a}}/>',
                f'<circle cx="{cx}" cy="{cy}" r="{r + g}" fill="#000"/>')
    w, x = 19, 31.5 - 19
    return (f'<rect x="{x}" y="{cy - r}" width="{w}" height="{2 * r}" rx="{r}"{{a}}/>',
            f'<rect x="{x - g}" y="{cy - r - g}" width="{w + 2 * g}" '
            f'height="{2 * (r + g)}" rx="{r + g}" fill="#000"/>')


# ---- icon assembly ---------------------------------------------------------
class Icon:
    """A filled or hollow shape, a glyph, and an optional corner badge."""

    def __init__(self, shape, glyph, fill=None, edge=None, line=None,
                 badge=None, badge_glyph=(), badge_fill=WHITE, badge_edge=None,
                 badge_ring=BADGE_RING, glyph_color=WHITE, defs=()):
        self.__dict__.update(locals())


def render(icon, mono=None):
    """SVG text for the colour icon, or the symbolic one in colour `mono`."""
    defs, body = list(icon.defs), []
    shape_mask = []
    if icon.badge:
        shape_mask.append(icon.badge[1])
    if icon.line:  # hollow shapes: strokes only, no knock-outs needed
        c = mono or icon.line
        body.append(icon.shape.format(a=f' fill="none" stroke="{c}" stroke-width="{STROKE}" '
                                        'stroke-linecap="round"'))
        body += [g.replace("COLOR", c) for g in icon.glyph]
    elif mono:
        shape_mask += [g.replace("COLOR", "#000") for g in icon.glyph]
        body.append(icon.shape.format(a=f' fill="{mono}" mask="url(#m)"'))
    else:
        m = ' mask="url(#m)"' if shape_mask else ""
        body.append(icon.shape.format(a=f' fill="{icon.fill}" stroke="{icon.edge}" '
                                        f'stroke-width="1.2"{m}'))
        body += [g.replace("COLOR", icon.glyph_color) for g in icon.glyph]
    if shape_mask:
        defs.append(mask("m", shape_mask))
    if icon.badge:
        if mono:
            if icon.badge_glyph:
                defs.append(mask("b", [g.replace("COLOR", "#000") for g in icon.badge_glyph]))
                body.append(icon.badge[0].format(a=f' fill="{mono}" mask="url(#b)"'))
            else:
                body.append(icon.badge[0].format(a=f' fill="{mono}"'))
        else:
            body.append(icon.badge[0].format(a=f' fill="{icon.badge_fill}" '
                                               f'stroke="{icon.badge_edge}" stroke-width="{icon.badge_ring}"'))
            body += [g.replace("COLOR", icon.badge_edge) for g in icon.badge_glyph]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32" viewBox="0 0 32 32">']
    if defs:
        out += ["  <defs>"] + ["    " + d for d in defs] + ["  </defs>"]
    out += ["  " + b for b in body]
    return "\n".join(out) + "\n</svg>\n"


def mask(mid, black):
    inner = "".join(black)
    return (f'<mask id="{mid}" maskUnits="userSpaceOnUse" x="0" y="0" width="32" height="32">'
            f'<rect width="32" height="32" fill="#fff"/>{inner}</mask>')


def working(count, small=False):
    b = badge(None if small else count)
    glyph = [] if small else text(count, *BADGE_C, "COLOR", scale=1.0 if len(count) == 1 else 0.85,
                                  width=2.3 if len(count) == 1 else 2.1)
    return Icon(SQUARE, dots("COLOR", DOTS_Y_BADGE), fill=BLUE, edge=BLUE_DK,
                badge=b, badge_glyph=glyph, badge_edge=BLUE_DK,
                badge_ring=SMALL_BADGE_RING if small else BADGE_RING)


def icons():
    yield "stopped", Icon(HOLLOW, [stroke(SMALL_PROMPT, "COLOR", 3.5)], line=GREY)
    yield "starting", Icon(RING, [stroke(SMALL_PROMPT, "COLOR", 3.5)], line=TEAL)
    yield "idle", Icon(SQUARE, [stroke(PROMPT, "COLOR"), stroke(CURSOR, "COLOR")],
                       fill=TEAL, edge=TEAL_DK)
    yield "working", Icon(SQUARE, dots("COLOR", DOTS_Y), fill=BLUE, edge=BLUE_DK)
    for n in [str(i) for i in range(1, 10)] + ["9+"]:
        yield "working-" + n.replace("+", "plus"), working(n)
    yield "attention", Icon(BUBBLE, exclam("COLOR"), fill=AMBER, edge=AMBER_DK,
                            glyph_color=INK)
    yield "error", Icon(SQUARE, [stroke(CROSS, "COLOR")], fill=RED, edge=RED_DK)
    # application icon: the prompt's chevron drawn as three joined nodes (the
    # "nexus"), on a teal-to-blue square
    grad = ('<linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
            f'<stop offset="0" stop-color="{TEAL}"/><stop offset="1" stop-color="{BLUE}"/>'
            '</linearGradient>')
    nodes = [f'<circle cx="{x}" cy="{y}" r="3.1" fill="COLOR"/>'
             for x, y in ((7.5, 10), (13.5, 16), (7.5, 22))]
    yield "opencode-nexus", Icon(SQUARE, [stroke(PROMPT, "COLOR", 3)] + nodes
                                 + [stroke(CURSOR, "COLOR")],
                                 fill="url(#g)", edge=TEAL_DK, defs=[grad])


def main():
    out = os.path.join(HERE, "src")
    for sub in ["16"] + list(MONO) + [os.path.join(k, "16") for k in MONO]:
        os.makedirs(os.path.join(out, sub), exist_ok=True)

    def write(rel, data):
        with open(os.path.join(out, rel), "w") as f:
            f.write(data)

    for name, icon in icons():
        write(name + ".svg", render(icon))
        for k, c in MONO.items():
            write(os.path.join(k, name + ".svg"), render(icon, c))
    # 16 px stand-in for working-1..9plus: the digits don't fit, a dot does
    small = working("1", small=True)
    write(os.path.join("16", "working-count.svg"), render(small))
    for k, c in MONO.items():
        write(os.path.join(k, "16", "working-count.svg"), render(small, c))


if __name__ == "__main__":
    main()
