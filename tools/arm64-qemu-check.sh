#!/usr/bin/env bash
# Runs the lean node's linux-arm64 build under qemu-user on an x64 machine: 5 s of lock-step flight with the simulated
# Crazyflie, recorded, then `roborl log compare` against the same flight by the x64 build (actions within 1e-5).
# On Debian 12 (qemu-user-static 7.2, .NET 10) the arm64 runtime does not get past its start-up (docs/node.md, "arm64");
# the script says so after TIMEOUT seconds instead of hanging. Needs: qemu-user-static, libc6-arm64-cross,
# libstdc++6-arm64-cross (Debian), a built `roborl` (dotnet build RoboRl.sln -c Release).
#   tools/arm64-qemu-check.sh POLICY.safetensors [TIMEOUT_S]
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
policy="$(realpath "${1:?usage: tools/arm64-qemu-check.sh POLICY.safetensors [TIMEOUT_S]}")"
timeout_s="${2:-300}"
qemu=/usr/bin/qemu-aarch64-static sysroot=/usr/aarch64-linux-gnu
[ -x "$qemu" ] || { echo "arm64-qemu-check: $qemu missing (apt-get install qemu-user-static)" >&2; exit 2; }
[ -f "$sysroot/lib/ld-linux-aarch64.so.1" ] || { echo "arm64-qemu-check: $sysroot missing (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)" >&2; exit 2; }
roborl="$repo/src/RoboRl.Cli/bin/Release/net10.0/linux-x64/roborl.dll"
[ -f "$roborl" ] || { echo "arm64-qemu-check: build first: dotnet build RoboRl.sln -c Release" >&2; exit 2; }

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
# The shipped simulated-Crazyflie config in lock-step (simulated time: the flight does not depend on the emulator's speed).
sed -e 's#"\.\./robots/#"'"$repo"'/configs/robots/#' -e 's#"physics_hz": 1000,#"physics_hz": 1000, "lock_step": true,#' \
  "$repo/configs/nodes/crazyflie-sim.json" > "$work/lockstep.json"
for rid in linux-x64 linux-arm64; do
  dotnet publish "$repo/src/RoboRl.NodeHost/RoboRl.NodeHost.csproj" -c Release -r "$rid" -o "$work/$rid" -nologo -v quiet
  echo "$rid: $(du -sh "$work/$rid" | cut -f1), $(ls "$work/$rid" | wc -l) files"
done
flight=("$work/lockstep.json" --policy "$policy" --duration 5)
"$work/linux-x64/roborl-node" "${flight[@]}" --record "$work/x64.mcap" | tail -1
start=$SECONDS
if ! DOTNET_EnableWriteXorExecute=0 timeout "$timeout_s" "$qemu" -L "$sysroot" "$work/linux-arm64/roborl-node" "${flight[@]}" --record "$work/arm64.mcap" | tail -1; then
  echo "arm64-qemu-check: the arm64 build under $("$qemu" -version | head -1) did not finish in ${timeout_s} s ($((SECONDS - start)) s)" >&2
  exit 3
fi
dotnet "$roborl" log compare "$work/x64.mcap" "$work/arm64.mcap" --topics /action --tolerance 1e-5
