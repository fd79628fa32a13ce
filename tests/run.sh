#!/usr/bin/env bash
# The README's test command. On a fresh Debian 12 machine (as root) it installs what the
# suites need, builds everything in Release, runs every suite (NUnit via `dotnet test`,
# CTest for firmware-bridge once it exists) and ends with one line: "N passed, N failed[, N skipped]".
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
results="$repo/artifacts/test-results"
rm -rf "$results"; mkdir -p "$results"

die() { echo "tests/run.sh: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

# --- prerequisites: Debian packages --------------------------------------------------
mapfile -t wanted < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' tests/prerequisites.txt | tr -d ' ')
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  [ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || die "apt-get install failed: ${missing[*]}"
fi

# --- prerequisites: npm packages used as independent verifiers -------------------------
if [ -f tests/verifiers/package.json ]; then
  command -v npm >/dev/null || die "npm is required for tests/verifiers"
  (cd tests/verifiers && npm install --no-audit --no-fund --silent) || die "npm install in tests/verifiers failed"
  # ONNX Runtime for Node.js ships its native library in the package: check it loads here, not later inside a test.
  (cd tests/verifiers && node --input-type=module -e "import 'onnxruntime-node'") || die "onnxruntime-node does not load in tests/verifiers (RoboRl.Onnx.Tests needs it)"
fi

# --- build ---------------------------------------------------------------------------
dotnet build RoboRl.sln -c Release -nologo -v quiet -clp:ErrorsOnly || die "dotnet build failed"

passed=0; failed=0; skipped=0

# --- layout: the code follows .editorconfig (one check) ------------------------------------
if dotnet format whitespace RoboRl.sln --verify-no-changes -v quiet; then
  passed=$((passed + 1))
else
  echo "tests/run.sh: files differ from .editorconfig's layout (above); fix with: dotnet format whitespace RoboRl.sln" >&2
  failed=$((failed + 1))
fi

# --- NUnit suites ----------------------------------------------------------------------
# The suites run in parallel; tests marked [Category("RealTime")] (real-time deadlines against an emulator or a
# peer process, which a fully loaded 2-core machine cannot keep) run afterwards, alone.
dotnet test RoboRl.sln -c Release --no-build -nologo --filter "TestCategory!=RealTime&TestCategory!=Measurement" \
  --blame-hang-timeout 8m --logger "trx" --results-directory "$results" -- NUnit.NumberOfTestWorkers=1
# Before the real-time tests, wait (at most 60 s) until the parallel suites' helper processes (test hosts, emulators,
# databases, brokers, nodes they started) have exited, so the deadlines are measured on a quiet machine.
for _ in $(seq 60); do
  pgrep -f 'testhost|qemu-system-arm|postgres|mosquitto|roborl |fastdds_peer' >/dev/null || break
  sleep 1
done
dotnet test RoboRl.sln -c Release --no-build -nologo --filter "TestCategory=RealTime&TestCategory!=Measurement" -m:1 \
  --blame-hang-timeout 8m --logger "trx;LogFilePrefix=realtime" --results-directory "$results" -- NUnit.NumberOfTestWorkers=1
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  p=$(get passed); f=$(get failed); e=$(get error); t=$(get total); x=$(get executed)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0}))
  skipped=$((skipped + ${t:-0} - ${x:-0}))
done
# A test project that crashed writes no trx: catch that through the project count.
projects=$(ls tests/*/*.Tests.csproj | wc -l)
reports=$(ls "$results"/*.trx 2>/dev/null | wc -l)
if [ "$reports" -lt "$projects" ]; then
  echo "tests/run.sh: only $reports of $projects test projects reported results" >&2
  failed=$((failed + projects - reports))
fi

# --- CTest (firmware-bridge) -------------------------------------------------------------
if [ -f firmware-bridge/CMakeLists.txt ]; then
  build=firmware-bridge/build
  if cmake -S firmware-bridge -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$build" -j2 >/dev/null; then
    ctest_out=$(ctest --test-dir "$build" --output-on-failure 2>&1); echo "$ctest_out"
    total=$(echo "$ctest_out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' | tail -1)
    cfail=$(echo "$ctest_out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' | tail -1)
    [ -n "$total" ] || { total=1; cfail=1; }
    passed=$((passed + total - cfail)); failed=$((failed + cfail))
  else
    echo "tests/run.sh: firmware-bridge did not build" >&2; failed=$((failed + 1))
  fi
fi

if ((skipped)); then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
((failed == 0))
