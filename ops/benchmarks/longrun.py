"""`ops/bench --only longrun|watch|serve [--duration 2m|1h]`: what `release` does over time.

- watch: `release watch develop --for DURATION` against a health endpoint served here on
  127.0.0.1 (interval 2 s), its resident memory (VmRSS), threads, open files and CPU time
  (utime + stime) sampled from /proc every few seconds.
- serve: `release serve` over 1 million audit events (seed.py; the database bench_load is kept
  between runs and reused), read by --clients concurrent clients (threads, keep-alive
  connections, 127.0.0.1 only) going round the dashboard's pages for DURATION: requests per
  second, p50/p99 latency, and the server's RSS and CPU over time.

Called by bench.py, which passes itself (`bench`) for its helpers and its table. The samples go
to OUT/watch-samples.csv and OUT/serve-samples.csv.
"""
import http.client
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")


def seconds(text):
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|h)?", text.strip())
    if not match:
        sys.exit(f"bench: a duration is a number with s, m or h (30s, 2m, 1h), not {text!r}")
    return float(match.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[match.group(2)]


def span(total):
    """A duration as release's --for takes it."""
    total = int(total)
    if total % 3600 == 0:
        return f"{total // 3600}h"
    if total % 60 == 0:
        return f"{total // 60}m"
    return f"{total}s"


class Sampler:
    """Samples a process's RSS, threads, open files and CPU time from /proc every `interval` s."""

    def __init__(self, pid, interval):
        self.pid = pid
        self.interval = interval
        self.samples = []  # (seconds since start, RSS KiB, CPU seconds, threads, open files)
        self.started = time.monotonic()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def sample(self):
        try:
            with open(f"/proc/{self.pid}/status") as handle:
                status = dict(line.split(":", 1) for line in handle if ":" in line)
            with open(f"/proc/{self.pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            files = len(os.listdir(f"/proc/{self.pid}/fd"))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return
        cpu = (int(fields[11]) + int(fields[12])) / TICK  # utime and stime: fields 14 and 15 of stat
        rss = int(status["VmRSS"].split()[0])
        self.samples.append((time.monotonic() - self.started, rss, cpu, int(status["Threads"]), files))

    def loop(self):
        while not self.stopping.is_set():
            self.sample()
            self.stopping.wait(self.interval)

    def stop(self):
        self.sample()
        self.stopping.set()
        self.thread.join()

    def write(self, path):
        with open(path, "w") as handle:
            handle.write("seconds,rss_kib,cpu_seconds,threads,open_files\n")
            for sample in self.samples:
                handle.write(f"{sample[0]:.1f},{sample[1]},{sample[2]:.2f},{sample[3]},{sample[4]}\n")

    def summary(self):
        return summarize(self.samples)


def slope(points):
    """Least squares: the change of y per unit of x."""
    if len(points) < 2:
        return 0.0
    mean_x = statistics.mean(x for x, _ in points)
    mean_y = statistics.mean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def summarize(samples):
    """RSS over the run, in MiB: its baseline (the lowest sample in each tenth of the run after
    the first: what the process keeps, without the bursts of work in flight) at the start, middle
    and end, and the baseline's slope per hour; the peak; CPU seconds per minute; the range of
    threads and open files."""
    samples = [sample for sample in samples if sample[0] >= 1] or samples  # not the exec itself
    if len(samples) < 3:
        return None
    total = samples[-1][0]
    steady = [sample for sample in samples if sample[0] >= total / 10] or samples
    windows = max(3, min(9, len(steady) // 3))
    width = (steady[-1][0] - steady[0][0]) / windows or 1
    lows = []
    for index in range(windows):
        inside = [sample for sample in steady if index <= (sample[0] - steady[0][0]) / width < index + 1 or
                  (index == windows - 1 and sample is steady[-1])]
        if inside:
            low = min(inside, key=lambda sample: sample[1])
            lows.append((low[0], low[1] / 1024))
    elapsed = samples[-1][0] - samples[0][0]
    return {
        "first": samples[0][1] / 1024, "start": lows[0][1], "middle": lows[len(lows) // 2][1], "end": lows[-1][1],
        "peak": max(sample[1] for sample in samples) / 1024, "last": samples[-1][1] / 1024,
        "slope_per_hour": slope(lows) * 3600,
        "cpu_per_minute": (samples[-1][2] - samples[0][2]) / elapsed * 60 if elapsed else 0.0,
        "cpu": samples[-1][2], "elapsed": elapsed,
        "threads": (min(sample[3] for sample in samples), max(sample[3] for sample in samples)),
        "files": (min(sample[4] for sample in samples), max(sample[4] for sample in samples)),
    }


def growth_verdict(summary):
    """Flat unless the baseline grows by more than 1 MiB per hour and, over the run, by more than
    1 MiB and 2 % (the allocator's own drift on a short run is a few hundred KiB)."""
    grown = summary["end"] - summary["start"]
    growing = summary["slope_per_hour"] > 1 and grown > max(1.0, summary["start"] * 0.02)
    return not growing, ("growing" if growing else "flat")


def mib(value):
    return f"{value:.1f} MiB"


def rss_row(bench, label, summary):
    flat, word = growth_verdict(summary)
    bench.row(f"{label}: resident memory start / middle / end", f"{mib(summary['start'])} / {mib(summary['middle'])} / "
              f"{mib(summary['end'])}", "flat", flat,
              f"{word}: baseline {summary['slope_per_hour']:+.2f} MiB/h (the lowest sample of each part of the run, the "
              f"first tenth left out); first sample {mib(summary['first'])}, peak {mib(summary['peak'])}; "
              f"threads {summary['threads'][0]}-{summary['threads'][1]}, open files {summary['files'][0]}-{summary['files'][1]}")


def bench_watch(bench, cluster, workdir, duration):
    health = bench.SlowHealthServer()  # /health/0: answered at once, counted
    process = None
    try:
        cluster.fresh("bench_watch", bench.ARGS.bin)
        environment = ["provider: command", 'command: {deploy: "true"}',
                       f'health: {{url: "http://127.0.0.1:{health.port}/health/0", interval: 2s, successes: 1, within: 10s, timeout: 3s}}']
        app = bench.App(bench.ARGS.bin, cluster.url("bench_watch"), "watch-app", [("develop", environment)],
                        os.path.join(workdir, "watch"))
        app.run("create", "1.0.0")
        app.run("deploy", "1.0.0", "develop")
        before = health.requests
        print(f"  watch: release watch develop --for {span(duration)}, sampled every few seconds", file=sys.stderr, flush=True)
        started = time.monotonic()
        process = subprocess.Popen([app.binary, "watch", "develop", "--for", span(duration)], env=app.env, cwd=app.dir,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sampler = Sampler(process.pid, 2 if duration <= 600 else 5)
        try:
            stdout, stderr = process.communicate(timeout=duration + 120)
        finally:
            sampler.stop()
        elapsed = time.monotonic() - started
        sampler.write(os.path.join(bench.ARGS.out, "watch-samples.csv"))
        probes = health.requests - before
        trips = re.search(r"database round trips: (\d+)", stderr)
        if process.returncode != 0:
            bench.row(f"watch {span(duration)}", f"exit {process.returncode}", "exit 0", False, (stdout + stderr).strip()[-300:])
            return None
        summary = sampler.summary()
        label = f"watch {span(duration)}"
        rss_row(bench, label, summary)
        bench.row(f"{label}: CPU", f"{summary['cpu_per_minute']:.3f} s per minute", "-", True,
                  f"{summary['cpu']:.2f} s over {elapsed:.0f} s")
        trips = int(trips.group(1)) if trips else None
        bench.row(f"{label}: probes and database round trips", f"{probes} probes, {trips} round trips", "a probe every 2 s",
                  probes >= duration / 2 * 0.9, f"{(trips or 0) / max(probes, 1):.2f} round trips per probe; "
                  f"{stdout.strip()[-120:]}")
        return summary
    finally:
        if process is not None and process.poll() is None:
            process.kill()
        health.shutdown()


def load_database(bench, cluster, events):
    """bench_load with `events` audit events (seed.py), kept between runs: seeding takes minutes."""
    database = "bench_load"
    exists = cluster.psql("postgres", f"SELECT 1 FROM pg_database WHERE datname = '{database}'") == "1"
    if exists:
        subprocess.run([bench.ARGS.bin, "migrate", "--database-url", cluster.url(database)], check=True, capture_output=True)
        count = cluster.psql(database, "SELECT coalesce(sum(audit_sequence), 0) FROM apps")
        if int(count) >= events:
            return database
    cluster.fresh(database, bench.ARGS.bin)
    started = time.monotonic()
    seeded = subprocess.run([sys.executable, os.path.join(HERE, "seed.py"), cluster.url(database), "--events", str(events),
                             "--deployments", "100000"], check=True, capture_output=True, text=True).stdout.strip()
    print(f"  {seeded} in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return database


def postgres_cpu(cluster):
    """CPU seconds used so far by the cluster's server processes (the postmaster's children);
    None when the server is not running (then the run's figures are suspect anyway)."""
    try:
        with open(os.path.join(os.path.dirname(cluster.socket), "data", "postmaster.pid")) as handle:
            postmaster = handle.readline().strip()
    except OSError:
        return None
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == postmaster or pid == postmaster:
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def bench_serve(bench, cluster, workdir, duration, clients):
    database = load_database(bench, cluster, 1_000_000)
    app = bench.App(bench.ARGS.bin, cluster.url(database), "crm-api", bench.PIPELINE, os.path.join(workdir, "serve"))
    instant = (datetime.now(timezone.utc) - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pages = ["/", "/partials/status", "/apps/crm-api", "/releases/1.0.0?app=crm-api", "/api/status?app=crm-api",
             "/api/history?app=crm-api&limit=50", f"/api/audit?app=crm-api&at={instant}", "/apps/app-001"]
    server = subprocess.Popen([app.binary, "serve", "--port", "0"], env=app.env, cwd=app.dir, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", server.stdout.readline())
        if not match:
            sys.exit("bench: release serve printed no 127.0.0.1 address")
        port = int(match.group(1))
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for page in pages:  # the release page walks the whole trail once; then every page is warm
            warm.request("GET", page)
            warm.getresponse().read()
        warm.close()
        print(f"  serve: {clients} clients for {span(duration)} over {len(pages)} pages", file=sys.stderr, flush=True)
        sampler = Sampler(server.pid, 2 if duration <= 600 else 5)
        deadline = time.monotonic() + duration
        results = [[] for _ in range(clients)]
        errors = [0] * clients

        def client(index):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            turn = index
            while time.monotonic() < deadline:
                page = pages[turn % len(pages)]
                turn += 1
                started = time.monotonic()
                try:
                    connection.request("GET", page)
                    response = connection.getresponse()
                    response.read()
                    if response.status != 200:
                        errors[index] += 1
                        continue
                except (OSError, http.client.HTTPException):
                    errors[index] += 1
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    continue
                results[index].append((page, time.monotonic() - started))
            connection.close()

        threads = [threading.Thread(target=client, args=(index,), daemon=True) for index in range(clients)]
        server_side, own = postgres_cpu(cluster), os.times()
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=duration + 120)
        elapsed = time.monotonic() - started
        after = postgres_cpu(cluster)
        server_side = after - server_side if after is not None and server_side is not None else None
        own = os.times().user - own.user + os.times().system - own.system
        sampler.stop()
        sampler.write(os.path.join(bench.ARGS.out, "serve-samples.csv"))
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    answered = [result for client_results in results for result in client_results]
    latencies = [seconds_taken for _, seconds_taken in answered]
    label = f"serve, {clients} clients, {span(duration)}"
    bench.row(f"{label}: throughput", f"{len(answered) / elapsed:.0f} requests/s", "-", sum(errors) == 0,
              f"{len(answered)} answered, {sum(errors)} errors, 1M audit events, 200 apps")
    bench.row(f"{label}: latency p50 / p99", f"{latencies and percentile(latencies, 0.5) * 1000:.1f} / "
              f"{latencies and percentile(latencies, 0.99) * 1000:.1f} ms", "-", True,
              "; ".join(f"{page.split('?')[0]} p50 {percentile(values, 0.5) * 1000:.0f} p99 {percentile(values, 0.99) * 1000:.0f}"
                        for page, values in by_page(answered, pages)))
    summary = sampler.summary()
    if summary:
        rss_row(bench, label, summary)
        bench.row(f"{label}: server CPU", f"{summary['cpu_per_minute'] / 60:.2f} cores", "-", True,
                  f"{summary['cpu']:.1f} s over {summary['elapsed']:.0f} s; meanwhile PostgreSQL "
                  f"{'(stopped during the run)' if server_side is None else f'{server_side / elapsed:.2f} cores'}, "
                  f"the {clients} Python clients {own / elapsed:.2f} cores (of 2)")
    return summary


def by_page(answered, pages):
    for page in pages:
        values = [seconds_taken for name, seconds_taken in answered if name == page]
        if values:
            yield page, values
