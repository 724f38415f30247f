#!/usr/bin/env bash
# Run every fuzz target for a while (CI runs each for its default 3,000
# inputs with a fixed seed, in the test suite). Each target gets SECONDS_EACH
# seconds; the seed changes each run unless TOLLGATE_FUZZ_SEED is set. A
# failing input is saved under $TMPDIR/tollgate-fuzz-failures: add it to
# tests/fuzz/corpus/<target>/ with the fix.
#
#   tests/fuzz/run.sh                 # 60 s per target
#   SECONDS_EACH=600 tests/fuzz/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/tollgate-target}
export TOLLGATE_FUZZ_SECONDS=${SECONDS_EACH:-60}
export TOLLGATE_FUZZ_SEED=${TOLLGATE_FUZZ_SEED:-$RANDOM$RANDOM}
echo "seed $TOLLGATE_FUZZ_SEED, $TOLLGATE_FUZZ_SECONDS s per target"
cargo test --release -p tollgate --test fuzz -- --nocapture --test-threads 1
cargo test --release -p tollgate-plugin-basic-auth --test fuzz -- --nocapture
