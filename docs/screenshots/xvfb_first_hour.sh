#!/usr/bin/env bash
# The first hour in a real X window: Xvfb + xdotool drive the app as a user does (keyboard shortcuts and
# typed paths in Qt's own file dialogs), on a fresh install (empty weight store, no settings), and save a
# screenshot after each step into OUT (default /tmp/medtl-xvfb).
#
#   apt-get install xvfb xdotool x11-apps imagemagick  (plus the Qt xcb libraries listed in README's Install)
#   docs/screenshots/xvfb_first_hour.sh [OUT] [WIDTHxHEIGHT]
#
# Steps: Ctrl+N new project in a folder that does not exist yet; Ctrl+Shift+I import a class-folder tree
# (the import dialog shows the splits it made); Ctrl+T start the default preset on the empty weight store;
# wait for the run; Ctrl+Shift+P apply the model (summary). Not a test: a walkthrough to look at.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-/tmp/medtl-xvfb}"
SIZE="${2:-1440x900}"
WORK="$(mktemp -d /tmp/medtl-first-hour-XXXX)"
mkdir -p "$OUT"
export DISPLAY=:97
Xvfb "$DISPLAY" -screen 0 "${SIZE}x24" -nolisten tcp &
XVFB=$!
APP=""
trap 'kill $APP $XVFB 2>/dev/null || true' EXIT
sleep 1
export XDG_CONFIG_HOME="$WORK/config" XDG_DATA_HOME="$WORK/data" MEDTL_WEIGHTS_DIR="$WORK/weights"
export QT_QPA_PLATFORM=xcb

"$ROOT/.venv/bin/python" - "$WORK/scans" <<'EOF'
import sys
from pathlib import Path

import numpy as np
from PIL import Image

root, rng = Path(sys.argv[1]), np.random.default_rng(0)
yy, xx = np.mgrid[:64, :64]
for name, centre, level in (("normal", (32, 32), 90), ("pneumonia", (20, 44), 230)):
    (root / name).mkdir(parents=True)
    for k in range(40):
        pixels = rng.normal(60, 12, (64, 64))
        pixels[(yy - centre[0] - rng.integers(-4, 5)) ** 2 + (xx - centre[1] - rng.integers(-4, 5)) ** 2 < 90] = level
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(root / name / f"{name}_{k:02d}.png")
EOF

shot() { xwd -root -silent | convert xwd:- "$OUT/$1.png"; echo "$OUT/$1.png"; }
# no window manager: a closed dialog leaves no focused window, so each shortcut first focuses the main window
press() { xdotool windowfocus --sync "$WIN"; xdotool key "$1"; }
type_path() { xdotool key --clearmodifiers ctrl+a; xdotool type --delay 20 "$1"; xdotool key Return; }

"$ROOT/.venv/bin/python" -m medtl_gui &
APP=$!
xdotool search --sync --name "MedTL" >/dev/null
sleep 3
WIN="$(xdotool search --name "MedTL [0-9]" | head -1)"
xdotool windowactivate --sync "$WIN" 2>/dev/null || xdotool windowfocus "$WIN"
shot 01-start

press ctrl+n; sleep 2; type_path "$WORK/projects/chest"; sleep 3
shot 02-new-project
press ctrl+shift+i; sleep 2; type_path "$WORK/scans"; sleep 10
shot 03-import-splits
xdotool key Escape; sleep 1
xdotool windowfocus --sync "$WIN"; xdotool key Down; sleep 2  # the first image in the browser
press ctrl+t; sleep 20
shot 04-training
for _ in $(seq 1 60); do
    if ls "$WORK"/projects/chest/runs/*/report.json >/dev/null 2>&1; then break; fi
    sleep 5
done
sleep 3
shot 05-finished
press ctrl+shift+p; sleep 10
shot 06-apply-model
echo "walkthrough done: $OUT"
