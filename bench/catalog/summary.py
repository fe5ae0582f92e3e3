"""Summarise a bench/catalog run: AgentHub and the peer side by side, and the targets.

Reads the JSON files that the peer's loadtest.py wrote (--json-out): agenthub-small.json,
peer-small.json and agenthub-big.json in --dir. Standard library only.
"""

import argparse
import json
import os
import sys

ENDPOINTS = ("list", "detail", "search")
P95_LIMIT_MS = 200.0
SEARCH_RATIO_LIMIT = 2.0


def load(directory: str, label: str) -> dict:
    path = os.path.join(directory, f"{label}.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {row["name"]: row for row in json.load(f)["results"]}


def ms(row: dict | None, key: str) -> str:
    return f"{row[key] / 1000:.1f}" if row else "-"


def rps(row: dict | None) -> str:
    return f"{row['rps']:.0f}" if row else "-"


def bad(row: dict | None) -> str:
    if not row:
        return "-"
    return f"{row['non2xx']}/{row['errors']}"


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]

    def line(cells):
        return "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(cells))

    return [line(head), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--small", type=int, default=10000)
    ap.add_argument("--big", type=int, default=100000)
    ap.add_argument("--config", action="append", default=[], help="key=value lines printed in the header")
    a = ap.parse_args()

    hub, peer, big = load(a.dir, "agenthub-small"), load(a.dir, "peer-small"), load(a.dir, "agenthub-big")
    out = [f"AgentHub catalog benchmark ({a.small:,} agents; search also at {a.big:,})"]
    out += [f"  {item}" for item in a.config]
    out.append("")
    head = ["endpoint", "AH req/s", "AH p50", "AH p95", "AH p99", "AH bad",
            "peer req/s", "peer p50", "peer p95", "peer p99", "peer bad", "AH/peer req/s"]
    rows = []
    for name in ENDPOINTS:
        h, p = hub.get(name), peer.get(name)
        ratio = f"{h['rps'] / p['rps']:.2f}" if h and p and p["rps"] else "-"
        rows.append([name, rps(h), ms(h, "p50_us"), ms(h, "p95_us"), ms(h, "p99_us"), bad(h),
                     rps(p), ms(p, "p50_us"), ms(p, "p95_us"), ms(p, "p99_us"), bad(p), ratio])
    out += table(head, rows)
    out.append("  (latencies in ms; 'bad' = non-2xx responses / socket errors (incl. timeouts) over all rounds;"
               " a request slower than wrk's timeout is not in the percentiles)")
    if big:
        out.append("")
        out.append(f"AgentHub at {a.big:,} agents")
        rows = [[name, rps(big[name]), ms(big[name], "p50_us"), ms(big[name], "p95_us"), ms(big[name], "p99_us"),
                 bad(big[name]),
                 f"{big[name]['p95_us'] / hub[name]['p95_us']:.2f}" if name in hub and hub[name]["p95_us"] else "-"]
                for name in ENDPOINTS if name in big]
        out += table(["endpoint", "req/s", "p50", "p95", "p99", "bad", f"p95 / p95 at {a.small:,}"], rows)

    out.append("")
    out.append("Targets")
    timeout_note = "wrk"  # loadtest.py's --timeout (5 s by default): slower requests count as socket errors
    verdicts = []

    def target(text: str, ok: bool | None, figure: str) -> None:
        mark = "n/a " if ok is None else ("PASS" if ok else "FAIL")
        verdicts.append(ok)
        out.append(f"  [{mark}] {text}: {figure}")

    for name in ENDPOINTS:
        h = hub.get(name)
        if h and not h["requests"]:
            target(f"{name} p95 < {P95_LIMIT_MS:.0f} ms at 64 connections (all 2xx)", False,
                   f"no request completed within the {timeout_note} timeout ({bad(h)} bad)")
            continue
        clean = bool(h) and h["non2xx"] == 0 and h["errors"] == 0
        target(f"{name} p95 < {P95_LIMIT_MS:.0f} ms at 64 connections (all 2xx)",
               (h["p95_us"] / 1000 < P95_LIMIT_MS and clean) if h else None,
               f"{ms(h, 'p95_us')} ms, {bad(h)} bad" if h else "not measured")
    h, p = hub.get("list"), peer.get("list")
    target("list req/s >= the peer's", (h["rps"] >= p["rps"]) if h and p else None,
           f"{rps(h)} vs {rps(p)} req/s" if h and p else "not measured")
    s, b = hub.get("search"), big.get("search")
    text = f"search p95 at {a.big:,} <= {SEARCH_RATIO_LIMIT:g} x p95 at {a.small:,}"
    if s and b and not (s["requests"] and b["requests"]):
        target(text, False, f"no search request completed within the {timeout_note} timeout")
    else:
        ratio = b["p95_us"] / s["p95_us"] if s and b and s["p95_us"] else None
        target(text, (ratio <= SEARCH_RATIO_LIMIT) if ratio is not None else None,
               f"{ms(b, 'p95_us')} / {ms(s, 'p95_us')} ms = {ratio:.2f}" if ratio is not None else "not measured")
    met = sum(1 for v in verdicts if v)
    out.append(f"  {met} of {len(verdicts)} targets met")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
