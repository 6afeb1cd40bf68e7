import Foundation
import ReleaseCore
import ReleaseTestSupport
import Testing

extension Harness {
    /// Runs `release deploy VERSION develop` with `environment` (a provider's credentials, its
    /// platform told to quote them back), which must fail, and then looks for each of `secrets`
    /// wherever the run could have left it: its stdout and stderr (logging at trace), what a
    /// teammate sees in `history --json`, `audit --json` and `audit --format csv`, a pg_dump of
    /// the database, PostgreSQL's log, every file written under the scenario's directory, and
    /// the webhook notification of the failure.
    ///
    /// Every run also carries secrets of its own: the database password (in the URL and in
    /// PGPASSWORD; the test cluster trusts local logins, so any password works), GITHUB_TOKEN,
    /// and a webhook whose path is its key. `config` gets the `notify:` block. Returns the
    /// deploy's result.
    @discardableResult
    func failingDeployLeavesNoSecret(
        config: String, version: String = "1.0.0", environment: [String: String],
        secrets: [String: String]
    ) async throws -> Result {
        let planted = "planted-\(UUID().uuidString.lowercased())"
        let own = [
            "database password": planted + "-database-url", "PGPASSWORD": planted + "-pgpassword",
            "GITHUB_TOKEN": planted + "-github", "webhook path": "/hooks/\(planted)-webhook",
        ]
        let variables = environment.merging([
            "RELEASE_DATABASE_URL": databaseURL + "&password=\(own["database password"] ?? "")",
            "PGPASSWORD": own["PGPASSWORD"] ?? "", "GITHUB_TOKEN": own["GITHUB_TOKEN"] ?? "", "RELEASE_LOG_LEVEL": "trace",
        ]) { $1 }
        return try await FakeAPI.receiver { receiver in
            try writeConfig(
                config + """
                    notify:
                      webhooks: [{url: "\(receiver.url)\(own["webhook path"] ?? "")"}]

                    """)
            return try await failingDeploy(version, environment: variables, receiver: receiver, secrets: secrets.merging(own) { $1 })
        }
    }

    /// The deploy, and the search, of `failingDeployLeavesNoSecret`.
    private func failingDeploy(
        _ version: String, environment: [String: String], receiver: FakeAPI,
        secrets: [String: String]
    ) async throws -> Result {
        let files = writtenFiles()
        let deploy = try await run(["deploy", version, "develop"], environment: environment)
        #expect(deploy.status != 0, "the deploy was meant to fail: \(deploy)")
        var places = ["the deploy's stdout": deploy.stdout, "the deploy's stderr": deploy.stderr]
        for report in [["history", "--json"], ["audit", "--json"], ["audit", "--format", "csv"]] {
            places[report.joined(separator: " ")] = try await run(report).stdout
        }
        let dump = try RunningCommand.launch(TestDatabase.pgDump, ["--dbname=\(databaseURL)", "--no-owner"])
        let dumped = await dump.finish()
        #expect(dumped.status == 0, "pg_dump: \(dumped.stderr)")
        places["pg_dump"] = dumped.stdout
        if let log = try TestDatabase.serverLog() {
            places["PostgreSQL's log"] = try String(contentsOfFile: log, encoding: .utf8)
        }
        for (path, contents) in writtenFiles() where files[path] != contents {
            places[path] = String(decoding: contents, as: UTF8.self)
        }
        let notifications = try await receiver.requests()
        #expect(!notifications.isEmpty, "the failure was announced to the webhook")
        for (index, notification) in notifications.enumerated() {
            places["notification \(index)"] = notification.body?.text ?? ""
        }
        for (name, secret) in secrets {
            for (place, text) in places {
                guard let found = text.range(of: secret) else { continue }
                let start = text.index(found.lowerBound, offsetBy: -200, limitedBy: text.startIndex) ?? text.startIndex
                let end = text.index(found.upperBound, offsetBy: 200, limitedBy: text.endIndex) ?? text.endIndex
                let finding = "\(place) holds \(name) (\(secret)): …\(text[start..<end])…"
                Issue.record(Comment(rawValue: finding))
            }
        }
        return deploy
    }

    /// Every regular file under the scenario's directory and its contents.
    private func writtenFiles() -> [String: Data] {
        var files: [String: Data] = [:]
        for case let path as String in FileManager.default.enumerator(atPath: directory)?.allObjects ?? [] {
            var isDirectory: ObjCBool = false
            let full = directory + "/" + path
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue,
                let contents = FileManager.default.contents(atPath: full)
            else { continue }
            files[full] = contents
        }
        return files
    }
}
