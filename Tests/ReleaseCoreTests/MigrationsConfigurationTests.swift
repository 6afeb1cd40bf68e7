import ReleaseCore
import Testing

/// release.yml with `migrations:` on line 6 and its keys from line 7 on.
private func withMigrations(_ block: String) -> String {
    """
    app: crm-api
    environments:
      main:
        provider: command
        command: {deploy: ./deploy.sh}
    migrations:
    \(block)
    """
}

/// The contract's block as written.
private let contractBlock = """
      framework: django                 # django | generic
      paths: ["*/migrations/[0-9][0-9][0-9][0-9]_*.py"]   # relative to the git repository of release.yml
      lint: "python manage.py lintmigrations --git-commit-id {base} --project-root-path . --no-cache"  # optional
      reverse: "python manage.py migrate {app} {target} --noinput"    # optional; never run automatically
      reverse_plan: "python manage.py migrate {app} {target} --plan"  # required with reverse
    """

/// The error of `block` (from line 7), checked to be one line.
private func migrationsError(_ block: String, sourceLocation: SourceLocation = #_sourceLocation) -> String {
    let message = configError(withMigrations(block), sourceLocation: sourceLocation)
    #expect(!message.contains("\n"), "an error is one line: \(message)", sourceLocation: sourceLocation)
    return message
}

@Suite struct MigrationsConfigurationTests {
    @Test func theContractsBlockParses() throws {
        let migrations = try #require(try configuration(withMigrations(contractBlock)).migrations)
        #expect(migrations.framework == .django)
        #expect(migrations.paths == ["*/migrations/[0-9][0-9][0-9][0-9]_*.py"])
        #expect(migrations.lint == "python manage.py lintmigrations --git-commit-id {base} --project-root-path . --no-cache")
        #expect(migrations.reverse == "python manage.py migrate {app} {target} --noinput")
        #expect(migrations.reversePlan == "python manage.py migrate {app} {target} --plan")
    }

    @Test func absentIsNilAndTheOptionalKeysMayBeLeftOut() throws {
        let without = try configuration(withMigrations("").replacingOccurrences(of: "migrations:\n", with: ""))
        #expect(without.migrations == nil)
        let minimal = try #require(try configuration(withMigrations("  framework: generic\n  paths: db/migrations/*.sql")).migrations)
        #expect(minimal == MigrationsConfiguration(framework: .generic, paths: ["db/migrations/*.sql"]))
        let many = try #require(try configuration(withMigrations("  framework: django\n  paths: [\"a/**/*.py\", b/migrations/*.py]")).migrations)
        #expect(many.paths == ["a/**/*.py", "b/migrations/*.py"])
    }

    @Test func aShellVariableIsNoPlaceholder() throws {
        let block = "  framework: django\n  paths: [x/*.py]\n  lint: \"${LINTER:-lint} --base {base}\""
        #expect(try configuration(withMigrations(block)).migrations?.lint == "${LINTER:-lint} --base {base}")
    }

    @Test func errorsNameTheFileTheLineAndWhatToDo() {
        #expect(
            migrationsError("  framework: rails\n  paths: [x]")
                == "release.yml:7: migrations.framework: expected django or generic, found 'rails'.")
        #expect(migrationsError("  paths: [x]").hasPrefix("release.yml:7: migrations: missing key 'framework': how migration files are read"))
        #expect(migrationsError("  framework: django").hasPrefix("release.yml:7: migrations: missing key 'paths': globs of the migration files"))
        #expect(migrationsError("  framework: django\n  paths: []").hasPrefix("release.yml:8: migrations.paths: list at least one glob"))
        #expect(migrationsError("  framework: django\n  paths: {a: b}") == "release.yml:8: migrations.paths: expected a list of globs.")
        #expect(
            migrationsError("  framework: django\n  paths: [x, \"/srv/app/*/migrations/*.py\"]").hasPrefix(
                "release.yml:8: migrations.paths[1]: '/srv/app/*/migrations/*.py' is absolute; write globs relative to the root"))
        #expect(
            migrationsError("  framework: django\n  paths:\n    - a/*.py\n    - ../other/*/migrations/*.py").hasPrefix(
                "release.yml:10: migrations.paths[1]: '../other/*/migrations/*.py' leaves the repository with '..'"))
        #expect(migrationsError("  framework: django\n  paths: [./crm/migrations/*.py]").contains("with no './'"))
        #expect(migrationsError("  framework: django\n  paths: [\"crm/migrations/[0-9*.py\"]").contains("has a '[' that no ']' closes"))
        #expect(
            migrationsError("  framework: django\n  paths: [x]\n  linter: flake8").hasPrefix(
                "release.yml:9: migrations.linter: unknown key 'linter'; expected one of framework, paths, lint, reverse, reverse_plan."))
    }

    @Test func placeholdersAreChecked() {
        let paths = "  framework: django\n  paths: [x]\n"
        #expect(
            migrationsError(paths + "  lint: \"lint --from {head}\"")
                == "release.yml:9: migrations.lint: unknown placeholder '{head}'; this command may use {base} (a shell variable is ${NAME}).")
        #expect(
            migrationsError(paths + "  reverse: \"migrate {app} {target} {base}\"\n  reverse_plan: \"migrate {app} {target} --plan\"")
                .hasPrefix("release.yml:9: migrations.reverse: unknown placeholder '{base}'; this command may use {app} and {target}"))
        #expect(
            migrationsError(paths + "  reverse: \"migrate {app} {target}\"\n  reverse_plan: \"migrate {app} --plan\"")
                .hasPrefix("release.yml:10: migrations.reverse_plan: it runs once for each app with migrations to undo, so it needs {target}"))
        #expect(
            migrationsError(paths + "  reverse: \"python manage.py migrate {app} {target} --noinput\"")
                .hasPrefix("release.yml:9: migrations.reverse: reverse needs reverse_plan, the command that prints what it would undo"))
    }

    @Test func anEmptyBlockIsAnErrorNotNothing() {
        #expect(
            migrationsError("").hasPrefix("release.yml:6: migrations: expected a mapping of framework, paths, lint, reverse, reverse_plan."))
    }

    @Test func placeholdersAreFilled() {
        #expect(MigrationsConfiguration.placeholders(in: "migrate {app} {target} ${HOME} {x-y} {}") == ["app", "target"])
        #expect(
            MigrationsConfiguration.fill("migrate {app} {target} {app}", ["app": "crm", "target": "zero"]) == "migrate crm zero crm")
    }
}

@Suite struct MigrationPathsTests {
    let contractGlob = "*/migrations/[0-9][0-9][0-9][0-9]_*.py"

    @Test func theContractsGlob() {
        #expect(MigrationPaths.matches("crm/migrations/0001_initial.py", glob: contractGlob))
        #expect(MigrationPaths.matches("billing/migrations/0123_add_invoice_total.py", glob: contractGlob))
        #expect(!MigrationPaths.matches("crm/migrations/__init__.py", glob: contractGlob))
        #expect(!MigrationPaths.matches("crm/migrations/001_initial.py", glob: contractGlob), "four digits")
        #expect(!MigrationPaths.matches("crm/migrations/0001_initial.pyc", glob: contractGlob))
        #expect(!MigrationPaths.matches("src/crm/migrations/0001_initial.py", glob: contractGlob), "* stays in one segment")
        #expect(!MigrationPaths.matches("crm/migrations/sub/0001_initial.py", glob: contractGlob))
        #expect(!MigrationPaths.matches("crm/migrations/0001_.py.orig", glob: contractGlob))
    }

    @Test func doubleStarCrossesSegmentsIncludingNone() {
        let glob = "**/migrations/[0-9]*.py"
        #expect(MigrationPaths.matches("migrations/0001_initial.py", glob: glob))
        #expect(MigrationPaths.matches("crm/migrations/0001_initial.py", glob: glob))
        #expect(MigrationPaths.matches("src/apps/crm/migrations/0001_initial.py", glob: glob))
        #expect(!MigrationPaths.matches("src/apps/crm/migrations/initial.py", glob: glob))
        #expect(MigrationPaths.matches("db/a/b/c.sql", glob: "db/**"))
        #expect(MigrationPaths.matches("db/x.sql", glob: "db/**/*.sql"))
        #expect(!MigrationPaths.matches("dbx/x.sql", glob: "db/**/*.sql"))
    }

    @Test func questionMarksAndClasses() {
        #expect(MigrationPaths.matches("a/0001.sql", glob: "a/000?.sql"))
        #expect(!MigrationPaths.matches("a/00010.sql", glob: "a/000?.sql"))
        #expect(!MigrationPaths.matches("a/b", glob: "a?b"), "? is not /")
        #expect(MigrationPaths.matches("a/V2__x.sql", glob: "a/[VU][0-9]__*.sql"))
        #expect(!MigrationPaths.matches("a/R2__x.sql", glob: "a/[VU][0-9]__*.sql"))
        #expect(MigrationPaths.matches("a/x.sql", glob: "a/[!0-9]*.sql"))
        #expect(!MigrationPaths.matches("a/1.sql", glob: "a/[^0-9]*.sql"))
        #expect(MigrationPaths.matches("a/].sql", glob: "a/[]].sql"), "a ] first in a class is itself")
        #expect(!MigrationPaths.matches("a/5.sql", glob: "a/[9-0].sql"), "a reversed range matches nothing, and does not crash")
    }

    @Test func starsBacktrack() {
        #expect(MigrationPaths.matches("a/0001_add_x_py.py", glob: "a/*_*.py"))
        #expect(MigrationPaths.matches("a/abcabcabd", glob: "a/*abd"))
        #expect(MigrationPaths.matches("a/", glob: "a/*"), "* may be empty")
        #expect(!MigrationPaths.matches("a/" + String(repeating: "a", count: 60), glob: "a/" + String(repeating: "*a", count: 30) + "b"))
    }

    @Test func anyOfSeveral() {
        #expect(MigrationPaths.matches("b/m/1.py", any: ["a/m/*.py", "b/m/*.py"]))
        #expect(!MigrationPaths.matches("c/m/1.py", any: ["a/m/*.py", "b/m/*.py"]))
        #expect(!MigrationPaths.matches("c/m/1.py", any: []))
    }

    @Test func problems() {
        #expect(MigrationPaths.problem(contractGlob) == nil)
        #expect(MigrationPaths.problem("**/migrations/*.py") == nil)
        #expect(MigrationPaths.problem("/abs/*.py") != nil)
        #expect(MigrationPaths.problem("a/../b") != nil)
        #expect(MigrationPaths.problem("a//b") != nil)
        #expect(MigrationPaths.problem("a/") != nil)
        #expect(MigrationPaths.problem("a/[0-9") != nil)
    }
}
