#!/bin/sh
# MedTL command line launcher (medtl train / evaluate / weights ...).
HERE="$(dirname "$(readlink -f "$0")")"
exec "$HERE/app/medtl" "$@"
