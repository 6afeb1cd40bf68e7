import ReleaseCore
import Testing

private func healthConfig(_ lines: String) -> String {
    """
    app: crm-api
    environments:
      prod:
        provider: command
        command: {deploy: ./deploy.sh}
        health:
    \(lines)
    """
}

@Suite("HealthCheckConfiguration")
struct HealthCheckConfigurationTests {
    @Test("the initializer's defaults are the contract's: 200, 5s, 2s, 3 successes within 2m")
    func defaults() {
        let health = HealthCheckConfiguration(url: "https://crm.example.com/health/")
        #expect(health.expectStatus == 200)
        #expect(health.expectBody == nil)
        #expect(health.timeout == .seconds(5))
        #expect(health.interval == .seconds(2))
        #expect(health.successes == 3)
        #expect(health.within == .minutes(2))
    }

    @Test("a health block with only a url gets every default")
    func parsedDefaults() throws {
        let health = try #require(try configuration(healthConfig("      url: http://127.0.0.1:8080/health")).environments[0].health)
        #expect(health == HealthCheckConfiguration(url: "http://127.0.0.1:8080/health"))
    }

    @Test("every setting is read")
    func parsedSettings() throws {
        let health = try #require(
            try configuration(
                healthConfig(
                    """
                          url: https://crm.example.com/health/
                          expect_status: 204
                          expect_body: "\\"status\\": \\"ok\\""
                          timeout: 500ms
                          interval: 0s
                          successes: 5
                          within: 1h30m
                    """)
            ).environments[0].health)
        #expect(health.url == "https://crm.example.com/health/")
        #expect(health.expectStatus == 204)
        #expect(health.expectBody == "\"status\": \"ok\"")
        #expect(health.timeout == .milliseconds(500))
        #expect(health.interval == .zero)
        #expect(health.successes == 5)
        #expect(health.within == .minutes(90))
    }

    @Test(
        "health errors name the line and key",
        arguments: [
            ("      expect_status: 200", "release.yml:7: environments.prod.health: missing key 'url'"),
            (
                "      url: ftp://crm.example.com/",
                "release.yml:7: environments.prod.health.url: expected an http:// or https:// URL, found 'ftp://crm.example.com/'."
            ),
            ("      url: https://", "release.yml:7: environments.prod.health.url: expected an http:// or https:// URL"),
            (
                "      url: http://x/\n      expect_status: 600",
                "release.yml:8: environments.prod.health.expect_status: expected a whole number from 100 to 599, found 600."
            ),
            (
                "      url: http://x/\n      expect_status: ok",
                "release.yml:8: environments.prod.health.expect_status: expected a whole number from 100 to 599."
            ),
            (
                "      url: http://x/\n      successes: 0",
                "release.yml:8: environments.prod.health.successes: expected a whole number from 1 to 1000, found 0."
            ),
            ("      url: http://x/\n      timeout: 0s", "release.yml:8: environments.prod.health.timeout: expected a duration greater than zero."),
            (
                "      url: http://x/\n      within: forever",
                "release.yml:8: environments.prod.health.within: expected a duration such as 500ms, 30s, 5m, 2h or 1d, found 'forever'."
            ),
            ("      url: http://x/\n      interval: -1s", "release.yml:8: environments.prod.health.interval: expected a duration"),
            ("      url: http://x/\n      retries: 3", "release.yml:8: environments.prod.health.retries: unknown key 'retries'"),
        ])
    func errors(lines: String, expected: String) {
        let message = configError(healthConfig(lines))
        #expect(message.hasPrefix(expected), "\(message)")
    }

    @Test("a health block that is just a URL is an error that says a mapping is expected")
    func notAMapping() {
        let message = configError(healthConfig("      - https://crm.example.com/health/"))
        #expect(message.hasPrefix("release.yml:7: environments.prod.health: expected a mapping of url"), "\(message)")
    }
}
