/// The `gates:` block of an environment.
public struct GatePolicy: Sendable {
    /// CI checks that must be recorded as passed for the release.
    public var checks: [String]
    /// How long the release must have been live and healthy on the source environment.
    public var soak: TimeSpan?
    /// Distinct approvers needed, never the promoter.
    public var approvals: Int
    /// Who may deploy, promote or roll back here; `nil` means anyone.
    public var allowed: [String]?
    /// Windows in which deploys and promotions are refused.
    public var freezes: [FreezeWindow]
    /// The gates block as written, as JSON (every scalar as text): what `release policy apply` stores.
    public var declared: JSONValue = .object([])

    /// Creates a policy; with no arguments, one that lets everything through.
    public init(checks: [String] = [], soak: TimeSpan? = nil, approvals: Int = 0, allowed: [String]? = nil, freezes: [FreezeWindow] = []) {
        self.checks = checks
        self.soak = soak
        self.approvals = approvals
        self.allowed = allowed
        self.freezes = freezes
    }

    init(reader: ConfigReader) throws {
        let entries = try reader.mapping(allowed: ["checks", "soak", "approvals", "allowed", "freeze"])
        checks = try entries["checks"]?.stringList() ?? []
        if let checksReader = entries["checks"] {
            for check in checks where !Identifier.isValid(check) {
                throw checksReader.error("check names are letters, digits, '-', '_', '.', '/' or '@', found '\(check)'.")
            }
        }
        soak = try entries["soak"]?.timeSpan()
        approvals = try entries["approvals"]?.integer(in: 0...20) ?? 0
        allowed = try entries["allowed"]?.stringList()
        freezes = try entries["freeze"]?.sequence().map(FreezeWindow.init(reader:)) ?? []
        declared = reader.value.json
    }

    /// The policy `release policy apply` stored for `environment`, read by the same rules as release.yml.
    public init(stored: JSONValue, environment: String) throws {
        try self.init(reader: ConfigReader(file: "the stored policy", path: "\(environment).gates", value: ConfigValue(json: stored)))
    }

    /// The gates whose settings differ from `other`'s, by their release.yml key.
    public func differences(from other: GatePolicy) -> [String] {
        [
            ("checks", checks == other.checks), ("soak", soak == other.soak), ("approvals", approvals == other.approvals),
            ("allowed", allowed == other.allowed), ("freeze", freezes == other.freezes),
        ].filter { !$0.1 }.map(\.0)
    }

    /// Whether `actor` may operate on the environment.
    public func allows(_ actor: String) -> Bool {
        allowed.map { $0.contains(actor) } ?? true
    }
}
