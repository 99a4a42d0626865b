#!/bin/sh
# MedTL desktop app launcher: runs the frozen app next to this script (works from any folder, through symlinks).
HERE="$(dirname "$(readlink -f "$0")")"
exec "$HERE/app/medtl-gui" "$@"
