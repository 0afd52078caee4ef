"""How fast `alphazero serve` answers: /api/think at a few simulation counts with the shipped
net, through the real app and HTTP stack (Starlette's test client, in one process).

    cd scripts && python bench_serve.py [--sims 0,50,200,800] [--positions 40]

Each request is a different Pons position (so the search's tree and the cache start cold, as
when a person plays a new move); one warm-up request first. Prints one JSON object: per
simulation count, the median, 90th percentile and largest reply time in milliseconds. Run it
alone: two cores shared with anything else measure the other thing.
"""

import argparse
import json
import statistics
import time
import warnings

from alphazero.apps.serve import Limits, build
from alphazero.core.config import Config
from alphazero.nn.checkpoint import default_path
from alphazero.rules.positions import PONS, load_positions, path_of

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sims", default="0,50,200,800")
    ap.add_argument("--positions", type=int, default=40)
    args = ap.parse_args()
    positions = [p.moves for p in load_positions(path_of(PONS))][::6000 // args.positions]
    app = build(default_path(), None, Limits(max_sims=1600, searches=1), Config())
    out = {}
    with TestClient(app) as client:
        backend = client.get("/api/info").json()["backend"]
        client.get("/api/think", params={"moves": "4", "sims": 200})  # warm-up
        for sims in map(int, args.sims.split(",")):
            times = []
            for moves in positions:
                t0 = time.perf_counter()
                res = client.get("/api/think", params={"moves": moves, "sims": sims})
                times.append(1000 * (time.perf_counter() - t0))
                assert res.status_code == 200, res.text
            times.sort()
            out[f"sims_{sims}"] = {"median_ms": round(statistics.median(times), 1),
                                   "p90_ms": round(times[int(0.9 * len(times))], 1),
                                   "max_ms": round(times[-1], 1)}
    print(json.dumps({"positions": len(positions), "backend": backend, **out}))


if __name__ == "__main__":
    main()
