import Foundation
import Hummingbird
import Logging
import NIOCore
import ReleaseCore
import ReleaseStore

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
    public init(
        database: DashboardDatabase, configuration: ReleaseConfiguration?, token: String?,
        trailPatience: Duration = .seconds(2)
    ) {
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

    /// Every route, behind the read-only, token and header middleware; a failure anywhere becomes
    /// a `DashboardError` (a page that says what went wrong, or the API's JSON error).
    public func router() -> Router<BasicRequestContext> {
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: SecurityMiddleware(token: token))
        router.add(middleware: DashboardError.Middleware())
        router.addRoutes(pages)
        router.addRoutes(partials, atPath: "/partials")
        router.addRoutes(api, atPath: "/api")
        router.get("/assets/dashboard.css") { _, _ in Self.asset(Assets.stylesheet, type: "text/css; charset=utf-8") }
        router.get("/assets/dashboard.js") { _, _ in Self.asset(Assets.script, type: "text/javascript; charset=utf-8") }
        router.get("**") { _, _ -> Response in
            throw DashboardProblem.notFound("There is no page at this address: every environment is at /.")
        }
        return router
    }

    /// The pages: every app's environments, one app's timeline, one release's story.
    var pages: RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        let data = self.data
        routes.get("/") { request, _ in
            Self.html(Pages.overview(try await data.overview(app: request.query("app")), filter: request.query("app")))
        }
        routes.get("/apps/:app") { request, context in
            let app = try Self.pathParameter("app", context)
            let at = try request.query("at").map { try Self.time($0, name: "at") }
            return Self.html(Pages.app(try await data.appPage(app: app, at: at)))
        }
        routes.get("/releases/:version") { request, context in
            let version = try Self.pathParameter("version", context)
            switch try await data.release(version: version, app: request.query("app")) {
            case let .one(page, _): return Self.html(Pages.release(page))
            case let .several(apps): return Self.html(Pages.chooseApp(version: version, apps: apps))
            }
        }
        return routes
    }

    /// What the pages poll to stay current: the overview's tables, and one app's.
    var partials: RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        let data = self.data
        routes.get("/status") { request, _ in
            var html = HTML()
            Pages.statusTables(try await data.overview(app: request.query("app")), &html)
            return Self.html(html.text)
        }
        routes.get("/environments/:app") { _, context in
            let app = try Self.pathParameter("app", context)
            var html = HTML()
            for status in try await data.overview(app: app) { Pages.statusTable(status, &html) }
            return Self.html(html.text)
        }
        return routes
    }

    /// The JSON API: the keys of the CLI's `--json`, with an `app` key on each entry.
    var api: RouteCollection<BasicRequestContext> {
        let routes = RouteCollection(context: BasicRequestContext.self)
        let data = self.data
        routes.get("/status") { request, _ in
            let apps = try await data.overview(app: request.query("app"))
            let environment = request.query("env")
            let entries = apps.flatMap { app in
                app.environments.filter { environment == nil || $0.name == environment }
                    .map { ReportJSON.prefixed("app", .string(app.app), to: ReportJSON.environment($0)) }
            }
            if let environment, entries.isEmpty {
                throw DashboardProblem.notFound("No app in this database has an environment '\(environment)'.")
            }
            return Self.json(.object([("environments", .array(entries))]))
        }
        routes.get("/history") { request, _ in
            let limit = try Self.limit(request.query("limit"), default: 20)
            let deployments = try await data.history(app: request.query("app"), environment: request.query("env"), limit: limit)
            return Self.json(
                .object([
                    (
                        "deployments",
                        .array(
                            deployments.map { app, deployment in
                                ReportJSON.prefixed("app", .string(app), to: ReportJSON.deployment(deployment))
                            })
                    )
                ]))
        }
        routes.get("/audit") { request, _ in
            let since = try request.query("since").map { try Self.time($0, name: "since") }
            let until = try request.query("until").map { try Self.time($0, name: "until") }
            let at = try request.query("at").map { try Self.time($0, name: "at") }
            let limit = try Self.limit(request.query("limit"), default: 100)
            if let at {
                if since != nil || until != nil || request.query("env") != nil {
                    throw DashboardProblem.badRequest("at answers for every environment at one instant; leave out env, since and until.")
                }
                let live = try await data.liveAt(at, app: request.query("app"))
                return Self.json(
                    .object([
                        ("at", .string(at.rfc3339)),
                        (
                            "environments",
                            .array(
                                live.map { app, name, release in
                                    ReportJSON.prefixed("app", .string(app), to: ReportJSON.liveAt(environment: name, release))
                                })
                        ),
                    ]))
            }
            if let since, let until, until <= since { throw DashboardProblem.badRequest("until must be later than since.") }
            let events = try await data.audit(
                app: request.query("app"), environment: request.query("env"), since: since,
                until: until, limit: limit)
            return Self.json(
                .object([
                    (
                        "events",
                        .array(
                            events.map { event in
                                ReportJSON.prefixed("app", .string(event.app), to: ReportJSON.auditEvent(event))
                            })
                    )
                ]))
        }
        return routes
    }

    // MARK: Responses

    static func html(_ text: String) -> Response {
        response(.ok, type: "text/html; charset=utf-8", text)
    }

    static func json(_ document: JSONValue) -> Response {
        response(.ok, type: "application/json", document.prettyText + "\n")
    }

    static func response(_ status: HTTPResponse.Status, type: String, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: type, .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
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

/// Why the dashboard could not answer, as Hummingbird's response error: a page that says what
/// went wrong, or under /api/ the CLI's JSON error, with the exit code the CLI would have ended with.
struct DashboardError: HTTPResponseError {
    let status: HTTPResponse.Status
    let code: ReleaseError.Code
    let message: String

    init(_ error: any Error) {
        switch error {
        case let DashboardProblem.notFound(message): (status, code, self.message) = (.notFound, .usage, message)
        case let DashboardProblem.badRequest(message): (status, code, self.message) = (.badRequest, .usage, message)
        case let error as ReleaseError where error.code == .unavailable: (status, code, message) = (.serviceUnavailable, error.code, error.message)
        case let error as ReleaseError where error.code == .usage: (status, code, message) = (.badRequest, error.code, error.message)
        case let error as ReleaseError: (status, code, message) = (.internalServerError, error.code, error.message)
        default:
            (status, code, message) = (
                .internalServerError, .deploymentFailed,
                "The dashboard could not answer (\(String(describing: type(of: error)))). Try again; see the server's log."
            )
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        if request.uri.path.hasPrefix("/api/") {
            return Dashboard.response(status, type: "application/json", ReportJSON.error(code, message).prettyText + "\n")
        }
        return Dashboard.response(status, type: "text/html; charset=utf-8", Pages.problem(status: Int(status.code), message))
    }

    /// Turns whatever a route throws into a `DashboardError`.
    struct Middleware: RouterMiddleware {
        typealias Context = BasicRequestContext

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            do {
                return try await next(request, context)
            } catch let error as DashboardError {
                throw error
            } catch {
                throw DashboardError(error)
            }
        }
    }
}
