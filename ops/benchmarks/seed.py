#!/usr/bin/env python3
"""Fills a migrated `release` database with years of history, for ops/bench.

    seed.py PSQL_URL --apps 200 --events 1000000 --deployments 100000 [--big-share 0.1]

Writes apps (the first is crm-api, the one the benchmarks query; the rest app-001...), a develop
and a main environment each, releases, deployments (each release deployed to develop, then
promoted to main), what was live when (occupancy) and the audit trail, all spread over the two
years before now and interleaved across apps in time order, as a shared database grows. The audit
trail is a valid hash chain per app, built exactly as the database's trigger builds it, so
`release audit verify` passes on it. Rows go in with COPY under session_replication_role =
replica (the triggers would stamp every row with the current time); the constraints still hold.
crm-api holds --big-share of the events (the rest are spread evenly).
"""
import argparse
import hashlib
import heapq
import subprocess
import sys
from datetime import datetime, timedelta, timezone

ACTIONS = [
    ("release.created", None), ("check.recorded", None), ("check.recorded", None),
    ("deploy.started", "develop"), ("deploy.cutover", "develop"), ("deploy.live", "develop"),
    ("watch.passed", "develop"), ("approval.recorded", "main"),
    ("promote.started", "main"), ("promote.cutover", "main"), ("promote.live", "main"),
    ("watch.passed", "main"),
]


def field(value):
    if value is None:
        return "-\n"
    return f"{len(value.encode())}:{value}\n"


def stamp(instant):
    return instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pg_time(instant):
    return instant.strftime("%Y-%m-%d %H:%M:%S.%f+00")


def copy_text(value):
    if value is None:
        return "\\N"
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


class Copy:
    """COPY ... FROM STDIN through psql, with triggers off for this session."""

    def __init__(self, url, table, columns):
        self.process = subprocess.Popen(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url], stdin=subprocess.PIPE, text=True,
            stdout=subprocess.DEVNULL)
        self.process.stdin.write("SET session_replication_role = replica;\n")
        self.process.stdin.write(f"COPY {table} ({', '.join(columns)}) FROM STDIN;\n")
        self.buffer = []

    def row(self, *values):
        self.buffer.append("\t".join(copy_text(v) for v in values))
        if len(self.buffer) >= 5000:
            self.flush()

    def flush(self):
        if self.buffer:
            self.process.stdin.write("\n".join(self.buffer) + "\n")
            self.buffer = []

    def close(self):
        self.flush()
        self.process.stdin.write("\\.\n")
        self.process.stdin.close()
        if self.process.wait() != 0:
            sys.exit("seed: COPY failed")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--apps", type=int, default=200)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--deployments", type=int, default=100_000)
    parser.add_argument("--big-share", type=float, default=0.1)
    parser.add_argument("--days", type=int, default=730)
    args = parser.parse_args()

    end = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(hours=1)
    start = end - timedelta(days=args.days)
    span = (end - start).total_seconds()
    names = ["crm-api"] + [f"app-{i:03d}" for i in range(1, args.apps)]

    # Apps and environments (ids fixed here: app i is i+1; its develop 2i+1, main 2i+2).
    apps = Copy(args.url, "apps", ["id", "name", "created_at"])
    for index, name in enumerate(names):
        apps.row(str(index + 1), name, pg_time(start))
    apps.close()
    environments = Copy(args.url, "environments", ["id", "app_id", "name", "health", "created_at"])
    for index in range(len(names)):
        environments.row(str(2 * index + 1), str(index + 1), "develop", "healthy", pg_time(start))
        environments.row(str(2 * index + 2), str(index + 1), "main", "healthy", pg_time(start))
    environments.close()

    # Releases and deployments: each app ships `per_app` releases, evenly spaced, each deployed to
    # develop and promoted to main half an interval later.
    per_app = max(1, args.deployments // (2 * len(names)))
    step = span / per_app
    releases = Copy(args.url, "releases", ["id", "app_id", "version", "commit_sha", "artifact", "created_by", "created_at"])
    deployments = Copy(args.url, "deployments", [
        "id", "app_id", "environment_id", "release_id", "kind", "state", "actor", "source_deployment_id",
        "verified", "detail", "started_at", "cutover_at", "finished_at", "live_reference"])
    occupancy = Copy(args.url, "occupancy", ["id", "environment_id", "release_id", "deployment_id", "during"])

    def shipments(app_index):
        offset = app_index * step / len(names)
        for k in range(per_app):
            yield (offset + k * step, app_index, k)

    release_id = deployment_id = occupancy_id = 0
    previous = {}  # environment -> (deployment id, release id, cutover) of what is live until the next cutover
    for seconds, app_index, k in heapq.merge(*(shipments(i) for i in range(len(names)))):
        app_id = app_index + 1
        created = start + timedelta(seconds=seconds)
        release_id += 1
        version = f"1.{k // 100}.{k % 100}"
        releases.row(str(release_id), str(app_id), version, f"{release_id:07x}", f"registry/{names[app_index]}:{version}",
                     "ci", pg_time(created))
        source = None
        for environment, delay, kind in ((2 * app_index + 1, 60, "deploy"), (2 * app_index + 2, step / 2, "promote")):
            deployment_id += 1
            cutover = created + timedelta(seconds=delay)
            last = k == per_app - 1
            deployments.row(
                str(deployment_id), str(app_id), str(environment), str(release_id), kind, "live" if last else "superseded",
                "alice" if kind == "promote" else "ci", str(source) if source else None, "t", "healthy: 200",
                pg_time(cutover - timedelta(seconds=20)), pg_time(cutover), pg_time(cutover + timedelta(seconds=5)), "{}")
            if environment in previous:
                before_id, before_release, before_cutover = previous[environment]
                occupancy_id += 1
                occupancy.row(str(occupancy_id), str(environment), str(before_release), str(before_id),
                              f"[{pg_time(before_cutover)},{pg_time(cutover)})")
            previous[environment] = (deployment_id, release_id, cutover)
            source = deployment_id
    for environment, (before_id, before_release, before_cutover) in sorted(previous.items()):
        occupancy_id += 1
        occupancy.row(str(occupancy_id), str(environment), str(before_release), str(before_id), f"[{pg_time(before_cutover)},)")
    releases.close()
    deployments.close()
    occupancy.close()

    # The audit trail, interleaved across apps in time order, each app's a valid hash chain.
    big = int(args.events * args.big_share) if len(names) > 1 else args.events
    rest = args.events - big
    counts = [big] + [rest // (len(names) - 1) + (1 if i < rest % (len(names) - 1) else 0) for i in range(len(names) - 1)]

    def events(app_index):
        count = counts[app_index]
        gap = span / max(count, 1)
        offset = app_index * gap / len(names)
        for n in range(count):
            yield (offset + n * gap, app_index, n)

    audit = Copy(args.url, "audit_events", [
        "id", "app_id", "sequence", "at", "actor", "action", "environment", "version", "details", "previous_hash", "hash"])
    heads = [None] * len(names)
    last_at = [None] * len(names)
    event_id = 0
    for seconds, app_index, n in heapq.merge(*(events(i) for i in range(len(names)))):
        event_id += 1
        at = start + timedelta(microseconds=int(seconds * 1_000_000))
        if last_at[app_index] is not None and at <= last_at[app_index]:
            at = last_at[app_index] + timedelta(microseconds=1)
        last_at[app_index] = at
        action, environment = ACTIONS[n % len(ACTIONS)]
        version = f"1.{(n // 1200) // 100}.{(n // 1200) % 100}"
        details = "{}" if environment is None else f'{{"deployment": {n // 6 + 1}}}'
        actor = "ci" if action.startswith(("check", "release", "deploy", "watch")) else "alice"
        sequence = str(n + 1)
        text = (field(names[app_index]) + field(sequence) + field(stamp(at)) + field(actor) + field(action)
                + field(environment) + field(version) + field(details) + field(heads[app_index]))
        digest = hashlib.sha256(text.encode()).hexdigest()
        audit.row(str(event_id), str(app_index + 1), sequence, pg_time(at), actor, action, environment, version, details,
                  heads[app_index], digest)
        heads[app_index] = digest
    audit.close()

    # Chain heads, and the identity sequences past the ids written here.
    lines = [f"UPDATE apps SET audit_sequence = {counts[i]}, audit_head = {'NULL' if heads[i] is None else repr(heads[i])} WHERE id = {i + 1};"
             for i in range(len(names))]
    lines += [f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}));"
              for table in ("apps", "environments", "releases", "deployments", "occupancy", "audit_events")]
    lines.append("ANALYZE;")
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", args.url], input="\n".join(lines) + "\n", text=True,
                   check=True, stdout=subprocess.DEVNULL)
    print(f"seeded {len(names)} apps, {release_id} releases, {deployment_id} deployments, {event_id} audit events "
          f"({counts[0]} of them crm-api's)")


if __name__ == "__main__":
    main()
