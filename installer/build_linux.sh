#!/usr/bin/env bash
# Build MedTL's Linux installer: dist/medtl-<version>-linux-x86_64[-cuda].tar.gz
#
#   installer/build_linux.sh [--edition cpu|cuda] [--weights-from DIR] [--weights-list FILE]
#                            [--python PYTHON3.11] [--no-self-test]
#
# From a clean clone: makes a build venv (build/installer-<edition>/venv), installs
# MedTL with the edition's torch and PyInstaller into it, writes the bundled data
# (edition.json, codec samples, weights listed in installer/weights.txt copied from
# --weights-from DIR, verified), freezes the app with installer/medtl.spec
# (one folder, medtl-gui + medtl), packs the tarball with a launcher, a .desktop
# file, an icon and INSTALL.txt, then unpacks it in a temporary folder and runs
# `medtl-gui --self-test` offscreen there. Prints build time and sizes; the last
# line is one JSON object.
#
# torch for the CPU edition (the default), first that works:
#   1. $MEDTL_TORCH_CPU_SPEC, e.g. "torch==2.14.1+cpu torchvision==0.29.1+cpu"
#      (pip requirement specifiers; add --index-url via $MEDTL_TORCH_INDEX)
#   2. the PyTorch CPU index https://download.pytorch.org/whl/cpu (connected build machine)
#   3. a local CPU wheel torch-*+cpu-*.whl in $PIP_FIND_LINKS plus the matching torchvision
#      from the package index (a CUDA-linked torchvision: the spec then ships only its
#      Python code, see installer/hooks/rthook_torchvision_schemas.py)
# The CUDA edition installs the versions pinned in constraints.txt from the normal index.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
EDITION=cpu
WEIGHTS_FROM=""
WEIGHTS_LIST="$ROOT/installer/weights.txt"
PYTHON="${MEDTL_PYTHON:-}"
SELF_TEST=1
while [ $# -gt 0 ]; do
    case "$1" in
        --edition) EDITION="$2"; shift 2 ;;
        --weights-from) WEIGHTS_FROM="$2"; shift 2 ;;
        --weights-list) WEIGHTS_LIST="$2"; shift 2 ;;
        --python) PYTHON="$2"; shift 2 ;;
        --no-self-test) SELF_TEST=0; shift ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "build_linux.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    esac
done
case "$EDITION" in cpu|cuda) ;; *) echo "build_linux.sh: --edition must be cpu or cuda" >&2; exit 64 ;; esac

log() { echo "[build $(date +%H:%M:%S)] $*" >&2; }
START=$(date +%s)
VERSION="$(sed -n 's/^__version__ = "\(.*\)"/\1/p' "$ROOT/medtl_gui/__init__.py")"
SUFFIX=$([ "$EDITION" = cuda ] && echo "-cuda" || echo "")
NAME="medtl-$VERSION-linux-x86_64$SUFFIX"
BUILD="$ROOT/build/installer-$EDITION"
VENV="$BUILD/venv"
DATA="$BUILD/medtl_data"
mkdir -p "$BUILD" "$ROOT/dist"

# ---------------------------------------------------------------- 1. build venv
if [ -z "$PYTHON" ]; then
    for cand in python3.11 python3 python; do
        if command -v "$cand" >/dev/null 2>&1 &&
           "$cand" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
            PYTHON="$cand"; break
        fi
    done
fi
[ -n "$PYTHON" ] || { echo "build_linux.sh: needs Python 3.11 (--python PATH)" >&2; exit 1; }
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    log "creating build venv $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)

install_cpu_torch() {
    if [ -n "${MEDTL_TORCH_CPU_SPEC:-}" ]; then
        # shellcheck disable=SC2086 # a list of requirement specifiers
        "${PIP[@]}" ${MEDTL_TORCH_INDEX:+--index-url "$MEDTL_TORCH_INDEX"} $MEDTL_TORCH_CPU_SPEC
        return
    fi
    if "${PIP[@]}" --index-url https://download.pytorch.org/whl/cpu --timeout 20 --retries 0 \
            "torch==2.14.1+cpu" "torchvision==0.29.1+cpu" 2>/dev/null; then
        return
    fi
    log "PyTorch CPU index not reachable: looking for a local CPU wheel in \$PIP_FIND_LINKS"
    local wheel="" dir
    for dir in ${PIP_FIND_LINKS:-} /opt/wheels; do
        dir="${dir#file://}"
        [ -d "$dir" ] || continue
        wheel="$(ls -1 "$dir"/torch-*+cpu-cp311-*linux*_x86_64.whl 2>/dev/null | sort -V | tail -n 1 || true)"
        [ -n "$wheel" ] && break
    done
    [ -n "$wheel" ] || { echo "build_linux.sh: no CPU build of torch available (set MEDTL_TORCH_CPU_SPEC)" >&2; exit 1; }
    local torch_version minor
    torch_version="$(basename "$wheel" | cut -d- -f2)"          # e.g. 2.13.0+cpu
    minor="$(echo "$torch_version" | cut -d. -f2)"
    log "using $wheel with torchvision 0.$((minor + 15)).*"
    "${PIP[@]}" "$wheel" "torchvision==0.$((minor + 15)).*"
}

STAMP="$VENV/.medtl-build-stamp"
WANT="$EDITION $(cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    log "installing torch ($EDITION edition)"
    if [ "$EDITION" = cpu ]; then install_cpu_torch; else "${PIP[@]}" -c "$ROOT/constraints.txt" torch torchvision; fi
    log "installing MedTL and PyInstaller into the build venv"
    # no constraints file for the CPU edition: it pins the CUDA build's torch version
    "${PIP[@]}" "$ROOT[installer]"
    echo "$WANT" > "$STAMP"
else
    log "build venv up to date; reinstalling MedTL's own code"
    "${PIP[@]}" --no-deps --force-reinstall "$ROOT"
fi
"$PY" - "$EDITION" <<'EOF'
import sys, torch
edition = sys.argv[1]
is_cpu = torch.version.cuda is None
if (edition == "cpu") != is_cpu:
    raise SystemExit(f"build venv has torch {torch.__version__}, which does not fit the {edition} edition")
print(f"torch {torch.__version__} ({'CPU' if is_cpu else 'CUDA ' + torch.version.cuda})")
EOF

# ---------------------------------------------------------------- 2. bundled data
log "writing bundled data into $DATA"
rm -rf "$DATA"
mkdir -p "$DATA"
(cd "$BUILD" && "$PY" -m medtl_gui.selftest.samples "$DATA/samples" --strict)
if [ -n "$WEIGHTS_FROM" ]; then
    (cd "$BUILD" && "$PY" "$ROOT/installer/bundle_weights.py" --list "$WEIGHTS_LIST" --from "$WEIGHTS_FROM" \
        --to "$DATA/weights")
else
    log "no --weights-from: the build bundles no pretrained weights (users import them: medtl weights import)"
fi
"$PY" - "$DATA/edition.json" "$EDITION" "$VERSION" <<'EOF'
import json, sys, datetime, torch
path, edition, version = sys.argv[1:]
info = {"edition": edition, "version": version, "torch": torch.__version__,
        "built": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
open(path, "w").write(json.dumps(info, indent=2) + "\n")
EOF
"$PY" "$ROOT/installer/render_icon.py" "$ROOT/resources/medtl.svg" "$ROOT/build/icons" >/dev/null

# ---------------------------------------------------------------- 3. freeze
log "running PyInstaller (several minutes)"
FREEZE_START=$(date +%s)
(cd "$ROOT" && MEDTL_EDITION="$EDITION" MEDTL_BUNDLE_DATA="$DATA" "$PY" -m PyInstaller --noconfirm \
    --log-level WARN --distpath "$BUILD/dist" --workpath "$BUILD/work" installer/medtl.spec)
log "PyInstaller took $(( $(date +%s) - FREEZE_START )) s"

# ---------------------------------------------------------------- 4. tarball
STAGE="$BUILD/stage/$NAME"
rm -rf "$BUILD/stage"
mkdir -p "$STAGE"
cp -a "$BUILD/dist/medtl" "$STAGE/app"
install -m 0755 "$ROOT/installer/linux/medtl-gui.sh" "$STAGE/medtl-gui"
install -m 0755 "$ROOT/installer/linux/medtl.sh" "$STAGE/medtl"
install -m 0755 "$ROOT/installer/linux/install.sh" "$STAGE/install.sh"
install -m 0755 "$ROOT/installer/linux/uninstall.sh" "$STAGE/uninstall.sh"
install -m 0644 "$ROOT/installer/linux/medtl.desktop" "$STAGE/medtl.desktop"
install -m 0644 "$ROOT/installer/linux/medtl-project.xml" "$STAGE/medtl-project.xml"
install -m 0644 "$ROOT/build/icons/medtl.png" "$STAGE/medtl.png"
sed "s/@VERSION@/$VERSION/g; s/@EDITION@/$EDITION/g" "$ROOT/installer/linux/INSTALL.txt" > "$STAGE/INSTALL.txt"
ARCHIVE="$ROOT/dist/$NAME.tar.gz"
log "packing $ARCHIVE"
tar -C "$BUILD/stage" -czf "$ARCHIVE" "$NAME"
BUILD_S=$(( $(date +%s) - START ))

# ---------------------------------------------------------------- 5. self-test of the unpacked archive
UNPACKED_MB=$(du -sm "$STAGE" | cut -f1)
ARCHIVE_MB=$(( ($(stat -c %s "$ARCHIVE") + 524288) / 1048576 ))
SELF_TEST_OK=null
if [ "$SELF_TEST" = 1 ]; then
    TRY="$(mktemp -d)"
    trap 'rm -rf "$TRY"' EXIT
    tar -C "$TRY" -xzf "$ARCHIVE"
    log "self-test of the unpacked build (offscreen, private HOME, no pretrained weights in the user store)"
    if env -i PATH=/usr/bin:/bin HOME="$TRY/home" QT_QPA_PLATFORM=offscreen LANG=C.UTF-8 \
            "$TRY/$NAME/medtl-gui" --self-test; then
        SELF_TEST_OK=true
    else
        SELF_TEST_OK=false
    fi
fi
echo "build: ${BUILD_S} s, unpacked: ${UNPACKED_MB} MB, archive: ${ARCHIVE_MB} MB ($ARCHIVE)"
echo "{\"edition\": \"$EDITION\", \"build_s\": $BUILD_S, \"unpacked_mb\": $UNPACKED_MB, \"archive_mb\": $ARCHIVE_MB, \"self_test_ok\": $SELF_TEST_OK}"
[ "$SELF_TEST_OK" != false ]
