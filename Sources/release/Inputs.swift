import ReleaseCore

/// Validates what users type, with one-line errors that say what is expected.
enum Inputs {
    static func version(_ text: String) throws -> String {
        guard Identifier.isValidVersion(text) else {
            throw ReleaseError.usage(
                "'\(Identifier.shown(text))' is not a valid version: use letters, digits, '.', '+', '-' and '_' (at most "
                    + "128), such as 1.4.2.")
        }
        return text
    }

    static func commit(_ text: String) throws -> String {
        guard (4...64).contains(text.count),
            text.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) || ("A"..."F").contains($0) })
        else {
            throw ReleaseError.usage("--commit '\(Identifier.shown(text))' is not a commit id: give the hexadecimal SHA, such as 3f2a9c1.")
        }
        return text.lowercased()
    }

    static func name(_ text: String, what: String) throws -> String {
        guard Identifier.isValid(text) else {
            throw ReleaseError.usage(
                "'\(Identifier.shown(text))' is not a valid \(what): use letters, digits, '-', '_', '.', '/' or '@' (at "
                    + "most 100).")
        }
        return text
    }

    /// An actor, a login or a person's name: what an actor may be called. `advice` follows the
    /// rule in the message (where to set it).
    static func actorName(_ text: String, what: String, advice: String = "") throws -> String {
        guard Identifier.isValidActor(text) else {
            throw ReleaseError.usage(
                "'\(Identifier.shown(text))' is not a valid \(what): use letters, digits, '-', '_', '.', '@' (at most "
                    + "100; a GitHub App's name[bot] too).\(advice)")
        }
        return text
    }

    /// Free text (a reason, release notes) may start with a dash ("- fixes the login"), so its
    /// option takes the next word whatever it is; an option's own name there means the text was
    /// left out (`--reason --json`), which must not be recorded as the reason.
    static func text(_ text: String, what: String, maxLength: Int, required: Bool = true) throws -> String {
        if looksLikeAnOption(text) {
            throw ReleaseError.usage(
                "\(what) got '\(Identifier.shown(text))', which is an option, not text: put the text right after \(what), "
                    + "in quotes.")
        }
        let trimmed = text.trimmingWhitespace
        if required, trimmed.isEmpty { throw ReleaseError.usage("\(what) must not be empty; say why in a few words.") }
        guard text.count <= maxLength else { throw ReleaseError.usage("\(what) is too long: at most \(maxLength) characters.") }
        guard !text.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\n" && $0 != "\t") || $0.value == 0x7F || $0 == "\u{FFFD}" }) else {
            throw ReleaseError.usage("\(what) contains control characters or invalid UTF-8; use plain text.")
        }
        return trimmed
    }

    /// `--json`, `-q`, `--until=…`: a word shaped like an option, not text.
    static func looksLikeAnOption(_ text: String) -> Bool {
        let body = text.hasPrefix("--") ? text.dropFirst(2) : text.hasPrefix("-") ? text.dropFirst() : nil
        guard let body, let first = body.first, first.isASCII, first.isLetter else { return false }
        let name = body.prefix { $0 != "=" }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }

    static func artifact(_ text: String) throws -> String {
        let value = try Self.text(text, what: "--artifact", maxLength: 2000)
        guard !value.contains(where: \.isWhitespace) else {
            throw ReleaseError.usage("--artifact must be one reference without spaces, such as https://…/app.tar.gz or registry/app@sha256:….")
        }
        return value
    }

    static func url(_ text: String, what: String) throws -> String {
        let value = try Self.text(text, what: what, maxLength: 2000)
        guard value.hasPrefix("http://") || value.hasPrefix("https://"), !value.contains(where: \.isWhitespace) else {
            throw ReleaseError.usage("\(what) must be an http:// or https:// URL.")
        }
        return value
    }

    static func time(_ text: String, option: String) throws -> Timestamp {
        guard let time = Timestamp(parsing: text) else {
            throw ReleaseError.usage("\(option) '\(Identifier.shown(text))' is not a time: use RFC 3339, such as 2026-03-01T14:00:00Z.")
        }
        return time
    }

    static func limit(_ value: Int) throws -> Int {
        guard (1...100_000).contains(value) else { throw ReleaseError.usage("--limit must be between 1 and 100000.") }
        return value
    }
}

extension String {
    var trimmingWhitespace: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
