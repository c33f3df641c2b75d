#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan, coverage-instrumented
# core) and runs each for a while, seeded from the reference vectors.
#
#   cpp/fuzz/run.sh                      # every target, 60 s each
#   FUZZ_SECONDS=3600 cpp/fuzz/run.sh decrypt
#   FUZZ_JOBS=4 FUZZ_SECONDS=0 cpp/fuzz/run.sh roundtrip   # 0 = until stopped
#   cpp/fuzz/run.sh --python             # also the atheris target (tests/fuzz_atheris.py)
#   cpp/fuzz/run.sh --python-native      # atheris with the extension built by clang with
#                                        # ASan + coverage: atheris then sees the C++ paths
#
# Environment: FUZZ_SECONDS (per target, default 60), FUZZ_JOBS (parallel
# workers per target, default 1), FUZZ_BUILD_DIR (default build/fuzz),
# FUZZ_PYTHON (interpreter with framecryptor and atheris installed, default python3),
# CXX (default clang++). The growing corpus is kept in FUZZ_BUILD_DIR/corpus/<target>
# and reused by the next run; crashes go to FUZZ_BUILD_DIR/findings/<target>/.
# Exit status: non-zero if any target found a crash, a leak, a timeout or an
# out-of-memory input.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-1}"
build="${FUZZ_BUILD_DIR:-build/fuzz}"
mkdir -p "$build" && build="$(cd "$build" && pwd)"
python="${FUZZ_PYTHON:-python3}"
run_python=0
native=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --python) run_python=1 ;;
    --python-native) run_python=1; native=1 ;;
    decrypt|roundtrip|parsers) targets+=("$arg") ;;
    *) echo "unknown target: $arg (decrypt, roundtrip, parsers, --python, --python-native)" >&2; exit 2 ;;
  esac
done
if [ ${#targets[@]} -eq 0 ] && [ "$run_python" -eq 0 ]; then targets=(decrypt roundtrip parsers); fi

if [ ${#targets[@]} -gt 0 ]; then
  command -v "${CXX:-clang++}" >/dev/null || { echo "clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="${CXX:-clang++}" \
    -DFRAMECRYPTOR_PYTHON=OFF -DFRAMECRYPTOR_FUZZ=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi
python3 cpp/fuzz/make_seeds.py "$build/seeds"

status=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"
  findings="$build/findings/$t"
  mkdir -p "$corpus" "$findings"
  echo "== fuzz_$t: ${seconds}s, $jobs job(s)"
  # -max_len: frames up to 4 KiB (larger ones take the same paths, more slowly);
  # -rss_limit_mb / -timeout: unbounded memory or a hang is a finding too.
  args=(-max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=10
        -dict="$root/cpp/fuzz/frames.dict" -artifact_prefix="$findings/" -print_final_stats=1)
  if [ "$jobs" -gt 1 ]; then args+=(-jobs="$jobs" -workers="$jobs"); fi
  # (with -jobs, libFuzzer writes fuzz-N.log files into the working directory: the build dir)
  if ! (cd "$build" && "$build/cpp/fuzz/fuzz_$t" "${args[@]}" "$corpus" "$build/seeds/$t" 2>"$build/fuzz_$t.log"); then
    status=1
    echo "!! fuzz_$t reported a finding: see $build/fuzz_$t.log and $findings/"
  fi
  grep -E "^stat::|Done [0-9]+ runs" "$build/fuzz_$t.log" || true
  grep -E "^#[0-9]+.*(DONE|pulse|NEW)" "$build/fuzz_$t.log" | tail -n 1 || true
  echo "corpus: $(find "$corpus" -type f | wc -l) inputs"
done

if [ "$run_python" -eq 1 ]; then
  corpus="$build/corpus/atheris"
  findings="$build/findings/atheris"
  mkdir -p "$corpus" "$findings"
  env=()
  if [ "$native" -eq 1 ]; then
    # The extension with ASan and libFuzzer's coverage hooks (resolved by atheris's runtime,
    # preloaded). LTO is off: the GNU linker drops sancov's constructors under it.
    site="$build/atheris-native/site"
    isolation=(--no-build-isolation)
    "$python" -c "import scikit_build_core, pybind11" 2>/dev/null || isolation=()
    CC=clang CXX=clang++ CXXFLAGS="-fsanitize=address,fuzzer-no-link -fno-omit-frame-pointer" \
      LDFLAGS="-fsanitize=address" "$python" -m pip install -q "${isolation[@]}" --no-deps --upgrade \
      --target "$site" . -Cbuild-dir="$build/atheris-native/build" \
      -Ccmake.define.CMAKE_INTERPROCEDURAL_OPTIMIZATION=OFF >/dev/null
    runtime="$("$python" -c 'import atheris, os; print(os.path.join(atheris.path(), "asan_with_fuzzer.so"))')"
    env=(LD_PRELOAD="$runtime" ASAN_OPTIONS=detect_leaks=0 PYTHONPATH="$site")
    corpus="$build/corpus/atheris-native"
    mkdir -p "$corpus"
  fi
  echo "== atheris (tests/fuzz_atheris.py$([ "$native" -eq 1 ] && echo ", native coverage")): ${seconds}s"
  if ! env "${env[@]}" "$python" tests/fuzz_atheris.py -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=4096 -timeout=10 \
      -artifact_prefix="$findings/" -print_final_stats=1 "$corpus" "$build/seeds/atheris" 2>"$build/atheris.log"; then
    status=1
    echo "!! atheris reported a finding: see $build/atheris.log and $findings/"
  fi
  grep -E "^stat::|Done [0-9]+ runs" "$build/atheris.log" || true
  echo "corpus: $(find "$corpus" -type f | wc -l) inputs"
fi
exit "$status"
