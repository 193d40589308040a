#!/bin/bash
# Issue W2-G's "CPU of a 1× replay on screen": the real binary replays the spot capture at 1× from
# two minutes in, on a real terminal (a tmux pane of W×H), and the CPU time of each of its threads
# is read from /proc over S seconds (after 8 s to settle), as % of one core.
#
#   cargo build --release && benches/scripts/replay_cpu.sh target/release/microstate-tui 20
#
# Usage: replay_cpu.sh BIN [SECONDS=20] [W=120] [H=40]; EXTRA="--config F" adds arguments.
# Needs tmux and ../shared/data. CPU time depends on what else runs: give the load average with it.
set -eu
BIN=$(realpath "$1"); S=${2:-20}; W=${3:-120}; H=${4:-40}
DATA=$(cd "$(dirname "$0")/../../../shared/data" && pwd)
SESSION=replay-cpu-$$
tmux new -d -s "$SESSION" -x "$W" -y "$H" \
  "$BIN replay $DATA/binance-spot/btcusdt_20240808.gz --speed 1 --from +2m ${EXTRA:-}"
trap 'tmux kill-session -t "$SESSION" 2>/dev/null' EXIT
sleep 8
PID=$(tmux list-panes -t "$SESSION" -F '#{pane_pid}')
snap() { for t in /proc/"$PID"/task/*; do echo "$(basename "$t") $(tr ' ' '_' < "$t/comm") $(awk '{print $14, $15}' "$t/stat")"; done | sort; }
A=$(snap); T0=$(date +%s.%N)
sleep "$S"
B=$(snap); T1=$(date +%s.%N)
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
join <(echo "$A") <(echo "$B") | awk -v tk="$(getconf CLK_TCK)" -v dt="$(echo "$T1 - $T0" | bc)" '
  { u = $6 - $3; s = $7 - $4; tu += u; ts += s
    printf "%-16s user %5.2f %%  sys %5.2f %%\n", $2, u / tk / dt * 100, s / tk / dt * 100 }
  END { printf "whole process    %5.2f %% of one core (user %.2f, sys %.2f) over %.1f s\n",
        (tu + ts) / tk / dt * 100, tu / tk / dt * 100, ts / tk / dt * 100, dt }'
