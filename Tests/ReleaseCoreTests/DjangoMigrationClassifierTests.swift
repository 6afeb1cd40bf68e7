import Foundation
import ReleaseCore
import Testing

/// The migrations Django 5.2's makemigrations wrote (Fixtures/django/README.md), read by path.
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/django/crm/migrations")

/// The record of fixture `name`, with the path git would list.
private func fixture(_ name: String) throws -> MigrationRecord {
    let text = try String(contentsOf: fixtures.appendingPathComponent("\(name).py"), encoding: .utf8)
    return DjangoMigrationClassifier.classify(path: "crm/migrations/\(name).py", text: text)
}

/// A migration file around `operations` (the items, indented as Django writes them).
private func migration(_ operations: String, preamble: String = "") -> String {
    """
    from django.db import migrations, models
    \(preamble)

    class Migration(migrations.Migration):

        dependencies = [
            ('crm', '0001_initial'),
        ]

        operations = [
    \(operations)
        ]
    """
}

private func classify(_ operations: String, preamble: String = "") -> MigrationRecord {
    DjangoMigrationClassifier.classify(path: "crm/migrations/0099_test.py", text: migration(operations, preamble: preamble))
}

@Suite struct DjangoMigrationClassifierTests {
    /// Every generated fixture: its class, whether Django can reverse it, and why.
    @Test(arguments: [
        ("0001_initial", MigrationClass.compatible, true, "CreateModel Contact"),
        ("0002_add_phone_nullable", .compatible, true, "AddField contact.phone (nullable)"),
        (
            "0003_add_is_active_default", .incompatible, true,
            "AddField contact.is_active NOT NULL with only a Python default= (Django drops it from the database; db_default= stays)"
        ),
        ("0004_add_score_db_default", .compatible, true, "AddField contact.score (with a database default)"),
        ("0005_add_priority_not_null", .incompatible, true, "AddField contact.priority NOT NULL without a default"),
        ("0006_remove_email", .incompatible, true, "RemoveField contact.email"),
        ("0007_rename_name_full_name", .incompatible, true, "RenameField contact.name → full_name"),
        ("0008_alter_phone_length", .incompatible, true, "AlterField contact.phone"),
        ("0009_add_name_index", .compatible, true, "AddIndex contact.crm_contact_name_idx"),
        ("0010_add_tags", .compatible, true, "CreateModel Tag; AddField contact.tags (many-to-many: a new table)"),
        ("0011_delete_tags", .incompatible, true, "RemoveField contact.tags; DeleteModel Tag"),
        ("0012_backfill_reversible", .compatible, true, "RunPython with reverse_code"),
        ("0013_backfill_irreversible", .irreversible, false, "RunPython without reverse_code"),
        ("0014_sql_reversible", .compatible, true, "RunSQL with reverse_sql"),
        ("0015_sql_irreversible", .irreversible, false, "RunSQL without reverse_sql"),
        ("0016_separate_state", .compatible, true, "SeparateDatabaseAndState (state only)"),
        ("0017_unique_name_phone", .incompatible, true, "AddConstraint contact.crm_contact_unique_name_phone"),
        ("0018_rename_contact_person", .incompatible, true, "RenameModel Contact → Person"),
    ])
    func generatedMigrations(name: String, migrationClass: MigrationClass, reversible: Bool, reason: String) throws {
        let record = try fixture(name)
        #expect(record.id == "crm/\(name)")
        #expect(record.path == "crm/migrations/\(name).py")
        #expect(record.migrationClass == migrationClass)
        #expect(record.reversible == reversible)
        #expect(record.reason == reason)
    }

    @Test func everyFixtureIsTested() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: fixtures.path).filter { $0.hasSuffix(".py") }
        #expect(names.count == 18, "a new fixture needs a row in generatedMigrations")
    }

    @Test func theIDIsTheAppAndTheFileName() {
        #expect(DjangoMigrationClassifier.migrationID(path: "src/crm/migrations/0003_x.py") == "crm/0003_x")
        #expect(DjangoMigrationClassifier.migrationID(path: "crm/migrations/0003_x.py") == "crm/0003_x")
        #expect(DjangoMigrationClassifier.migrationID(path: "db/0003_x.py") == "db/0003_x")
        #expect(DjangoMigrationClassifier.migrationID(path: "0003_x.py") == "0003_x")
    }

    @Test func theWorstOperationDecidesAndIrreversibleOnesAreNamed() {
        let record = classify(
            """
                    migrations.AddField(model_name='contact', name='nickname', field=models.CharField(max_length=20, null=True)),
                    migrations.RunPython(forwards),
                    migrations.RemoveField(model_name='contact', name='email'),
            """, preamble: "def forwards(apps, schema_editor): pass")
        #expect(record.migrationClass == .incompatible)
        #expect(!record.reversible)
        #expect(record.reason == "RunPython without reverse_code; RemoveField contact.email")
    }

    @Test func runPythonReverses() {
        #expect(classify("        migrations.RunPython(f, migrations.RunPython.noop),").migrationClass == .compatible)
        #expect(classify("        migrations.RunPython(code=f, reverse_code=g, elidable=True),").reversible)
        let none = classify("        migrations.RunPython(f, reverse_code=None),")
        #expect(none.migrationClass == .irreversible)
        #expect(none.reason == "RunPython without reverse_code")
        #expect(classify("        migrations.RunPython(f, None, atomic=False),").migrationClass == .irreversible)
    }

    @Test func runSQLIsReadForWhatItTakesAway() {
        let drop = classify("        migrations.RunSQL(\"ALTER TABLE crm_contact DROP COLUMN email;\", reverse_sql=migrations.RunSQL.noop),")
        #expect(drop.migrationClass == .incompatible)
        #expect(drop.reversible)
        #expect(drop.reason == "RunSQL with DROP")
        let both = classify("        migrations.RunSQL([\"ALTER TABLE t ALTER COLUMN c SET NOT NULL\", (\"UPDATE t SET c = %s\", [1])]),")
        #expect(both.migrationClass == .incompatible)
        #expect(!both.reversible)
        #expect(both.reason == "RunSQL with ALTER COLUMN; RunSQL without reverse_sql")
        let hidden = classify("        migrations.RunSQL(SQL, reverse_sql=None),", preamble: "SQL = 'DROP TABLE x'")
        #expect(hidden.migrationClass == .unknown)
        #expect(hidden.reason == "RunSQL whose SQL is not written in the file; RunSQL without reverse_sql")
        let state = classify(
            """
                    migrations.RunSQL(
                        sql="ALTER TABLE crm_contact ADD COLUMN note text NULL",
                        reverse_sql="ALTER TABLE crm_contact DROP COLUMN note",
                        state_operations=[migrations.RemoveField("contact", "legacy")],
                    ),
            """)
        #expect(state.migrationClass == .incompatible, "state_operations say what the SQL did")
        #expect(state.reason == "RemoveField contact.legacy")
    }

    @Test func separateDatabaseAndStateCountsOnlyTheDatabase() {
        let record = classify(
            """
                    migrations.SeparateDatabaseAndState(
                        database_operations=[
                            migrations.RunSQL(
                                "ALTER TABLE crm_contact RENAME COLUMN name TO full_name",
                                "ALTER TABLE crm_contact RENAME COLUMN full_name TO name",
                            ),
                        ],
                        state_operations=[migrations.DeleteModel("Legacy")],
                    ),
            """)
        #expect(record.migrationClass == .incompatible)
        #expect(record.reason == "RunSQL with RENAME")
        let positional = classify(
            "        migrations.SeparateDatabaseAndState([migrations.AddIndex('contact', models.Index(fields=['a'], name='i'))], "
                + "[migrations.DeleteModel('X')]),")
        #expect(positional.migrationClass == .compatible)
        #expect(positional.reason == "AddIndex contact.i")
        let stateOnly = classify("        migrations.SeparateDatabaseAndState(state_operations=[migrations.RemoveField('a', 'b')]),")
        #expect(stateOnly.migrationClass == .compatible)
    }

    @Test func addFieldVariants() {
        func addField(_ field: String, _ extra: String = "") -> MigrationRecord {
            classify("        migrations.AddField(model_name='contact', name='x', field=\(field)\(extra)),")
        }
        #expect(addField("models.ForeignKey(on_delete=django.db.models.deletion.SET_NULL, null=True, to='crm.tag')").migrationClass == .compatible)
        #expect(addField("models.BooleanField(db_default=models.Value(False))").migrationClass == .compatible)
        let generated = addField("models.GeneratedField(expression=models.F('a') + 1, output_field=models.IntegerField(), db_persist=True)")
        #expect(generated.migrationClass == .compatible)
        #expect(addField("models.IntegerField(null=False)").reason == "AddField contact.x NOT NULL without a default")
        #expect(addField("models.IntegerField(default=0)", ", preserve_default=False").reason == "AddField contact.x NOT NULL without a default")
        #expect(addField("FIELD").migrationClass == .unknown)
        #expect(classify("        migrations.AddField('contact', 'y', models.TextField(null=True)),").reason == "AddField contact.y (nullable)")
    }

    @Test func decidedOperations() {
        let cases: [(String, MigrationClass)] = [
            ("migrations.RemoveIndex(model_name='contact', name='crm_contact_name_idx')", .compatible),
            ("migrations.RenameIndex(model_name='contact', new_name='new_idx', old_name='old_idx')", .compatible),
            ("migrations.AlterModelOptions(name='contact', options={'ordering': ['full_name']})", .compatible),
            ("migrations.AlterModelManagers(name='contact', managers=[('objects', django.db.models.manager.Manager())])", .compatible),
            ("migrations.AlterModelTableComment(name='contact', table_comment='People')", .compatible),
            ("AddIndexConcurrently('contact', models.Index(fields=['a'], name='a_idx'))", .compatible),
            ("migrations.AlterUniqueTogether(name='contact', unique_together={('full_name', 'phone')})", .incompatible),
            ("migrations.RemoveConstraint(model_name='contact', name='crm_contact_unique_name_phone')", .incompatible),
            ("migrations.AlterModelTable(name='contact', table='people')", .incompatible),
            ("migrations.AlterOrderWithRespectTo(name='contact', order_with_respect_to='tag')", .incompatible),
            ("myapp.operations.LoadFixture('contacts.json')", .unknown),
        ]
        for (operation, expected) in cases {
            #expect(classify("        \(operation),").migrationClass == expected, "\(operation)")
        }
        let custom = classify("        myapp.operations.LoadFixture('contacts.json'),")
        #expect(custom.reason == "unknown operation LoadFixture")
        #expect(!custom.reversible, "an operation it does not know is not known to be reversible")
    }

    @Test func emptyOperationsAreCompatible() {
        let record = classify("")
        #expect(record.migrationClass == .compatible)
        #expect(record.reason == "no operations")
    }

    @Test func pythonSyntaxIsReadNotPatternMatched() {
        // Comments, strings holding brackets, quotes and operation names, escapes, triple quotes,
        // implicit concatenation and line continuations must not confuse the reader.
        let record = classify(
            #"""
                    # migrations.RemoveField(model_name='contact', name='email'),  (commented out)
                    migrations.RunSQL(
                        sql="UPDATE crm_contact SET note = 'migrations.RemoveField(' "  # ])
                            'WHERE note = \'[\'',
                        reverse_sql=\
                            """UPDATE crm_contact SET note = ']'  -- "quoted" ''' """,
                    ),
                    migrations.AlterModelOptions(name='contact', options={'verbose_name': "it's ) here"}),
            """#, preamble: "HELP = '''operations = [migrations.DeleteModel('X')]'''")
        #expect(record.migrationClass == .compatible, "\(record.reason)")
        #expect(record.reason == "RunSQL with reverse_sql; AlterModelOptions contact")
    }

    @Test func unreadableFilesAreUnknownWithTheReason() {
        let unterminated = DjangoMigrationClassifier.classify(
            path: "crm/migrations/0002_x.py", text: migration("        migrations.RunSQL(\"UPDATE t SET a = 1),"))
        #expect(unterminated.migrationClass == .unknown)
        #expect(!unterminated.reversible)
        #expect(unterminated.reason == "cannot read its operations: a string on line 11 is not closed on its line")
        let unbalanced = DjangoMigrationClassifier.classify(path: "crm/migrations/0002_x.py", text: migration("        migrations.RemoveField(,"))
        #expect(unbalanced.reason.hasPrefix("cannot read its operations: "))
        #expect(unbalanced.migrationClass == .unknown)
        let none = DjangoMigrationClassifier.classify(path: "crm/migrations/0002_x.py", text: "from django.db import migrations\n")
        #expect(none.reason == "cannot read its operations: no `operations = [...]` in a `class Migration`")
        let computed = DjangoMigrationClassifier.classify(
            path: "crm/migrations/0002_x.py", text: "class Migration(migrations.Migration):\n    operations = [] + OTHER\n")
        #expect(computed.reason == "cannot read its operations: operations on line 2 is computed, not a list written as [...]")
    }
}

@Suite struct PythonReaderLimitsTests {
    @Test func deepNestingIsRefusedNotRecursedInto() {
        let deep = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
        let record = classify("        migrations.RunPython(f, \(deep)),")
        #expect(record.migrationClass == .unknown)
        #expect(record.reason == "cannot read its operations: brackets nested more than 100 deep on line 11")
    }
}
