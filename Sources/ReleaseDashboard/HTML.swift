/// Builds HTML text, escaping everything that comes from the database or the request.
struct HTML: Sendable {
    private(set) var text = ""

    /// Escapes text for an element's content or a quoted attribute value.
    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// Appends markup written in this file's code (never data).
    mutating func raw(_ markup: String) { text += markup }

    /// Appends text, escaped.
    mutating func text(_ value: String) { text += Self.escape(value) }

    /// Appends `<tag attributes>text</tag>` with the text escaped.
    mutating func element(_ tag: String, _ value: String, class className: String? = nil) {
        text += "<\(tag)"
        if let className { text += " class=\"\(Self.escape(className))\"" }
        text += ">\(Self.escape(value))</\(tag)>"
    }
}
