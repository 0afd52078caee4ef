"""A run's per-iteration table in Markdown, from its metrics.jsonl (what the docs show).

    python scripts/run_table.py RUN_DIR
"""

import argparse
import os

from plot_curve import read_rows


def pct(x):
    return "-" if x is None else f"{100 * x:.1f}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    a = ap.parse_args()
    rows = read_rows(a.run_dir)
    refs = sorted({k for r in rows for k in r.get("reference", {})})
    head = (["iter", "positions", "train loss (value / policy)", "val loss", "arena vs best",
             "promoted"] + [f"vs {k}" for k in refs]
            + ["policy mistakes", "search mistakes", "Elo", "s"])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        t, v, ar = r["train"], r["val"], r["arena"]
        cells = [r["iteration"], f"{r['selfplay']['positions']:,}",
                 f"{t['total']:.3f} ({t['value']:.3f} / {t['policy']:.3f})",
                 f"{v['total']:.3f}" if v else "n/a",
                 f"W{ar['wins']} D{ar['draws']} L{ar['losses']}",
                 "yes" if ar["promoted"] else "no"]
        cells += [f"{100 * r['reference'][k]['score']:.0f}%" if k in r.get("reference", {})
                  else "-" for k in refs]
        cells += [pct(r.get("policy_mistakes")), pct(r.get("search_mistakes")),
                  r.get("elo_text", "-"), f"{r['seconds']:.0f}"]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    total = sum(r["seconds"] for r in rows)
    print(f"\n{len(rows)} iterations, {sum(r['selfplay']['positions'] for r in rows):,} "
          f"self-play positions, {total / 60:.1f} minutes ({os.path.basename(a.run_dir)})")


if __name__ == "__main__":
    main()
