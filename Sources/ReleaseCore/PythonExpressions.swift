/// Just enough of Python's syntax to read a Django migration's `operations = [...]`: a tokenizer
/// (names, numbers, strings with their prefixes, escapes and triple quotes, comments, operators)
/// and a reader of call expressions with balanced brackets. Anything else in an expression
/// (arithmetic, lambdas, comprehensions) is kept as `other`, never guessed at.

/// A token of Python source.
struct PythonToken: Equatable {
    enum Kind: Equatable { case name, number, string, op }
    var kind: Kind
    /// A name, number or operator as written; a string's contents with its escapes decoded
    /// (raw strings as written).
    var text: String
    /// 1-based.
    var line: Int
}

/// Why Python source could not be read, with its line.
struct PythonSyntaxError: Error, Equatable {
    var message: String
}

/// A Python expression, as far as a migration's operations need it.
indirect enum PythonExpression {
    /// `callee(arguments..., keyword=value...)`; `callee` is dotted (`migrations.AddField`).
    case call(callee: String, arguments: [PythonExpression], keywords: [(name: String, value: PythonExpression)])
    /// A dotted name, `None`, `True` or `False`.
    case name(String)
    /// A string literal (adjacent literals joined).
    case string(String)
    /// A list or tuple literal.
    case list([PythonExpression])
    /// Anything else, as its tokens' text joined by spaces.
    case other(String)

    /// The last component of a call's callee (`AddField` for `migrations.AddField(...)`).
    var calledName: String? {
        guard case let .call(callee, _, _) = self else { return nil }
        return callee.split(separator: ".").last.map(String.init)
    }

    /// The argument called `keyword`, else the positional one at `position`.
    func argument(_ keyword: String, position: Int? = nil) -> PythonExpression? {
        guard case let .call(_, arguments, keywords) = self else { return nil }
        if let found = keywords.first(where: { $0.name == keyword }) { return found.value }
        guard let position, position < arguments.count else { return nil }
        return arguments[position]
    }

    /// The text of a string literal.
    var stringValue: String? {
        if case let .string(text) = self { return text }
        return nil
    }

    /// Whether it is the name `None`.
    var isNone: Bool {
        if case .name("None") = self { return true }
        return false
    }
}

enum PythonSource {
    /// The tokens of `source`.
    static func tokenize(_ source: String) throws(PythonSyntaxError) -> [PythonToken] {
        let scalars = Array(source.unicodeScalars)
        var tokens: [PythonToken] = []
        var index = 0
        var line = 1
        func isNameStart(_ scalar: Unicode.Scalar) -> Bool { scalar == "_" || scalar.properties.isAlphabetic }
        func isNamePart(_ scalar: Unicode.Scalar) -> Bool { isNameStart(scalar) || scalar.properties.numericType != nil }
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "\n" {
                line += 1
                index += 1
            } else if scalar == " " || scalar == "\t" || scalar == "\r" || scalar == "\u{0C}" {
                index += 1
            } else if scalar == "\\", index + 1 < scalars.count, scalars[index + 1] == "\n" || scalars[index + 1] == "\r" {
                index += 1  // a line continuation; the newline is counted next
            } else if scalar == "#" {
                while index < scalars.count, scalars[index] != "\n" { index += 1 }
            } else if scalar == "\"" || scalar == "'" {
                tokens.append(try string(scalars, &index, &line, raw: false))
            } else if isNameStart(scalar) {
                let start = index
                while index < scalars.count, isNamePart(scalars[index]) { index += 1 }
                let word = String(String.UnicodeScalarView(scalars[start..<index]))
                let prefix = word.lowercased()
                if index < scalars.count, scalars[index] == "\"" || scalars[index] == "'",
                    ["r", "u", "b", "f", "t", "br", "rb", "fr", "rf", "tr", "rt"].contains(prefix)
                {
                    tokens.append(try string(scalars, &index, &line, raw: prefix.contains("r")))
                } else {
                    tokens.append(PythonToken(kind: .name, text: word, line: line))
                }
            } else if ("0"..."9").contains(scalar) || (scalar == "." && index + 1 < scalars.count && ("0"..."9").contains(scalars[index + 1])) {
                let start = index
                index += 1
                while index < scalars.count {
                    let next = scalars[index]
                    if isNamePart(next) || next == "." {
                        index += 1
                    } else if next == "+" || next == "-", scalars[index - 1] == "e" || scalars[index - 1] == "E",
                        !String(String.UnicodeScalarView(scalars[start..<index])).lowercased().hasPrefix("0x")
                    {
                        index += 1
                    } else {
                        break
                    }
                }
                tokens.append(PythonToken(kind: .number, text: String(String.UnicodeScalarView(scalars[start..<index])), line: line))
            } else {
                let rest = scalars.count - index
                let three = rest >= 3 ? String(String.UnicodeScalarView(scalars[index..<index + 3])) : ""
                let two = rest >= 2 ? String(String.UnicodeScalarView(scalars[index..<index + 2])) : ""
                let text: String
                if ["**=", "//=", ">>=", "<<=", "..."].contains(three) {
                    text = three
                } else if ["==", "!=", "<=", ">=", "**", "//", "->", ":=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "<<", ">>"]
                    .contains(two)
                {
                    text = two
                } else {
                    text = String(scalar)
                }
                tokens.append(PythonToken(kind: .op, text: text, line: line))
                index += text.unicodeScalars.count
            }
        }
        return tokens
    }

    /// A string literal whose opening quote is at `index`.
    private static func string(
        _ scalars: [Unicode.Scalar], _ index: inout Int, _ line: inout Int, raw: Bool
    ) throws(PythonSyntaxError) -> PythonToken {
        let startLine = line
        let quote = scalars[index]
        let triple = index + 2 < scalars.count && scalars[index + 1] == quote && scalars[index + 2] == quote
        index += triple ? 3 : 1
        var text = String.UnicodeScalarView()
        while true {
            guard index < scalars.count else {
                throw PythonSyntaxError(message: "a string opened on line \(startLine) is never closed")
            }
            let scalar = scalars[index]
            if scalar == "\\", index + 1 < scalars.count {
                let next = scalars[index + 1]
                if next == "\n" { line += 1 }
                if raw {
                    text.append(scalar)
                    text.append(next)
                } else {
                    switch next {
                    case "n": text.append("\n")
                    case "t": text.append("\t")
                    case "\n": break
                    case "\\", "'", "\"": text.append(next)
                    default:
                        text.append(scalar)
                        text.append(next)
                    }
                }
                index += 2
                continue
            }
            if scalar == quote {
                if !triple {
                    index += 1
                    break
                }
                if index + 2 < scalars.count, scalars[index + 1] == quote, scalars[index + 2] == quote {
                    index += 3
                    break
                }
            }
            if scalar == "\n" {
                guard triple else { throw PythonSyntaxError(message: "a string on line \(startLine) is not closed on its line") }
                line += 1
            }
            text.append(scalar)
            index += 1
        }
        return PythonToken(kind: .string, text: String(text), line: startLine)
    }

    /// For every opening bracket's index, the index of its closing one.
    static func brackets(_ tokens: [PythonToken]) throws(PythonSyntaxError) -> [Int: Int] {
        let pairs: [String: String] = ["(": ")", "[": "]", "{": "}"]
        var open: [Int] = []
        var matches: [Int: Int] = [:]
        for (index, token) in tokens.enumerated() where token.kind == .op {
            if pairs[token.text] != nil {
                // Deeper is no migration Django writes, and the reader's recursion must stay shallow.
                guard open.count < 100 else { throw PythonSyntaxError(message: "brackets nested more than 100 deep on line \(token.line)") }
                open.append(index)
            } else if [")", "]", "}"].contains(token.text) {
                guard let opener = open.popLast(), pairs[tokens[opener].text] == token.text else {
                    throw PythonSyntaxError(message: "an unmatched '\(token.text)' on line \(token.line)")
                }
                matches[opener] = index
            }
        }
        if let opener = open.last {
            throw PythonSyntaxError(message: "a '\(tokens[opener].text)' on line \(tokens[opener].line) is never closed")
        }
        return matches
    }
}

/// Reads expressions out of a token list whose brackets are known to balance.
struct PythonExpressionReader {
    let tokens: [PythonToken]
    let matches: [Int: Int]

    init(tokens: [PythonToken]) throws(PythonSyntaxError) {
        self.tokens = tokens
        self.matches = try PythonSource.brackets(tokens)
    }

    /// The index after the closing bracket of the one opening at `index`.
    func after(_ index: Int) -> Int { (matches[index] ?? index) + 1 }

    /// The expression made of the tokens in `range`.
    func expression(_ range: Range<Int>) -> PythonExpression {
        guard !range.isEmpty else { return .other("") }
        let slice = tokens[range]
        if slice.allSatisfy({ $0.kind == .string }) { return .string(slice.map(\.text).joined()) }
        var index = range.lowerBound
        var dotted: [String] = []
        while index < range.upperBound, tokens[index].kind == .name {
            dotted.append(tokens[index].text)
            index += 1
            guard index < range.upperBound, tokens[index] == PythonToken(kind: .op, text: ".", line: tokens[index].line) else { break }
            index += 1
        }
        if !dotted.isEmpty, index == range.upperBound, tokens[index - 1].kind == .name { return .name(dotted.joined(separator: ".")) }
        if !dotted.isEmpty, index < range.upperBound, tokens[index].kind == .op, tokens[index].text == "(",
            matches[index] == range.upperBound - 1
        {
            var arguments: [PythonExpression] = []
            var keywords: [(name: String, value: PythonExpression)] = []
            for item in items(index + 1..<range.upperBound - 1) {
                if item.count >= 2, tokens[item.lowerBound].kind == .name, tokens[item.lowerBound + 1].kind == .op,
                    tokens[item.lowerBound + 1].text == "="
                {
                    keywords.append((tokens[item.lowerBound].text, expression(item.lowerBound + 2..<item.upperBound)))
                } else {
                    arguments.append(expression(item))
                }
            }
            return .call(callee: dotted.joined(separator: "."), arguments: arguments, keywords: keywords)
        }
        let first = tokens[range.lowerBound]
        if first.kind == .op, first.text == "[" || first.text == "(", matches[range.lowerBound] == range.upperBound - 1 {
            let inner = range.lowerBound + 1..<range.upperBound - 1
            let parts = items(inner)
            let trailingComma = !inner.isEmpty && tokens[inner.upperBound - 1].kind == .op && tokens[inner.upperBound - 1].text == ","
            if first.text == "(", parts.count == 1, !trailingComma { return expression(parts[0]) }
            return .list(parts.map(expression))
        }
        return .other(slice.map(\.text).joined(separator: " "))
    }

    /// The comma-separated items of `range`, nested brackets skipped; a trailing comma makes no item.
    func items(_ range: Range<Int>) -> [Range<Int>] {
        var result: [Range<Int>] = []
        var start = range.lowerBound
        var index = range.lowerBound
        while index < range.upperBound {
            let token = tokens[index]
            if token.kind == .op, matches[index] != nil {
                index = after(index)
                continue
            }
            if token.kind == .op, token.text == "," {
                result.append(start..<index)
                start = index + 1
            }
            index += 1
        }
        if start < range.upperBound { result.append(start..<range.upperBound) }
        return result
    }
}
