import Crypto

/// One entry of the append-only audit trail.
public struct AuditEvent: Sendable, Equatable {
    /// Database id.
    public var id: Int64
    /// The app whose chain this event belongs to.
    public var app: String
    /// Position in the app's chain, from 1.
    public var sequence: Int64
    /// When it was recorded (the database's clock).
    public var at: Timestamp
    /// Who did it.
    public var actor: String
    /// What happened, such as `promote.started` or `rollback.live`.
    public var action: String
    /// The environment concerned, if any.
    public var environment: String?
    /// The version concerned, if any.
    public var version: String?
    /// JSON details exactly as stored.
    public var details: String
    /// The previous event's hash; `nil` for the first event of the chain.
    public var previousHash: String?
    /// This event's hash.
    public var hash: String
    /// The login the database verified, for events recorded under enforced identity; nil for
    /// older events, whose actor is what the client claimed.
    public var login: String?
    /// The person a CI run acted for, beside the verified actor.
    public var onBehalfOf: String?

    /// Creates an event.
    public init(
        id: Int64, app: String, sequence: Int64, at: Timestamp, actor: String, action: String, environment: String?,
        version: String?, details: String, previousHash: String?, hash: String, login: String? = nil, onBehalfOf: String? = nil
    ) {
        self.id = id
        self.app = app
        self.sequence = sequence
        self.at = at
        self.actor = actor
        self.action = action
        self.environment = environment
        self.version = version
        self.details = details
        self.previousHash = previousHash
        self.hash = hash
        self.login = login
        self.onBehalfOf = onBehalfOf
    }

    /// The exact bytes the hash covers: every field, length-prefixed so no two events can collide
    /// by moving text between fields. The database trigger builds the same text.
    public var canonicalText: String {
        String(decoding: canonicalBytes, as: UTF8.self)
    }

    /// `canonicalText` as UTF-8, built without intermediate strings (`audit verify` hashes
    /// millions of these).
    public var canonicalBytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160 + details.utf8.count)
        func field(_ value: String?) {
            if let value {
                bytes.append(contentsOf: String(value.utf8.count).utf8)
                bytes.append(UInt8(ascii: ":"))
                bytes.append(contentsOf: value.utf8)
            } else {
                bytes.append(UInt8(ascii: "-"))
            }
            bytes.append(UInt8(ascii: "\n"))
        }
        field(app)
        field(String(sequence))
        // The instant is written in place and its length put in front of it afterwards.
        let start = bytes.count
        at.appendRFC3339(to: &bytes)
        bytes.insert(contentsOf: "\(bytes.count - start):".utf8, at: start)
        bytes.append(UInt8(ascii: "\n"))
        for value in [actor, action, environment, version, details, previousHash] { field(value) }
        // Verified identity is covered too; an event without a login hashes as events always did.
        if let login {
            field(login)
            field(onBehalfOf)
        }
        return bytes
    }

    /// The SHA-256 of `canonicalText`, in lowercase hex.
    public var computedHash: String {
        Digest.sha256Hex(bytes: canonicalBytes)
    }
}

/// Walks an app's chain and reports the first place it breaks.
public struct AuditChainVerifier: Sendable {
    /// How many events have been checked.
    public private(set) var checked: Int64 = 0
    /// The first problem found, if any.
    public private(set) var problem: String?
    private var lastHash: String?
    private var lastSequence: Int64 = 0

    /// Starts at the beginning of a chain.
    public init() {}

    /// Checks the next event in sequence order. Returns false once the chain is broken.
    @discardableResult
    public mutating func check(_ event: AuditEvent) -> Bool {
        guard problem == nil else { return false }
        if event.sequence != lastSequence + 1 {
            problem = "event #\(lastSequence + 1) of \(event.app) is missing (next found is #\(event.sequence), id \(event.id))"
            return false
        }
        if event.previousHash != lastHash {
            problem = "event #\(event.sequence) (id \(event.id)) of \(event.app) does not point at its predecessor's hash"
            return false
        }
        if event.computedHash != event.hash {
            problem =
                "event #\(event.sequence) (id \(event.id), \(event.action) at \(event.at)) of \(event.app) was altered: its contents no "
                + "longer match its hash"
            return false
        }
        lastHash = event.hash
        lastSequence = event.sequence
        checked += 1
        return true
    }

    /// Checks that the chain ends where the app's recorded head says it does (catches a cut tail).
    public mutating func finish(expectedCount: Int64, expectedHeadHash: String?) {
        guard problem == nil else { return }
        if checked < expectedCount {
            problem = "the chain ends at event #\(lastSequence) but the app's head says #\(expectedCount); events were removed"
        } else if checked > expectedCount {
            problem = "the chain goes on to event #\(lastSequence) but the app's head says #\(expectedCount); events were added behind its back"
        } else if lastHash != expectedHeadHash {
            problem = "event #\(lastSequence) does not match the app's recorded head hash; the end of the chain was rewritten"
        }
    }
}

/// SHA-256 helpers shared by the audit chain and the migration checksums.
public enum Digest {
    /// The SHA-256 of the UTF-8 bytes of `text`, in lowercase hex.
    public static func sha256Hex(_ text: String) -> String {
        sha256Hex(bytes: Array(text.utf8))
    }

    /// The SHA-256 of `bytes`, in lowercase hex.
    public static func sha256Hex(bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: bytes) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
