import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

/// `release rollback --reverse-migrations` against real Django 5.2 (`RELEASE_TEST_DJANGO_PYTHON`,
/// a virtual environment ops/test makes from PyPI): a tiny CRM on SQLite in a git repository, one
/// commit per release, `manage.py migrate` run at each release's commit as a platform's release
/// phase would.
@Suite struct DjangoMigrationsTests {
    /// The Django project: settings that put the database outside every worktree, and no models
    /// (migrations are all `migrate` reads).
    static func writeProject(_ harness: Harness, database: String) throws {
        let files = [
            "manage.py": """
            import os
            import sys

            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "site_.settings")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)

            """,
            "site_/__init__.py": "",
            "site_/settings.py": """
            SECRET_KEY = "not-a-secret"
            INSTALLED_APPS = ["crm"]
            DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "\(database)"}}
            DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
            USE_TZ = True

            """,
            "crm/__init__.py": "",
            "crm/migrations/__init__.py": "",
        ]
        for (path, text) in files { try write(harness, path, text) }
    }

    static func write(_ harness: Harness, _ path: String, _ text: String) throws {
        let full = harness.directory + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: full, atomically: true, encoding: .utf8)
    }

    /// A migration of the crm app, written the way makemigrations writes them.
    static func migration(_ name: String, after previous: String, _ operations: String, preamble: String = "") -> (String, String) {
        let text = """
            from django.db import migrations, models
            \(preamble)

            class Migration(migrations.Migration):

                dependencies = [
                    ('crm', '\(previous)'),
                ]

                operations = [
            \(operations)
                ]

            """
        return ("crm/migrations/\(name).py", text)
    }

    /// Commits `files`; the commit's SHA.
    static func commit(_ harness: Harness, _ files: [(String, String)], subject: String) throws -> String {
        for (path, text) in files { try write(harness, path, text) }
        try SchemaEndToEndTests.git(harness, "add", "manage.py", "site_", "crm")
        try SchemaEndToEndTests.git(harness, "commit", "--quiet", "-m", subject)
        return try SchemaEndToEndTests.git(harness, "rev-parse", "HEAD")
    }

    /// The platform's release phase: `manage.py migrate` at `commit`.
    static func migrate(_ harness: Harness, django: String, at commit: String) async throws {
        try SchemaEndToEndTests.git(harness, "checkout", "--quiet", commit)
        let migrated = try await RunningCommand.launch(django, ["manage.py", "migrate", "--noinput", "-v", "0"], directory: harness.directory)
            .finish()
        guard migrated.status == 0 else { throw TestSupportError("migrate at \(commit) failed: \(migrated.output)") }
    }

    /// The crm migrations applied to the database, and the columns of its contact table.
    static func schema(_ database: String) async throws -> (applied: [String], columns: [String]) {
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            print(",".join(r[0] for r in db.execute("SELECT name FROM django_migrations WHERE app = 'crm' ORDER BY name")))
            print(",".join(r[1] for r in db.execute("PRAGMA table_info(crm_contact)")))
            """
        let result = try await RunningCommand.launch(Python.executable, ["-c", script, database], directory: "/").finish()
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard result.status == 0, lines.count >= 2 else { throw TestSupportError("reading \(database) failed: \(result.output)") }
        return (lines[0].split(separator: ",").map(String.init), lines[1].split(separator: ",").map(String.init))
    }

    @Test func reverseMigrationsRefusesAnIrreversiblePlanAndReversesAReversibleOne() async throws {
        let environment = ProcessInfo.processInfo.environment
        let django = try #require(
            environment["RELEASE_TEST_DJANGO_PYTHON"].flatMap { $0.isEmpty ? nil : $0 },
            "set RELEASE_TEST_DJANGO_PYTHON to a python with Django 5.2 (ops/test makes one in .venv-django)")
        try await Harness.with { harness in
            let database = harness.directory + "/crm.sqlite3"
            let reverse = "\(django) manage.py migrate {app} {target} --noinput"
            try harness.writeConfig(
                harness.defaultConfig() + """
                    migrations:
                      framework: django
                      paths: ["*/migrations/[0-9][0-9][0-9][0-9]_*.py"]
                      reverse: "\(reverse)"
                      reverse_plan: "\(django) manage.py migrate {app} {target} --plan"

                    """)
            try SchemaEndToEndTests.git(harness, "init", "--quiet")
            try Self.writeProject(harness, database: database)
            let initial = try String(
                contentsOfFile: ProjectPaths.root + "/Tests/ReleaseCoreTests/Fixtures/django/crm/migrations/0001_initial.py", encoding: .utf8)
            let commits = [
                try Self.commit(harness, [("crm/migrations/0001_initial.py", initial)], subject: "Contacts"),
                try Self.commit(
                    harness,
                    [
                        Self.migration(
                            "0002_backfill", after: "0001_initial", "        migrations.RunPython(backfill),",
                            preamble: "\n\ndef backfill(apps, schema_editor):\n    apps.get_model('crm', 'Contact').objects.update(name='x')\n")
                    ], subject: "Backfill names, with no way back"),
                try Self.commit(
                    harness, [Self.migration("0003_remove_email", after: "0002_backfill", "        migrations.RemoveField('contact', 'email'),")],
                    subject: "Drop email"),
                try Self.commit(
                    harness,
                    [
                        Self.migration(
                            "0004_scratch", after: "0003_remove_email",
                            "        migrations.RunSQL('CREATE TABLE crm_scratch (id integer)', reverse_sql='DROP TABLE crm_missing'),"),
                        Self.migration(
                            "0005_contact_phone", after: "0004_scratch",
                            "        migrations.AddField('contact', 'phone', models.CharField(max_length=40, null=True)),"),
                    ], subject: "A scratch table whose reverse fails, and a phone"),
            ]
            let versions = ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
            for (version, commit) in zip(versions, commits) {
                try await harness.must(["create", version, "--artifact", try harness.artifact(version), "--commit", commit])
            }
            for (version, commit) in zip(versions, commits).prefix(3) {
                try await harness.must("deploy", version, "develop")
                try await Self.migrate(harness, django: django, at: commit)
            }
            #expect(try await Self.schema(database).columns == ["id", "name"])

            // Back to 1.1.0: Django's plan undoes the dropped column, so the column comes back first.
            let plan = try await harness.run("rollback", "develop", "--to", "1.1.0", "--plan", "--reverse-migrations")
            #expect(plan.status == 0, "\(plan)")
            #expect(plan.stdout.contains("crm back to 0002_backfill") && plan.stdout.contains("crm.0003_remove_email"), "\(plan)")
            let reversed = try await harness.run("rollback", "develop", "--to", "1.1.0", "--reverse-migrations", "--reason", "email is needed")
            #expect(reversed.status == 0, "\(reversed)")
            #expect(try await harness.served("develop") == "1.1.0")
            var schema = try await Self.schema(database)
            #expect(schema.applied == ["0001_initial", "0002_backfill"], "\(schema)")
            #expect(schema.columns.sorted() == ["email", "id", "name"], "\(schema)")

            // Back to 1.0.0 would undo a RunPython without reverse_code: refused, the schema untouched.
            let refused = try await harness.run("rollback", "develop", "--to", "1.0.0", "--reverse-migrations", "--reason", "older")
            #expect(refused.status == 3, "\(refused)")
            #expect(refused.stderr.contains("crm.0002_backfill: Raw Python operation -> IRREVERSIBLE"), "\(refused)")
            #expect(try await harness.served("develop") == "1.1.0")
            #expect(try await Self.schema(database).applied == ["0001_initial", "0002_backfill"])

            // A reverse that fails half way: 0005 is undone, 0004's reverse_sql fails; the code stays.
            try await harness.must("deploy", "1.2.0", "develop")
            try await Self.migrate(harness, django: django, at: commits[2])
            try await harness.must("deploy", "1.3.0", "develop")
            try await Self.migrate(harness, django: django, at: commits[3])
            let failed = try await harness.run("rollback", "develop", "--to", "1.2.0", "--reverse-migrations", "--reason", "phone is wrong")
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stderr.contains("undone: crm.0005_contact_phone; still applied: crm.0004_scratch"), "\(failed)")
            #expect(failed.stderr.contains("still serves 1.3.0 (the code was not swapped)"), "\(failed)")
            #expect(try await harness.served("develop") == "1.3.0")
            schema = try await Self.schema(database)
            #expect(schema.applied == ["0001_initial", "0002_backfill", "0003_remove_email", "0004_scratch"], "\(schema)")
            #expect(!schema.columns.contains("phone"), "\(schema)")

            let events = try await harness.run("audit", "--json").json?["events"]?.arrayValue ?? []
            let actions = events.compactMap { $0["action"]?.stringValue }
            for action in ["migrations.reversed", "migrations.reverse_refused", "migrations.reverse_failed"] {
                #expect(actions.contains(action), "\(action) in \(actions)")
            }
        }
    }
}
