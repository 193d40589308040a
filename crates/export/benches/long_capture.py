"""Usage (from the project root): python3 crates/export/benches/long_capture.py COPIES OUT.gz

Writes COPIES back-to-back copies of the spot BTCUSDT capture as one hftbacktest gzip file:
copy k has its receive/event/trade times shifted by k x the capture's span and its update/trade
ids by k x their span, so the update-id chain continues (no gap: the book stays synced, though
crossed at times, as levels of one copy outlive it); the REST
snapshot appears only in copy 0. A long, valid input for memory measurements."""
import gzip, re, sys
copies, out = int(sys.argv[1]), sys.argv[2]
src = ['../shared/data/binance-spot/btcusdt_20240808.gz', '../shared/data/binance-spot/btcusdt_20240809.gz']
lines = []
for f in src:
    with gzip.open(f, 'rt') as g:
        lines.extend(l.rstrip('\n') for l in g if l.strip())
recv = [int(l.split(' ', 1)[0]) for l in lines]
us = [int(x) for l in lines for x in re.findall(r'"[Uu]":(\d+)', l)]
ts = [int(x) for l in lines for x in re.findall(r'"t":(\d+)', l)]
span_ns = max(recv) - min(recv) + 100_000_000
span_ms = span_ns // 1_000_000
span_u = max(us) - min(us) + 1
span_t = max(ts) - min(ts) + 1
pat = re.compile(r'"(E|T|U|u|t)":(\d+)')
with gzip.open(out, 'wt', compresslevel=1) as o:
    for k in range(copies):
        add = {'E': k * span_ms, 'T': k * span_ms, 'U': k * span_u, 'u': k * span_u, 't': k * span_t}
        for l, r in zip(lines, recv):
            rest = l.split(' ', 1)[1]
            if k and rest.startswith('{"lastUpdateId"'):
                continue
            if k:
                rest = pat.sub(lambda m: '"%s":%d' % (m.group(1), int(m.group(2)) + add[m.group(1)]), rest)
            o.write('%d %s\n' % (r + k * span_ns, rest))
