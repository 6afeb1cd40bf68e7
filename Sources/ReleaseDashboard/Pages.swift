import Foundation
import ReleaseCore
import ReleaseStore

/// The dashboard's HTML. Everything that comes from the database or the request goes through
/// `HTML.escape`; the page runs no inline script (the Content-Security-Policy forbids it).
enum Pages {
    /// The frame around every page.
    static func layout(title: String, heading: String, _ body: (inout HTML) -> Void) -> String {
        var html = HTML()
        html.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
        html.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        html.raw("<title>")
        html.text(title)
        html.raw("</title><link rel=\"stylesheet\" href=\"/assets/dashboard.css\"><script src=\"/assets/dashboard.js\" defer></script>")
        html.raw("</head><body><header><a class=\"home\" href=\"/\">release</a><h1>")
        html.text(heading)
        html.raw("</h1><span class=\"updated\" data-updated></span></header><main>")
        body(&html)
        html.raw("</main></body></html>\n")
        return html.text
    }

    // MARK: Overview

    /// `/`: every app's environments, refreshed live.
    static func overview(_ apps: [AppStatus], filter: String?) -> String {
        layout(title: "release: what is live where", heading: "What is live where") { html in
            if apps.isEmpty {
                html.raw("<p class=\"empty\">No app in this database yet. Run <code>release deploy</code> to ship the first release.</p>")
            }
            html.raw("<section class=\"status\" data-refresh=\"/partials/status")
            if let filter {
                html.raw("?app=")
                html.text(percentEncoded(filter))
            }
            html.raw("\">")
            statusTables(apps, &html)
            html.raw("</section>")
        }
    }

    /// The live part of the overview: a table per app, under its name.
    static func statusTables(_ apps: [AppStatus], _ html: inout HTML) {
        for app in apps {
            html.raw("<div class=\"app\" data-app=\"")
            html.text(app.app)
            html.raw("\"><h2>")
            appLink(app.app, &html)
            html.raw("</h2>")
            statusTable(app, &html)
            html.raw("</div>")
        }
    }

    static func statusTable(_ app: AppStatus, _ html: inout HTML) {
        if app.environments.isEmpty {
            html.raw("<p class=\"empty\">No environments yet.</p>")
            return
        }
        html.raw("<table class=\"environments\"><thead><tr><th>Environment</th><th>Live</th><th>Since</th><th>By</th><th>Health</th>")
        html.raw("<th>In flight</th><th>Frozen</th></tr></thead><tbody>")
        for environment in app.environments {
            html.raw("<tr data-env=\"")
            html.text(environment.name)
            html.raw("\"><th scope=\"row\">")
            html.text(environment.name)
            html.raw("</th><td data-field=\"version\">")
            if let live = environment.live {
                releaseLink(app: app.app, version: live.version, &html)
                if live.state == .failed || live.state == .rolledBack { html.raw(" <span class=\"badge failed\">failed</span>") }
            } else {
                html.raw("<span class=\"none\">nothing live</span>")
            }
            html.raw("</td><td data-field=\"since\">")
            if let live = environment.live { time(live.since, &html) } else { html.raw("-") }
            html.raw("</td><td data-field=\"by\">")
            html.text(environment.live?.by ?? "-")
            html.raw("</td><td data-field=\"health\"><span class=\"badge ")
            html.text(environment.health)
            html.raw("\"")
            if let detail = environment.healthDetail {
                html.raw(" title=\"")
                html.text(detail)
                html.raw("\"")
            }
            html.raw(">")
            html.text(environment.health)
            html.raw("</span></td><td data-field=\"in_flight\">")
            if let deployment = environment.inFlight {
                html.raw("<span class=\"badge flight\">")
                html.text("\(deployment.kind.rawValue) \(deployment.version)")
                html.raw("</span> ")
                html.text("\(deployment.state.rawValue), by \(deployment.by), since ")
                time(deployment.startedAt, &html)
            } else {
                html.raw("-")
            }
            html.raw("</td><td data-field=\"frozen\">")
            if environment.freezeReasons.isEmpty {
                html.raw("no")
            } else {
                html.raw("<span class=\"badge frozen\">frozen</span> ")
                html.text(environment.freezeReasons.joined(separator: "; "))
                if let until = environment.frozenUntil { html.text(" until \(until.rfc3339)") }
            }
            html.raw("</td></tr>")
        }
        html.raw("</tbody></table>")
    }

    // MARK: An app

    /// `/apps/{app}`: environments now, the timeline, what was live at a picked instant, and the
    /// latest deployments.
    static func app(_ page: AppPage) -> String {
        layout(title: "release: \(page.app)", heading: page.app) { html in
            html.raw("<section class=\"status\" data-refresh=\"/partials/environments/")
            html.text(percentEncoded(page.app))
            html.raw("\">")
            statusTable(AppStatus(app: page.app, environments: page.environments), &html)
            html.raw("</section><section class=\"timeline\"><h2>What shipped when</h2>")
            html.raw(Timeline(page: page).svg())
            html.raw("<p class=\"legend\"><span class=\"key ok\"></span>live, verified <span class=\"key verifying\"></span>verifying ")
            html.raw("<span class=\"key failed\"></span>failed its probe <span class=\"mark-key\">▲</span>promotion ")
            html.raw("<span class=\"mark-key\">◆</span>rollback <span class=\"mark-key\">●</span>deploy (red: failed). ")
            html.raw("Click the picture to see what was live at that instant.</p>")
            html.raw("<form class=\"at\" method=\"get\"><label>What was live at <input name=\"at\" placeholder=\"2026-03-01T14:00:00Z\" value=\"")
            if let at = page.at { html.text(at.rfc3339) }
            html.raw("\"></label> <button>Show</button></form>")
            if let at = page.at {
                html.raw("<table class=\"live-at\" data-at=\"")
                html.text(at.rfc3339)
                html.raw("\"><caption>Live at ")
                html.text(at.rfc3339)
                html.raw("</caption><thead><tr><th>Environment</th><th>Version</th><th>Since</th><th>By</th></tr></thead><tbody>")
                for (name, live) in page.liveAt {
                    html.raw("<tr data-env=\"")
                    html.text(name)
                    html.raw("\"><th scope=\"row\">")
                    html.text(name)
                    html.raw("</th><td data-field=\"version\">")
                    if let live { releaseLink(app: page.app, version: live.version, &html) } else { html.raw("<span class=\"none\">nothing</span>") }
                    html.raw("</td><td>")
                    if let live { time(live.since, &html) } else { html.raw("-") }
                    html.raw("</td><td>")
                    html.text(live?.by ?? "-")
                    html.raw("</td></tr>")
                }
                html.raw("</tbody></table>")
            }
            html.raw("</section><section><h2>Latest deployments</h2>")
            deploymentTable(Array(page.deployments.prefix(20)), app: page.app, &html)
            html.raw("</section>")
        }
    }

    static func deploymentTable(_ deployments: [DeploymentRecord], app: String, _ html: inout HTML) {
        if deployments.isEmpty {
            html.raw("<p class=\"empty\">No deployments yet.</p>")
            return
        }
        html.raw("<table class=\"deployments\"><thead><tr><th>#</th><th>Environment</th><th>Version</th><th>Kind</th><th>State</th>")
        html.raw("<th>By</th><th>Started</th><th>Finished</th><th>Detail</th></tr></thead><tbody>")
        for deployment in deployments {
            let failed = [.failed, .rolledBack, .rejected].contains(deployment.state)
            html.raw(failed ? "<tr class=\"failed\" data-deployment=\"" : "<tr data-deployment=\"")
            html.text(String(deployment.id))
            html.raw("\"><td>")
            html.text(String(deployment.id))
            html.raw("</td><td>")
            html.text(deployment.environment)
            html.raw("</td><td>")
            releaseLink(app: app, version: deployment.version, &html)
            html.raw("</td><td>")
            html.text(deployment.kind.rawValue)
            html.raw("</td><td><span class=\"badge state-")
            html.text(deployment.state.rawValue)
            html.raw("\">")
            html.text(deployment.state.rawValue)
            html.raw("</span></td><td>")
            html.text(deployment.by)
            html.raw("</td><td>")
            time(deployment.startedAt, &html)
            html.raw("</td><td>")
            if let finished = deployment.finishedAt { time(finished, &html) } else { html.raw("-") }
            html.raw("</td><td class=\"detail\">")
            html.text([deployment.reason, deployment.detail].compactMap { $0 }.joined(separator: " — "))
            html.raw("</td></tr>")
        }
        html.raw("</tbody></table>")
    }

    // MARK: A release

    /// `/releases/{version}`.
    static func release(_ page: ReleasePage) -> String {
        let release = page.release
        return layout(title: "release: \(page.app) \(release.version)", heading: "\(page.app) \(release.version)") { html in
            html.raw("<section class=\"release\"><dl>")
            definition("App", &html) { html in
                appLink(page.app, &html)
            }
            definition("Version", field: "version", release.version, &html)
            definition("Commit", field: "commit", release.commit ?? "-", &html)
            definition("Artifact", field: "artifact", release.artifact ?? "-", &html)
            if let notes = release.notes { definition("Notes", field: "notes", notes, &html) }
            definition("Registered", &html) { html in
                time(release.createdAt, &html)
                html.text(" by \(release.createdBy)")
            }
            if release.isQuarantined {
                definition("Quarantined", &html) { html in
                    html.raw("<span class=\"badge failed\">quarantined</span> ")
                    html.text(release.quarantineReason ?? "")
                }
            }
            definition("Audit trail", &html) { html in
                switch page.trail {
                case let .intact(events, checkedAt):
                    html.raw("<span class=\"badge healthy\" data-field=\"trail\">intact</span> ")
                    html.text("\(events) event\(events == 1 ? "" : "s") of \(page.app), every hash matches (checked \(checkedAt.rfc3339))")
                case let .tampered(message, checkedAt):
                    html.raw("<span class=\"badge failed\" data-field=\"trail\">tampered</span> ")
                    html.text("\(message) (checked \(checkedAt.rfc3339))")
                case let .checking(events):
                    html.raw("<span class=\"badge verifying\" data-field=\"trail\">checking</span> ")
                    html.text("walking the \(events) events of \(page.app)'s trail now; reload in a moment for the verdict")
                case let .unavailable(message):
                    html.raw("<span class=\"badge unknown\" data-field=\"trail\">not checked</span> ")
                    html.text(message)
                }
            }
            html.raw("</dl></section><section><h2>Checks</h2>")
            if page.checks.isEmpty {
                html.raw("<p class=\"empty\">No checks recorded.</p>")
            } else {
                html.raw("<table class=\"checks\"><thead><tr><th>Check</th><th>Status</th><th>By</th><th>At</th><th>Link</th></tr></thead><tbody>")
                for check in page.checks {
                    html.raw("<tr data-check=\"")
                    html.text(check.name)
                    html.raw("\"><td>")
                    html.text(check.name)
                    html.raw("</td><td><span class=\"badge check-")
                    html.text(check.status)
                    html.raw("\">")
                    html.text(check.status)
                    html.raw("</span></td><td>")
                    html.text(check.by)
                    html.raw("</td><td>")
                    time(check.at, &html)
                    html.raw("</td><td>")
                    if let url = check.url, url.hasPrefix("https://") || url.hasPrefix("http://") {
                        html.raw("<a rel=\"noopener noreferrer\" href=\"")
                        html.text(url)
                        html.raw("\">")
                        html.text(url)
                        html.raw("</a>")
                    } else {
                        html.text(check.url ?? "-")
                    }
                    html.raw("</td></tr>")
                }
                html.raw("</tbody></table>")
            }
            html.raw("</section><section><h2>Approvals</h2>")
            if page.approvals.isEmpty {
                html.raw("<p class=\"empty\">No approvals.</p>")
            } else {
                html.raw("<table class=\"approvals\"><thead><tr><th>Environment</th><th>By</th><th>At</th></tr></thead><tbody>")
                for approval in page.approvals {
                    html.raw("<tr><td>")
                    html.text(approval.environment)
                    html.raw("</td><td>")
                    html.text(approval.by)
                    html.raw("</td><td>")
                    time(approval.at, &html)
                    html.raw("</td></tr>")
                }
                html.raw("</tbody></table>")
            }
            html.raw("</section><section><h2>Deployments</h2>")
            deploymentTable(page.deployments, app: page.app, &html)
            signalTable(page.deployments, &html)
            html.raw("</section><section><h2>Audit events</h2>")
            if page.events.isEmpty {
                html.raw("<p class=\"empty\">No audit events name this version.</p>")
            } else {
                html.raw("<table class=\"events\"><thead><tr><th>#</th><th>At</th><th>Actor</th><th>Action</th><th>Environment</th><th>Details</th>")
                html.raw("</tr></thead><tbody>")
                for event in page.events {
                    html.raw("<tr data-sequence=\"")
                    html.text(String(event.sequence))
                    html.raw("\"><td>")
                    html.text(String(event.sequence))
                    html.raw("</td><td>")
                    time(event.at, &html)
                    html.raw("</td><td>")
                    html.text(event.actor)
                    html.raw("</td><td>")
                    html.text(event.action)
                    html.raw("</td><td>")
                    html.text(event.environment ?? "-")
                    html.raw("</td><td class=\"detail\">")
                    html.text(event.details)
                    html.raw("</td></tr>")
                }
                html.raw("</tbody></table>")
                if page.events.count == DashboardData.releaseEventLimit {
                    html.raw("<p class=\"empty\">The first \(DashboardData.releaseEventLimit) events; <code>release audit</code> lists them all.</p>")
                }
            }
            html.raw("</section>")
        }
    }

    /// Several apps have this version: which one?
    /// The signals that verified each deployment (`verify:`), when any were measured.
    static func signalTable(_ deployments: [DeploymentRecord], _ html: inout HTML) {
        let measured = deployments.filter { !$0.signals.isEmpty }
        guard !measured.isEmpty else { return }
        html.raw("<h3>Signals</h3><table class=\"signals\"><thead><tr><th>#</th><th>Environment</th><th>Signal</th><th>Verdict</th>")
        html.raw("<th>Value</th><th>Measurements</th><th>Latest</th></tr></thead><tbody>")
        for deployment in measured {
            for signal in deployment.signals {
                html.raw("<tr class=\"signal-\(signal.verdict == "fail" ? "fail" : signal.verdict == "pass" ? "pass" : "other")\"><td>")
                html.text(String(deployment.id))
                html.raw("</td><td>")
                html.text(deployment.environment)
                html.raw("</td><td>")
                html.text(signal.name + (signal.enforcing ? "" : " (observed)"))
                html.raw("</td><td>")
                html.text(signal.verdict)
                html.raw("</td><td>")
                html.text(signal.value.map(SignalConfiguration.format) ?? "-")
                html.raw("</td><td>")
                html.text(String(signal.measurements))
                html.raw("</td><td>")
                html.text(signal.detail)
                html.raw("</td></tr>")
            }
        }
        html.raw("</tbody></table>")
    }

    static func chooseApp(version: String, apps: [String]) -> String {
        layout(title: "release: \(version)", heading: "Release \(version)") { html in
            html.raw("<p>Several apps have a release ")
            html.text(version)
            html.raw(":</p><ul>")
            for app in apps {
                html.raw("<li>")
                releaseLink(app: app, version: version, &html, text: app)
                html.raw("</li>")
            }
            html.raw("</ul>")
        }
    }

    /// A page that says what went wrong and what to do.
    static func problem(status: Int, _ message: String) -> String {
        layout(title: "release: \(status)", heading: status == 404 ? "Not found" : "Cannot show this page") { html in
            html.raw("<p class=\"problem\">")
            html.text(message)
            html.raw("</p><p><a href=\"/\">Back to every environment</a></p>")
        }
    }

    // MARK: Pieces

    static func appLink(_ app: String, _ html: inout HTML) {
        html.raw("<a href=\"/apps/")
        html.text(percentEncoded(app))
        html.raw("\">")
        html.text(app)
        html.raw("</a>")
    }

    static func releaseLink(app: String, version: String, _ html: inout HTML, text: String? = nil) {
        html.raw("<a class=\"version\" href=\"/releases/")
        html.text(percentEncoded(version))
        html.raw("?app=")
        html.text(percentEncoded(app))
        html.raw("\">")
        html.text(text ?? version)
        html.raw("</a>")
    }

    static func time(_ instant: Timestamp, _ html: inout HTML) {
        html.raw("<time datetime=\"")
        html.text(instant.rfc3339)
        html.raw("\">")
        html.text(shortTime(instant))
        html.raw("</time>")
    }

    /// `2026-03-01 14:00:05 UTC`: the RFC 3339 form, to the second, for people.
    static func shortTime(_ instant: Timestamp) -> String {
        let text = instant.rfc3339
        guard text.count >= 19 else { return text }
        return text.prefix(10) + " " + text.dropFirst(11).prefix(8) + " UTC"
    }

    static func definition(_ term: String, field: String? = nil, _ value: String, _ html: inout HTML) {
        definition(term, field: field, &html) { html in html.text(value) }
    }

    static func definition(_ term: String, field: String? = nil, _ html: inout HTML, _ value: (inout HTML) -> Void) {
        html.raw("<dt>")
        html.text(term)
        html.raw("</dt><dd")
        if let field {
            html.raw(" data-field=\"")
            html.text(field)
            html.raw("\"")
        }
        html.raw(">")
        value(&html)
        html.raw("</dd>")
    }

    /// Percent-encodes a path segment or query value (RFC 3986 unreserved characters stay).
    static func percentEncoded(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? value
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
