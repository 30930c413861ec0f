"""Latency of the dashboard's API calls: median (and min, max) of several requests each.

  measure.py URL STUDY     (URL as `ensweep serve` prints it)
"""
import json
import statistics
import sys
import time
import urllib.request

url, study = sys.argv[1].rstrip("/"), sys.argv[2]
REPEATS = 9


def get(path):
    start = time.perf_counter()
    with urllib.request.urlopen(url + path) as answer:
        body = answer.read()
    return time.perf_counter() - start, body


def timed(label, path, repeats=REPEATS):
    """The first request (computed: the server keeps answers until the store changes), then the
    median of the repeats (answered from that cache)."""
    first = get(path)[0]
    seconds = sorted(get(path)[0] for _ in range(repeats))
    print(f"{label:<58} first {first * 1000:7.1f} ms, then median "
          f"{statistics.median(seconds) * 1000:.1f} ms ({repeats} requests)")


base = f"/api/studies/{study}"
total = json.loads(get(base + "/trials?limit=1")[1])["total"]
print(f"{total} trials")
timed("leaderboard page (default: by value, best first, 50)", base + "/trials?limit=50")
timed("leaderboard page: COMPLETE, sort param.lr desc, offset 5000",
      base + "/trials?state=COMPLETE&sort=param.lr&order=desc&offset=5000&limit=50")
timed("leaderboard page: filtered param.optimizer=adam, by number",
      base + "/trials?param.optimizer=adam&sort=number&limit=50")
first, _ = get(base + "/importance")
print(f"{'importance, first call (computed in the background since start)':<58} {first * 1000:7.1f} ms")
first_paint = []
for _ in range(REPEATS):
    start = time.perf_counter()
    for path in ("/api/studies", base, base + "/history", base + "/importance"):
        get(path)
    first_paint.append(time.perf_counter() - start)
print(f"{'first paint: studies + study + history + importance':<58} median "
      f"{statistics.median(first_paint) * 1000:7.1f} ms  (sequential, importance cached)")
timed("  /api/studies", "/api/studies")
timed("  /api/studies/{s}", base)
timed("  /api/studies/{s}/history", base + "/history")
timed("  /api/studies/{s}/importance (cached)", base + "/importance")
