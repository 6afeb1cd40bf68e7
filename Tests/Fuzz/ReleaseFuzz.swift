import Foundation
import ReleaseCore

/// One input through every parser of user text: release.yml (as YAML and as a whole
/// configuration), durations, RFC 3339 times, weekly freeze windows, versions, names, thresholds,
/// templates, Django migrations, globs and JSON.
/// None may crash, hang or accept what it then cannot print back.
func exercise(_ data: UnsafeRawBufferPointer) {
    guard let selector = data.first else { return }
    let bytes = Array(data.dropFirst())
    let text = String(decoding: bytes, as: UTF8.self)
    switch selector % 6 {
    case 0:
        // Two provider names reach every check the parser makes of `provider:` and the blocks; the
        // fuzzer builds without the providers, whose registry holds the real list.
        if let configuration = try? ReleaseConfiguration.parse(yaml: text, file: "fuzz.yml", providers: ["command", "heroku"]) {
            for environment in configuration.environments {
                precondition(Identifier.isValid(environment.name), "an environment name the parser let through is invalid")
            }
        }
    case 1:
        if let span = TimeSpan(parsing: text) {
            precondition(TimeSpan(parsing: span.description) == span, "\(span) does not read back")
        }
    case 2:
        if let instant = Timestamp(parsing: text) {
            precondition(Timestamp(parsing: instant.rfc3339) == instant, "\(instant.rfc3339) does not read back")
        }
    case 3:
        let zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
        if let window = WeeklyWindow(parsing: text, timeZone: zones[Int(selector / 6) % zones.count]) {
            for offset in stride(from: Int64(0), to: 8 * 86_400, by: 3_637) {
                let now = Timestamp(seconds: 1_780_000_000 + offset)
                if let end = window.activeEnd(at: now) { precondition(now < end, "a window ends before it starts") }
            }
        }
    case 4:
        _ = Identifier.isValidVersion(text)
        _ = Identifier.isValidActor(text)
        _ = GitSyncConfiguration.isSafeRef(text)
        if let threshold = Threshold(parsing: text) { precondition(threshold.value.isFinite, "a threshold that is not a number") }
        _ = Template.references(in: text)
        // Migration files come from any commit, and globs from release.yml.
        let record = DjangoMigrationClassifier.classify(path: "crm/migrations/0001_fuzz.py", text: text)
        precondition(record.reversible || record.migrationClass != .compatible, "a compatible migration that cannot be reversed")
        _ = MigrationPaths.matches("crm/migrations/0001_fuzz.py", glob: text)
    default:
        if let json = JSONValue(parsing: bytes) {
            precondition(JSONValue(parsing: json.text) == json, "JSON does not read back")
        }
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    exercise(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// SwiftPM links an executable's entry point under this name; hand over to libFuzzer's driver.
@_cdecl("release_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in
        exercise(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
#else
/// Without libFuzzer: replays the files (or folders of files) given, e.g. a saved corpus.
@main
struct Replay {
    static func main() throws {
        var count = 0
        for path in CommandLine.arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
            let files =
                isDirectory.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { path + "/" + $0 } : [path]
            for file in files {
                let data = try Data(contentsOf: URL(fileURLWithPath: file))
                data.withUnsafeBytes { exercise($0) }
                count += 1
            }
        }
        print("release-fuzz: replayed \(count) inputs without a crash")
    }
}
#endif
