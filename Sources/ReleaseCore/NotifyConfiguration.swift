/// release.yml's `notify:` block: where promotions, rollbacks, failures and freezes are announced.
public struct NotifyConfiguration: Sendable, Equatable {
    /// One webhook receiver.
    public struct Webhook: Sendable, Equatable {
        /// How the message is shaped.
        public enum Format: String, Sendable {
            /// The event as plain JSON (the keys `Notification.json` lists).
            case json
            /// Slack's incoming-webhook message: `{"text": …, "blocks": …}`.
            case slack
        }

        /// The URL to POST to. Its path and query may be the secret, as Slack's are: it is
        /// registered with `Secrets` and never shown beyond its host.
        public var url: String
        /// The format.
        public var format: Format

        /// Creates a webhook.
        public init(url: String, format: Format = .json) {
            self.url = url
            self.format = format
            Secrets.register(url: url)
        }
    }

    /// Opening GitHub issues when a promotion fails or a rollback happens.
    public struct GitHubIssues: Sendable, Equatable {
        /// `owner/name`.
        public var repo: String
        /// Labels for the issues.
        public var labels: [String]

        /// Creates the setting.
        public init(repo: String, labels: [String] = ["release"]) {
            self.repo = repo
            self.labels = labels
        }
    }

    /// The webhooks, in file order.
    public var webhooks: [Webhook]
    /// GitHub issues, if configured.
    public var githubIssues: GitHubIssues?

    /// Creates a configuration.
    public init(webhooks: [Webhook] = [], githubIssues: GitHubIssues? = nil) {
        self.webhooks = webhooks
        self.githubIssues = githubIssues
    }

    /// Reads and validates the block.
    public init(reader: ConfigReader) throws {
        let entries = try reader.mapping(allowed: ["webhooks", "github_issues"])
        webhooks = []
        if let list = entries["webhooks"] {
            for item in try list.sequence() {
                let fields = try item.mapping(allowed: ["url", "format"])
                let urlReader = try fields.required("url", "the URL to POST each notification to")
                let url = try urlReader.string()
                guard Self.isHTTPURL(url) else {
                    throw urlReader.error("expected an http:// or https:// URL.")
                }
                var format = Webhook.Format.json
                if let formatReader = fields["format"] {
                    let text = try formatReader.string()
                    guard let parsed = Webhook.Format(rawValue: text) else {
                        throw formatReader.error("expected json or slack, found '\(text)'.")
                    }
                    format = parsed
                }
                webhooks.append(Webhook(url: url, format: format))
            }
        }
        if let issuesReader = entries["github_issues"] {
            let fields = try issuesReader.mapping(allowed: ["repo", "labels"])
            let repoReader = try fields.required("repo", "the repository to open issues in, as owner/name")
            let repo = try repoReader.string()
            let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, parts.allSatisfy({ Identifier.isValid(String($0)) }) else {
                throw repoReader.error("expected owner/name, such as acme/crm-api, found '\(repo)'.")
            }
            githubIssues = GitHubIssues(repo: repo, labels: try fields["labels"]?.stringList() ?? ["release"])
        } else {
            githubIssues = nil
        }
    }

    static func isHTTPURL(_ text: String) -> Bool {
        for scheme in ["http://", "https://"] where text.lowercased().hasPrefix(scheme) {
            let rest = text.dropFirst(scheme.count)
            return !rest.isEmpty && !rest.hasPrefix("/") && !text.contains(where: { $0 == " " || $0 == "\n" })
        }
        return false
    }
}

/// An environment's `git:` block: after a release goes live there, fast-forward `branch` on
/// `remote` to its commit, so the branch always says what the environment runs.
public struct GitSyncConfiguration: Sendable, Equatable {
    /// The branch to move.
    public var branch: String
    /// The remote it lives on (default origin).
    public var remote: String
    /// The repository to run git in (default: the directory holding release.yml).
    public var repository: String?

    /// Creates a setting.
    public init(branch: String, remote: String = "origin", repository: String? = nil) {
        self.branch = branch
        self.remote = remote
        self.repository = repository
    }

    /// Reads and validates the block.
    public init(reader: ConfigReader) throws {
        let entries = try reader.mapping(allowed: ["branch", "remote", "repository"])
        let branchReader = try entries.required("branch", "the branch to fast-forward, such as main")
        branch = try branchReader.string()
        guard Self.isSafeRef(branch) else {
            throw branchReader.error("'\(branch)' is not a usable branch name.")
        }
        if let remoteReader = entries["remote"] {
            remote = try remoteReader.string()
            guard Self.isSafeRef(remote) else { throw remoteReader.error("'\(remote)' is not a usable remote name.") }
        } else {
            remote = "origin"
        }
        repository = try entries["repository"]?.string()
    }

    /// A name git accepts and that cannot be mistaken for an option or a refspec.
    public static func isSafeRef(_ name: String) -> Bool {
        guard !name.isEmpty, name.count <= 200, !name.hasPrefix("-"), !name.hasPrefix("/"), !name.hasSuffix("/"),
            !name.hasSuffix(".lock"), !name.contains(".."), !name.contains("//"), !name.contains("@{")
        else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && scalar.value > 32 && scalar.value != 127 && !"~^:?*[\\ ".unicodeScalars.contains(scalar)
        }
    }
}
