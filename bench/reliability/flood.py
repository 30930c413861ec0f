#!/usr/bin/env python3
"""Floods a running `ensweep run` coordinator's TCP port and measures what it costs it.

    bench/reliability/flood.py [--ensweep build/apps/ensweep] [--connections 300]

Starts a 12-trial study of the built-in `curve` objective (no data, no LibTorch) with one local
worker, then, while it runs:
  1. opens N connections that each send the 4 bytes 03 ff ff ff (a frame of 64 MiB claimed),
  2. opens N connections that send nothing at all,
  3. opens N connections that answer the challenge with a made-up MAC,
and prints the coordinator's resident memory (VmRSS) before and after each wave, how many
connections it closed within the authentication timeout, and whether the study then finishes
with every trial COMPLETE. Standard library only; run it with /usr/bin/python3.
"""
import argparse
import json
import os
import re
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return s


def frame(obj):
    text = json.dumps(obj).encode()
    return struct.pack(">I", len(text)) + text


def closed_within(sockets, seconds):
    """How many of `sockets` the peer closed within `seconds` (reads until EOF)."""
    deadline = time.time() + seconds
    closed = 0
    for s in sockets:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            while s.recv(4096):
                pass
            closed += 1
        except (socket.timeout, OSError):
            pass
        s.close()
    return closed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ensweep", default="build/apps/ensweep")
    parser.add_argument("--connections", type=int, default=300)
    args = parser.parse_args()
    n = args.connections

    work = tempfile.mkdtemp(prefix="ensweep_flood_")
    study = os.path.join(work, "study.yaml")
    with open(study, "w") as f:
        f.write(f"study: flood\nstorage: {work}/store.sqlite\nartifacts: {work}/artifacts\n"
                "trainer: {type: curve, epoch_time: 0.5s, noise: 0.01}\n"
                "objective: {metric: val_accuracy, direction: maximize}\n"
                "budget: {trials: 12, epochs: 4}\n"
                "space:\n  lr: {log_uniform: [0.0001, 0.1]}\n")
    out = open(os.path.join(work, "run.txt"), "w")
    env = dict(os.environ)
    env.pop("ENSWEEP_TOKEN", None)
    run = subprocess.Popen([args.ensweep, "run", study, "--workers", "1"], stdout=out,
                           stderr=subprocess.STDOUT, env=env)
    port = None
    for _ in range(600):
        text = open(os.path.join(work, "run.txt")).read()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    if port is None:
        sys.exit("no listening line: " + text)
    time.sleep(0.5)
    print(f"coordinator pid {run.pid}, port {port}, {n} connections a wave")
    print(f"  RSS at start: {rss_kib(run.pid) / 1024:.1f} MiB")

    waves = [
        ("03 ff ff ff (64 MiB frame claimed)", lambda s: s.sendall(b"\x03\xff\xff\xff")),
        ("silent", lambda s: None),
        ("made-up MAC", lambda s: s.sendall(frame({"type": "AUTH", "nonce": "00" * 32,
                                                   "mac": "00" * 32}))),
    ]
    for name, attack in waves:
        sockets = []
        started = time.time()
        for _ in range(n):
            try:
                s = connect(port)
                attack(s)
                sockets.append(s)
            except OSError:
                pass
        peak = rss_kib(run.pid)
        closed = closed_within(sockets, 15)
        print(f"  {name}: {len(sockets)} opened, {closed} closed by the coordinator in "
              f"{time.time() - started:.1f}s; RSS {peak / 1024:.1f} MiB during the wave, "
              f"{rss_kib(run.pid) / 1024:.1f} MiB after")

    status = run.wait(timeout=300)
    db = sqlite3.connect(f"{work}/store.sqlite")
    states = dict(db.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall())
    print(f"  run exit status {status}; trials by state: {states}")
    return 0 if status == 0 and states == {"COMPLETE": 12} else 1


if __name__ == "__main__":
    sys.exit(main())
