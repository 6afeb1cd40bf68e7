import Postgres
import Testing

/// TLS to PostgreSQL is verified by default for servers across the network, and left alone
/// where the user chose or where there is no network.
@Suite struct TLSDefaultsTests {
    static let bundle = [("sslmode", "verify-full"), ("sslrootcert", "/etc/ssl/certs/ca-certificates.crt")]

    func defaults(_ url: String, _ environment: [String: String] = ["HOME": "/nonexistent"]) -> [String] {
        PostgresConnection.verifiedTLSDefaults(url: url, environment: environment).map { "\($0.0)=\($0.1)" }
    }

    @Test func aRemoteServerGetsVerifyFull() {
        #expect(defaults("postgresql://crm:pw@db.internal:5432/release").first == "sslmode=verify-full")
        #expect(defaults("host=db.example.com dbname=release").first == "sslmode=verify-full")
        #expect(defaults("", ["PGHOST": "db.example.com", "HOME": "/nonexistent"]).first == "sslmode=verify-full")
    }

    @Test func aChosenModeSocketsAndLoopbackAreLeftAlone() {
        #expect(defaults("postgresql://crm@db.internal/release?sslmode=disable").isEmpty)
        #expect(defaults("postgresql://crm@db.internal/release", ["PGSSLMODE": "require"]).isEmpty)
        #expect(defaults("postgresql:///release?host=/var/run/postgresql").isEmpty)
        #expect(defaults("postgresql://localhost/release").isEmpty)
        #expect(defaults("postgresql://127.0.0.1:5432/release").isEmpty)
        #expect(defaults("").isEmpty)
    }

    @Test func aPrivateCAIsKept() {
        #expect(defaults("postgresql://db.internal/release?sslrootcert=/etc/crm/ca.pem") == ["sslmode=verify-full"])
    }
}
