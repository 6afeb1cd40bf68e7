import Logging
import ReleaseCore

/// The log handler of the binary: swift-log's standard-error handler, with every secret
/// (`Secrets`) taken out of each message and metadata value before it is written.
struct RedactingLogHandler: LogHandler {
    private var output: StreamLogHandler
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    /// A handler for `label` writing to standard error.
    init(label: String) {
        output = StreamLogHandler.standardError(label: label, metadataProvider: nil)
    }

    var logLevel: Logger.Level {
        get { output.logLevel }
        set { output.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        all.merge(metadataProvider?.get() ?? [:]) { $1 }
        all.merge(event.metadata ?? [:]) { $1 }
        if let error = event.error {
            all["error.message"] = "\(error)"
            all["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        var redacted = event
        redacted.message = "\(Secrets.redact(event.message.description))"
        redacted.metadata = all.isEmpty ? nil : all.mapValues(Self.redact)
        redacted.error = nil
        output.log(event: redacted)
    }

    private static func redact(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case let .string(text): .string(Secrets.redact(text))
        case let .stringConvertible(item): .string(Secrets.redact(item.description))
        case let .array(items): .array(items.map(redact))
        case let .dictionary(pairs): .dictionary(pairs.mapValues(redact))
        }
    }
}
