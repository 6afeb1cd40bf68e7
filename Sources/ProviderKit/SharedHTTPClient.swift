import AsyncHTTPClient

extension HTTPClient {
    /// The HTTP client every provider, probe and notification uses. Unlike `HTTPClient.shared`,
    /// it fails a request at once when no connection can be made (refused, unreachable) instead
    /// of retrying the connection until the request's deadline: our callers retry with their own
    /// bounded backoff, and a health probe or webhook that is down must say so in milliseconds,
    /// not after its whole timeout. Certificates are verified (the default).
    public static let release: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        // `release probe` checks every environment at once, often on one host (a load balancer):
        // the default of 8 connections per host would queue the rest behind the slowest.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 256
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
