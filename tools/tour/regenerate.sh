#!/usr/bin/env bash
# Regenerates the figures of docs/tour.md: runs `crossencoder trace` on the offline default model (all-MiniLM-L6-v2,
# prepared from its NuGet package on first use, no network) and writes excerpts of its output between the tour's markers
#   <!-- trace:NAME --> ... <!-- /trace:NAME -->
# Every line of a figure is a line `trace` printed (tests/.../Docs/TourTests.cs re-runs trace and checks it, times aside).
# Usage: tools/tour/regenerate.sh            (from anywhere; needs the .NET SDK and python3)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
query="how do wings produce lift"
doc="Lift is the upward force that the air exerts on a wing as it moves."

dotnet build "$root/src/CrossEncoder.Cli" -c Release -nologo -v q >/dev/null
cli=("dotnet" "$root/src/CrossEncoder.Cli/bin/Release/net10.0/crossencoder.dll")
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The tour is of the base model: a weights folder holding only it (the repository's may also hold a trained cross-encoder,
# which trace would prefer; `train` prepared the base model beside it).
weights="${CROSSENCODER_WEIGHTS:-$root/weights}"
if [ -d "$weights/all-MiniLM-L6-v2-cross-encoder" ] && [ -d "$weights/all-MiniLM-L6-v2" ]; then
  mkdir -p "$work/weights" && ln -s "$weights/all-MiniLM-L6-v2" "$work/weights/all-MiniLM-L6-v2"
  export CROSSENCODER_WEIGHTS="$work/weights"
fi
"${cli[@]}" trace --query "$query" --doc "$doc" >"$work/fp32.txt" 2>"$work/fp32.err"
"${cli[@]}" trace --query "$query" --doc "$doc" --precision int8 >"$work/int8.txt" 2>"$work/int8.err"

python3 "$root/tools/tour/splice.py" "$root/docs/tour.md" "$work/fp32.txt" "$work/int8.txt" "$query" "$doc"
echo "docs/tour.md: figures regenerated ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //' || echo 'unknown CPU'))"
