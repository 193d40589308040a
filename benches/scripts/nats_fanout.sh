#!/bin/bash
# NATS figures of issue 16 on loopback: a collector on the local exchange (the real spot capture
# at SPEED) publishing to a fresh nats-server, one consumer reading along (messages/s, collector
# receive → consumer book applied p50/p99), then one consumer replaying the stream from its start
# (messages/s).
#
#   cargo build --release && benches/scripts/nats_fanout.sh target/release/microstate-tui max 40
#
# Usage: nats_fanout.sh BIN SPEED DURATION_S   (everything runs on this machine: say how loaded)
set -u
BIN=$1; SPEED=$2; D=$3
CAPTURE=${CAPTURE:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/data/binance-spot/btcusdt_20240808.gz}
OUT=${OUT:-$(mktemp -d /tmp/nats-fanout.XXXX)}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=nats://127.0.0.1:$PORT
nats-server -js -sd "$OUT/store" -a 127.0.0.1 -p "$PORT" > "$OUT/nats.log" 2>&1 &
NS=$!
$BIN exchange --capture "$CAPTURE" --speed "$SPEED" > "$OUT/ex.txt" 2> "$OUT/ex.err" &
EX=$!
trap 'kill $EX $NS 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q . "$OUT/ex.txt" 2>/dev/null && break; sleep 0.2; done
addr=$(head -1 "$OUT/ex.txt" | grep -oE '127\.0\.0\.1:[0-9]+' | head -1)
stamp() { while IFS= read -r l; do echo "$(date +%s.%N) $l"; done; }
# The consumer first (it waits for the stream), then the collector.
$BIN live btcusdt --source "$URL" --from start --headless --duration "$((D + 5))s" \
  --summary-json "$OUT/along.json" 2>&1 >/dev/null | stamp > "$OUT/along.err" &
CA=$!
sleep 1
$BIN live btcusdt --ws-endpoint "ws://$addr" --rest-endpoint "http://$addr" --publish "$URL" \
  --headless --duration "${D}s" --summary-json "$OUT/collector.json" 2> "$OUT/collector.err" > /dev/null
wait $CA
$BIN live btcusdt --source "$URL" --from start --headless --duration "${D}s" \
  --summary-json "$OUT/replay.json" 2>&1 >/dev/null | stamp > "$OUT/replay.err"
python3 - "$OUT" "$SPEED" <<'PY'
import json, re, sys
out, speed = sys.argv[1], sys.argv[2]
def rate(path):
    # "read N messages, at stream sequence S" once a second: messages/s while it was catching up.
    pts = [(float(l.split()[0]), int(m.group(1))) for l in open(path)
           if (m := re.search(r'read (\d+) messages, at stream sequence', l))]
    moving = [p for i, p in enumerate(pts) if i == 0 or p[1] > pts[i - 1][1]]
    if len(moving) < 2:
        return None, (pts[-1][1] if pts else 0)
    (t0, n0), (t1, n1) = moving[0], moving[-1]
    return (n1 - n0) / (t1 - t0), n1
c = json.load(open(f'{out}/collector.json'))['live']
p = c.get('bus', {}).get('published', {})
a = json.load(open(f'{out}/along.json'))['bus']['consumed']
r = json.load(open(f'{out}/replay.json'))['bus']['consumed']
ra, _ = rate(f'{out}/along.err')
rr, _ = rate(f'{out}/replay.err')
lat = a['receive_to_applied_ns']
print(f"speed={speed} collector: frames={c['frames_received']} published={p.get('published')} "
      f"dropped={p.get('dropped')} errors={p.get('errors')}")
print(f"  consumer along: messages={a['messages']} rate_msgs_per_s={ra and round(ra)} "
      f"receive->applied p50={lat['p50']/1e6:.3f} ms p99={lat['p99']/1e6:.3f} ms max={lat['max']/1e6:.3f} ms over {lat['count']}")
print(f"  consumer replaying from the start: messages={r['messages']} rate_msgs_per_s={rr and round(rr)} ({out})")
PY
