#!/usr/bin/env bash
# Benchmark `vigie hunt` on the EVTX attack samples repeated to >= 1 GB,
# beside Vigie's own parse-only pass over the same files.
#
#   scripts/bench-hunt.sh [BENCH_DIR]
#
# Needs: a release build (cargo build --release), GNU time (/usr/bin/time,
# Debian package `time`) for peak memory, and $VIGIE_CORPUS (default
# ../shared/corpus). The corpus copy is built once in BENCH_DIR (default
# /tmp/vigie-bench); nothing is written into the repository.
#
# Peers measured in the same run, when given (binaries you obtained
# yourself; see docs/benchmarks.md):
#   HAYABUSA=/path/to/hayabusa HAYABUSA_RULES=/path/to/hayabusa-rules/
#   RSIGMA=/path/to/rsigma
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
corpus=${VIGIE_CORPUS:-$root/../shared/corpus}
bench=${1:-/tmp/vigie-bench}
vigie=${VIGIE:-$root/target/release/vigie}
target_bytes=$((1024 * 1024 * 1024))

[ -x "$vigie" ] || { echo "build first: cargo build --release" >&2; exit 2; }
[ -d "$corpus/evtx-attack-samples" ] || { echo "corpus not found at $corpus" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "needs GNU time: apt-get install time" >&2; exit 2; }

mkdir -p "$bench/evtx"
size() { du -sbL "$bench/evtx" | cut -f1; }
i=0
while [ "$(size)" -lt "$target_bytes" ]; do
    i=$((i + 1))
    [ -d "$bench/evtx/copy-$i" ] || cp -r "$corpus/evtx-attack-samples" "$bench/evtx/copy-$i"
done
echo "corpus: $(du -shL --apparent-size "$bench/evtx" | cut -f1) in $(find -L "$bench/evtx" -name '*.evtx' | wc -l) EVTX files"

rules=(--rules "$corpus/sigma/rules/windows" --rules "$corpus/sigma/rules-emerging-threats" --rules "$corpus/sigma/rules-threat-hunting")

measure() { # name, command...
    local name=$1; shift
    local log=$bench/$name.time
    /usr/bin/time -v "$@" >"$bench/$name.out" 2>"$log" || true
    local wall rss cpu
    wall=$(grep 'Elapsed (wall clock)' "$log" | awk '{print $NF}')
    rss=$(grep 'Maximum resident set size' "$log" | awk '{print $NF}')
    # CPU time (user + system): steadier than wall time on a shared machine.
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$log")
    printf '%-14s wall %-10s cpu %7ss  peak RSS %6d MiB\n' "$name" "$wall" "$cpu" $((rss / 1024))
}

measure vigie-parse "$vigie" hunt --no-rules --quiet "$bench/evtx"
# The default rule set (Vigie's pack + the vetted SigmaHQ snapshot), the
# previous default (the pack alone) and the full SigmaHQ Windows set, in the
# same run.
measure vigie-default "$vigie" hunt --output "$bench/default.jsonl" "$bench/evtx"
grep -E '^Time|^Rules|^Detections' "$bench/vigie-default.out" || true
measure vigie-pack "$vigie" hunt --no-sigmahq --output "$bench/pack.jsonl" "$bench/evtx"
grep -E '^Time|^Rules|^Detections' "$bench/vigie-pack.out" || true
measure vigie-hunt "$vigie" hunt --no-builtin --no-sigmahq "${rules[@]}" --output "$bench/vigie.jsonl" "$bench/evtx"
grep -E '^Read|^Time|^Rules|^Detections' "$bench/vigie-hunt.out" || true
if [ -n "${HAYABUSA:-}" ]; then
    # HAYABUSA_RULES: a hayabusa-rules checkout (holds config/); -w: no wizard, default rule set.
    measure hayabusa "$HAYABUSA" dfir-timeline -d "$bench/evtx" -o "$bench/hayabusa.csv" \
        -r "$HAYABUSA_RULES" -c "$HAYABUSA_RULES/config" -w -q -C -K
    echo "  hayabusa detections: $(($(wc -l <"$bench/hayabusa.csv") - 1))"
fi
if [ -n "${RSIGMA:-}" ]; then
    # rsigma's backtest takes one rule path, and matches SigmaHQ field names
    # only once records are flattened (EventData + System names).
    mkdir -p "$bench/sigma-windows"
    for d in rules/windows rules-emerging-threats rules-threat-hunting; do
        ln -sfn "$corpus/sigma/$d" "$bench/sigma-windows/$(basename "$d")"
    done
    flatten='.Event
| ((.EventData // {}) | if type == "object" then del(."#attributes") else {} end)
  + ((.UserData // {}) | if type == "object" then ([.[] | select(type == "object")] | add // {}) else {} end)
  + {EventID: (.System.EventID | if type == "object" then ."#text" else . end),
     Channel: .System.Channel, Computer: .System.Computer,
     Provider_Name: .System.Provider."#attributes".Name}'
    measure rsigma "$RSIGMA" rule backtest -r "$bench/sigma-windows" --corpus "$bench/evtx" \
        --jq "$flatten" --output-format json --report "$bench/rsigma.json"
    python3 -c "import json,sys; print('  rsigma detections:', sum(r.get('fires',0) for r in json.load(open(sys.argv[1]))['rules']))" "$bench/rsigma.json" || true
fi
