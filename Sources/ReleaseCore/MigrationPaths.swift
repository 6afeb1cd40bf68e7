/// The globs of `migrations.paths`, matched against paths as git lists them (relative to the
/// repository's root, `/`-separated, no leading `./`).
///
/// `*` is any run of characters within one path segment, `?` one character, `[0-9]`, `[abc]` and
/// `[!0-9]` (or `[^0-9]`) a character class, and a segment that is exactly `**` any number of whole
/// segments, none included (`**/migrations/*.py` matches `migrations/0001_initial.py` too). A `*`
/// never matches `/`; a leading `.` is matched like any other character.
public enum MigrationPaths {
    /// Whether `path` matches any of `globs`.
    public static func matches(_ path: String, any globs: [String]) -> Bool {
        globs.contains { matches(path, glob: $0) }
    }

    /// Whether `path` matches `glob`.
    public static func matches(_ path: String, glob: String) -> Bool {
        let pathSegments = path.split(separator: "/", omittingEmptySubsequences: false).map { Array($0.unicodeScalars) }
        var globSegments: [[Unicode.Scalar]] = []
        for segment in glob.split(separator: "/", omittingEmptySubsequences: false).map({ Array($0.unicodeScalars) }) {
            // `**/**` is `**`, and backtracking over it once is enough.
            if segment == ["*", "*"], globSegments.last == ["*", "*"] { continue }
            globSegments.append(segment)
        }
        return matchSegments(pathSegments[...], globSegments[...])
    }

    /// What is wrong with `glob` as a `paths` entry, or nil: it must be relative to the
    /// repository's root and stay inside it, and its brackets must close.
    public static func problem(_ glob: String) -> String? {
        if glob.hasPrefix("/") {
            return "'\(Identifier.shown(glob))' is absolute; write globs relative to the root of the git repository that holds release.yml, "
                + "such as \"*/migrations/[0-9][0-9][0-9][0-9]_*.py\"."
        }
        let segments = glob.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains("..") {
            return "'\(Identifier.shown(glob))' leaves the repository with '..'; migrations are read from the repository that holds release.yml."
        }
        if segments.contains(".") || segments.contains("") {
            return "'\(Identifier.shown(glob))' has an empty or '.' segment; git lists paths as crm/migrations/0001_initial.py, with no './' "
                + "and no '//' or trailing '/'."
        }
        if glob.contains("\\") {
            return "'\(Identifier.shown(glob))' has a '\\'; paths are separated by '/' and globs have no escapes."
        }
        for segment in segments where !closesBrackets(Array(segment.unicodeScalars)) {
            return "'\(Identifier.shown(glob))' has a '[' that no ']' closes; a character class is written [0-9]."
        }
        return nil
    }

    private static func matchSegments(_ path: ArraySlice<[Unicode.Scalar]>, _ glob: ArraySlice<[Unicode.Scalar]>) -> Bool {
        guard let first = glob.first else { return path.isEmpty }
        if first == ["*", "*"] {
            let rest = glob.dropFirst()
            // Zero segments, or one more each time.
            var remaining = path
            while true {
                if matchSegments(remaining, rest) { return true }
                guard !remaining.isEmpty else { return false }
                remaining = remaining.dropFirst()
            }
        }
        guard let segment = path.first, matchSegment(segment[...], first[...]) else { return false }
        return matchSegments(path.dropFirst(), glob.dropFirst())
    }

    /// One segment against one glob segment: iterative, with one backtracking point per `*`.
    private static func matchSegment(_ text: ArraySlice<Unicode.Scalar>, _ pattern: ArraySlice<Unicode.Scalar>) -> Bool {
        var textIndex = text.startIndex
        var patternIndex = pattern.startIndex
        var star: (pattern: Int, text: Int)?
        while textIndex < text.endIndex {
            if patternIndex < pattern.endIndex {
                let character = pattern[patternIndex]
                if character == "*" {
                    star = (patternIndex, textIndex)
                    patternIndex += 1
                    continue
                }
                if character == "?" {
                    patternIndex += 1
                    textIndex += 1
                    continue
                }
                if character == "[", let (matched, next) = matchClass(text[textIndex], pattern, from: patternIndex) {
                    if matched {
                        patternIndex = next
                        textIndex += 1
                        continue
                    }
                } else if character == text[textIndex] {
                    patternIndex += 1
                    textIndex += 1
                    continue
                }
            }
            guard let resume = star else { return false }
            star = (resume.pattern, resume.text + 1)
            patternIndex = resume.pattern + 1
            textIndex = resume.text + 1
        }
        while patternIndex < pattern.endIndex, pattern[patternIndex] == "*" { patternIndex += 1 }
        return patternIndex == pattern.endIndex
    }

    /// The class starting at `start` (a `[`): whether `character` is in it, and the index after its
    /// `]`; nil when no `]` closes it (the `[` is then a plain character).
    private static func matchClass(
        _ character: Unicode.Scalar, _ pattern: ArraySlice<Unicode.Scalar>, from start: Int
    ) -> (Bool, Int)? {
        var index = start + 1
        var negated = false
        if index < pattern.endIndex, pattern[index] == "!" || pattern[index] == "^" {
            negated = true
            index += 1
        }
        var found = false
        var first = true
        while index < pattern.endIndex {
            let low = pattern[index]
            if low == "]", !first { return (found != negated, index + 1) }
            first = false
            if index + 2 < pattern.endIndex, pattern[index + 1] == "-", pattern[index + 2] != "]" {
                let high = pattern[index + 2]
                if low <= high, (low...high).contains(character) { found = true }
                index += 3
            } else {
                if low == character { found = true }
                index += 1
            }
        }
        return nil
    }

    private static func closesBrackets(_ segment: [Unicode.Scalar]) -> Bool {
        var index = 0
        while index < segment.count {
            if segment[index] == "[" {
                guard let (_, next) = matchClass("/", segment[...], from: index) else { return false }
                index = next
            } else {
                index += 1
            }
        }
        return true
    }
}
