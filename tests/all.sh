#!/usr/bin/env bash
# all.sh: install, build and run every test: the release build with -Werror,
# then the ASan+UBSan build, which also runs the libFuzzer harnesses.
# Needs root (the integration tests create network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
tests/setup.sh
# the MCP end-to-end test's server, pinned by tests/mcp/package-lock.json
command -v node >/dev/null && command -v npm >/dev/null || {
	echo "all.sh: node and npm are needed (the machine's Node.js 20)" >&2
	exit 1
}
(cd tests/mcp && npm ci --no-audit --no-fund)
jobs=$(nproc)

cmake -S . -B build -DSLUICE_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure)

CC=clang cmake -S . -B build-asan -DSLUICE_WERROR=ON -DSLUICE_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure)
