/// Classifies a Django migration file from its operations, for a rollback that keeps the schema
/// the newer release migrated to: can the older release's code run on it?
///
/// The table (docs/configuration.md, "Schema migrations"):
/// - compatible: CreateModel; AddField that is nullable, has a `db_default`, is a ManyToManyField
///   (a new table) or a GeneratedField; AddIndex, RemoveIndex, RenameIndex, AlterIndexTogether
///   (indexes change speed, never what a query returns); AlterModelOptions, AlterModelManagers,
///   AlterModelTableComment, AlterConstraint (no change the older code sees); ValidateConstraint;
///   PostgreSQL's AddIndexConcurrently, RemoveIndexConcurrently, CreateExtension and its named
///   extensions; RunPython and RunSQL with a reverse; SeparateDatabaseAndState whose
///   database_operations are all compatible (its state_operations change no table).
/// - incompatible: RemoveField, DeleteModel, RenameField, RenameModel, AlterField, AlterModelTable,
///   AlterOrderWithRespectTo; AddField NOT NULL without a database default: `default=` alone
///   counts as none, because Django fills the existing rows with it and then drops the column's
///   database default, so the older code's inserts, which do not name the column, fail;
///   AddConstraint, AddConstraintNotValid, AlterUniqueTogether (a new rule the older code's writes
///   may break; AlterUniqueTogether cannot tell adding from removing), RemoveConstraint (the older
///   code may rely on the rule: `.get()` by a formerly unique field); RunSQL whose SQL changes or
///   takes away (DROP, RENAME, TRUNCATE, ALTER COLUMN, MODIFY, ADD CONSTRAINT, UNIQUE, NOT NULL).
/// - irreversible: RunPython without `reverse_code` (or `reverse_code=None`; `RunPython.noop` is a
///   reverse), RunSQL without `reverse_sql` (or `None`).
/// - unknown: any other operation, RunSQL whose SQL is not a literal, and a file that cannot be read.
///
/// A file's class is the worst of its operations'; it is `reversible` unless an operation is
/// irreversible or unknown.
public enum DjangoMigrationClassifier {
    /// The record of the migration at `path` (as git lists it) with source `text`.
    public static func classify(path: String, text: String) -> MigrationRecord {
        let id = migrationID(path: path)
        let findings: [Finding]
        do {
            findings = try operations(in: text).flatMap { finding(for: $0) }
        } catch {
            return MigrationRecord(
                id: id, path: path, migrationClass: .unknown, reversible: false, reason: "cannot read its operations: \(error.message)")
        }
        return record(id: id, path: path, findings: findings)
    }

    /// `app/NNNN_name`: the directory above `migrations/` (else the file's directory) and the file's
    /// name without `.py`.
    public static func migrationID(path: String) -> String {
        let components = path.split(separator: "/").map(String.init)
        var name = components.last ?? path
        if name.hasSuffix(".py") { name.removeLast(3) }
        let count = components.count
        if count >= 3, components[count - 2] == "migrations" { return "\(components[count - 3])/\(name)" }
        if count >= 2 { return "\(components[count - 2])/\(name)" }
        return name
    }

    /// What one operation counts as.
    struct Finding {
        var migrationClass: MigrationClass
        var reversible: Bool
        var description: String
    }

    /// The items of `class Migration`'s `operations = [...]`.
    static func operations(in text: String) throws(PythonSyntaxError) -> [PythonExpression] {
        let reader = try PythonExpressionReader(tokens: try PythonSource.tokenize(text))
        let tokens = reader.tokens
        func isOp(_ index: Int, _ text: String) -> Bool {
            index < tokens.count && tokens[index].kind == .op && tokens[index].text == text
        }
        var index = 0
        var inMigration = false
        while index < tokens.count {
            let token = tokens[index]
            if token.kind == .op, reader.matches[index] != nil {
                index = reader.after(index)
                continue
            }
            if token.kind == .name, token.text == "class", index + 1 < tokens.count {
                inMigration = tokens[index + 1].text == "Migration"
            } else if inMigration, token.kind == .name, token.text == "operations", isOp(index + 1, "=") {
                guard isOp(index + 2, "["), let close = reader.matches[index + 2] else {
                    throw PythonSyntaxError(message: "operations on line \(token.line) is not a list written as [...]")
                }
                if close + 1 < tokens.count, tokens[close + 1].kind == .op, ["+", "*", "[", "."].contains(tokens[close + 1].text) {
                    throw PythonSyntaxError(message: "operations on line \(token.line) is computed, not a list written as [...]")
                }
                return reader.items(index + 3..<close).map(reader.expression)
            }
            index += 1
        }
        throw PythonSyntaxError(message: "no `operations = [...]` in a `class Migration`")
    }

    /// What `operation` counts as (several findings for SeparateDatabaseAndState).
    static func finding(for operation: PythonExpression) -> [Finding] {
        guard let name = operation.calledName else {
            return [Finding(migrationClass: .unknown, reversible: false, description: "an operation that is not a call")]
        }
        let described = "\(name)\(target(name, operation).map { " \($0)" } ?? "")"
        switch name {
        case "AddField":
            return [addField(operation, described)]
        case "RunPython":
            return [runPython(operation, described)]
        case "RunSQL":
            return runSQL(operation)
        case "SeparateDatabaseAndState":
            let database = operation.argument("database_operations", position: 0)
            guard let database, !database.isNone else {
                return [Finding(migrationClass: .compatible, reversible: true, description: "SeparateDatabaseAndState (state only)")]
            }
            guard case let .list(items) = database else {
                let description = "SeparateDatabaseAndState with computed database_operations"
                return [Finding(migrationClass: .unknown, reversible: false, description: description)]
            }
            if items.isEmpty {
                return [Finding(migrationClass: .compatible, reversible: true, description: "SeparateDatabaseAndState (state only)")]
            }
            return items.flatMap(finding(for:))
        default:
            if compatible.contains(name) { return [Finding(migrationClass: .compatible, reversible: true, description: described)] }
            if incompatible.contains(name) { return [Finding(migrationClass: .incompatible, reversible: true, description: described)] }
            return [Finding(migrationClass: .unknown, reversible: false, description: "unknown operation \(described)")]
        }
    }

    /// Operations older code runs on.
    static let compatible: Set<String> = [
        "CreateModel", "AddIndex", "RemoveIndex", "RenameIndex", "AlterIndexTogether", "AlterModelOptions", "AlterModelManagers",
        "AlterModelTableComment", "AlterConstraint", "ValidateConstraint", "AddIndexConcurrently", "RemoveIndexConcurrently",
        "CreateExtension", "BloomExtension", "BtreeGinExtension", "BtreeGistExtension", "CITextExtension", "CryptoExtension",
        "HStoreExtension", "TrigramExtension", "UnaccentExtension",
    ]

    /// Operations older code may break on.
    static let incompatible: Set<String> = [
        "RemoveField", "DeleteModel", "RenameField", "RenameModel", "AlterField", "AlterModelTable", "AlterOrderWithRespectTo",
        "AlterUniqueTogether", "AddConstraint", "AddConstraintNotValid", "RemoveConstraint",
    ]

    /// Django's parameters, in order, for the operations whose targets are named positionally.
    private static let parameters: [String: [String]] = [
        "CreateModel": ["name"], "DeleteModel": ["name"], "RenameModel": ["old_name", "new_name"], "AlterModelTable": ["name"],
        "AlterModelTableComment": ["name"], "AlterUniqueTogether": ["name"], "AlterIndexTogether": ["name"],
        "AlterOrderWithRespectTo": ["name"], "AlterModelOptions": ["name"], "AlterModelManagers": ["name"],
        "AddIndex": ["model_name", "index"], "AddIndexConcurrently": ["model_name", "index"], "RemoveIndex": ["model_name", "name"],
        "RemoveIndexConcurrently": ["model_name", "name"], "RenameIndex": ["model_name", "new_name", "old_name"],
        "AddConstraint": ["model_name", "constraint"], "AddConstraintNotValid": ["model_name", "constraint"],
        "RemoveConstraint": ["model_name", "name"], "AlterConstraint": ["model_name", "name"], "ValidateConstraint": ["model_name", "name"],
        "AddField": ["model_name", "name"], "RemoveField": ["model_name", "name"], "AlterField": ["model_name", "name"],
        "RenameField": ["model_name", "old_name", "new_name"], "CreateExtension": ["name"],
    ]

    /// What an operation acts on: `contact.email`, `Contact → Person`, `contact.crm_contact_name_idx`.
    private static func target(_ name: String, _ operation: PythonExpression) -> String? {
        guard let names = parameters[name] else { return nil }
        func value(_ key: String) -> String? {
            guard let position = names.firstIndex(of: key) else { return operation.argument(key)?.stringValue }
            return operation.argument(key, position: position)?.stringValue
        }
        let model = value("model_name")
        var object = value("name")
        if let newName = value("new_name") {
            object = value("old_name").map { "\($0) → \(newName)" } ?? newName
        }
        for key in ["index", "constraint"] where object == nil {
            object = operation.argument(key, position: names.firstIndex(of: key))?.argument("name")?.stringValue
        }
        switch (model, object) {
        case let (model?, object?): return "\(model).\(object)"
        case let (model?, nil): return model
        case let (nil, object?): return object
        case (nil, nil): return nil
        }
    }

    private static func addField(_ operation: PythonExpression, _ described: String) -> Finding {
        guard let field = operation.argument("field", position: 2), let fieldClass = field.calledName else {
            return Finding(migrationClass: .unknown, reversible: false, description: "\(described) with a field not written inline")
        }
        let compatible = { (why: String) in Finding(migrationClass: .compatible, reversible: true, description: "\(described) (\(why))") }
        if fieldClass == "ManyToManyField" { return compatible("many-to-many: a new table") }
        if fieldClass == "GeneratedField" { return compatible("generated by the database") }
        if case .name("True") = field.argument("null") { return compatible("nullable") }
        if field.argument("db_default") != nil { return compatible("with a database default") }
        let why =
            field.argument("default") == nil || operation.argument("preserve_default", position: 3).map({ $0.isFalse }) == true
            ? "NOT NULL without a default" : "NOT NULL with only a Python default= (Django drops it from the database; db_default= stays)"
        return Finding(migrationClass: .incompatible, reversible: true, description: "\(described) \(why)")
    }

    private static func runPython(_ operation: PythonExpression, _ described: String) -> Finding {
        guard let reverse = operation.argument("reverse_code", position: 1), !reverse.isNone else {
            return Finding(migrationClass: .irreversible, reversible: false, description: "RunPython without reverse_code")
        }
        return Finding(migrationClass: .compatible, reversible: true, description: "RunPython with reverse_code")
    }

    /// What RunSQL counts as: irreversible without `reverse_sql`, incompatible when its SQL changes or
    /// takes away, plus what its `state_operations` say it does.
    private static func runSQL(_ operation: PythonExpression) -> [Finding] {
        let reverse = operation.argument("reverse_sql", position: 1)
        let reversible = reverse.map { !$0.isNone } ?? false
        var findings: [Finding] = []
        if let sql = operation.argument("sql", position: 0), let statements = literalSQL(sql) {
            if let keyword = narrowingKeyword(statements) {
                findings.append(Finding(migrationClass: .incompatible, reversible: reversible, description: "RunSQL with \(keyword)"))
            }
        } else {
            findings.append(Finding(migrationClass: .unknown, reversible: false, description: "RunSQL whose SQL is not written in the file"))
        }
        if case let .list(items)? = operation.argument("state_operations", position: 2) {
            findings += items.flatMap(finding(for:)).filter { $0.migrationClass != .compatible }
        }
        if !reversible {
            findings.append(Finding(migrationClass: .irreversible, reversible: false, description: "RunSQL without reverse_sql"))
        }
        if findings.isEmpty {
            findings.append(Finding(migrationClass: .compatible, reversible: true, description: "RunSQL with reverse_sql"))
        }
        return findings
    }

    /// The statements of RunSQL's `sql`: a string, or a list of strings and `(sql, params)` pairs.
    private static func literalSQL(_ sql: PythonExpression) -> [String]? {
        switch sql {
        case let .string(text): return [text]
        case let .list(items):
            var statements: [String] = []
            for item in items {
                if let text = item.stringValue {
                    statements.append(text)
                } else if case let .list(pair) = item, let text = pair.first?.stringValue {
                    statements.append(text)
                } else {
                    return nil
                }
            }
            return statements
        default: return nil
        }
    }

    /// The first word (or pair) of `statements` that changes or takes away what older code uses.
    private static func narrowingKeyword(_ statements: [String]) -> String? {
        let words = statements.joined(separator: " ").uppercased().split { !($0.isLetter || $0.isNumber || $0 == "_") }.map(String.init)
        for (index, word) in words.enumerated() {
            if ["DROP", "RENAME", "TRUNCATE", "MODIFY", "UNIQUE"].contains(word) { return word }
            let next = index + 1 < words.count ? words[index + 1] : ""
            if (word == "ALTER" && next == "COLUMN") || (word == "ADD" && next == "CONSTRAINT") || (word == "NOT" && next == "NULL") {
                return "\(word) \(next)"
            }
        }
        return nil
    }

    /// The file's record: the worst class, and the operations that decide it (with any irreversible
    /// one) as the reason.
    static func record(id: String, path: String, findings: [Finding]) -> MigrationRecord {
        guard let worst = findings.map(\.migrationClass).max() else {
            return MigrationRecord(id: id, path: path, migrationClass: .compatible, reversible: true, reason: "no operations")
        }
        let reversible = findings.allSatisfy(\.reversible)
        var deciding = findings.filter { $0.migrationClass == worst || !$0.reversible }.map(\.description)
        deciding = deciding.enumerated().filter { !deciding[..<$0.offset].contains($0.element) }.map(\.element)
        let shown = deciding.prefix(5).joined(separator: "; ")
        let reason = deciding.count > 5 ? "\(shown); and \(deciding.count - 5) more" : shown
        return MigrationRecord(id: id, path: path, migrationClass: worst, reversible: reversible, reason: reason)
    }
}

extension PythonExpression {
    /// Whether it is the name `False`.
    var isFalse: Bool {
        if case .name("False") = self { return true }
        return false
    }
}
