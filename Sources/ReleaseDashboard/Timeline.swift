import ReleaseCore
import ReleaseStore

/// An app's timeline as SVG: a row per environment, each release's time live as a bar (red when
/// it failed its probe), the deployments marked where they happened (promotions ▲, rollbacks ◆,
/// deploys ●; red when they failed), and the picked instant as a line.
struct Timeline {
    let page: AppPage
    /// The time the picture covers, in microseconds: from the oldest thing shown (or the picked
    /// instant) to the end of the newest (now, while it is live), with a little room on both sides.
    let domain: (from: Int64, to: Int64)

    static let width = 1000.0
    static let labelWidth = 120.0
    /// Where time is drawn: right of the labels, short of the right edge.
    static let plotWidth = width - labelWidth - 10
    static let rowHeight = 38.0
    static let top = 10.0
    static let axisHeight = 28.0

    init(page: AppPage) {
        self.page = page
        let spansEnd = page.spans.map { ($0.until ?? page.now).microseconds }.max() ?? page.now.microseconds
        let marksEnd = page.deployments.map { ($0.cutoverAt ?? $0.startedAt).microseconds }.max() ?? spansEnd
        let end = max(spansEnd, marksEnd, page.at?.microseconds ?? 0)
        var start = page.spans.map(\.since.microseconds).min() ?? (end - 86_400_000_000)
        start = min(start, page.deployments.map(\.startedAt.microseconds).min() ?? start, page.at?.microseconds ?? start)
        let span = max(end - start, 1_000_000)
        domain = (start - span / 50, end + span / 50)
    }

    func x(_ microseconds: Int64) -> Double {
        Self.labelWidth + Double(microseconds - domain.from) / Double(domain.to - domain.from) * Self.plotWidth
    }

    func svg() -> String {
        let names = page.environments.map(\.name)
        let height = Self.top + Double(max(names.count, 1)) * Self.rowHeight + Self.axisHeight
        let (from, to) = domain
        var html = HTML()
        html.raw("<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(Self.width)) \(Int(height))\" ")
        html.raw("role=\"img\" aria-label=\"Timeline of what was live in each environment\" ")
        html.raw("data-from=\"\(from / 1000)\" data-to=\"\(to / 1000)\" data-left=\"\(Self.labelWidth)\" ")
        html.raw("data-width=\"\(Self.plotWidth)\">")
        for (row, name) in names.enumerated() {
            let y = Self.top + Double(row) * Self.rowHeight
            html.raw("<g class=\"lane\" data-env=\"")
            html.text(name)
            html.raw("\"><text class=\"lane-label\" x=\"4\" y=\"\(format(y + Self.rowHeight / 2 + 4))\">")
            html.text(name)
            html.raw(
                "</text><line class=\"lane-line\" x1=\"\(Self.labelWidth)\" x2=\"\(Self.labelWidth + Self.plotWidth)\" "
                    + "y1=\"\(format(y + Self.rowHeight / 2))\" ")
            html.raw("y2=\"\(format(y + Self.rowHeight / 2))\"/>")
            let spans = page.spans.filter { $0.environment == name }.reversed()
            for (index, span) in spans.enumerated() { bar(span, index: index, y: y, &html) }
            for deployment in page.deployments where deployment.environment == name { mark(deployment, y: y, &html) }
            html.raw("</g>")
        }
        axis(height: height, &html)
        if let at = page.at {
            let position = format(x(at.microseconds))
            html.raw("<line class=\"instant\" x1=\"\(position)\" x2=\"\(position)\" y1=\"\(Self.top - 4)\" ")
            html.raw("y2=\"\(format(height - Self.axisHeight + 4))\"><title>")
            html.text(at.rfc3339)
            html.raw("</title></line>")
        }
        html.raw("</svg>")
        return html.text
    }

    private func bar(_ span: OccupancySpan, index: Int, y: Double, _ html: inout HTML) {
        let start = x(span.since.microseconds)
        let end = x(span.until?.microseconds ?? page.now.microseconds)
        let width = max(end - start, 2)
        let state: String
        switch span.state {
        case .failed, .rolledBack: state = "failed"
        case .verifying, .deploying: state = "verifying"
        default: state = index % 2 == 0 ? "ok" : "ok alt"
        }
        html.raw("<g class=\"bar \(state)\" data-version=\"")
        html.text(span.version)
        html.raw(
            "\"><rect x=\"\(format(start))\" y=\"\(format(y + 8))\" width=\"\(format(width))\" height=\"\(format(Self.rowHeight - 16))\" "
                + "rx=\"3\">")
        html.raw("<title>")
        html.text("\(span.version): live \(span.since.rfc3339) → \(span.until?.rfc3339 ?? "now"), \(span.kind.rawValue) by \(span.by)")
        if state == "failed" { html.text(", failed its health probe") }
        html.raw("</title></rect>")
        // The version inside the bar when it fits (about 7 units a character).
        if width > Double(span.version.count) * 7 + 10 {
            html.raw("<text class=\"bar-label\" x=\"\(format(start + 5))\" y=\"\(format(y + Self.rowHeight / 2 + 4))\">")
            html.text(span.version)
            html.raw("</text>")
        }
        html.raw("</g>")
    }

    private func mark(_ deployment: DeploymentRecord, y: Double, _ html: inout HTML) {
        let instant = deployment.cutoverAt ?? deployment.startedAt
        let cx = x(instant.microseconds)
        let cy = y + 6
        let failed = [.failed, .rolledBack, .rejected].contains(deployment.state)
        html.raw("<g class=\"mark \(deployment.kind.rawValue)\(failed ? " failed" : "")\" data-deployment=\"\(deployment.id)\">")
        switch deployment.kind {
        case .promote:
            html.raw("<path d=\"M\(format(cx - 5)) \(format(cy + 4)) L\(format(cx)) \(format(cy - 5)) L\(format(cx + 5)) \(format(cy + 4)) Z\">")
        case .rollback:
            html.raw(
                "<path d=\"M\(format(cx)) \(format(cy - 5)) L\(format(cx + 5)) \(format(cy)) L\(format(cx)) \(format(cy + 5)) "
                    + "L\(format(cx - 5)) \(format(cy)) Z\">")
        case .deploy:
            html.raw("<circle cx=\"\(format(cx))\" cy=\"\(format(cy))\" r=\"4\">")
        }
        html.raw("<title>")
        html.text("\(deployment.kind.rawValue) \(deployment.version) by \(deployment.by) at \(instant.rfc3339): \(deployment.state.rawValue)")
        if let detail = deployment.reason ?? deployment.detail { html.text(" — \(detail)") }
        html.raw("</title>")
        html.raw(deployment.kind == .deploy ? "</circle>" : "</path>")
        html.raw("</g>")
    }

    private func axis(height: Double, _ html: inout HTML) {
        let (from, to) = domain
        let y = height - Self.axisHeight + 6
        html.raw("<g class=\"axis\">")
        for tick in 0...4 {
            let instant = from + (to - from) * Int64(tick) / 4
            let position = x(instant)
            let anchor = tick == 0 ? "start" : tick == 4 ? "end" : "middle"
            html.raw("<line x1=\"\(format(position))\" x2=\"\(format(position))\" y1=\"\(format(y - 4))\" y2=\"\(format(y))\"/>")
            html.raw("<text x=\"\(format(position))\" y=\"\(format(y + 14))\" text-anchor=\"\(anchor)\">")
            html.text(label(Timestamp(microseconds: instant), first: tick == 0, days: (to - from) > 86_400_000_000))
            html.raw("</text>")
        }
        html.raw("</g>")
    }

    /// A tick's label: the time of day within a day (the first tick with its date), else the date.
    private func label(_ instant: Timestamp, first: Bool, days: Bool) -> String {
        let text = instant.rfc3339
        guard text.count >= 19 else { return text }
        let date = String(text.prefix(10))
        let time = String(text.dropFirst(11).prefix(days ? 5 : 8))
        if days { return String(date.dropFirst(5)) + " " + time }
        return first ? "\(date) \(time) UTC" : time
    }

    private func format(_ value: Double) -> String {
        String((value * 10).rounded() / 10)
    }
}
