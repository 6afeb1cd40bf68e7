#!/usr/bin/env python3
"""The benchmarks behind BENCHMARKS.md; run through ops/bench, which builds `release` in release
mode and starts a private PostgreSQL with durable commits.

    bench.py --bin RELEASE --socket DIR --log SERVER_LOG [--quick] [--out DIR] [--only PART]

Prints one table; writes the query plans and raw figures under --out. `--only latency` (TLS,
SCRAM and added round trips: latency.py) starts a cluster of its own; `--only longrun` (watch,
then serve, for --duration: longrun.py) uses this one.
"""
import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = []


def row(name, measured, goal, passed, note=""):
    ROWS.append((name, measured, goal, "ok" if passed else "MISSED", note))
    print(f"  {name}: {measured} (goal {goal}){'' if passed else '  <- missed'} {note}", file=sys.stderr, flush=True)


class Cluster:
    def __init__(self, socket, log):
        self.socket = socket
        self.log = log

    def url(self, database):
        return f"postgresql:///{database}?host={self.socket}&port=5432&user=release"

    def psql(self, database, sql):
        return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", self.url(database), "-c", sql],
                              text=True, check=True, capture_output=True).stdout.strip()

    def fresh(self, database, binary):
        self.psql("postgres", f"DROP DATABASE IF EXISTS {database}")
        self.psql("postgres", f"CREATE DATABASE {database}")
        subprocess.run([binary, "migrate", "--database-url", self.url(database)], check=True, capture_output=True)

    def log_offset(self):
        return os.path.getsize(self.log)

    def log_since(self, offset):
        with open(self.log, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")


def server_entries(text):
    """Splits a server log into entries (a line with a timestamp and its tab-indented continuation)."""
    entries = []
    for line in text.splitlines():
        if re.match(r"^\d{4}-\d\d-\d\d ", line) or not entries:
            entries.append(line)
        else:
            entries[-1] += "\n" + line
    return entries


def server_time(entries):
    """Milliseconds the server spent on the statements of a run (parse, bind, execute, simple queries)."""
    total = 0.0
    for entry in entries:
        match = re.search(r"duration: ([\d.]+) ms  (parse|bind|execute|statement)", entry)
        if match:
            total += float(match.group(1))
    return total


def plans(entries):
    return [entry.split("LOG:  ", 1)[-1] for entry in entries if "  plan:" in entry]


class App:
    """A release.yml in a temporary directory, and the environment `release` runs with."""

    def __init__(self, binary, url, name, environments, workdir):
        self.binary = binary
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir, exist_ok=True)
        lines = [f"app: {name}", "environments:"]
        for environment_name, body in environments:
            lines.append(f"  {environment_name}:")
            lines.extend("    " + line for line in body)
        with open(os.path.join(self.dir, "release.yml"), "w") as handle:
            handle.write("\n".join(lines) + "\n")
        self.env = dict(os.environ, RELEASE_CONFIG=os.path.join(self.dir, "release.yml"), RELEASE_DATABASE_URL=url,
                        RELEASE_ACTOR="bench", RELEASE_STATS="1", NO_COLOR="1")

    def run(self, *args, check=True):
        started = time.perf_counter()
        result = subprocess.run([self.binary, *args], env=self.env, cwd=self.dir, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if check and result.returncode != 0:
            sys.exit(f"bench: release {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
        match = re.search(r"database round trips: (\d+)", result.stderr)
        return elapsed, int(match.group(1)) if match else None, result


PIPELINE = [
    ("develop", ["provider: command", 'command: {deploy: "true"}']),
    ("main", ["provider: command", 'command: {deploy: "true"}', "promote_from: develop"]),
]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def median(values):
    return statistics.median(values)


def bench_floor(cluster, pgbench):
    """What PostgreSQL itself costs here: a round trip and a durable commit (pgbench, one client)."""
    cluster.fresh("bench_floor", ARGS.bin)
    cluster.psql("bench_floor", "CREATE TABLE t (n int)")
    figures = {}
    for name, statement in (("select", "SELECT 1;"), ("commit", "INSERT INTO t VALUES (1);")):
        with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
            script.write(statement + "\n")
        output = subprocess.run([pgbench, "-n", "-t", "2000", "-c", "1", "-f", script.name, cluster.url("bench_floor")],
                                capture_output=True, text=True, check=True).stdout
        os.unlink(script.name)
        figures[name] = float(re.search(r"latency average = ([\d.]+) ms", output).group(1))
    return figures


def replay_script(cluster, database, app, *args):
    """The statements one `release ARGS` run sends, with their parameters written in, as a psql
    script: what psql alone needs for the same reads is the floor under that command."""
    cluster.psql(database, f"ALTER DATABASE {database} SET log_min_duration_statement = 0")
    _, _, entries = logged(cluster, lambda: app.run(*args)[::2])
    cluster.psql(database, f"ALTER DATABASE {database} RESET log_min_duration_statement")
    statements, previous = [], None
    for entry in entries:
        executed = re.search(r"LOG:  duration: [\d.]+ ms  execute [^:]*: (.*)", entry, re.S)
        parameters = re.search(r"DETAIL:  parameters: (.*)", entry, re.S)
        if executed:
            statements.append([executed.group(1).strip(), {}])
        elif parameters and previous is not None and "  execute " in previous:  # an execute's own parameters
            statements[-1][1] = dict(re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", parameters.group(1)))
        previous = entry
    if not statements:
        sys.exit(f"bench: found no statements of release {' '.join(args)} in {cluster.log}")
    lines = []
    for text, values in statements:
        for number in sorted(values, key=int, reverse=True):  # $12 before $1
            text = text.replace(f"${number}", values[number])
        lines.append(text.rstrip(";") + ";")
    path = os.path.join(app.dir, f"{'-'.join(args)}.sql")
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return path, len(lines)


def psql_select_one(url):
    return [ARGS.psql, "-X", "-Atc", "select 1", url]


def psql_script(script, url):
    return [ARGS.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", script, url]


def timed(command):
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


def bench_startup(cluster, workdir, runs):
    cluster.fresh("bench_small", ARGS.bin)
    url = cluster.url("bench_small")
    app = App(ARGS.bin, url, "crm-api", PIPELINE, workdir)
    for version in ("1.0.0", "1.0.1"):
        app.run("create", version)
        app.run("deploy", version, "develop")
        app.run("promote", "develop", "main")
    script, statements = replay_script(cluster, "bench_small", app, "status")
    # The floor, run in turn with `release status`: psql alone, psql sending status's own
    # statements, and two Swift programs (ops/benchmarks/floor) that only connect and select 1.
    others = {
        "psql": psql_select_one(url),
        "psql replay": psql_script(script, url),
        "swift": [os.path.join(ARGS.floor, "floor-bare"), url],
        "swift cli": [os.path.join(ARGS.floor, "floor-cli"), "status", "--database-url", url],
    }
    release_times, times = [], {name: [] for name in others}
    trips = None
    for _ in range(runs):
        elapsed, trips, _ = app.run("status")
        release_times.append(elapsed)
        for name, command in others.items():
            times[name].append(timed(command))
    psql = median(times["psql"])
    ratio = median(release_times) / psql
    row("start-up: release status", f"{ms(median(release_times))}, {trips} round trips",
        "within 1.5x of psql", ratio <= 1.5, f"psql -c 'select 1': {ms(psql)}; ratio {ratio:.2f}x")
    # The same goal restated against the floor measured in this very run: psql sending the very
    # statements `release status` sends (each its own round trip; release pipelines them).
    replay = median(times["psql replay"])
    row("start-up: release status vs psql sending the same statements", f"{median(release_times) / replay:.2f}x",
        "-", True, f"{ms(median(release_times))} vs {ms(replay)}; the 1.5x goal over this floor's {replay / psql:.2f}x "
        f"would be {1.5 / (replay / psql):.2f}x")
    for name, label in (("psql replay", f"floor: psql sending release status's {statements} statements"),
                        ("swift", "floor: Swift and libpq, select 1 (floor-bare)"),
                        ("swift cli", "floor: the same behind swift-argument-parser (floor-cli status)")):
        row(label, ms(median(times[name])), "-", True, f"{median(times[name]) / psql:.2f}x psql -c 'select 1'")
    return app


def bench_promote(app, runs):
    walls, trips = [], []
    for index in range(runs):
        version = f"2.0.{index}"
        app.run("create", version)
        app.run("deploy", version, "develop")
        elapsed, count, _ = app.run("promote", "develop", "main")
        walls.append(elapsed)
        trips.append(count)
    row("promote (command provider `true`, no probe): round trips", str(max(trips)), "at most 5", max(trips) <= 5)
    row("promote: wall time", ms(median(walls)), "under 50 ms", median(walls) < 0.050,
        f"min {ms(min(walls))}, max {ms(max(walls))}, {runs} runs")


def logged(cluster, action):
    """Runs `action` (returning elapsed seconds and a result) once: its elapsed seconds, its result
    and the server's log entries it caused."""
    offset = cluster.log_offset()
    elapsed, result = action()
    time.sleep(0.05)
    return elapsed, result, server_entries(cluster.log_since(offset))


def timed_on_server(cluster, runs, action):
    """Runs `action` (returning elapsed seconds and a result) `runs` times: the median wall and
    server times, and the last result. auto_explain is not loaded for these runs: building each
    EXPLAIN ANALYZE text inside the statement would count in its duration (about 1 ms of status's 9)."""
    walls, servers = [], []
    for _ in range(runs):
        elapsed, result, entries = logged(cluster, action)
        walls.append(elapsed)
        servers.append(server_time(entries))
    return median(walls), median(servers), result


def explaining(cluster, database, on):
    """Loads auto_explain into the database's new sessions (EXPLAIN ANALYZE of every statement, to
    the log), or stops loading it."""
    if on:
        cluster.psql(database, f"ALTER DATABASE {database} SET session_preload_libraries = 'auto_explain'")
    else:
        cluster.psql(database, f"ALTER DATABASE {database} RESET session_preload_libraries")


def write_plans(cluster, action, plan_out, heading):
    """Runs `action` once more, with auto_explain loaded, and writes its statements' plans under
    `heading(result)`."""
    _, result, entries = logged(cluster, action)
    plan_out.write(f"\n--- {heading(result)} ---\n")
    for plan in plans(entries):
        plan_out.write(plan + "\n\n")


def bench_scale(cluster, workdir, events, deployments, runs, plan_file):
    database = f"bench_{events // 1_000_000}m"
    cluster.fresh(database, ARGS.bin)
    started = time.perf_counter()
    seeded = subprocess.run([sys.executable, os.path.join(HERE, "seed.py"), cluster.url(database), "--events", str(events),
                             "--deployments", str(deployments)], check=True, capture_output=True, text=True).stdout.strip()
    print(f"  {seeded} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    cluster.psql(database, f"ALTER DATABASE {database} SET log_min_duration_statement = 0")
    cluster.psql(database, f"ALTER DATABASE {database} SET auto_explain.log_min_duration = 0")
    cluster.psql(database, f"ALTER DATABASE {database} SET auto_explain.log_analyze = on")
    cluster.psql(database, f"ALTER DATABASE {database} SET auto_explain.log_buffers = on")
    cluster.psql(database, f"ALTER DATABASE {database} SET auto_explain.log_timing = off")
    app = App(ARGS.bin, cluster.url(database), "crm-api", PIPELINE, os.path.join(workdir, database))
    now = datetime.now(timezone.utc)
    instant = (now - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    since = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    label = f"{events // 1_000_000}M events"
    results = {}
    with open(plan_file, "a") as plan_out:
        plan_out.write(f"\n=== {label}, {deployments} deployments, 200 apps ===\n")
        commands = (("status", ["status"]), ("history --limit 50", ["history", "--limit", "50"]),
                    ("audit --at", ["audit", "--at", instant]), ("audit --since", ["audit", "--since", since]))
        for name, args in commands:
            # app.run gives (elapsed, round trips, result): keep elapsed and result.
            wall, server, _ = timed_on_server(cluster, runs, lambda: app.run(*args)[::2])
            results[name] = (wall, server)
            row(f"{name} at {label}", f"{server:.2f} ms server, {ms(wall)} wall", "under 10 ms server", server < 10)
        explaining(cluster, database, True)
        try:
            for name, args in commands:
                write_plans(cluster, lambda: app.run(*args)[::2], plan_out,
                            lambda result: f"release {' '.join(args)} ({len(result.stdout.splitlines())} lines out)")
        finally:
            explaining(cluster, database, False)
        bench_dashboard(cluster, database, app, label, runs, plan_out, instant)
    if events >= 10_000_000:
        cluster.psql(database, f"ALTER DATABASE {database} RESET ALL")
        count = cluster.psql(database, "SELECT audit_sequence FROM apps WHERE name = 'crm-api'")
        walls = []
        for _ in range(3):
            elapsed, _, result = app.run("audit", "verify")
            walls.append(elapsed)
        row(f"audit verify, {int(count):,} events", f"{median(walls):.2f} s", "under 5 s", median(walls) < 5,
            result.stdout.strip()[:60])
    return results


@contextlib.contextmanager
def serving(app):
    """`release serve` on a free loopback port, for the length of the block: yields fetch(path),
    which returns the elapsed seconds and the body."""
    server = subprocess.Popen([app.binary, "serve", "--port", "0"], env=app.env, cwd=app.dir, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        match = re.search(r"http://\S+/", server.stdout.readline())
        if not match:
            sys.exit("bench: release serve printed no address")
        base = match.group(0)

        def fetch(path):
            started = time.perf_counter()
            with urllib.request.urlopen(base + path, timeout=120) as response:
                body = response.read()
            return time.perf_counter() - started, body

        yield fetch
    finally:
        server.terminate()
        server.wait(timeout=30)


def bench_dashboard(cluster, database, app, label, runs, plan_out, instant):
    """`release serve` over the same history: each page and API call's server time and wall time,
    then (a second server, with auto_explain loaded into its connections) their plans."""
    goal = "under 10 ms server"
    pages = [("/api/status", "api/status?app=crm-api", goal), ("app page (timeline)", "apps/crm-api", goal),
             ("release page", "releases/1.0.0?app=crm-api", goal), ("/api/history", "api/history?app=crm-api&limit=50", goal),
             ("/api/audit?at", f"api/audit?app=crm-api&at={instant}", goal),
             # The overview shows every app, so it grows with their number (not with their history);
             # each open page asks for it every 2 s.
             ("overview of all 200 apps (polled)", "partials/status", "-"),
             # The API over every app at once: one statement each, whatever the number of apps.
             ("/api/history of all apps", "api/history?limit=50", "-"), ("/api/audit of all apps", "api/audit?limit=100", "-"),
             ("/api/audit?at of all apps", f"api/audit?at={instant}", "-"), ("a version in all apps", "releases/1.0.0", "-")]
    with serving(app) as fetch:
        # The release page verifies the app's whole trail on its first view (then reuses the verdict
        # while the trail is unchanged, for a minute): timed apart, then warm.
        first, _ = fetch("releases/1.0.0?app=crm-api")
        row(f"serve: first release page at {label}", ms(first), "-", True, "verifies the whole audit trail once")
        for name, path, page_goal in pages:
            wall, server, _ = timed_on_server(cluster, runs, lambda: fetch(path))
            row(f"serve: {name} at {label}", f"{server:.2f} ms server, {ms(wall)} wall", page_goal,
                server < 10 if page_goal != "-" else True)
    explaining(cluster, database, True)
    try:
        with serving(app) as fetch:
            fetch("releases/1.0.0?app=crm-api")
            for _, path, _ in pages:
                write_plans(cluster, lambda: fetch(path), plan_out, lambda body: f"release serve: GET /{path} ({len(body)} bytes)")
    finally:
        explaining(cluster, database, False)


def bench_throughput(cluster, workdir, apps_count, processes):
    cluster.fresh("bench_tp", ARGS.bin)
    url = cluster.url("bench_tp")
    apps = [App(ARGS.bin, url, f"tp-{index:03d}", PIPELINE, os.path.join(workdir, "tp")) for index in range(apps_count)]

    def prepare(app):
        app.run("create", "1.0.0")
        app.run("deploy", "1.0.0", "develop")

    with ThreadPoolExecutor(processes) as pool:
        list(pool.map(prepare, apps))
    # The ceiling for one process per operation here: the same number of psql runs, and of psql
    # sending the statements of `release status` (a promotion reads at least that much, then writes).
    script, _ = replay_script(cluster, "bench_tp", apps[0], "status")
    floors = {}
    for label, command in (("psql -c 'select 1'", psql_select_one(url)),
                           ("psql sending release status's statements", psql_script(script, url))):
        started = time.perf_counter()
        with ThreadPoolExecutor(processes) as pool:
            list(pool.map(lambda _: timed(command), range(apps_count)))
        floors[label] = apps_count / (time.perf_counter() - started)
        row(f"floor: {apps_count} runs of {label} by {processes} processes", f"{floors[label]:.0f} /s", "-", True)
    started = time.perf_counter()
    with ThreadPoolExecutor(processes) as pool:
        outcomes = list(pool.map(lambda app: app.run("promote", "develop", "main", check=False)[2].returncode, apps))
    elapsed = time.perf_counter() - started
    live = int(cluster.psql("bench_tp", "SELECT count(*) FROM deployments WHERE kind = 'promote' AND state = 'live'"))
    in_flight = int(cluster.psql("bench_tp", "SELECT count(*) FROM deployments WHERE state IN ('pending', 'gating', 'deploying', 'verifying')"))
    twice = int(cluster.psql("bench_tp", "SELECT count(*) FROM (SELECT environment_id FROM deployments WHERE kind = 'promote' "
                                         "GROUP BY 1 HAVING count(*) > 1) x"))
    rate = apps_count / elapsed
    ok = rate >= 100 and live == apps_count and in_flight == 0 and twice == 0 and all(code == 0 for code in outcomes)
    row(f"throughput: {apps_count} apps promoted by {processes} processes", f"{rate:.0f} promotions/s",
        "at least 100/s", ok, f"{elapsed:.2f} s; {live} live, {in_flight} in flight, {twice} environments promoted twice")
    # The goal as ratios to the floors of this run (a promotion reads what status reads, then writes).
    for label, floor in floors.items():
        row(f"throughput vs {label} by {processes} processes", f"{rate / floor:.2f}x", "-", True,
            f"100/s would be {100 / floor:.2f}x of it")


class SlowHealthServer:
    """GET /health/<ms> answers 200 "ok" after <ms> milliseconds, on 127.0.0.1, from one asyncio
    loop in a thread of its own. (It was http.server with a thread per connection: starting 100
    Python threads at once under the GIL made the endpoints themselves slow, so that curl, a C
    client, took 1.18-1.22x of the slowest endpoint against it; BENCHMARKS.md.) `requests` counts
    the requests answered (the watch benchmark's probes)."""

    def __init__(self):
        self.requests = 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve():
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(asyncio.start_server(self.answer, "127.0.0.1", 0, backlog=512))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()
            server.close()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait()

    async def answer(self, reader, writer):
        try:
            while True:
                request = await reader.readline()
                if not request:
                    break
                path = request.split(b" ")[1].decode()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                await asyncio.sleep(int(path.rsplit("/", 1)[-1]) / 1000)
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (ConnectionError, IndexError, ValueError):
            pass
        finally:
            writer.close()

    def shutdown(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


def bench_probes(cluster, workdir, count, runs):
    server = SlowHealthServer()
    port = server.port
    slowest = 500
    delays = [slowest * (index + 1) // count for index in range(count)]
    urls = [f"http://127.0.0.1:{port}/health/{delay}" for delay in delays]
    environments = [(f"e{index:03d}", ["provider: command", 'command: {deploy: "true"}',
                                       f'health: {{url: "{url}", successes: 1, within: 5s, timeout: 3s}}'])
                    for index, url in enumerate(urls)]
    cluster.fresh("bench_probe", ARGS.bin)
    app = App(ARGS.bin, cluster.url("bench_probe"), "probe-app", environments, workdir)
    # The floor: curl (C, one process) fetching the same endpoints at once, run alternately.
    curl = shutil.which("curl")
    curl_config = os.path.join(workdir, "probe-urls.cfg")
    with open(curl_config, "w") as handle:
        handle.writelines(f'url = "{url}"\noutput = /dev/null\n' for url in urls)
    walls, floors = [], []
    for _ in range(runs):
        elapsed, _, result = app.run("probe", check=False)
        if result.returncode != 0:
            sys.exit(f"bench: release probe failed: {(result.stdout + result.stderr).strip()[-600:]}")
        walls.append(elapsed)
        if curl:
            floors.append(timed([curl, "-s", "-Z", "--parallel-max", str(count), "-K", curl_config]))
    server.shutdown()
    ratio = median(walls) / (slowest / 1000)
    row(f"probes: {count} endpoints at once, slowest {slowest} ms", ms(median(walls)), "within 1.2x of the slowest",
        ratio <= 1.2, f"ratio {ratio:.2f}x, whole command included")
    if floors:
        row(f"floor: curl fetching the same {count} endpoints at once", ms(median(floors)), "-", True,
            f"{median(floors) / (slowest / 1000):.2f}x the slowest")


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = 0
    with open("/proc/meminfo") as handle:
        memory = int(next(line.split()[1] for line in handle if line.startswith("MemTotal"))) // (1024 * 1024)
    postgres = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores ({cpu}), {memory} GiB, Linux {platform.release()}, {postgres}, durable commits (fsync on)"


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--pgbench", required=True)
    parser.add_argument("--psql", required=True, help="the psql binary itself (Debian's /usr/bin/psql is a Perl wrapper)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--floor", required=True, help="where floor-bare and floor-cli are (ops/benchmarks/floor)")
    parser.add_argument("--quick", action="store_true", help="1M events only, fewer runs")
    parser.add_argument("--only", choices=["floor", "startup", "throughput", "probes", "scale", "latency", "longrun", "watch", "serve"],
                        help="one benchmark (longrun: watch, then serve)")
    parser.add_argument("--delays", default="1,10,40", help="latency: round trips to add, in ms (comma-separated)")
    parser.add_argument("--runs", type=int, help="latency: runs of each command (default 7, 3 with --quick)")
    parser.add_argument("--duration", default="2m", help="longrun: how long to watch, and to load the dashboard (30s, 2m, 1h)")
    parser.add_argument("--load-duration", help="longrun: how long to load the dashboard (default: --duration)")
    parser.add_argument("--clients", type=int, default=50, help="longrun: concurrent clients of the dashboard")
    ARGS = parser.parse_args()
    os.makedirs(ARGS.out, exist_ok=True)
    cluster = Cluster(ARGS.socket, ARGS.log)
    plan_file = os.path.join(ARGS.out, "plans.txt")
    open(plan_file, "w").close()
    runs = 11 if ARGS.quick else 41
    with tempfile.TemporaryDirectory() as workdir:
        def wanted(name):
            return ARGS.only in (None, name)
        if wanted("floor"):
            floor = bench_floor(cluster, ARGS.pgbench)
            row("floor: one round trip (pgbench select)", f"{floor['select']:.3f} ms", "-", True)
            row("floor: one durable commit (pgbench insert)", f"{floor['commit']:.3f} ms", "-", True)
        if wanted("startup"):
            app = bench_startup(cluster, workdir, runs)
            bench_promote(app, 15 if ARGS.quick else 31)
        if wanted("throughput"):
            bench_throughput(cluster, workdir, 200, 8)
        if wanted("probes"):
            bench_probes(cluster, workdir, 100, 5 if ARGS.quick else 11)
        if wanted("scale"):
            for events in ((1_000_000,) if ARGS.quick else (1_000_000, 10_000_000)):
                bench_scale(cluster, workdir, events, 100_000, 5 if ARGS.quick else 11, plan_file)
        if wanted("latency"):
            import latency
            delays = [float(delay) for delay in ARGS.delays.split(",") if delay.strip()]
            latency.bench_latency(sys.modules[__name__], workdir, delays, ARGS.runs or (3 if ARGS.quick else 7))
        if ARGS.only in (None, "longrun", "watch", "serve"):
            import longrun
            if ARGS.only in (None, "longrun", "watch"):
                longrun.bench_watch(sys.modules[__name__], cluster, workdir, longrun.seconds(ARGS.duration))
            if ARGS.only in (None, "longrun", "serve"):
                longrun.bench_serve(sys.modules[__name__], cluster, workdir, longrun.seconds(ARGS.load_duration or ARGS.duration),
                                    ARGS.clients)
    host = machine()
    print(f"\nrelease benchmarks, {datetime.now(timezone.utc):%Y-%m-%d}, {host}\n")
    widths = [max(len(str(r[i])) for r in ROWS + [("Benchmark", "Measured", "Goal", "Verdict", "Notes")]) for i in range(5)]
    header = ("Benchmark", "Measured", "Goal", "Verdict", "Notes")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in ROWS:
        print("| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths)) + " |")
    print(f"\nQuery plans: {plan_file}")
    with open(os.path.join(ARGS.out, "results.json"), "w") as handle:
        json.dump({"machine": host, "rows": ROWS}, handle, indent=1)
    return 0 if all(r[3] == "ok" for r in ROWS) else 1


if __name__ == "__main__":
    sys.exit(main())
