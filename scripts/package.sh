#!/usr/bin/env bash
# Builds the Debian package: dist/flowmetrics_<version>_<arch>.deb and its debug symbols,
# dist/flowmetrics-dbgsym_<version>_<arch>.ddeb (README, "Install as a service"). A release
# build in build-package/ with Debian's hardening flags (dpkg-buildflags), packaged by CPack
# (cmake/package.cmake), then checked by lintian: errors fail the build, warnings are shown.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/install-deps.sh"
build="$root/build-package"
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cxxflags="$(dpkg-buildflags --get CPPFLAGS) $(dpkg-buildflags --get CXXFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" -DCMAKE_SHARED_LINKER_FLAGS="$ldflags" \
  -DFLOWMETRICS_BUILD_TESTS=OFF -DFLOWMETRICS_BUILD_EXAMPLES=OFF -DFLOWMETRICS_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target flowmetrics_cli flowmetrics_package_files
rm -rf "$build/cpack"
(cd "$build" && cpack -G DEB -B "$build/cpack" >/dev/null)
mkdir -p "$root/dist"
deb=$(find "$build/cpack" -maxdepth 1 -name 'flowmetrics_*.deb')
cp "$deb" "$build"/cpack/flowmetrics-dbgsym_*.ddeb "$root/dist/"
out="$root/dist/$(basename "$deb")"
status=0
report=$(lintian --fail-on error "$out" 2>&1) || status=$?
printf '%s\n' "$report" | grep -v 'root privileges' || true
((status == 0)) || { echo "package: lintian found errors in $out" >&2; exit 1; }
echo "package: $out"
