#!/usr/bin/env bash
# Fuzzes one target of tools/fuzz/CrossEncoder.Fuzz with afl-fuzz for a bounded time (issue 20).
#
#   tools/fuzz/run.sh <target> [minutes]      (FUZZ_ALL=1: report the known findings of FuzzTargets.KnownFindings too)
#   targets: safetensors config tokenizer-json vocab sentencepiece hub-json server-request
#
# Installs nothing. It needs, once:
#   sudo apt-get install afl++                                              (afl-fuzz; Debian/Ubuntu package)
#   dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0      (sharpfuzz; ~/.dotnet/tools on PATH)
#
# Steps: publish the harness into $FUZZ_WORK/bin (default tools/fuzz/work, git-ignored), instrument CrossEncoder.Native.dll
# and CrossEncoder.Server.dll with sharpfuzz (edge coverage for afl), run afl-fuzz on tools/fuzz/corpus/<target> for
# [minutes] (default 10), then copy every crash to tools/fuzz/crashes/<target>/crash-<sha1> (the in-suite replay,
# FuzzCorpusReplayTests, runs them) and every hang to tools/fuzz/hangs/<target>/, and print afl's statistics.
# Reproduce one input outside afl:  dotnet $FUZZ_WORK/bin/CrossEncoder.Fuzz.dll <target> --replay <file>
set -euo pipefail

targets="safetensors config tokenizer-json vocab sentencepiece hub-json server-request"
target=${1:-}
minutes=${2:-10}
if [[ -z "$target" || " $targets " != *" $target "* ]]; then
  echo "usage: tools/fuzz/run.sh <target> [minutes]; targets: $targets" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="$PATH:$HOME/.dotnet/tools"
command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found: install it with 'sudo apt-get install afl++'." >&2; exit 1; }
command -v sharpfuzz >/dev/null || { echo "sharpfuzz not found: install it with 'dotnet tool install --global SharpFuzz.CommandLine --version 2.3.0'." >&2; exit 1; }

work=${FUZZ_WORK:-$root/tools/fuzz/work}
bin=$work/bin
findings=$work/findings/$target
rm -rf "$bin" "$findings"
mkdir -p "$work/findings"
echo "publishing the harness into $bin"
dotnet publish "$root/tools/fuzz/CrossEncoder.Fuzz/CrossEncoder.Fuzz.csproj" -c Release -o "$bin" --nologo -v quiet
for dll in CrossEncoder.Native.dll CrossEncoder.Server.dll; do
  echo "instrumenting $dll"
  sharpfuzz "$bin/$dll"
done

# dotnet itself is not instrumented (AFL_SKIP_BIN_CHECK); the container may not let afl set core_pattern or the CPU governor.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
# A .NET process starts in ~100 ms and may JIT a new path on a later input: a generous per-input timeout (ms).
timeout_ms=${FUZZ_TIMEOUT_MS:-5000}
echo "afl-fuzz on $target for $minutes minute(s); findings in $findings"
afl-fuzz -V $((minutes * 60)) -t "$timeout_ms" -m none -i "$root/tools/fuzz/corpus/$target" -o "$findings" \
  -- dotnet "$bin/CrossEncoder.Fuzz.dll" "$target" ${FUZZ_ALL:+--all} || true

copy() {   # copy afl's <kind> folder into tools/fuzz/<dest>/<target>/<prefix>-<sha1>
  local kind=$1 dest=$2 prefix=$3 n=0
  shopt -s nullglob
  for f in "$findings"/default/"$kind"/id:*; do
    mkdir -p "$root/tools/fuzz/$dest/$target"
    install -m 644 "$f" "$root/tools/fuzz/$dest/$target/$prefix-$(sha1sum "$f" | cut -c1-12)"
    n=$((n + 1))
  done
  echo "$kind: $n (copied to tools/fuzz/$dest/$target/)"
}
copy crashes crashes crash
copy hangs hangs hang
stats=$findings/default/fuzzer_stats
if [[ -f "$stats" ]]; then
  grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|bitmap_cvg|edges_found|total_edges|saved_crashes|saved_hangs|stability) ' "$stats"
fi
