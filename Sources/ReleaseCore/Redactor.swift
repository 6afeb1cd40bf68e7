import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Replaces secret values (tokens, keys, passwords) in text with `***`, as written and in the two
/// spellings text usually carries them in: percent-encoded (a token inside a URL) and
/// JSON-escaped (a token with `/` or `"` inside a JSON body read as text).
///
/// The process has one, `Secrets`; this type is its matcher.
public struct Redactor: Sendable {
    /// Shorter values are ignored. Every credential the providers read is far longer (a Heroku or
    /// Railway token is a 36-character UUID, an AWS secret 40 characters, a GitHub token 40 or
    /// more, a Slack webhook path about 45), while values of a few characters are as often words
    /// or numbers as secrets ("true", "1234", "release"): hiding those would garble output, and
    /// inside a stored provider reference it would break the rollback that needs it.
    public static let minimumLength = 8

    /// Every spelling of every secret, as UTF-8, longest first (so a secret that contains another
    /// one is replaced whole).
    private var spellings: [[UInt8]] = []

    /// Creates a redactor for these secrets (`nil` and short values are ignored).
    public init(secrets: [String?] = []) {
        for case let secret? in secrets { add(secret) }
    }

    /// Adds a secret and its spellings; short ones are ignored.
    public mutating func add(_ secret: String) {
        guard secret.count >= Self.minimumLength else { return }
        var added = false
        for spelling in Self.spellings(of: secret) where !spellings.contains(spelling) {
            spellings.append(spelling)
            added = true
        }
        if added { spellings.sort { $0.count > $1.count } }
    }

    /// The text with every secret replaced by `***`. Text without any is returned as it is,
    /// without a copy (every printed line and stored text comes through here).
    public func callAsFunction(_ text: String) -> String {
        guard !spellings.isEmpty else { return text }
        var text = text
        var bytes: [UInt8]?
        for spelling in spellings {
            let replaced =
                if let current = bytes {
                    current.withUnsafeBufferPointer { Self.replacing(spelling, in: $0) }
                } else {
                    text.withUTF8 { Self.replacing(spelling, in: $0) }
                }
            if let replaced { bytes = replaced }
        }
        return bytes.map { String(decoding: $0, as: UTF8.self) } ?? text
    }

    /// The value with every secret replaced by `***` in its strings and keys; numbers and the
    /// document's structure are left alone, so the result is always valid JSON.
    public func callAsFunction(_ value: JSONValue) -> JSONValue {
        guard !spellings.isEmpty else { return value }
        switch value {
        case .null, .bool, .int, .double: return value
        case let .string(text): return .string(self(text))
        case let .array(items): return .array(items.map { self($0) })
        case let .object(pairs): return .object(pairs.map { (self($0.0), self($0.1)) })
        }
    }

    /// The secret as written, percent-encoded (everything but RFC 3986's unreserved characters)
    /// and JSON-escaped as JSONValue writes it (with and without `\/`).
    static func spellings(of secret: String) -> [[UInt8]] {
        let escaped = JSONValue.escaped(secret)
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let percentEncoded = secret.addingPercentEncoding(withAllowedCharacters: unreserved) ?? secret
        var forms: [[UInt8]] = []
        for form in [secret, percentEncoded, escaped, escaped.replacingOccurrences(of: "/", with: "\\/")]
        where !forms.contains(Array(form.utf8)) {
            forms.append(Array(form.utf8))
        }
        return forms
    }

    /// `bytes` with every occurrence of `target` replaced by `***`, or nil when there is none.
    /// UTF-8 is self-synchronising, so a match always starts and ends on a character boundary.
    private static func replacing(_ target: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        target.withUnsafeBufferPointer { needle -> [UInt8]? in
            var output: [UInt8] = []
            var offset = 0
            while let start = firstIndex(of: needle, in: bytes, from: offset) {
                if output.isEmpty { output.reserveCapacity(bytes.count) }
                output.append(contentsOf: bytes[offset..<start])
                output.append(contentsOf: Self.replacement)
                offset = start + needle.count
            }
            guard offset > 0 else { return nil }
            output.append(contentsOf: bytes[offset...])
            return output
        }
    }

    /// Where `needle` first occurs in `bytes` at or after `start`: memchr finds each candidate
    /// first byte (quickly), memcmp checks the rest.
    private static func firstIndex(of needle: UnsafeBufferPointer<UInt8>, in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard let base = bytes.baseAddress, let wanted = needle.baseAddress, let first = needle.first else { return nil }
        let last = bytes.count - needle.count
        var position = start
        while position <= last {
            guard let hit = memchr(base + position, Int32(first), last - position + 1) else { return nil }
            let index = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
            if memcmp(base + index, wanted, needle.count) == 0 { return index }
            position = index + 1
        }
        return nil
    }

    private static let replacement = Array("***".utf8)
}
