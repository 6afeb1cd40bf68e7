import Foundation

/// release.yml: one app and its environments, in the order the file lists them.
public struct ReleaseConfiguration: Sendable {
    /// The path the configuration was read from.
    public var file: String
    /// The app's name; one database holds many apps.
    public var app: String
    /// The environments, in file order.
    public var environments: [EnvironmentConfiguration]
    /// Where operations are announced (`notify:`); empty when absent.
    public var notify: NotifyConfiguration
    /// How to reach the monitoring services signals ask (`monitors:`); empty when absent.
    public var monitors: MonitorsConfiguration
    /// Deploy markers (`markers:`); none when absent.
    public var markers: MarkersConfiguration
    /// Where schema migrations live and how they are read (`migrations:`); nil: no `schema` gate.
    public var migrations: MigrationsConfiguration?

    /// Creates a configuration directly (tests, tools).
    public init(
        file: String, app: String, environments: [EnvironmentConfiguration], notify: NotifyConfiguration = NotifyConfiguration(),
        monitors: MonitorsConfiguration = MonitorsConfiguration(), markers: MarkersConfiguration = MarkersConfiguration(),
        migrations: MigrationsConfiguration? = nil
    ) {
        self.file = file
        self.app = app
        self.environments = environments
        self.notify = notify
        self.monitors = monitors
        self.markers = markers
        self.migrations = migrations
    }

    /// `{{service}}` for `environment`: its `labels.service`, else the app's name.
    public func serviceLabel(_ environment: EnvironmentConfiguration) -> String { environment.labels["service"] ?? app }

    /// The directory holding release.yml, which the paths in it are relative to (the current
    /// directory for a bare file name). Plain string work: a `URL` costs a command's start-up more.
    public var directory: String {
        guard let slash = file.lastIndex(of: "/") else { return FileManager.default.currentDirectoryPath }
        return slash == file.startIndex ? "/" : String(file[..<slash])
    }

    /// The environment called `name`, or a usage error listing the ones that exist.
    public func environment(named name: String) throws -> EnvironmentConfiguration {
        if let environment = environments.first(where: { $0.name == name }) { return environment }
        let known = environments.map(\.name).joined(separator: ", ")
        throw ReleaseError.usage("Unknown environment '\(Identifier.shown(name))'; \(file) defines \(known).")
    }

    /// Parses release.yml text. `file` is used in error messages only; `providers` are the provider
    /// names environments may use (the registry's, in the order errors list them).
    public static func parse(yaml text: String, file: String, providers: [String]) throws -> ReleaseConfiguration {
        let root = ConfigReader(file: file, path: "", value: try ConfigValue.parse(yaml: text, file: file))
        if root.isNull { throw ReleaseError.usage("\(file) is empty; it needs at least `app:` and `environments:`.") }
        let top = try root.mapping(allowed: ["app", "environments", "notify", "monitors", "markers", "migrations"])
        let appReader = try top.required("app", "the app's name, such as crm-api")
        let app = try appReader.string()
        guard Identifier.isValid(app) else {
            throw appReader.error("expected a name of letters, digits, '-', '_' or '.', at most 100 characters, found '\(app)'.")
        }
        // Before the environments, whose signals must name a service it configures.
        let monitors = try top["monitors"].map(MonitorsConfiguration.init(reader:)) ?? MonitorsConfiguration()
        let environmentsReader = try top.required("environments", "a mapping of environment names to their settings")
        var environments: [EnvironmentConfiguration] = []
        for (name, reader) in try environmentsReader.namedMapping() {
            guard Identifier.isValid(name) else {
                throw reader.error("environment names are letters, digits, '-', '_' or '.', at most 100 characters.")
            }
            environments.append(try EnvironmentConfiguration(name: name, reader: reader, providers: providers, monitors: monitors))
        }
        guard !environments.isEmpty else { throw environmentsReader.error("define at least one environment.") }
        for environment in environments {
            guard let source = environment.promoteFrom else { continue }
            let sourceReader = environment.promoteFromReader ?? environmentsReader
            if source == environment.name {
                throw sourceReader.error("an environment cannot promote from itself.")
            }
            if !environments.contains(where: { $0.name == source }) {
                throw sourceReader.error("names '\(source)', which is not an environment in this file.")
            }
        }
        // Promotions that go round in a circle have no environment to deploy into first.
        let sources = Dictionary(uniqueKeysWithValues: environments.map { ($0.name, $0.promoteFrom) })
        for environment in environments {
            // Follow the sources upstream: back at the start is a circle; a circle elsewhere is
            // reported from one of its own environments.
            var path = [environment.name]
            while let source = sources[path[path.count - 1]] ?? nil, !path.dropFirst().contains(source) {
                path.append(source)
                guard source != environment.name else {
                    throw (environment.promoteFromReader ?? environmentsReader).error(
                        "\(path.joined(separator: " <- ")) promote from each other in a circle, so nothing can ever be deployed into them; the "
                            + "first environment of a pipeline has no promote_from.")
                }
            }
        }
        let notify = try top["notify"].map(NotifyConfiguration.init(reader:)) ?? NotifyConfiguration()
        let markers = try top["markers"].map { try MarkersConfiguration(reader: $0, monitors: monitors) } ?? MarkersConfiguration()
        // Written but empty is an error, not an absent block: it would silently record nothing.
        let migrations = try top.written("migrations").map(MigrationsConfiguration.init(reader:))
        return ReleaseConfiguration(
            file: file, app: app, environments: environments, notify: notify, monitors: monitors, markers: markers, migrations: migrations)
    }
}

/// Validates the names of apps, environments, checks and approvers.
public enum Identifier {
    /// Letters, digits, `-`, `_`, `.`, `@`; 1 to 100 characters; starts with a letter or digit.
    public static func isValid(_ text: String, maxLength: Int = 100) -> Bool {
        guard !text.isEmpty, text.utf8.count <= maxLength, let first = text.unicodeScalars.first,
            first.properties.isAlphabetic || ("0"..."9").contains(first)
        else { return false }
        return text.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "-_.@/".unicodeScalars.contains(scalar))
        }
    }

    /// Text safe to echo in a one-line error: control characters shown as '?', cut after 60
    /// characters (a 100 kB argument must not come back whole, nor move the terminal's cursor).
    public static func shown(_ text: String) -> String {
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) ? "?" : $0 }))
        return cleaned.count > 60 ? String(cleaned.prefix(60)) + "…" : cleaned
    }

    /// A release version: letters, digits, `.`, `+`, `-`, `_`; 1 to 128 characters; starts with a
    /// letter or digit (`1.4.2`, `2026.11.24-rc1+abc1234`).
    public static func isValidVersion(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 128, let first = text.unicodeScalars.first,
            first.properties.isAlphabetic || ("0"..."9").contains(first)
        else { return false }
        return text.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".+-_".unicodeScalars.contains($0))
        }
    }

    /// A valid name, or a GitHub App's `name[bot]` (dependabot[bot] pushes too).
    public static func isValidActor(_ text: String) -> Bool {
        isValid(text) || (text.hasSuffix("[bot]") && isValid(String(text.dropLast("[bot]".count)), maxLength: 95))
    }
}
