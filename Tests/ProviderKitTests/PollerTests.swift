import Foundation
import ProviderKit
import ReleaseCore
import Testing

/// How every provider waits on an operation: cadence, deadline, progress lines, malformed answers.
@Suite struct PollerTests {
    /// Answers a wait's looks from a script, one entry a look; the last entry repeats.
    final class Script: @unchecked Sendable {
        enum Entry {
            case state(String)
            case malformed
        }
        private let lock = NSLock()
        private var entries: [Entry]
        private(set) var looks = 0

        init(_ entries: [Entry]) { self.entries = entries }

        func next() throws -> String {
            let entry = lock.withLock {
                looks += 1
                return entries.count > 1 ? entries.removeFirst() : entries[0]
            }
            switch entry {
            case let .state(state): return state
            case .malformed: throw MalformedAnswer(platform: "Example", request: "GET /deployments/7")
            }
        }
    }

    static func poller(timeout: TimeSpan = .seconds(60), lines: Collected<String>) -> Poller {
        Poller(interval: .milliseconds(10), timeout: timeout, progress: { lines.append($0) })
    }

    @Test func aLineGoesOutOnlyWhenWhatIsSeenChangesAndTheWaitEndsWithTheValue() async throws {
        let lines = Collected<String>()
        let script = Script([.state("QUEUED"), .state("BUILDING"), .state("BUILDING"), .state("SUCCESS")])
        let value = try await Self.poller(lines: lines).wait {
            try script.next()
        } report: { state in
            "deployment 7: \(state)"
        } until: { state in
            state == "SUCCESS" ? 42 : nil
        } expired: { _ in
            Issue.record("the deadline is far away")
            return 0
        }
        #expect(value == 42)
        #expect(lines.values == ["deployment 7: QUEUED", "deployment 7: BUILDING", "deployment 7: SUCCESS"])
        #expect(script.looks == 4)
    }

    @Test func aMalformedAnswerIsLookedAtAgain() async throws {
        let script = Script([.malformed, .malformed, .state("BUILDING"), .malformed, .state("SUCCESS")])
        let value = try await Self.poller(lines: Collected()).wait {
            try script.next()
        } until: { state in
            state == "SUCCESS" ? state : nil
        } expired: { _ in
            "expired"
        }
        #expect(value == "SUCCESS")
        #expect(script.looks == 5)
    }

    @Test func malformedAnswersUpToTheDeadlineEndTheWaitAsUnreachable() async throws {
        let script = Script([.state("BUILDING"), .malformed])
        let poller = Self.poller(timeout: .milliseconds(200), lines: Collected())
        let error = await #expect(throws: ProviderError.self) {
            try await poller.wait {
                try script.next()
            } until: { _ in
                Optional<Int>.none
            } expired: { _ in
                throw poller.notFinished("deployment 7")
            }
        }
        #expect(error?.kind == .unreachable)
        #expect(error?.message == "Example answered GET /deployments/7 with malformed JSON. It still did when the wait ended, after 200ms.")
        #expect(script.looks >= 2, "it looked again after the malformed answer, until the deadline")
    }

    @Test func atTheDeadlineExpiredGetsTheLastThingSeen() async throws {
        let script = Script([.state("QUEUED"), .state("BUILDING")])
        let poller = Self.poller(timeout: .milliseconds(100), lines: Collected())
        let error = await #expect(throws: ProviderError.self) {
            try await poller.wait {
                try script.next()
            } until: { _ in
                Optional<Int>.none
            } expired: { last in
                throw poller.notFinished("Example deployment 7", last: last.map { "status \($0)" })
            }
        }
        #expect(error?.kind == .failed)
        #expect(error?.message == "Example deployment 7 did not finish within 100ms (last status BUILDING).")
        #expect(poller.notFinished("Example build 3").message == "Example build 3 did not finish within 100ms.")
    }

    @Test func aFailureFinishedThrowsEndsTheWaitAtOnce() async throws {
        let script = Script([.state("BUILDING"), .state("CRASHED")])
        await #expect(throws: ProviderError.self) {
            try await Self.poller(lines: Collected()).wait {
                try script.next()
            } until: { state -> Int? in
                if state == "CRASHED" { throw ProviderError(.failed, "deployment 7 ended CRASHED") }
                return nil
            } expired: { _ in
                0
            }
        }
        #expect(script.looks == 2)
    }
}
