import ReleaseCore
import Testing

@Suite("ReleaseError")
struct ReleaseErrorTests {
    @Test(
        "exit codes are the contract's",
        arguments: [
            (ReleaseError.failed("x"), Int32(1), "deployment_failed"),
            (.usage("x"), 2, "usage"),
            (.refused("x"), 3, "refused"),
            (.busy("x"), 4, "busy"),
            (.unavailable("x"), 5, "unavailable"),
        ])
    func exitCodes(error: ReleaseError, code: Int32, name: String) {
        #expect(error.code.rawValue == code)
        #expect(error.code.name == name)
    }

    @Test("the message is what the user sees")
    func message() {
        let error = ReleaseError.refused("main is frozen (holidays) until 2026-12-27T00:00:00.000000Z")
        #expect(error.message == "main is frozen (holidays) until 2026-12-27T00:00:00.000000Z")
        #expect(error.description == error.message)
        #expect("\(error)" == error.message)
    }
}
