"""Each API path's first (uncached) answer, against a freshly started `ensweep serve` per run.

  uncached.py ENSWEEP_BINARY STORE STUDY RUNS

Prints, per path, the milliseconds of each run (for the importance also whether it was pending:
the server computes it in the background from its start).
"""
import subprocess, sys, time, urllib.request, re, statistics
binary, store, study, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
base = f"/api/studies/{study}"
paths = ["/api/studies", base, base + "/history", base + "/trials?limit=50",
         base + "/trials?state=COMPLETE&sort=param.lr&order=desc&offset=5000&limit=50",
         base + "/trials?param.optimizer=adam&sort=number&limit=50", base + "/importance"]
res = {p: [] for p in paths}
for r in range(runs):
    p = subprocess.Popen([binary, "serve", "--db", store, "--listen", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = None
    for line in p.stdout:
        m = re.search(r"(http://[^ ]+)$", line.strip())
        if m: url = m.group(1).rstrip("/"); break
    for path in paths:
        t = time.perf_counter()
        body = urllib.request.urlopen(url + path).read()
        res[path].append((time.perf_counter() - t) * 1000)
        if path.endswith("importance"): res[path][-1] = (res[path][-1], b"pending" in body)
    p.terminate(); p.wait()
for path in paths:
    print(f"{path[len(base):] or path:<75} {res[path]}")
