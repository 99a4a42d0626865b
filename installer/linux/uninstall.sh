#!/bin/sh
# Remove MedTL installed by install.sh (add --system for the all-users installation).
# Projects and the weight store are left alone: they live in your data folders, not here.
set -eu
if [ "${1:-}" = "--system" ]; then
    PREFIX=/opt/medtl; BIN=/usr/local/bin; SHARE=/usr/share
else
    PREFIX="$HOME/.local/opt/medtl"; BIN="$HOME/.local/bin"; SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
rm -f "$BIN/medtl-gui" "$BIN/medtl" "$SHARE/applications/medtl.desktop" \
      "$SHARE/icons/hicolor/256x256/apps/medtl.png" "$SHARE/mime/packages/medtl-project.xml"
command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$SHARE/mime" || true
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$SHARE/applications" || true
rm -rf "$PREFIX"
echo "MedTL removed. Your projects and ~/.local/share/MedTL (weights, settings) were kept."
