import Hummingbird
import ReleaseCore

/// What every response of the dashboard goes through: only GET and HEAD (the dashboard never
/// changes anything), the token when one is set, a Host check against DNS rebinding when there is
/// none, and headers that keep the page from running or loading anything not its own.
struct SecurityMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    let token: String?
    static let cookie = "release_dashboard"

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await check(request, context: context, next: next)
        } catch let error as any HTTPResponseError {
            // Rendered here, not by the server after this returns, so error pages get the headers too.
            response = try error.response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] =
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
            + "frame-ancestors 'none'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[.init("Referrer-Policy")!] = "no-referrer"
        return response
    }

    private func check(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head else {
            var response = Dashboard.response(
                .methodNotAllowed, type: "text/plain; charset=utf-8",
                "The dashboard is read-only: use the release command to change anything.\n")
            response.headers[.allow] = "GET, HEAD"
            return response
        }
        guard let token else {
            // Served on loopback without a token: refuse pages asked for under another name, which
            // is how a web page elsewhere would reach it (DNS rebinding).
            if let host = request.head.authority, !Self.isLoopbackAuthority(host) {
                return Dashboard.response(
                    .misdirectedRequest, type: "text/plain; charset=utf-8",
                    "This dashboard answers on 127.0.0.1 only; open it as http://127.0.0.1:PORT/.\n")
            }
            return try await next(request, context)
        }
        let cookieValue = Digest.sha256Hex("release-dashboard:" + token)
        if let given = request.query("token") {
            guard Self.equal(given, token) else { return unauthorized() }
            // Trade the token in the address for a cookie, and drop it from the address bar.
            let rest = (request.uri.query ?? "").split(separator: "&").filter { !$0.hasPrefix("token=") }.joined(separator: "&")
            let location = request.uri.path + (rest.isEmpty ? "" : "?" + rest)
            var response = Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
            response.setCookie(Cookie(name: Self.cookie, value: cookieValue, path: "/", httpOnly: true, sameSite: .strict))
            return response
        }
        if let authorization = request.headers[.authorization], authorization.hasPrefix("Bearer "),
            Self.equal(String(authorization.dropFirst(7)), token)
        {
            return try await next(request, context)
        }
        if let cookie = request.cookies[Self.cookie], Self.equal(cookie.value, cookieValue) {
            return try await next(request, context)
        }
        return unauthorized()
    }

    private func unauthorized() -> Response {
        var response = Dashboard.response(
            .unauthorized, type: "text/plain; charset=utf-8",
            "This dashboard needs its token: open /?token=TOKEN once, or send Authorization: Bearer TOKEN "
                + "(RELEASE_DASHBOARD_TOKEN on the server).\n")
        response.headers[.wwwAuthenticate] = "Bearer realm=\"release\""
        return response
    }

    /// Compares without stopping at the first difference, so timing tells nothing about the token.
    static func equal(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8)
        let b = Array(rhs.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    static func isLoopbackAuthority(_ authority: String) -> Bool {
        var host = authority
        if host.hasPrefix("[") {
            host = String(host.prefix { $0 != "]" }) + "]"
        } else if let colon = host.lastIndex(of: ":") {
            host = String(host[..<colon])
        }
        return Dashboard.isLoopback(host)
    }
}
