#!/usr/bin/env python3
"""Promote and status wall times and round trips of two `release` builds, side by side.

    python3 ops/benchmarks/side_by_side.py SOCKET_DIR BEFORE_BINARY AFTER_BINARY RUNS

Each build gets its own database on the cluster at SOCKET_DIR (e.g. `ops/pg home .pg-bench`
after `RELEASE_PG_DURABLE=1 ops/pg start .pg-bench`), migrated by itself; runs alternate between
the two. The command provider runs `true` and there is no probe, so the figures are the
database's and the process's.
"""
import os, subprocess, sys, time, statistics, tempfile
socket, before, after, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
admin = f"postgresql:///postgres?host={socket}&port=5432&user=release"
work = tempfile.mkdtemp()
yml = os.path.join(work, "release.yml")
open(yml, "w").write("app: crm-api\nenvironments:\n  develop: {provider: command, command: {deploy: 'true'}}\n"
                     "  main: {provider: command, command: {deploy: 'true'}, promote_from: develop}\n")
def url(db): return f"postgresql:///{db}?host={socket}&port=5432&user=release"
def run(binary, db, *args, stats=False):
    env = dict(os.environ, RELEASE_CONFIG=yml, RELEASE_DATABASE_URL=url(db), RELEASE_ACTOR="bench")
    if stats: env["RELEASE_STATS"] = "1"
    start = time.perf_counter()
    p = subprocess.run([binary, *args], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if p.returncode != 0: raise SystemExit(f"{binary} {args}: {p.stdout}{p.stderr}")
    trips = [l for l in p.stderr.splitlines() if "round trips" in l]
    return elapsed, trips
results = {}
for name, binary in (("before", before), ("after", after)):
    db = f"bench_{name}"
    subprocess.run(["psql", "-X", "-q", admin, "-c", f"DROP DATABASE IF EXISTS {db}", "-c", f"CREATE DATABASE {db}"], check=True)
    run(binary, db, "migrate")
    results[name] = []
for i in range(runs):
    for name, binary in (("before", before), ("after", after)):
        db = f"bench_{name}"
        version = f"1.0.{i}"
        run(binary, db, "create", version)
        run(binary, db, "deploy", version, "develop")
        elapsed, trips = run(binary, db, "promote", "develop", "main", stats=(i == 0))
        if trips: print(name, trips[0])
        results[name].append(elapsed * 1000)
for name, values in results.items():
    print(f"{name}: promote median {statistics.median(values):.1f} ms (min {min(values):.1f}, max {max(values):.1f}) over {len(values)} runs")
status = {"before": [], "after": []}
for i in range(runs):
    for name, binary in (("before", before), ("after", after)):
        status[name].append(run(binary, f"bench_{name}", "status")[0] * 1000)
for name, values in status.items():
    print(f"{name}: status median {statistics.median(values):.1f} ms (min {min(values):.1f}, max {max(values):.1f}) over {len(values)} runs")
