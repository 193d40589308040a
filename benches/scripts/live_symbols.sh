#!/bin/bash
# Part 1 figures of issue 16: a live client against the local exchange's synthetic market at 1×,
# N symbols, default config: time to all synced, max RSS, CPU (% of one core over the last 60 s).
#
#   cargo build --release && benches/scripts/live_symbols.sh target/release/microstate-tui 100 80
#
# Usage: live_symbols.sh BIN N DURATION_S [CLIENT_QUEUE]   (prints one line of figures; the
# exchange runs in the same binary, so it competes for the same cores: say so with the figures)
set -u
BIN=$1; N=$2; D=$3; CQ=${4:-4096}
OUT=${OUT:-$(mktemp -d /tmp/live-symbols.XXXX)}
syms=$(python3 -c "print(','.join('S%03dUSDT'%i for i in range($N)))")
lsyms=$(python3 -c "print(' '.join('s%03dusdt'%i for i in range($N)))")
$BIN exchange --synthetic --symbols "$syms" --seed 7 --speed 1 --client-queue "$CQ" > "$OUT/ex.txt" 2> "$OUT/ex.err" &
EX=$!
trap 'kill $EX 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q . "$OUT/ex.txt" 2>/dev/null && break; sleep 0.2; done
addr=$(head -1 "$OUT/ex.txt" | grep -oE '127\.0\.0\.1:[0-9]+' | head -1)
# shellcheck disable=SC2086
$BIN live $lsyms --ws-endpoint "ws://$addr" --rest-endpoint "http://$addr" --duration "${D}s" \
  --headless --summary-json "$OUT/sum.json" 2> "$OUT/live.err" > /dev/null &
LV=$!
: > "$OUT/samples.txt"
while kill -0 $LV 2>/dev/null; do
  if [ -r /proc/$LV/stat ]; then
    t=$(awk '{print $14+$15}' /proc/$LV/stat 2>/dev/null); r=$(awk '/VmRSS/{print $2}' /proc/$LV/status 2>/dev/null)
    echo "$(date +%s.%N) $t $r" >> "$OUT/samples.txt"
  fi
  sleep 1
done
wait $LV
python3 - "$OUT" "$N" "$(getconf CLK_TCK)" <<'PY'
import json, sys
out, n, hz = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = json.load(open(f'{out}/sum.json'))
l = s['live']
rows = [x.split() for x in open(f'{out}/samples.txt') if len(x.split()) == 3]
a, b = rows[max(0, len(rows) - 61)], rows[-1]
cpu = (float(b[1]) - float(a[1])) / hz / (float(b[0]) - float(a[0])) * 100
rss = max(int(r[2]) for r in rows) / 1024
synced = sum(1 for x in s['symbols'] if x['state'] == 'synced')
drops = sum(c['disconnects'] for c in l['connections'])
print(f"N={n} time_to_all_synced_s={l['time_to_all_synced_s']} synced_end={synced}/{len(s['symbols'])} "
      f"snapshots={l['snapshots_ok']}/{l['snapshot_requests']} budget_waits={l['snapshot_budget_waits']} "
      f"429={l['rest_429']} drops={drops} maxRSS_MB={rss:.1f} cpu_pct_last60s={cpu:.1f} "
      f"cpu_pct_per_10_symbols={cpu * 10 / int(n):.2f} frames={l['frames_received']} ({out})")
PY
