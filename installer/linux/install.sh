#!/bin/sh
# Install MedTL for the current user (default) or for everyone (--system, as root).
#   ./install.sh            -> ~/.local/opt/medtl, launchers in ~/.local/bin, menu entry for this user
#   sudo ./install.sh --system  -> /opt/medtl, launchers in /usr/local/bin, menu entry for all users
# Nothing is downloaded. Uninstall with uninstall.sh (copied into the install folder).
set -eu
HERE="$(dirname "$(readlink -f "$0")")"
if [ "${1:-}" = "--system" ]; then
    PREFIX=/opt/medtl; BIN=/usr/local/bin; SHARE=/usr/share
else
    PREFIX="$HOME/.local/opt/medtl"; BIN="$HOME/.local/bin"; SHARE="${XDG_DATA_HOME:-$HOME/.local/share}"
fi
if [ -e "$PREFIX" ]; then
    echo "removing the previous installation in $PREFIX"
    rm -rf "$PREFIX"
fi
mkdir -p "$PREFIX" "$BIN" "$SHARE/applications" "$SHARE/icons/hicolor/256x256/apps" "$SHARE/mime/packages"
cp -a "$HERE/app" "$HERE/medtl-gui" "$HERE/medtl" "$HERE/uninstall.sh" "$HERE/INSTALL.txt" "$PREFIX/"
ln -sf "$PREFIX/medtl-gui" "$BIN/medtl-gui"
ln -sf "$PREFIX/medtl" "$BIN/medtl"
sed "s|@PREFIX@|$PREFIX|g" "$HERE/medtl.desktop" > "$SHARE/applications/medtl.desktop"
cp "$HERE/medtl.png" "$SHARE/icons/hicolor/256x256/apps/medtl.png"
cp "$HERE/medtl-project.xml" "$SHARE/mime/packages/medtl-project.xml"
command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$SHARE/mime" || true
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$SHARE/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q "$SHARE/icons/hicolor" 2>/dev/null || true
echo "MedTL installed in $PREFIX (commands: $BIN/medtl-gui, $BIN/medtl)."
echo "Check it with: $BIN/medtl-gui --self-test"
