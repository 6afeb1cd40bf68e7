import Foundation
import Hummingbird
import Logging
import NIOCore
import ReleaseCore
import ReleaseEngine

/// `release serve`: a read-only web dashboard over the database, and its JSON API.
///
/// Pages: `/` (every app's environments, refreshed live), `/apps/{app}` (environments, the
/// timeline, what was live at a picked instant, the latest deployments), `/releases/{version}`
/// (a release's whole story). API: `/api/status`, `/api/history`, `/api/audit`, with the keys of
/// the CLI's `--json` and an `app` key on each entry.
public struct Dashboard: Sendable {
    let data: DashboardData
    let token: String?

    /// A dashboard over `database`; `configuration` (release.yml, optional) lends its app's
    /// environment order and freeze windows; `token`, when set, is required of every request;
    /// a release page waits up to `trailPatience` for its app's trail to be verified (zero: not
    /// at all, it says the walk is under way).
    public init(database: DashboardDatabase, configuration: ReleaseConfiguration?, token: String?,
                trailPatience: Duration = .seconds(2)) {
        self.data = DashboardData(database: database, configuration: configuration, trails: TrailCache(patience: trailPatience))
        self.token = token
    }

    /// Whether `host` only accepts connections from this machine.
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare == "::1" { return true }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }

    /// Serves until SIGINT or SIGTERM; `ready` receives the URL once the port is bound.
    public func run(host: String, port: Int, logger: Logger, ready: @escaping @Sendable (String) -> Void) async throws {
        let app = Application(
            router: router(),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                let shown = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
                ready("http://\(shown):\(bound)/")
            },
            logger: logger)
        try await app.runService()
    }

    /// Every route, behind the read-only, token and header middleware.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: SecurityMiddleware(token: token))
        let data = self.data

        router.get("/") { request, _ in
            await Self.page {
                Pages.overview(try await data.overview(app: request.query("app")), filter: request.query("app"))
            }
        }
        router.get("/apps/:app") { request, context in
            await Self.page {
                let app = try Self.pathParameter("app", context)
                let at = try request.query("at").map { try Self.time($0, name: "at") }
                return Pages.app(try await data.appPage(app: app, at: at))
            }
        }
        router.get("/releases/:version") { request, context in
            await Self.page {
                let version = try Self.pathParameter("version", context)
                switch try await data.release(version: version, app: request.query("app")) {
                case let .one(page, _): return Pages.release(page)
                case let .several(apps): return Pages.chooseApp(version: version, apps: apps)
                }
            }
        }
        // What the pages poll to stay current: the overview's tables, and one app's.
        router.get("/partials/status") { request, _ in
            await Self.page {
                var html = HTML()
                Pages.statusTables(try await data.overview(app: request.query("app")), &html)
                return html.text
            }
        }
        router.get("/partials/environments/:app") { _, context in
            await Self.page {
                let app = try Self.pathParameter("app", context)
                var html = HTML()
                for status in try await data.overview(app: app) { Pages.statusTable(status, &html) }
                return html.text
            }
        }
        router.get("/api/status") { request, _ in
            await Self.json {
                let apps = try await data.overview(app: request.query("app"))
                let environment = request.query("env")
                let entries = apps.flatMap { app in
                    app.environments.filter { environment == nil || $0.name == environment }
                        .map { ReportJSON.prefixed("app", .string(app.app), to: ReportJSON.environment($0)) }
                }
                if let environment, entries.isEmpty {
                    throw DashboardProblem.notFound("No app in this database has an environment '\(environment)'.")
                }
                return .object([("environments", .array(entries))])
            }
        }
        router.get("/api/history") { request, _ in
            await Self.json {
                let limit = try Self.limit(request.query("limit"), default: 20)
                let deployments = try await data.history(app: request.query("app"), environment: request.query("env"), limit: limit)
                return .object([("deployments", .array(deployments.map { app, deployment in
                    ReportJSON.prefixed("app", .string(app), to: ReportJSON.deployment(deployment))
                }))])
            }
        }
        router.get("/api/audit") { request, _ in
            await Self.json {
                let since = try request.query("since").map { try Self.time($0, name: "since") }
                let until = try request.query("until").map { try Self.time($0, name: "until") }
                let at = try request.query("at").map { try Self.time($0, name: "at") }
                let limit = try Self.limit(request.query("limit"), default: 100)
                if let at {
                    if since != nil || until != nil || request.query("env") != nil {
                        throw DashboardProblem.badRequest("at answers for every environment at one instant; leave out env, since and until.")
                    }
                    let live = try await data.liveAt(at, app: request.query("app"))
                    return .object([("at", .string(at.rfc3339)), ("environments", .array(live.map { app, name, release in
                        ReportJSON.prefixed("app", .string(app), to: ReportJSON.liveAt(environment: name, release))
                    }))])
                }
                if let since, let until, until <= since { throw DashboardProblem.badRequest("until must be later than since.") }
                let events = try await data.audit(app: request.query("app"), environment: request.query("env"), since: since,
                                                  until: until, limit: limit)
                return .object([("events", .array(events.map { event in
                    ReportJSON.prefixed("app", .string(event.app), to: ReportJSON.auditEvent(event))
                }))])
            }
        }
        router.get("/assets/dashboard.css") { _, _ in
            Self.asset(Assets.stylesheet, type: "text/css; charset=utf-8")
        }
        router.get("/assets/dashboard.js") { _, _ in
            Self.asset(Assets.script, type: "text/javascript; charset=utf-8")
        }
        router.get("**") { _, _ in
            await Self.page { throw DashboardProblem.notFound("There is no page at this address: every environment is at /.") }
        }
        return router
    }

    // MARK: Responses

    /// An HTML page, or a page that says what went wrong.
    static func page(_ body: () async throws -> String) async -> Response {
        do {
            return response(.ok, type: "text/html; charset=utf-8", try await body())
        } catch {
            let (status, _, message) = problem(error)
            return response(status, type: "text/html; charset=utf-8", Pages.problem(status: Int(status.code), message))
        }
    }

    /// A JSON document, or the CLI's error shape `{"error": {"code", "message"}}`.
    static func json(_ body: () async throws -> JSONValue) async -> Response {
        do {
            return response(.ok, type: "application/json", try await body().prettyText + "\n")
        } catch {
            let (status, code, message) = problem(error)
            let document = JSONValue.object([("error", .object([("code", .int(Int64(code.rawValue))), ("name", .string(code.name)),
                                                                 ("message", .string(message))]))])
            return response(status, type: "application/json", document.prettyText + "\n")
        }
    }

    /// The HTTP status, the contract's exit code (what the CLI would have exited with) and the message.
    static func problem(_ error: any Error) -> (HTTPResponse.Status, ReleaseError.Code, String) {
        switch error {
        case let DashboardProblem.notFound(message): return (.notFound, .usage, message)
        case let DashboardProblem.badRequest(message): return (.badRequest, .usage, message)
        case let error as ReleaseError where error.code == .unavailable: return (.serviceUnavailable, error.code, error.message)
        case let error as ReleaseError where error.code == .usage: return (.badRequest, error.code, error.message)
        case let error as ReleaseError: return (.internalServerError, error.code, error.message)
        default:
            return (.internalServerError, .deploymentFailed,
                    "The dashboard could not answer (\(String(describing: type(of: error)))). Try again; see the server's log.")
        }
    }

    static func response(_ status: HTTPResponse.Status, type: String, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: type, .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Query values

    /// A path parameter, percent-decoded (the router passes it on as sent).
    static func pathParameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        let raw = try context.parameters.require(name)
        return raw.removingPercentEncoding ?? raw
    }

    static func time(_ text: String, name: String) throws -> Timestamp {
        guard let value = Timestamp(parsing: text) else {
            throw DashboardProblem.badRequest("\(name) must be an RFC 3339 time such as 2026-03-01T14:00:00Z, not '\(Identifier.shown(text))'.")
        }
        return value
    }

    static func limit(_ text: String?, default value: Int) throws -> Int {
        guard let text else { return value }
        guard let limit = Int(text), (1...10_000).contains(limit) else {
            throw DashboardProblem.badRequest("limit must be a whole number from 1 to 10000, not '\(Identifier.shown(text))'.")
        }
        return limit
    }
}

extension Request {
    /// A query parameter, percent-decoded; nil when absent or empty.
    func query(_ name: String) -> String? {
        guard let value = uri.queryParameters[name[...]], !value.isEmpty else { return nil }
        return String(value)
    }
}
