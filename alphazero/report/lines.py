"""The console's words for a run: an iteration's one-line summary, a rate with its interval,
a duration."""

from __future__ import annotations

from alphazero.core.ratings import wilson


def rate(rate: float | None, n: int | None) -> str:
    """``4.2% [3.2%, 5.5%]``: a share of ``n`` with its 95% Wilson interval, or n/a."""
    if rate is None or not n:
        return "n/a"
    lo, hi = wilson(rate * n, n)
    return f"{rate:.1%} [{lo:.1%}, {hi:.1%}]"


def duration(s: float) -> str:
    """``4m05s`` under an hour, ``2h07m`` above."""
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def summary_line(row: dict, total: int) -> str:
    """One line per iteration (a metrics.jsonl row), strength first: the best net's mistakes
    on solver-labelled positions (raw policy, search) with 95% intervals and its fitted Elo."""
    t, v, a = row["train"], row["val"], row["arena"]
    refs = " ".join(f"{k} {r['score']:.0%}" for k, r in row.get("reference", {}).items())
    val = (f"val {v['total']:.3f}" if v else "val n/a (no game held out)")
    if row.get("val_unseen"):
        val += f" unseen {row['val_unseen']['total']:.3f} ({row['val_unseen_share']:.0%})"
    strength = ""
    if row.get("policy_mistakes") is not None:
        policy = rate(row["policy_mistakes"], row.get("policy_positions"))
        search = rate(row.get("search_mistakes"), row.get("search_positions"))
        strength = f" | mistakes: policy {policy}, search {search}"
    return (f"iter {row['iteration']}/{total}{strength} | Elo {row.get('elo_text', 'n/a')}"
            f" | {row['selfplay']['positions']} positions "
            f"({row['selfplay']['positions_per_s']:.0f}/s) | loss {t['total']:.3f} "
            f"(v {t['value']:.3f} p {t['policy']:.3f}"
            + (f" reply {t['reply']:.3f}" if "reply" in t else "") + f") {val}"
            f" | arena W{a['wins']}/D{a['draws']}/L{a['losses']} "
            f"{'promoted' if a['promoted'] else 'kept best'}"
            + (f" | vs {refs}" if refs else ""))
