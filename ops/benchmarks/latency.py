"""`ops/bench --only latency`: release over a network, as CI meets a managed PostgreSQL.

A second private cluster (ops/pg with RELEASE_PG_TCP_TLS=1, in .pg-bench/tls) listens on
127.0.0.1 with TLS and scram-sha-256; a login role gets a fresh random password for each run
(only its SCRAM verifier reaches the server; the password itself only the environment of the
processes started here, as PGPASSWORD). latency_proxy.py sits between the clients and the server
and adds 1, 10 and 40 ms round trips, counting each connection's request cycles.

For each command, in turn, alternating: `release CMD` through the proxy (RELEASE_STATS=1: its
own count of round trips), then psql sending the very statements that run sent (taken from the
server's log with their parameters) one per request as `psql -f` does, then psql sending them all
in one request (`psql -c`: the least any client can do after connecting), then `psql -c 'select 1'`
(connecting alone). Writes are replayed on copies of the database made just before the release run
(CREATE DATABASE … TEMPLATE), so psql's statements meet the same state.

Called by bench.py, which passes itself (`bench`) for its helpers and its table.
"""
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ROLE = "bench_tls"
DATABASE = "bench_latency"
PORT = 5432
READS = ("status", "history", "audit --at")
# The goals of issue 26: request cycles after connecting (None: no goal, reported only).
CYCLE_GOALS = {"status": 1, "history": 1, "audit --at": 1, "create": 1, "check": 1, "approve": 1, "deploy": None, "promote": 5}
WALL_GOAL = 1.2


def scram_verifier(password):
    """What CREATE ROLE … PASSWORD stores for scram-sha-256 (RFC 5802/7677, as PostgreSQL builds
    it): sending this instead of the password keeps the secret out of SQL and the server's log."""
    salt = secrets.token_bytes(16)
    iterations = 4096
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data):
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


class TLSCluster:
    """The TLS cluster, started with ops/pg and stopped by `stop` (bench.py calls it in finally)."""

    def __init__(self, bench):
        self.bench = bench
        self.dir = os.environ.get("RELEASE_BENCH_TLS_DIR", os.path.join(ROOT, ".pg-bench", "tls"))
        env = dict(os.environ, RELEASE_PG_TCP_TLS="1", RELEASE_PG_DURABLE="1")
        pg = os.path.join(ROOT, "ops", "pg")
        home = subprocess.run([pg, "home", self.dir], check=True, capture_output=True, text=True).stdout.strip()
        # Stopped at the end only if this run started it (as ops/bench does with .pg-bench).
        self.started = not os.path.exists(os.path.join(home, "data", "postmaster.pid"))
        subprocess.run([pg, "start", self.dir], env=env, check=True, stdout=subprocess.DEVNULL)
        home = subprocess.run([pg, "home", self.dir], check=True, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(home, "data", "postgresql.conf")) as handle:
            if "ssl = on" not in handle.read():
                self.stop()
                sys.exit(f"bench: {self.dir} holds a cluster made without TLS: remove it (ops/pg remove {self.dir}) and run again")
        self.unix = bench.Cluster(os.path.join(home, "socket"), os.path.join(home, "server.log"))
        self.password = secrets.token_urlsafe(24)
        self.unix.psql("postgres", f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN CREATEROLE; "
                                   "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        # On standard input, not in psql's arguments: a failure's traceback shows the arguments.
        stored = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", self.unix.url("postgres")], text=True,
                                input=f"ALTER ROLE {ROLE} PASSWORD '{scram_verifier(self.password)}';\n", capture_output=True)
        if stored.returncode != 0:
            self.stop()
            sys.exit(f"bench: could not set the password of {ROLE}: {stored.stderr.strip()[-300:]}")

    def stop(self):
        if self.started:
            subprocess.run([os.path.join(ROOT, "ops", "pg"), "stop", self.dir], check=False)

    def env(self, base=None):
        """The environment of a process that logs in as ROLE: the password only here."""
        return dict(base or os.environ, PGPASSWORD=self.password, PGSSLMODE="require")

    @staticmethod
    def conninfo(database, port=PORT):
        return f"host=127.0.0.1 port={port} dbname={database} user={ROLE} sslmode=require"

    @staticmethod
    def url(database, port=PORT):
        return f"postgresql://{ROLE}@127.0.0.1:{port}/{database}?sslmode=require"

    def fresh(self, database, binary):
        self.unix.psql("postgres", f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        self.unix.psql("postgres", f"CREATE DATABASE {database} OWNER {ROLE}")
        result = subprocess.run([binary, "migrate", "--database-url", self.url(database)], env=self.env(),
                                capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"bench: release migrate over TLS failed: {result.stderr.strip()[-400:]}")

    def copy(self, source, name):
        self.unix.psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.unix.psql("postgres", f"CREATE DATABASE {name} TEMPLATE {source} OWNER {ROLE}")

    def drop(self, name):
        self.unix.psql("postgres", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Proxy:
    """latency_proxy.py in its own process, for the length of a `with` block."""

    def __init__(self, rtt_ms, stats_path):
        self.rtt_ms = rtt_ms
        self.stats = stats_path
        open(self.stats, "w").close()
        self.process = subprocess.Popen([sys.executable, os.path.join(HERE, "latency_proxy.py"), "--target", f"127.0.0.1:{PORT}",
                                         "--rtt-ms", str(rtt_ms), "--stats", self.stats], stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        match = re.match(r"port (\d+)", line)
        if not match:
            self.close()
            sys.exit("bench: the latency proxy did not start")
        self.port = int(match.group(1))

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def close(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def offset(self):
        return os.path.getsize(self.stats)

    def connections_since(self, offset, timeout=10):
        """The connections opened since `offset`, once every one of them has closed."""
        deadline = time.monotonic() + timeout
        while True:
            with open(self.stats) as handle:
                handle.seek(offset)
                events = [json.loads(line) for line in handle if line.endswith("\n")]
            opened = {event["conn"] for event in events if event["event"] == "open"}
            closed = {event["conn"]: event for event in events if event["event"] == "close"}
            if opened <= set(closed) or time.monotonic() > deadline:
                return [closed[number] for number in sorted(opened) if number in closed]
            time.sleep(0.005)


class Run:
    """One process through the proxy: wall time, its connections' cycles, when it was connected."""

    def __init__(self, proxy, command, env, cwd=None):
        offset = proxy.offset()
        started = time.monotonic()
        self.result = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
        self.wall = time.monotonic() - started
        self.started = started
        self.connections = proxy.connections_since(offset)
        self.cycles = sum(connection["cycles"] for connection in self.connections)
        match = re.search(r"database round trips: (\d+)", self.result.stderr)
        self.stated = int(match.group(1)) if match else None

    def ok(self):
        return self.result.returncode == 0

    def opened_after(self):
        """Seconds from the process's start until its first connection reached the proxy."""
        return self.connections[0]["opened"] - self.started if self.connections else None

    def connected_after(self, startup):
        """Seconds from the process's start until its first connection was ready for queries."""
        if not self.connections or len(self.connections[0]["answered"]) < startup:
            return None
        ready = self.connections[0]["answered"][startup - 1]
        return None if ready is None else ready - self.started


def statements_of(entries):
    """The statements a session sent, from the server's log (log_min_duration_statement = 0):
    extended-protocol executes with their parameters written in, and simple queries; each with
    the time the server logged it (seconds, to the millisecond of the log's %m prefix)."""
    statements, previous = [], None
    for entry in entries:
        executed = re.search(r"LOG:  duration: [\d.]+ ms  (?:execute [^:]*|statement): (.*)", entry, re.S)
        parameters = re.search(r"DETAIL:  parameters: (.*)", entry, re.S)
        if executed:
            stamp = re.match(r"\d{4}-\d\d-\d\d (\d\d):(\d\d):(\d\d\.\d+)", entry)
            at = int(stamp.group(1)) * 3600 + int(stamp.group(2)) * 60 + float(stamp.group(3)) if stamp else None
            statements.append([executed.group(1).strip(), {}, at])
        elif parameters and previous is not None and "  execute " in previous:
            statements[-1][1] = dict(re.findall(r"\$(\d+) = ('(?:[^']|'')*'|NULL)", parameters.group(1)))
        previous = entry
    lines = []
    for text, values, at in statements:
        for number in sorted(values, key=int, reverse=True):  # $12 before $1
            text = text.replace(f"${number}", values[number])
        lines.append((at, text.rstrip().rstrip(";") + ";"))
    return lines


def annotated(statements, rtt):
    """The script with a comment before each round trip: at 10 ms and more, statements of one
    pipeline reach the log within a millisecond of each other, and round trips are rtt apart."""
    lines, previous, trip = [], None, 0
    for at, text in statements:
        if rtt >= 10 and at is not None and (previous is None or at - previous > rtt / 2000):
            trip += 1
            lines.append(f"-- round trip {trip} after connecting")
        previous = at
        lines.append(text)
    return "\n".join(lines) + "\n"


def psql_file(bench, script, conninfo):
    return [bench.ARGS.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-f", script, conninfo]


def psql_one_request(bench, statements, conninfo):
    """psql -c with every statement in one string: one Query message, one request cycle."""
    return [bench.ARGS.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", "\n".join(statements), conninfo]


def median(values):
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


class Measure:
    """Everything measured for one command at one delay."""

    def __init__(self):
        self.release, self.replay, self.one, self.select = [], [], [], []
        self.statements = []
        self.notes = set()


def bench_latency(bench, workdir, delays, runs):
    cluster = TLSCluster(bench)
    try:
        return measure_all(bench, cluster, workdir, delays, runs)
    finally:
        cluster.stop()


def measure_all(bench, cluster, workdir, delays, runs):
    binary = bench.ARGS.bin
    cluster.fresh(DATABASE, binary)
    unix = cluster.unix
    direct = bench.App(binary, cluster.url(DATABASE), "crm-api", bench.PIPELINE, os.path.join(workdir, "latency-direct"))
    direct.env = cluster.env(direct.env)
    for command in (("create", "1.0.0"), ("deploy", "1.0.0", "develop"), ("promote", "develop", "main")):
        direct.run(*command)
    time.sleep(1.1)
    instant = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    unix.psql(DATABASE, f"ALTER DATABASE {DATABASE} SET log_min_duration_statement = 0")
    results = {}
    stats_dir = os.path.join(bench.ARGS.out, "latency")
    os.makedirs(stats_dir, exist_ok=True)
    for rtt in delays:
        with Proxy(rtt, os.path.join(stats_dir, f"proxy-{rtt:g}ms.jsonl")) as proxy:
            app = bench.App(binary, cluster.url(DATABASE, proxy.port), "crm-api", bench.PIPELINE,
                            os.path.join(workdir, f"latency-{rtt:g}"))
            app.env = cluster.env(app.env)
            print(f"  latency: {rtt:g} ms round trip, {runs} runs of each command", file=sys.stderr, flush=True)
            results[rtt] = measure_delay(bench, cluster, proxy, app, rtt, runs, instant)
    write_tables(bench, results, delays)
    return results


def measure_delay(bench, cluster, proxy, app, rtt, runs, instant):
    psql_env = cluster.env()
    measures = {name: Measure() for name in CYCLE_GOALS}
    for index in range(runs):
        version = f"3.{int(rtt * 10)}.{index}"
        commands = [("status", ["status"]), ("history", ["history"]), ("audit --at", ["audit", "--at", instant]),
                    ("create", ["create", version]), ("check", ["check", version, "tests", "passed"]),
                    ("approve", ["approve", "main", version]), ("deploy", ["deploy", version, "develop"]),
                    ("promote", ["promote", "develop", "main"])]
        for name, args in commands:
            measure = measures[name]
            write = name not in READS
            targets = (DATABASE, DATABASE)
            if write:
                targets = ("bench_latency_a", "bench_latency_b")
                for target in targets:
                    cluster.copy(DATABASE, target)
            offset = cluster.unix.log_offset()
            run = Run(proxy, [app.binary, *args], app.env, app.dir)
            if not run.ok():
                sys.exit(f"bench: release {' '.join(args)} exited {run.result.returncode}: {run.result.stderr.strip()[-600:]}")
            time.sleep(0.05)
            logged = statements_of(bench.server_entries(cluster.unix.log_since(offset)))
            statements = [text for _, text in logged]
            if not statements:
                sys.exit(f"bench: found no statements of release {' '.join(args)} in {cluster.unix.log}")
            # Kept (OUT/latency/): what each command sends, for whoever cuts its round trips.
            script = os.path.join(bench.ARGS.out, "latency", f"{name.replace(' ', '')}-{rtt:g}ms-{index}.sql")
            with open(script, "w") as handle:
                handle.write(annotated(logged, rtt))
            replay = Run(proxy, psql_file(bench, script, cluster.conninfo(targets[0], proxy.port)), psql_env)
            one = Run(proxy, psql_one_request(bench, statements, cluster.conninfo(targets[1], proxy.port)), psql_env)
            select = Run(proxy, [bench.ARGS.psql, "-X", "-Atc", "select 1", cluster.conninfo("postgres", proxy.port)], psql_env)
            for label, other in (("psql -f", replay), ("psql -c", one), ("psql select 1", select)):
                if not other.ok():
                    measure.notes.add(f"{label} failed: {other.result.stderr.strip()[-200:]}")
            if write:
                for target in targets:
                    cluster.drop(target)
            measure.release.append(run)
            measure.replay.append(replay if replay.ok() else None)
            measure.one.append(one if one.ok() else None)
            measure.select.append(select)
            measure.statements.append(len(statements))
    return summarize(measures)


def summarize(measures):
    """Medians and counts per command; start-up exchanges from psql's `select 1` (all cycles but
    its one query), checked against release's (its cycles minus its own count)."""
    summary = {}
    for name, measure in measures.items():
        startup_psql = {run.cycles - 1 for run in measure.select if len(run.connections) == 1}
        startup = min(startup_psql) if startup_psql else None
        release_startup = set()
        for run in measure.release:
            if run.stated is not None and run.connections:
                release_startup.add((run.cycles - run.stated) / len(run.connections))
        after = [run.cycles - startup * len(run.connections) for run in measure.release] if startup is not None else []
        replays = [run for run in measure.replay if run]
        ones = [run for run in measure.one if run]
        replay_startup = {run.cycles - count for run, count in zip(measure.replay, measure.statements) if run}
        summary[name] = {
            "release_wall": median([run.wall for run in measure.release]),
            "release_walls": [run.wall for run in measure.release],
            "cycles_after": sorted(set(after)),
            "stated": sorted({run.stated for run in measure.release}),
            "connections": sorted({len(run.connections) for run in measure.release}),
            "startup_psql": sorted(startup_psql),
            "startup_release": sorted(release_startup),
            "startup_replay": sorted(replay_startup),
            "statements": sorted(set(measure.statements)),
            "replay_wall": median([run.wall for run in replays]),
            "replay_cycles": sorted({run.cycles for run in replays}),
            "one_wall": median([run.wall for run in ones]),
            "one_cycles": sorted({run.cycles for run in ones}),
            "select_wall": median([run.wall for run in measure.select]),
            "release_connected": median([run.connected_after(startup) for run in measure.release]) if startup else None,
            "psql_connected": median([run.connected_after(startup) for run in measure.select]) if startup else None,
            "release_opened": median([run.opened_after() for run in measure.release]),
            "psql_opened": median([run.opened_after() for run in measure.select]),
            "held_ms": held(measure.release + replays + ones + measure.select),
            "notes": sorted(measure.notes),
        }
    return summary


def held(runs):
    """The mean time a chunk actually waited in the proxy, each way (the delay as applied)."""
    values = [connection["held_ms"] for run in runs for connection in run.connections]
    up = [value[0] for value in values if value[0] is not None]
    down = [value[1] for value in values if value[1] is not None]
    return [statistics.mean(up) if up else None, statistics.mean(down) if down else None]


def shown(values):
    return "/".join(str(int(value) if float(value).is_integer() else value) for value in values) or "-"


def write_tables(bench, results, delays):
    lines = []
    for rtt in delays:
        summary = results[rtt]
        applied = [s["held_ms"] for s in summary.values()]
        up = statistics.mean(value[0] for value in applied if value[0] is not None)
        down = statistics.mean(value[1] for value in applied if value[1] is not None)
        lines.append(f"\n### {rtt:g} ms round trip (applied: {up:.2f} + {down:.2f} ms, the proxy's mean hold each way)\n")
        lines.append("| command | release: wall | cycles after connecting (release says) | start-up exchanges | "
                     "psql, same statements one per request: wall / cycles | psql, all in one request: wall | "
                     "release / psql one per request |")
        lines.append("|---|---|---|---|---|---|---|")
        for name, s in summary.items():
            ratio = s["release_wall"] / s["replay_wall"] if s["replay_wall"] else None
            lines.append(f"| {name} | {ms(s['release_wall'])} | {shown(s['cycles_after'])} ({shown(s['stated'])}) | "
                         f"{shown(s['startup_release'])} (psql {shown(s['startup_psql'])}) | "
                         f"{ms(s['replay_wall'])} / {shown(s['replay_cycles'])} ({shown(s['statements'])} statements) | "
                         f"{ms(s['one_wall'])} | {'-' if ratio is None else f'{ratio:.2f}x'} |")
        selects = [s["select_wall"] for s in summary.values()]
        connected = [(s["release_connected"], s["psql_connected"]) for s in summary.values()]
        opened = [(s.get("release_opened"), s.get("psql_opened")) for s in summary.values()]
        lines.append(f"\npsql -c 'select 1' through the proxy: {ms(statistics.median(selects))}; connected (process start "
                     f"to ready for queries): release {ms(median([c[0] for c in connected]))}, "
                     f"psql {ms(median([c[1] for c in connected]))}; of which before the first byte reached the proxy: "
                     f"release {ms(median([o[0] for o in opened]))}, psql {ms(median([o[1] for o in opened]))}")
        notes = sorted({note for s in summary.values() for note in s["notes"]})
        lines.extend(f"- note: {note}" for note in notes)
        add_rows(bench, rtt, summary)
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(bench.ARGS.out, "latency.md"), "w") as handle:
        handle.write(text)
    with open(os.path.join(bench.ARGS.out, "latency.json"), "w") as handle:
        json.dump({str(rtt): results[rtt] for rtt in delays}, handle, indent=1)


def add_rows(bench, rtt, summary):
    for name, s in summary.items():
        goal = CYCLE_GOALS[name]
        cycles = max(s["cycles_after"]) if s["cycles_after"] else None
        agree = s["startup_release"] == s["startup_psql"] and len(s["startup_psql"]) == 1 and s["stated"] == s["cycles_after"]
        note = (f"release says {shown(s['stated'])} round trips; start-up {shown(s['startup_release'])} exchanges, psql's "
                f"{shown(s['startup_psql'])}{'' if agree else ' (DISAGREE)'}")
        if goal is not None:
            bench.row(f"{rtt:g} ms: {name}: request cycles after connecting", str(cycles), f"at most {goal}",
                      cycles is not None and cycles <= goal, note)
        else:
            bench.row(f"{rtt:g} ms: {name}: request cycles after connecting", str(cycles), "-", True, note)
        if s["replay_wall"]:
            ratio = s["release_wall"] / s["replay_wall"]
            bench.row(f"{rtt:g} ms: {name}: wall", ms(s["release_wall"]),
                      f"within {WALL_GOAL}x of psql sending the same statements", ratio <= WALL_GOAL,
                      f"psql {ms(s['replay_wall'])} ({shown(s['statements'])} statements, one per request), ratio {ratio:.2f}x; "
                      f"psql in one request {ms(s['one_wall'])} ({s['release_wall'] / s['one_wall']:.2f}x)"
                      if s["one_wall"] else f"ratio {ratio:.2f}x")
        else:
            bench.row(f"{rtt:g} ms: {name}: wall", ms(s["release_wall"]), f"within {WALL_GOAL}x of psql", False,
                      "psql could not replay the statements: " + "; ".join(s["notes"]))
        if s["one_wall"]:
            # The stricter reading: psql connecting and sending the same statements in one request,
            # which a command at its goal of one request cycle can match. Deploy and promote run a
            # deploy command between their writes, so one request is not their floor: shown only.
            ratio = s["release_wall"] / s["one_wall"]
            bench.row(f"{rtt:g} ms: {name}: wall vs psql in one request", f"{ratio:.2f}x",
                      f"within {WALL_GOAL}x" if goal == 1 else "-", ratio <= WALL_GOAL or goal != 1,
                      f"{ms(s['release_wall'])} vs {ms(s['one_wall'])} (psql -c with the {shown(s['statements'])} statements)")
    release = median([s["release_connected"] for s in summary.values()])
    psql = median([s["psql_connected"] for s in summary.values()])
    if release is not None and psql is not None:
        opened = median([s.get("release_opened") for s in summary.values()])
        psql_opened = median([s.get("psql_opened") for s in summary.values()])
        bench.row(f"{rtt:g} ms: connecting (process start to ready for queries)", ms(release), "no slower than psql",
                  release <= psql * 1.05, f"psql {ms(psql)} ({release / psql:.2f}x; 5 % allowed for noise); the first byte "
                  f"after {ms(opened)} (psql {ms(psql_opened)})")
