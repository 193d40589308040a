"""The exported Parquet folder read by the engines users use: DuckDB and Polars.

Run by .ci/run (inside a virtual environment with duckdb and polars):
    python tests/python/export_engines.py BINARY DATA_DIR WORK_DIR

Exports the real spot capture with the real binary, then checks with both engines that the
trade count equals the replay summary's and that the last book row is the summary's final book
(the golden values the Rust tests hold against an independent rebuild), and runs the README's
one-liners (mid-price returns, trades joined to the book). Any mismatch exits non-zero.
"""

import json
import shutil
import subprocess
import sys
import warnings
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl


def main() -> int:
    binary, data, work = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    files = [data / "binance-spot" / "btcusdt_20240808.gz", data / "binance-spot" / "btcusdt_20240809.gz"]
    out = work / "parquet"
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([binary, "export", *files, "--out", out], check=True)
    summary = json.loads(
        subprocess.run(
            [binary, "replay", *files, "--headless", "--summary-json", "-"],
            check=True,
            capture_output=True,
        ).stdout
    )
    sym = summary["symbols"][0]
    want_trades = sym["trades"]
    final = sym["final"]
    assert want_trades == 19_904, want_trades
    assert final["last_update_id"] == 50_093_696_318, final["last_update_id"]
    failures = []
    # join_asof by symbol cannot check sortedness; both sides are sorted here.
    warnings.filterwarnings("ignore", message="Sortedness")

    def check(engine, what, got, want):
        ok = got == want
        print(f"{engine:7} {what:36} {'ok' if ok else 'MISMATCH'}: {got!r}" + ("" if ok else f" (want {want!r})"))
        if not ok:
            failures.append(f"{engine} {what}")

    def book_levels(row):
        return {
            side: [
                [Decimal(row[f"{side[:3]}_px_{k}"]), Decimal(row[f"{side[:3]}_qty_{k}"])]
                for k in range(1, len(final[side]) + 1)
            ]
            for side in ("bids", "asks")
        }

    want_levels = {side: [[Decimal(p), Decimal(q)] for p, q in final[side]] for side in ("bids", "asks")}

    # DuckDB
    book = f"read_parquet('{out}/book/*/*/*.parquet', hive_partitioning = true)"
    trades = f"read_parquet('{out}/trades/*/*/*.parquet', hive_partitioning = true)"
    con = duckdb.connect()
    n = con.sql(f"SELECT count(*) FROM {trades} WHERE symbol = 'BTCUSDT'").fetchall()[0][0]
    check("duckdb", "trades", n, want_trades)
    rel = con.sql(f"SELECT * FROM {book} WHERE symbol = 'BTCUSDT' ORDER BY ts_ns DESC, last_update_id DESC LIMIT 1")
    row = dict(zip(rel.columns, rel.fetchall()[0]))
    check("duckdb", "final book last_update_id", row["last_update_id"], final["last_update_id"])
    check("duckdb", "final book, 10 levels a side", book_levels(row), want_levels)
    check("duckdb", "price type", str(con.sql(f"SELECT bid_px_1 FROM {book} LIMIT 1").types[0]), "DECIMAL(18,8)")
    # README: mid-price returns.
    rets = con.sql(f"""
        SELECT symbol, ts_ns, mid, mid / lag(mid) OVER (PARTITION BY symbol ORDER BY ts_ns) - 1 AS ret
        FROM (SELECT symbol, ts_ns, (bid_px_1 + ask_px_1)::DOUBLE / 2 AS mid FROM {book})
        ORDER BY symbol, ts_ns""").fetchall()
    check("duckdb", "mid-price returns: one per book row", len(rets), con.sql(f"SELECT count(*) FROM {book}").fetchall()[0][0])
    check("duckdb", "mid-price returns: finite", all(r[3] is None or abs(r[3]) < 0.01 for r in rets), True)
    # README: every trade with the book as it stood (ASOF join on event time).
    joined = con.sql(f"""
        SELECT t.ts_ns, t.price, t.taker_side, b.bid_px_1, b.ask_px_1
        FROM {trades} t ASOF JOIN {book} b ON t.symbol = b.symbol AND t.ts_ns >= b.ts_ns""").fetchall()
    # The inner ASOF join keeps every trade from the first book row on.
    after = con.sql(f"SELECT count(*) FROM {trades} WHERE ts_ns >= (SELECT min(ts_ns) FROM {book})").fetchall()[0][0]
    check("duckdb", "trades joined to the book", len(joined), after)
    check("duckdb", "joined rows carry the touch", all(bid < ask for _, _, _, bid, ask in joined), True)

    # Polars
    book_scan = pl.scan_parquet(f"{out}/book/**/*.parquet", hive_partitioning=True)
    trades_scan = pl.scan_parquet(f"{out}/trades/**/*.parquet", hive_partitioning=True)
    n = trades_scan.filter(pl.col("symbol") == "BTCUSDT").select(pl.len()).collect().item()
    check("polars", "trades", n, want_trades)
    last = book_scan.sort("ts_ns", "last_update_id").tail(1).collect().row(0, named=True)
    check("polars", "final book last_update_id", last["last_update_id"], final["last_update_id"])
    check("polars", "final book, 10 levels a side", book_levels(last), want_levels)
    check("polars", "price type", str(book_scan.collect_schema()["bid_px_1"]), str(pl.Decimal(18, 8)))
    # README: mid-price returns.
    rets = (
        book_scan.with_columns(mid=(pl.col("bid_px_1").cast(pl.Float64) + pl.col("ask_px_1").cast(pl.Float64)) / 2)
        .with_columns(ret=pl.col("mid").pct_change().over("symbol"))
        .collect()
    )
    check("polars", "mid-price returns: one per book row", rets.height, book_scan.select(pl.len()).collect().item())
    # README: trades joined to the book.
    joined = trades_scan.sort("ts_ns").join_asof(
        book_scan.select("symbol", "ts_ns", "bid_px_1", "ask_px_1").sort("ts_ns"), on="ts_ns", by="symbol"
    ).collect()
    check("polars", "trades joined to the book", joined.height, want_trades)
    check("polars", "joined rows with a book", joined.filter(pl.col("bid_px_1").is_not_null()).height > 0.99 * want_trades, True)

    if failures:
        print("FAILED: " + ", ".join(failures))
        return 1
    print("duckdb and polars read the export: counts and the final book match")
    return 0


if __name__ == "__main__":
    sys.exit(main())
