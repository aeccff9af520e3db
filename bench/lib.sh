# Shared by the bench/*.sh scripts (sourced, not run).
# shellcheck shell=bash

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")
DATA="$BENCH/data"
mkdir -p "$DATA"

say() { echo "[bench] $*" >&2; }
die() {
    echo "[bench] ERROR: $*" >&2
    exit 1
}
now() { date +%s.%N; }
# Float arithmetic and formatting: calc '1/3' -> 0.333...
calc() { python3 -c "print($*)"; }
fmt() { python3 -c "import sys; print(format(float(sys.argv[1]), sys.argv[2]))" "$1" "$2"; }

# Processes this script started, killed (by PID) on exit.
STARTED_PIDS=()
cleanup_started() {
    local pid
    for pid in "${STARTED_PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]:-}"; do
        [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
    done
}
trap cleanup_started EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # PORT [SECONDS]
    local deadline=$((SECONDS + ${2:-30}))
    until python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),1)" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || die "nothing listens on port $1"
        sleep 0.2
    done
}

machine_line() {
    local cpu
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
    echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($cpu), $(free -g | awk '/Mem:/{print $2}') GB RAM, $(uname -r)"
}

# Builds ctverify and the trail generator (release), retrying while the tree does not build
# (someone may be mid-change), then copies the binaries to bench/data/bin so a rebuild during
# the run cannot swap them.
build_release() {
    local tries=${BUILD_TRIES:-10} i
    for ((i = 1; i <= tries; i++)); do
        if (cd "$ROOT" && cargo build --release --bin ctverify --example synth_trail >"$DATA/build.log" 2>&1); then
            mkdir -p "$DATA/bin"
            cp "$ROOT/target/release/ctverify" "$DATA/bin/ctverify.new" && mv "$DATA/bin/ctverify.new" "$DATA/bin/ctverify"
            cp "$ROOT/target/release/examples/synth_trail" "$DATA/bin/synth_trail.new" && mv "$DATA/bin/synth_trail.new" "$DATA/bin/synth_trail"
            CTVERIFY="${CTVERIFY_BIN:-$DATA/bin/ctverify}"
            SYNTH="$DATA/bin/synth_trail"
            local rev
            rev=$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
            if [ -n "$(cd "$ROOT" && git status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]; then
                rev="$rev+uncommitted"
            fi
            CTVERIFY_REV=$rev
            say "ctverify built (commit $rev): $CTVERIFY"
            return 0
        fi
        say "cargo build --release failed (attempt $i/$tries, see $DATA/build.log); retrying in 60 s"
        tail -5 "$DATA/build.log" >&2
        [ "$i" -lt "$tries" ] && sleep 60
    done
    die "cannot build ctverify"
}

# ensure_tool BINARY DEBIAN_PACKAGE: true when BINARY is on PATH, installing the package with
# apt-get when possible; false (with a message) otherwise.
ensure_tool() {
    local bin=$1 pkg=$2 sudo=""
    command -v "$bin" >/dev/null 2>&1 && return 0
    if ! command -v apt-get >/dev/null 2>&1; then
        say "$bin not found and no apt-get: install $pkg yourself for this measurement"
        return 1
    fi
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo="sudo -n"
        else
            say "$bin not found; not root and no passwordless sudo: apt-get install $pkg"
            return 1
        fi
    fi
    say "installing $pkg (apt-get) for $bin"
    if ! $sudo apt-get install -y -q "$pkg" >"$DATA/apt-$pkg.log" 2>&1; then
        $sudo apt-get update -q >/dev/null 2>&1 || true
        $sudo apt-get install -y -q "$pkg" >"$DATA/apt-$pkg.log" 2>&1 || true
    fi
    command -v "$bin" >/dev/null 2>&1 && return 0
    say "could not install $pkg (see $DATA/apt-$pkg.log)"
    return 1
}

# bench/.venv: the AWS CLI v1 from PyPI (it carries its own botocore).
ensure_awscli() {
    local venv="$BENCH/.venv"
    if [ ! -x "$venv/bin/aws" ]; then
        say "creating $venv with awscli (PyPI)"
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check awscli
    fi
    AWS="$venv/bin/aws"
    BENCH_PYTHON="$venv/bin/python"
    AWSCLI_VERSION=$("$AWS" --version 2>&1)
}

# moto_server: the test suite's .venv (scripts/test builds it), else installed into bench/.venv.
# Either way bench/.venv (BENCH_PYTHON) is there for the upload script.
ensure_moto() {
    ensure_awscli
    if [ -x "$ROOT/.venv/bin/moto_server" ]; then
        MOTO_SERVER="$ROOT/.venv/bin/moto_server"
    else
        ensure_awscli
        if [ ! -x "$BENCH/.venv/bin/moto_server" ]; then
            say "installing moto[server] into bench/.venv"
            "$BENCH/.venv/bin/python" -m pip install --quiet --disable-pip-version-check 'moto[server]>=5'
        fi
        MOTO_SERVER="$BENCH/.venv/bin/moto_server"
    fi
}

# gen_trail NAME SYNTH_ARGS...: bench/data/NAME, generated unless an identical earlier run
# left it (FORCE_REGEN=1 regenerates). Sets TRAIL_DIR and TRAIL_SUMMARY (the generator's JSON).
gen_trail() {
    local name=$1
    shift
    TRAIL_DIR="$DATA/$name"
    TRAIL_SUMMARY="$DATA/$name.summary.json"
    local want="$*"
    if [ "${FORCE_REGEN:-0}" != 1 ] && [ -f "$TRAIL_SUMMARY" ] && [ -f "$DATA/$name.args" ] &&
        [ "$(cat "$DATA/$name.args")" = "$want" ] && [ -f "$TRAIL_DIR/.ctverify/bundle.json" ]; then
        say "reusing $TRAIL_DIR ($want)"
        return 0
    fi
    rm -f "$TRAIL_SUMMARY" "$DATA/$name.args"
    say "generating $TRAIL_DIR: synth_trail $want"
    local t0
    t0=$(now)
    (cd "$ROOT" && "$SYNTH" --out "$TRAIL_DIR" "$@") >"$TRAIL_SUMMARY" || die "synth_trail failed"
    echo "$want" >"$DATA/$name.args"
    say "generated in $(fmt "$(calc "$(now) - $t0")" .1f) s"
}

# summary_field FIELD: a field of the generator's summary.
summary_field() {
    python3 -c "import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v if not isinstance(v,list) else ' '.join(map(str,v)))" "$TRAIL_SUMMARY" "$1"
}

# verdict VALUE OP TARGET: "met" or "NOT met".
verdict() {
    if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) $2 float(sys.argv[2]) else 1)" "$1" "$3"; then
        echo "met"
    else
        echo "NOT met"
    fi
}

# Warns when something else keeps the CPUs busy (the figures would then measure a shared
# machine): samples /proc/stat for a second and names the busiest processes.
check_idle() {
    local busy
    busy=$(python3 - <<'PY'
import time
def snap():
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v), v[3] + v[4]
t0, i0 = snap(); time.sleep(1); t1, i1 = snap()
print(round(100 * (1 - (i1 - i0) / max(1, t1 - t0))))
PY
)
    if [ "$busy" -gt 15 ]; then
        say "WARNING: the machine is ${busy}% busy before the benchmark starts; figures will be low and noisy:"
        ps -eo pid,pcpu,etime,comm --sort=-pcpu | sed -n 2,4p | sed 's/^/[bench]     /' >&2
        BUSY_NOTE="(machine ${busy}% busy at start)"
    else
        BUSY_NOTE=""
    fi
}

# CPU seconds (user + system) a process has used so far.
proc_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f\n", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
