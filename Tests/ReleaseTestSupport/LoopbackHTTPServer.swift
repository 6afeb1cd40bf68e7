import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 whose answers a test scripts request by request, so health
/// probes can be tested against flaky, wrong, slow and absent endpoints without the network.
///
/// Use it only through `withServer`, which closes the listening socket and every connection
/// (cancelling answers still being delayed) when the test body returns or throws.
public struct LoopbackHTTPServer: Sendable {
    /// One request as the handler sees it.
    public struct Request: Sendable {
        /// The request target, such as `/health/`.
        public var path: String
        /// 1 for the first request this server received, 2 for the second, and so on.
        public var number: Int
    }

    /// What the server answers.
    public struct Answer: Sendable {
        /// The HTTP status code.
        public var status: Int
        /// The response body.
        public var body: String
        /// How long to wait before sending anything.
        public var delay: Duration
        /// Extra response headers, such as Retry-After.
        public var headers: [(String, String)]

        /// Creates an answer; by default 200 with body `ok`, at once.
        public init(status: Int = 200, body: String = "ok", delay: Duration = .zero, headers: [(String, String)] = []) {
            self.status = status
            self.body = body
            self.delay = delay
            self.headers = headers
        }

        /// 200 with body `ok`, at once.
        public static let healthy = Answer()
    }

    /// Decides the answer to each request.
    public typealias Handler = @Sendable (Request) async -> Answer

    /// The port the server listens on.
    public let port: Int
    private let counter: RequestCounter

    /// The URL of `path` on this server.
    public func url(_ path: String = "/health/") -> String {
        "http://127.0.0.1:\(port)\(path)"
    }

    /// How many complete requests the server has received so far.
    public var requestCount: Int { counter.value }

    /// Runs `body` with a server answering through `handler`, and shuts the server down afterwards.
    public static func withServer<Result: Sendable>(
        _ handler: @escaping Handler,
        body: (LoopbackHTTPServer) async throws -> Result
    ) async throws -> Result {
        let counter = RequestCounter()
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        guard let port = listener.channel.localAddress?.port else {
            try? await listener.channel.close()
            throw LoopbackServerError("the loopback server has no port")
        }
        let server = LoopbackHTTPServer(port: port, counter: counter)
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask {
                try? await listener.executeThenClose { connections in
                    try await withThrowingDiscardingTaskGroup { connectionTasks in
                        for try await connection in connections {
                            connectionTasks.addTask {
                                try? await serve(connection, handler: handler, counter: counter)
                            }
                        }
                    }
                }
            }
            defer { group.cancelAll() }
            return try await body(server)
        }
    }

    /// Runs `body` with a port on 127.0.0.1 that refuses connections.
    ///
    /// A socket stays bound there, without listening, until `body` returns: connecting gets
    /// "connection refused" like a closed port, but no other server (in this run or elsewhere on
    /// the machine) can take the port meanwhile, and no client can connect to itself through it.
    public static func withRefusingPort<Result: Sendable>(_ body: (Int) async throws -> Result) async throws -> Result {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw LoopbackServerError("could not create a socket") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else { throw LoopbackServerError("could not bind a socket on 127.0.0.1") }
        return try await body(Int(UInt16(bigEndian: address.sin_port)))
    }

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>,
        handler: Handler, counter: RequestCounter
    ) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var path = "/"
            for try await part in inbound {
                switch part {
                case let .head(head):
                    path = head.uri
                case .body:
                    continue
                case .end:
                    let answer = await handler(Request(path: path, number: counter.next()))
                    if answer.delay > .zero {
                        try await Task.sleep(for: answer.delay)
                    }
                    let body = ByteBuffer(string: answer.body)
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
                    headers.add(name: "Content-Length", value: String(body.readableBytes))
                    for (name, value) in answer.headers { headers.add(name: name, value: value) }
                    let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: answer.status), headers: headers)
                    try await outbound.write(.head(head))
                    try await outbound.write(.body(.byteBuffer(body)))
                    try await outbound.write(.end(nil))
                }
            }
        }
    }
}

/// A failure to start the loopback server or reserve a port.
public struct LoopbackServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String

    /// Creates an error.
    public init(_ description: String) {
        self.description = description
    }
}

/// Numbers requests across all connections of one server.
private final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    var value: Int {
        lock.withLock { count }
    }

    func next() -> Int {
        lock.withLock {
            count += 1
            return count
        }
    }
}
