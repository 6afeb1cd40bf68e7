import Postgres
import ReleaseCore
import ReleaseStore

/// One app's environments at a glance.
struct AppStatus: Sendable {
    var app: String
    var environments: [EnvironmentStatus]
}

/// Everything an app's page shows.
struct AppPage: Sendable {
    var app: String
    var now: Timestamp
    var environments: [EnvironmentStatus]
    /// The latest occupancies per environment, newest first.
    var spans: [OccupancySpan]
    /// The latest deployments per environment, newest first.
    var deployments: [DeploymentRecord]
    /// The instant picked on the timeline, and what was live then in each environment.
    var at: Timestamp?
    var liveAt: [(String, LiveRelease?)]
}

/// Everything a release's page shows.
struct ReleasePage: Sendable {
    var app: String
    var release: ReleaseRecord
    var checks: [CheckRecord]
    var approvals: [ApprovalRecord]
    var deployments: [DeploymentRecord]
    var events: [AuditEvent]
    var trail: TrailVerdict
}

/// A release looked up by version: its page (with its app's id), or the apps that share the version.
enum ReleaseLookup: Sendable {
    case one(ReleasePage, appID: Int64)
    case several([String])
}

/// What `release audit verify` says about an app's trail.
enum TrailVerdict: Sendable {
    case intact(events: Int64, checkedAt: Timestamp)
    case tampered(String, checkedAt: Timestamp)
    /// A walk of this many events is under way.
    case checking(events: Int64)
    case unavailable(String)
}

/// A request the dashboard cannot answer: an unknown app, release or environment (404), or a
/// malformed query (400).
enum DashboardProblem: Error, Sendable {
    case notFound(String)
    case badRequest(String)
}

/// The dashboard's reads, assembled from the same queries as the CLI's reports.
struct DashboardData: Sendable {
    let database: DashboardDatabase
    /// release.yml, when one was found: its app's environments show in its order, with its
    /// freeze windows (other apps show what the database knows).
    let configuration: ReleaseConfiguration?
    let trails: TrailCache

    /// How many occupancies and deployments per environment the timeline shows.
    static let timelineDepth = 30
    /// How many audit events a release page lists.
    static let releaseEventLimit = 200

    init(database: DashboardDatabase, configuration: ReleaseConfiguration?, trails: TrailCache = TrailCache()) {
        self.database = database
        self.configuration = configuration
        self.trails = trails
    }

    /// Every app (or the one named) with its environments' state now.
    func overview(app name: String?) async throws -> [AppStatus] {
        let configuration = self.configuration
        return try await database.read { db in
            let (known, now) = try db.fetch(Reads.knownApps(named: name), Reads.now())
            let apps = try Self.select(Self.apps(known, configuration), named: name)
            let environments = apps.map { Self.environments(of: $0, configuration) }
            var statuses = try db.statuses(environments: environments.flatMap { $0 }, now: now)[...]
            return zip(apps, environments).map { app, environments in
                defer { statuses = statuses.dropFirst(environments.count) }
                return AppStatus(app: app.name, environments: Array(statuses.prefix(environments.count)))
            }
        }
    }

    /// An app's page: its environments now, their timelines, and what was live at `at`.
    func appPage(app name: String, at: Timestamp?) async throws -> AppPage {
        let configuration = self.configuration
        return try await database.read { db in
            let (known, now) = try db.fetch(Reads.knownApps(named: name), Reads.now())
            guard let app = try Self.select(Self.apps(known, configuration), named: name).first else {
                throw DashboardProblem.notFound("There is no app '\(name)' in this database.")
            }
            let environments = Self.environments(of: app, configuration)
            let statuses = try db.statuses(environments: environments, now: now)
            var page = AppPage(app: app.name, now: now, environments: statuses, spans: [], deployments: [], at: at, liveAt: [])
            if app.id > 0, let at {
                // The picture around the picked instant, with the deployments between its spans.
                let (spans, live) = try db.fetch(
                    Reads.timeline(app: app.id, around: at, limit: Self.timelineDepth / 2),
                    Reads.liveAt(app: .id(app.id), at: at))
                page.spans = spans
                if let first = spans.map(\.deploymentID).min(), let last = spans.map(\.deploymentID).max() {
                    let end = spans.contains { $0.until == nil } ? Int64.max : last
                    page.deployments = try db.fetch(Reads.deployments(app: app.id, ids: first...end, limit: Self.timelineDepth * 4))
                }
                page.liveAt = environments.map { ($0.configuration.name, live[$0.configuration.name]) }
            } else if app.id > 0 {
                (page.spans, page.deployments) = try db.fetch(
                    Reads.timeline(app: app.id, limit: Self.timelineDepth), Reads.recentDeployments(app: app.id, limit: Self.timelineDepth))
            } else if at != nil {
                page.liveAt = environments.map { ($0.configuration.name, nil) }
            }
            return page
        }
    }

    /// A release's page: the record, its checks, approvals, deployments, audit events and the
    /// verdict on its app's trail; or, when `app` is nil and several apps have this version, their names.
    func release(version: String, app name: String?) async throws -> ReleaseLookup {
        let found = try await database.read { db -> ReleaseLookup in
            let apps = try Self.select(db.fetch(Reads.knownApps(named: name)), named: name)
            let releases = try db.fetch(Reads.releases(apps: apps.map(\.id), version: version))
            let matches = apps.compactMap { app in releases[app.id].map { (app, $0) } }
            guard let (app, release) = matches.first else {
                throw DashboardProblem.notFound("There is no release '\(version)'\(name.map { " of '\($0)'" } ?? "") in this database.")
            }
            if matches.count > 1 { return .several(matches.map(\.0.name)) }
            let (checks, approvals, deployments, events) = try db.fetch(
                Reads.checks(release: release.id), Reads.approvals(release: release.id), Reads.deployments(release: release.id),
                Reads.auditEvents(app: app.id, version: version, limit: Self.releaseEventLimit))
            return .one(
                ReleasePage(
                    app: app.name, release: release, checks: checks, approvals: approvals, deployments: deployments,
                    events: events, trail: .unavailable("not checked")), appID: app.id)
        }
        guard case .one(var page, let appID) = found else { return found }
        page.trail = await trails.verdict(app: page.app, appID: appID, database: database)
        return .one(page, appID: appID)
    }

    /// `/api/history`: deployments newest first, of every app or one, optionally one environment.
    func history(app name: String?, environment: String?, limit: Int) async throws -> [(String, DeploymentRecord)] {
        try await database.read { db in
            let apps = try Self.select(db.fetch(Reads.knownApps(named: name)), named: name)
            let selected = try Self.withEnvironment(apps, environment)
            // One statement for every app: its lanes are the apps, or the environments of that name.
            let environments = selected.compactMap(\.environment)
            let deployments = try db.fetch(
                environment == nil
                    ? Reads.history(apps: selected.map(\.app.id), limit: limit)
                    : Reads.history(environments: environments, limit: limit))
            let appOf = Dictionary(uniqueKeysWithValues: selected.flatMap { lane in lane.app.environments.map { ($0.id, lane.app.name) } })
            return deployments.map { (appOf[$0.environmentID] ?? "", $0.deployment) }
        }
    }

    /// `/api/audit`: the latest matching events of every app or one, in time order.
    func audit(app name: String?, environment: String?, since: Timestamp?, until: Timestamp?, limit: Int) async throws -> [AuditEvent] {
        try await database.read { db in
            let apps = try Self.select(db.fetch(Reads.knownApps(named: name)), named: name)
            return try db.fetch(
                Reads.latestAuditEvents(
                    apps: apps.map(\.id), environment: environment, since: since,
                    until: until, limit: limit))
        }
    }

    /// `/api/audit?at=`: what was live in every environment of every app (or one) at an instant.
    func liveAt(_ instant: Timestamp, app name: String?) async throws -> [(app: String, environment: String, live: LiveRelease?)] {
        let configuration = self.configuration
        return try await database.read { db in
            let apps = try Self.select(Self.apps(db.fetch(Reads.knownApps(named: name)), configuration), named: name)
            let live = try db.fetch(Reads.liveAt(apps: apps.map(\.id).filter { $0 > 0 }, at: instant))
            return apps.flatMap { app in
                Self.environments(of: app, configuration).map { (app.name, $0.configuration.name, live[app.id]?[$0.configuration.name]) }
            }
        }
    }

    // MARK: Apps and environments

    /// The database's apps, plus the configured app when the database has not seen it yet (id 0).
    static func apps(_ known: [KnownApp], _ configuration: ReleaseConfiguration?) -> [KnownApp] {
        guard let configuration, !known.contains(where: { $0.name == configuration.app }) else { return known }
        return (known + [KnownApp(id: 0, name: configuration.app, environments: [])]).sorted { $0.name < $1.name }
    }

    /// The apps named (all when nil); an unknown name is a 404.
    static func select(_ apps: [KnownApp], named name: String?) throws -> [KnownApp] {
        guard let name else { return apps }
        let chosen = apps.filter { $0.name == name }
        if chosen.isEmpty { throw DashboardProblem.notFound("There is no app '\(name)' in this database.") }
        return chosen
    }

    /// The apps that have an environment of this name, with its id (every app, id nil, when nil);
    /// a name no app has is a 404.
    static func withEnvironment(_ apps: [KnownApp], _ name: String?) throws -> [(app: KnownApp, environment: Int64?)] {
        guard let name else { return apps.map { ($0, nil) } }
        let chosen = apps.compactMap { app in app.environments.first { $0.name == name }.map { (app, Optional($0.id)) } }
        if chosen.isEmpty { throw DashboardProblem.notFound("No app in this database has an environment '\(name)'.") }
        return chosen
    }

    /// An app's environments: release.yml's in its order for the configured app (then any others
    /// the database knows), the database's for the rest, with no gates of their own.
    static func environments(of app: KnownApp, _ configuration: ReleaseConfiguration?) -> [(configuration: EnvironmentConfiguration, id: Int64?)] {
        let ids = Dictionary(app.environments.map { ($0.name, $0.id) }, uniquingKeysWith: { first, _ in first })
        var result: [(configuration: EnvironmentConfiguration, id: Int64?)] = []
        if let configuration, configuration.app == app.name {
            result = configuration.environments.map { ($0, ids[$0.name]) }
        }
        for (name, id) in app.environments where !result.contains(where: { $0.configuration.name == name }) {
            let bare = EnvironmentConfiguration(
                name: name, provider: "command",
                providerSettings: ConfigReader(file: "", path: name, value: .null(line: 0)))
            result.append((bare, id))
        }
        return result
    }
}

/// Remembers each app's last `audit verify` verdict, so that release pages do not walk a long
/// trail on every view: a verdict is reused while the trail's head is unchanged, and checked
/// again in the background once it is a minute old. A walk runs in the background; a page with
/// no verdict for the current head waits for it at most `patience`, then says it is under way
/// (a million events take a few seconds) and the next view shows the verdict.
actor TrailCache {
    private var verdicts: [Int64: (head: String?, count: Int64, at: Timestamp, verdict: TrailVerdict)] = [:]
    private var walks: [Int64: Task<TrailVerdict, Never>] = [:]
    private let patience: Duration
    private let recheck: Duration

    init(patience: Duration = .seconds(2), recheck: Duration = .seconds(60)) {
        self.patience = patience
        self.recheck = recheck
    }

    func verdict(app: String, appID: Int64, database: DashboardDatabase) async -> TrailVerdict {
        let head: (count: Int64, hash: String?)
        do {
            head = try await database.read { db in try db.fetch(Reads.auditHead(app: appID)) }
        } catch {
            return .unavailable("\(error)")
        }
        if let cached = verdicts[appID], cached.head == head.hash, cached.count == head.count {
            // The trail has not grown: the verdict stands. Once a minute it is checked again (an
            // old event altered in place leaves the head as it was), in the background: no page
            // waits for a walk whose answer it already has.
            if Timestamp.now.since(cached.at) >= TimeSpan(recheck), walks[appID] == nil {
                _ = startWalk(app: app, appID: appID, head: head, database: database)
            }
            return cached.verdict
        }
        let walk = walks[appID] ?? startWalk(app: app, appID: appID, head: head, database: database)
        let patience = self.patience
        if patience == .zero { return .checking(events: head.count) }
        let finished = await withTaskGroup(of: TrailVerdict?.self) { group in
            group.addTask { await walk.value }
            group.addTask {
                try? await Task.sleep(for: patience)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return finished ?? .checking(events: head.count)
    }

    private func startWalk(app: String, appID: Int64, head: (count: Int64, hash: String?), database: DashboardDatabase) -> Task<TrailVerdict, Never> {
        let walk = Task<TrailVerdict, Never> {
            let started = Timestamp.now
            let verdict: TrailVerdict
            do {
                let checked = try await database.withConnection { connection in
                    try await AuditVerification.verify(connection: connection, appID: appID, app: app)
                }
                verdict = .intact(events: checked, checkedAt: started)
            } catch let error as ReleaseError where error.code == .deploymentFailed {
                verdict = .tampered(error.message, checkedAt: started)
            } catch {
                verdict = .unavailable("\(error)")
            }
            self.finish(appID: appID, head: head, at: started, verdict: verdict)
            return verdict
        }
        walks[appID] = walk
        return walk
    }

    private func finish(appID: Int64, head: (count: Int64, hash: String?), at: Timestamp, verdict: TrailVerdict) {
        walks[appID] = nil
        if case .unavailable = verdict { return }
        verdicts[appID] = (head.hash, head.count, at, verdict)
    }
}
