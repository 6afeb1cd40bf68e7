import Hummingbird
import HummingbirdTesting
import Postgres
import ReleaseCore
import ReleaseDashboard
import ReleaseStore
import ReleaseTestSupport
import Testing

/// The dashboard's routes through Hummingbird's test client, over a real PostgreSQL.
@Suite struct DashboardTests {
    // MARK: The JSON API, with the CLI's keys

    @Test func statusAnswersWithTheKeysOfStatusJSONForEveryApp() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.router) { client in
                let response = try await client.execute(uri: "/api/status", method: .get)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let environments = try #require(try response.json()["environments"]?.arrayValue)
                #expect(
                    environments.map { "\($0["app"]?.stringValue ?? "")/\($0["name"]?.stringValue ?? "")" }
                        == ["billing/production", "crm-api/develop", "crm-api/main"])
                let main = try #require(environments.first { $0["name"]?.stringValue == "main" })
                for key in ["name", "live", "health", "in_flight", "frozen"] { #expect(main[key] != nil, "missing \(key)") }
                #expect(main["live"]?["version"]?.stringValue == "1.0.0")
                #expect(main["live"]?["since"]?.stringValue == fixture.rollbackCutover.rfc3339)
                #expect(main["live"]?["by"]?.stringValue == "carol")
                #expect(main["frozen"] == .bool(true))
                #expect(main["freeze"]?["reasons"]?.arrayValue?.first?.stringValue == "incident 42, by carol")
                #expect(main["in_flight"] == .null)
                let develop = try #require(environments.first { $0["name"]?.stringValue == "develop" })
                #expect(develop["live"]?["version"]?.stringValue == "1.0.1")
                #expect(develop["frozen"] == .bool(false))
                // Every app's environments are read together: nothing of one shows under another.
                let production = try #require(environments.first { $0["name"]?.stringValue == "production" })
                #expect(production["live"]?["version"]?.stringValue == "2.0.0")
                #expect(production["live"]?["by"]?.stringValue == "dave")
                #expect(production["frozen"] == .bool(false))
                #expect(production["in_flight"] == .null)

                let one = try await client.execute(uri: "/api/status?app=billing", method: .get).json()
                #expect(one["environments"]?.arrayValue?.map { $0["name"]?.stringValue } == ["production"])
                let missing = try await client.execute(uri: "/api/status?app=nope", method: .get)
                #expect(missing.status == .notFound)
                #expect(try missing.json()["error"]?["code"]?.intValue == 2)
                #expect(try missing.json()["error"]?["message"]?.stringValue == "There is no app 'nope' in this database.")
            }
        }
    }

    @Test func historyIsNewestFirstWithTheKeysOfHistoryJSON() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.router) { client in
                let all = try await client.execute(uri: "/api/history?app=crm-api", method: .get).json()
                let deployments = try #require(all["deployments"]?.arrayValue)
                #expect(deployments.count == 5)
                let ids = deployments.compactMap { $0["id"]?.intValue }
                #expect(ids == ids.sorted(by: >))
                let newest = try #require(deployments.first)
                for key in ["id", "environment", "version", "kind", "state", "by", "started_at", "finished_at"] {
                    #expect(newest[key] != nil, "missing \(key)")
                }
                #expect(newest["kind"]?.stringValue == "rollback")
                #expect(newest["state"]?.stringValue == "live")
                #expect(deployments[1]["state"]?.stringValue == "rolled_back")

                // Every app's deployments merged newest first, each under its own app, the limit over all.
                let everyApp = try await client.execute(uri: "/api/history?limit=2", method: .get).json()
                #expect(
                    everyApp["deployments"]?.arrayValue?.map { "\($0["app"]?.stringValue ?? "")/\($0["environment"]?.stringValue ?? "")" }
                        == ["billing/production", "crm-api/main"])
                #expect(everyApp["deployments"]?.arrayValue?.map { $0["kind"]?.stringValue } == ["deploy", "rollback"])

                let main = try await client.execute(uri: "/api/history?env=main&limit=2", method: .get).json()
                #expect(main["deployments"]?.arrayValue?.map { $0["kind"]?.stringValue } == ["rollback", "promote"])
                #expect(main["deployments"]?.arrayValue?.allSatisfy { $0["app"]?.stringValue == "crm-api" } == true)

                for bad in ["/api/history?limit=0", "/api/history?limit=ten", "/api/history?limit=10001"] {
                    let response = try await client.execute(uri: bad, method: .get)
                    #expect(response.status == .badRequest, "\(bad)")
                    #expect(try response.json()["error"]?["message"]?.stringValue?.hasPrefix("limit must be a whole number") == true)
                }
            }
        }
    }

    @Test func auditAtAnswersWhatWasLiveToTheMicrosecond() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.router) { client in
                func liveOnMain(_ instant: Timestamp) async throws -> String? {
                    let document = try await client.execute(uri: "/api/audit?app=crm-api&at=\(instant.rfc3339)", method: .get).json()
                    #expect(document["at"]?.stringValue == instant.rfc3339)
                    return document["environments"]?.arrayValue?.first { $0["name"]?.stringValue == "main" }?["version"]?.stringValue
                }
                #expect(try await liveOnMain(fixture.failedCutover) == "1.0.1")
                #expect(try await liveOnMain(Timestamp(microseconds: fixture.failedCutover.microseconds - 1)) == "1.0.0")
                #expect(try await liveOnMain(fixture.rollbackCutover) == "1.0.0")
                // Before anything shipped: every environment listed, with nothing live.
                // Every app at once, each environment under its own app.
                let now = try await client.execute(uri: "/api/audit?at=\(Timestamp.now.rfc3339)", method: .get).json()
                #expect(
                    now["environments"]?.arrayValue?.map {
                        "\($0["app"]?.stringValue ?? "")/\($0["name"]?.stringValue ?? ""):\($0["version"]?.stringValue ?? "-")"
                    }
                        == ["billing/production:2.0.0", "crm-api/develop:1.0.1", "crm-api/main:1.0.0"])
                let early = try await client.execute(uri: "/api/audit?at=2000-01-01T00:00:00Z", method: .get).json()
                let environments = try #require(early["environments"]?.arrayValue)
                #expect(environments.count == 3)
                #expect(environments.allSatisfy { $0["version"] == .null })

                let bad = try await client.execute(uri: "/api/audit?at=yesterday", method: .get)
                #expect(bad.status == .badRequest)
                #expect(
                    try bad.json()["error"]?["message"]?.stringValue
                        == "at must be an RFC 3339 time such as 2026-03-01T14:00:00Z, not 'yesterday'.")
                let mixed = try await client.execute(uri: "/api/audit?at=2026-01-01T00:00:00Z&env=main", method: .get)
                #expect(mixed.status == .badRequest)
            }
        }
    }

    @Test func auditListsTheLatestEventsInOrderWithTheKeysOfAuditJSON() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.router) { client in
                let everything = try await client.execute(uri: "/api/audit?app=crm-api", method: .get).json()
                let events = try #require(everything["events"]?.arrayValue)
                let count = try await fixture.connection.run { db in try db.auditHead(app: fixture.app).count }
                #expect(Int64(events.count) == count)
                for key in ["id", "at", "actor", "action", "environment", "version", "details"] {
                    #expect(events.first?[key] != nil, "missing \(key)")
                }
                let latest = try await client.execute(uri: "/api/audit?app=crm-api&limit=2", method: .get).json()
                let sequences = latest["events"]?.arrayValue?.compactMap { $0["sequence"]?.intValue }
                #expect(sequences == [count - 1, count])
                // Every app's latest events together, in time order: billing's deployment came last.
                let everyApp = try await client.execute(uri: "/api/audit?limit=2", method: .get).json()
                #expect(everyApp["events"]?.arrayValue?.map { $0["app"]?.stringValue } == ["crm-api", "billing"])
                #expect(everyApp["events"]?.arrayValue?.map { $0["action"]?.stringValue } == ["rollback.cutover", "deploy.cutover"])
                let filtered = try await client.execute(uri: "/api/audit?env=main", method: .get).json()
                #expect(filtered["events"]?.arrayValue?.map { $0["action"]?.stringValue } == ["promote.verification_failed"])
                let backwards = try await client.execute(uri: "/api/audit?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z", method: .get)
                #expect(backwards.status == .badRequest)
            }
        }
    }

    // MARK: Pages

    @Test func theOverviewShowsEveryEnvironmentAndRefreshesFromThePartial() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.router) { client in
                let page = try await client.execute(uri: "/", method: .get)
                #expect(page.status == .ok)
                #expect(page.headers[.contentType] == "text/html; charset=utf-8")
                #expect(page.text.contains("data-refresh=\"/partials/status\""))
                #expect(
                    page.text.contains(
                        "<tr data-env=\"main\"><th scope=\"row\">main</th><td data-field=\"version\">"
                            + "<a class=\"version\" href=\"/releases/1.0.0?app=crm-api\">1.0.0</a>"
                    ))
                #expect(page.text.contains("<span class=\"badge frozen\">frozen</span> incident 42, by carol"))
                #expect(page.text.contains("href=\"/apps/billing\""))

                // A promotion lands while the page is open: the fragment the page polls shows it.
                try await fixture.connection.run { db in
                    let release = try db.insertRelease(app: fixture.app, version: "1.0.2", commit: nil, artifact: nil, notes: nil, by: "alice")
                    _ = try DashboardFixture.went(db, app: fixture.app, environment: fixture.develop, release: release, kind: .deploy, by: "erin")
                }
                let fragment = try await client.execute(uri: "/partials/environments/crm-api", method: .get)
                #expect(fragment.text.hasPrefix("<table class=\"environments\">"))
                let overview = try await client.execute(uri: "/partials/status?app=crm-api", method: .get)
                #expect(overview.text.hasPrefix("<div class=\"app\" data-app=\"crm-api\"><h2>"))
                #expect(overview.text.contains("href=\"/releases/1.0.2?app=crm-api\">1.0.2</a>"))
                #expect(try await client.execute(uri: "/partials/environments/nope", method: .get).status == .notFound)
                #expect(fragment.text.contains("href=\"/releases/1.0.2?app=crm-api\">1.0.2</a>"))
                #expect(fragment.text.contains("<span class=\"badge verifying\">verifying</span>"))
                #expect(!fragment.text.contains("<html"))
            }
        }
    }

    @Test func anAppPageDrawsTheTimelineAndAnswersForAPickedInstant() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.router) { client in
                let page = try await client.execute(uri: "/apps/crm-api", method: .get).text
                #expect(page.contains("<svg class=\"timeline\""))
                #expect(page.contains("<section class=\"status\" data-refresh=\"/partials/environments/crm-api\">"))
                // main's lane: 1.0.0, then 1.0.1 in red (it failed its probe), then 1.0.0 again.
                let lanes = page.components(separatedBy: "<g class=\"lane\"")
                let lane = try #require(lanes.first { $0.hasPrefix(" data-env=\"main\">") })
                #expect(lane.contains("<g class=\"bar failed\" data-version=\"1.0.1\">"))
                #expect(lane.components(separatedBy: "data-version=\"1.0.0\"").count - 1 == 2)
                #expect(lane.contains("<g class=\"mark rollback\""))
                #expect(lane.contains("<g class=\"mark promote failed\""))
                #expect(!page.contains("<table class=\"live-at\""))

                let at = fixture.failedCutover.rfc3339
                let picked = try await client.execute(uri: "/apps/crm-api?at=\(at)", method: .get).text
                #expect(picked.contains("<caption>Live at \(at)</caption>"))
                #expect(
                    picked.contains(
                        "<tr data-env=\"main\"><th scope=\"row\">main</th><td data-field=\"version\">"
                            + "<a class=\"version\" href=\"/releases/1.0.1?app=crm-api\">1.0.1</a>"
                    ))
                #expect(picked.contains("<line class=\"instant\""))

                let bad = try await client.execute(uri: "/apps/crm-api?at=noon", method: .get)
                #expect(bad.status == .badRequest)
                #expect(bad.text.contains("at must be an RFC 3339 time"))
                let missing = try await client.execute(uri: "/apps/nope", method: .get)
                #expect(missing.status == .notFound)
                #expect(missing.text.contains("There is no app &#39;nope&#39; in this database."))
            }
        }
    }

    @Test func aPickedInstantLongAgoIsDrawnAmongWhatWasLiveThen() async throws {
        try await DashboardFixture.with { fixture in
            // Forty more releases on develop: the instant of the fifth is far behind the latest thirty.
            let cutovers = try await fixture.connection.run { db in
                try (1...40).map { number in
                    let release = try db.insertRelease(
                        app: fixture.app, version: "2.0.\(number)", commit: nil, artifact: nil, notes: nil, by: "alice")
                    let id = try DashboardFixture.live(
                        db, app: fixture.app, environment: fixture.develop, release: release, kind: .deploy, by: "alice")
                    return try #require(try db.deployment(id: id)?.cutoverAt)
                }
            }
            try await fixture.application().test(.router) { client in
                let now = try await client.execute(uri: "/apps/crm-api", method: .get).text
                #expect(now.contains("data-version=\"2.0.40\""))
                #expect(!now.contains("data-version=\"2.0.5\""), "the latest thirty spans only")

                let at = cutovers[4].rfc3339
                let then = try await client.execute(uri: "/apps/crm-api?at=\(at)", method: .get).text
                #expect(
                    then.contains("<g class=\"bar ok\" data-version=\"2.0.5\">") || then.contains("<g class=\"bar ok alt\" data-version=\"2.0.5\">"))
                #expect(!then.contains("data-version=\"2.0.40\""), "drawn around the instant, not up to now")
                #expect(
                    then.contains(
                        "<tr data-env=\"develop\"><th scope=\"row\">develop</th><td data-field=\"version\">"
                            + "<a class=\"version\" href=\"/releases/2.0.5?app=crm-api\">2.0.5</a>"
                    ))
                #expect(then.contains("<line class=\"instant\""))
                #expect(then.contains("<g class=\"mark deploy\""))
            }
        }
    }

    @Test func aReleasePageTellsItsWholeStoryAndEscapesWhatItShows() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.router) { client in
                let response = try await client.execute(uri: "/releases/1.0.1", method: .get)
                #expect(response.status == .ok)
                let page = response.text
                #expect(page.contains("<dd data-field=\"commit\">9b7e2d4</dd>"))
                #expect(page.contains("<dd data-field=\"artifact\">registry/crm:1.0.1</dd>"))
                #expect(page.contains("<tr data-check=\"tests\">"))
                #expect(page.contains("<a rel=\"noopener noreferrer\" href=\"https://ci.example.com/runs/7\">"))
                #expect(page.contains("<td>main</td><td>bob</td>"))
                #expect(page.contains("<span class=\"badge state-rolled_back\">rolled_back</span>"))
                #expect(page.contains("<td>promote.verification_failed</td>"))
                // What its signals measured, as `history --json` says it.
                #expect(page.contains("<td>main</td><td>error-ratio</td><td>fail</td><td>0.31</td><td>2</td><td>0.31 &gt; 0.02</td>"))
                #expect(page.contains("<span class=\"badge healthy\" data-field=\"trail\">intact</span>"))
                // Stored text never becomes markup or a link.
                #expect(page.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;"))
                #expect(!page.contains("<img"))
                #expect(!page.contains("href=\"javascript:"))
                #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)

                let unknown = try await client.execute(uri: "/releases/9.9.9", method: .get)
                #expect(unknown.status == .notFound)
                let nowhere = try await client.execute(uri: "/no/such/page", method: .get)
                #expect(nowhere.status == .notFound)
                #expect(nowhere.text.contains("There is no page at this address: every environment is at /."))
                #expect(nowhere.headers[.contentSecurityPolicy] != nil)
            }
        }
    }

    @Test func aReleasePageSaysWhenTheTrailWasTamperedWith() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.tamperWithAuditEvent(sequence: 2)
            try await fixture.application().test(.router) { client in
                let page = try await client.execute(uri: "/releases/1.0.1?app=crm-api", method: .get).text
                #expect(page.contains("<span class=\"badge failed\" data-field=\"trail\">tampered</span>"))
                #expect(page.contains("event #2 (id 2, release.created"))
            }
        }
    }

    @Test func aLongTrailIsWalkedInTheBackgroundAndItsVerdictShownWhenDone() async throws {
        try await DashboardFixture.with { fixture in
            // A page that may not wait at all, as with a trail of millions of events.
            let dashboard = Dashboard(database: DashboardDatabase(url: fixture.url), configuration: nil, token: nil, trailPatience: .zero)
            let events = try await fixture.connection.run { db in try db.auditHead(app: fixture.app).count }
            try await Application(router: dashboard.router()).test(.router) { client in
                let first = try await client.execute(uri: "/releases/1.0.1?app=crm-api", method: .get).text
                #expect(first.contains("<span class=\"badge verifying\" data-field=\"trail\">checking</span>"))
                #expect(first.contains("walking the \(events) events of crm-api&#39;s trail now"))
                var verdict = first
                for _ in 0..<200 where !verdict.contains("data-field=\"trail\">intact") {
                    try await Task.sleep(for: .milliseconds(25))
                    verdict = try await client.execute(uri: "/releases/1.0.1?app=crm-api", method: .get).text
                }
                #expect(verdict.contains("<span class=\"badge healthy\" data-field=\"trail\">intact</span> \(events) events of crm-api"))
            }
        }
    }

    @Test func aVersionSharedByTwoAppsAsksWhichOne() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.connection.run { db in
                let billing = try #require(try db.appID(named: "billing"))
                _ = try db.insertRelease(app: billing, version: "1.0.0", commit: nil, artifact: nil, notes: nil, by: "dave")
            }
            try await fixture.application().test(.router) { client in
                let page = try await client.execute(uri: "/releases/1.0.0", method: .get).text
                #expect(page.contains("href=\"/releases/1.0.0?app=billing\">billing</a>"))
                #expect(page.contains("href=\"/releases/1.0.0?app=crm-api\">crm-api</a>"))
                let chosen = try await client.execute(uri: "/releases/1.0.0?app=billing", method: .get).text
                #expect(chosen.contains("<h1>billing 1.0.0</h1>"))
            }
        }
    }

    // MARK: Read-only, tokens, failures

    @Test(arguments: [HTTPRequest.Method.post, .put, .delete, .patch])
    func nothingButGetIsAnswered(method: HTTPRequest.Method) async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.router) { client in
                let response = try await client.execute(uri: "/api/status", method: method)
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, HEAD")
            }
        }
    }

    @Test func theDatabaseItselfRefusesWritesFromTheDashboard() async throws {
        try await DashboardFixture.with { fixture in
            let database = DashboardDatabase(url: fixture.url)
            await #expect(throws: ReleaseError.self) {
                try await database.read { db in try db.execute(script: "DELETE FROM freezes") }
            }
            let freezes = try await fixture.connection.run { db in try db.query("SELECT count(*) AS n FROM freezes").first?.int64("n") }
            #expect(freezes == 1)
            await database.close()
        }
    }

    @Test func morePagesAtOnceThanConnectionsAreEachServedWithinThePool() async throws {
        try await DashboardFixture.with { fixture in
            let database = DashboardDatabase(url: fixture.url)
            // Thirty reads at once through a pool of four: each waits its turn, none is lost, and
            // the database never sees more than four of the dashboard's sessions.
            let sessions = try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        try await database.read { db in
                            try db.query(
                                """
                                SELECT count(*) AS n, pg_sleep(0.02) IS NULL AS slept FROM pg_stat_activity
                                WHERE application_name = 'release serve' AND datname = current_database()
                                """
                            ).first?.int64("n") ?? 0
                        }
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0.append($1) }
            }
            #expect(sessions.count == 30)
            #expect(sessions.allSatisfy { (1...4).contains($0) }, "\(sessions)")
            await database.close()
        }
    }

    @Test func theDashboardOutlivesItsDatabaseSessions() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.router) { client in
                #expect(try await client.execute(uri: "/api/status", method: .get).status == .ok)
                // An administrator ends the dashboard's sessions (or the server restarts).
                let ended = try await fixture.connection.run { db in
                    try db.query(
                        """
                        SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
                        WHERE application_name = 'release serve' AND datname = current_database()
                        """
                    )
                    .first?.int64("n")
                }
                #expect(ended == 1)
                let after = try await client.execute(uri: "/api/status", method: .get)
                #expect(after.status == .ok)
                #expect(try after.json()["environments"]?.arrayValue?.count == 3)
            }
        }
    }

    @Test func aTokenGuardsEveryRouteAndTradesForACookie() async throws {
        let token = "s3cret-token-0123456789abcdef"
        try await DashboardFixture.with { fixture in
            try await fixture.application(token: token).test(.router) { client in
                let anonymous = try await client.execute(uri: "/api/status", method: .get)
                #expect(anonymous.status == .unauthorized)
                #expect(!anonymous.text.contains(token))
                #expect(try await client.execute(uri: "/?token=wrong", method: .get).status == .unauthorized)
                #expect(try await client.execute(uri: "/assets/dashboard.js", method: .get).status == .unauthorized)

                let bearer = try await client.execute(uri: "/api/status", method: .get, headers: [.authorization: "Bearer \(token)"])
                #expect(bearer.status == .ok)
                #expect(
                    try await client.execute(uri: "/api/status", method: .get, headers: [.authorization: "Bearer nope"]).status
                        == .unauthorized)

                let exchange = try await client.execute(uri: "/apps/crm-api?token=\(token)&at=2026-01-01T00:00:00Z", method: .get)
                #expect(exchange.status == .seeOther)
                #expect(exchange.headers[.location] == "/apps/crm-api?at=2026-01-01T00:00:00Z", "the token leaves the address, the rest stays")
                let setCookie = try #require(exchange.headers[.setCookie])
                #expect(setCookie.contains("HttpOnly"))
                #expect(setCookie.contains("SameSite=Strict"))
                #expect(!setCookie.contains(token), "the cookie holds a digest, not the token")
                let cookie = String(setCookie.prefix { $0 != ";" })
                let page = try await client.execute(uri: "/apps/crm-api", method: .get, headers: [.cookie: cookie])
                #expect(page.status == .ok)
                #expect(page.text.contains("<svg class=\"timeline\""))
            }
        }
    }

    @Test func withoutATokenOnlyLoopbackNamesAreAnswered() async throws {
        try await DashboardFixture.with { fixture in
            try await fixture.application().test(.ahc(.http)) { client in
                let local = try await client.execute(uri: "/api/status", method: .get, headers: [.init("Host")!: "127.0.0.1:8080"])
                #expect(local.status == .ok)
                let rebound = try await client.execute(uri: "/api/status", method: .get, headers: [.init("Host")!: "attacker.example:8080"])
                #expect(rebound.status == .misdirectedRequest)
            }
        }
        #expect(Dashboard.isLoopback("127.0.0.1"))
        #expect(Dashboard.isLoopback("localhost"))
        #expect(Dashboard.isLoopback("::1"))
        #expect(!Dashboard.isLoopback("0.0.0.0"))
        #expect(!Dashboard.isLoopback("192.168.1.10"))
        #expect(!Dashboard.isLoopback("127.0.0.1.example.com"))
    }

    @Test func anUnreachableDatabaseIsA503WithTheCLIsErrorShape() async throws {
        // A port nothing listens on (PostgreSQL's socket directory of a cluster that does not exist).
        let dashboard = Dashboard(
            database: DashboardDatabase(url: "postgresql:///release?host=/nonexistent&port=1"),
            configuration: nil, token: nil)
        try await Application(router: dashboard.router()).test(.router) { client in
            let api = try await client.execute(uri: "/api/status", method: .get)
            #expect(api.status == .serviceUnavailable)
            #expect(try api.json()["error"]?["code"]?.intValue == 5)
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .serviceUnavailable)
            #expect(page.text.contains("Cannot reach the database"))
        }
    }
}
