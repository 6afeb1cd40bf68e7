import Foundation
import ReleaseCore
import ReleaseStore

#if canImport(Glibc)
import Glibc
#endif

/// Where the CLI writes: results to standard output, progress and errors to standard error, and
/// with --json a single JSON document on standard output. Every line goes through `Secrets`
/// first: an error may quote what a platform echoed, a deploy script's output anything.
struct Output: Sendable {
    let json: Bool
    let quiet: Bool

    init(_ options: GlobalOptions) {
        json = options.json
        quiet = options.quiet
    }

    init(json: Bool, quiet: Bool) {
        self.json = json
        self.quiet = quiet
    }

    /// A progress line for people (never with --json or --quiet on stdout).
    func progress(_ line: String) {
        guard !quiet else { return }
        Output.write(Secrets.redact(line) + "\n", to: STDERR_FILENO)
    }

    /// A warning for people: on standard error even with --quiet or --json.
    func warning(_ line: String) {
        Output.write(Secrets.redact(line) + "\n", to: STDERR_FILENO)
    }

    /// A result line.
    func line(_ text: String) {
        Output.write(Secrets.redact(text) + "\n", to: STDOUT_FILENO)
    }

    /// The JSON document for --json, secrets taken out of its strings so that it stays valid
    /// JSON. The text is searched first: rebuilding a long audit trail's tree only when a secret
    /// is in it keeps `audit --json` as fast as before.
    func document(_ value: JSONValue) {
        let text = value.prettyText
        let shown = Secrets.redact(text) == text ? text : Secrets.redact(value).prettyText
        Output.write(shown + "\n", to: STDOUT_FILENO)
    }

    /// Prints rows as aligned columns.
    func table(_ header: [String], _ rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func render(_ cells: [String]) -> String {
            var text = ""
            for (index, cell) in cells.enumerated() {
                if index == cells.count - 1 {
                    text += cell
                } else {
                    text += cell + String(repeating: " ", count: widths[index] - cell.count + 2)
                }
            }
            return text
        }
        line(render(header))
        for row in rows { line(render(row)) }
    }

    /// An error: one line on stderr, or the contract's JSON error on stdout.
    func error(_ error: ReleaseError) {
        if json {
            document(ReportJSON.error(error.code, error.message))
        } else {
            Output.write("release: " + Secrets.redact(error.message) + "\n", to: STDERR_FILENO)
        }
    }

    /// Writes all of `text` as it is (callers take secrets out), or as much as the reader takes.
    /// A command that changes state ignores SIGPIPE (`Main`), so a reader that went away
    /// (`release promote … | head -1`, a CI log collector that died) costs it its output, never
    /// the operation half-way through.
    static func write(_ text: String, to descriptor: Int32) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}
