// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "release",
    products: [
        .executable(name: "release", targets: ["release"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // The dashboard's web server; without its default traits (swift-configuration support and
        // full Foundation), which `release serve` does not use.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
    ],
    targets: [
        // glibc's malloc.h (`release serve` bounds its arenas).
        .systemLibrary(name: "CMalloc"),
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(
            name: "Postgres",
            dependencies: ["CLibPQ"],
            swiftSettings: strict
        ),
        .target(
            name: "ReleaseCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ReleaseStore",
            dependencies: ["Postgres", "ReleaseCore"],
            swiftSettings: strict
        ),
        .target(
            name: "ProviderKit",
            dependencies: [
                "ReleaseCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ReleaseEngine",
            dependencies: [
                "ReleaseCore", "ReleaseStore", "ProviderKit",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ReleaseDashboard",
            dependencies: [
                "ReleaseCore", "ReleaseStore", "Postgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "CommandProvider",
            dependencies: ["ReleaseCore", "ProviderKit"],
            path: "providers/command",
            swiftSettings: strict
        ),
        .target(
            name: "HerokuProvider",
            dependencies: [
                "ReleaseCore", "ProviderKit",
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "providers/heroku",
            swiftSettings: strict
        ),
        .target(
            name: "RailwayProvider",
            dependencies: ["ReleaseCore", "ProviderKit"],
            path: "providers/railway",
            swiftSettings: strict
        ),
        .target(
            name: "DigitalOceanProvider",
            dependencies: [
                "ReleaseCore", "ProviderKit",
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "providers/digitalocean",
            swiftSettings: strict
        ),
        .target(
            name: "AWSProvider",
            dependencies: [
                "ReleaseCore", "ProviderKit",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "providers/aws",
            swiftSettings: strict
        ),
        // The one list of providers: every provider built into release.
        .target(
            name: "BuiltInProviders",
            dependencies: [
                "ReleaseCore", "ProviderKit", "CommandProvider", "HerokuProvider", "RailwayProvider", "DigitalOceanProvider", "AWSProvider",
            ],
            path: "providers/builtin",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "release",
            dependencies: [
                "ReleaseEngine", "ReleaseStore", "ReleaseCore", "ProviderKit", "BuiltInProviders", "ReleaseDashboard",
                .target(name: "CMalloc", condition: .when(platforms: [.linux])),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict,
            // The toolchain exports every symbol of an executable (40,000 here) for dlsym; nothing
            // looks `release`'s symbols up, and a short dynamic symbol table makes every start 3-7 %
            // faster (the loader's lookups, the runtime's dladdr at start-up; BENCHMARKS.md).
            linkerSettings: [.unsafeFlags(["-Xlinker", "--no-export-dynamic"])]
        ),
        // Fixtures/ holds Django migrations the tests read by path (#filePath), not resources.
        .testTarget(name: "ReleaseCoreTests", dependencies: ["ReleaseCore"], exclude: ["Fixtures"], swiftSettings: strict),
        .target(
            name: "ReleaseTestSupport",
            dependencies: [
                "Postgres", "ReleaseCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/ReleaseTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReleaseStoreTests",
            dependencies: ["ReleaseStore", "ReleaseCore", "Postgres", "ReleaseTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "ReleaseDashboardTests",
            dependencies: [
                "ReleaseDashboard", "ReleaseStore", "ReleaseCore", "Postgres", "ReleaseTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            swiftSettings: strict),
        .testTarget(
            name: "ProviderKitTests",
            dependencies: ["ProviderKit", "CommandProvider", "BuiltInProviders", "ReleaseCore", "ReleaseTestSupport"],
            swiftSettings: strict),
        // The engine in-process: a scripted provider, health against loopback, a real PostgreSQL.
        .testTarget(
            name: "ReleaseEngineTests",
            dependencies: ["ReleaseEngine", "ReleaseStore", "ReleaseCore", "ProviderKit", "Postgres", "ReleaseTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "HerokuProviderTests",
            dependencies: ["HerokuProvider", "ProviderKit", "ReleaseCore", "ReleaseTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "RailwayProviderTests",
            dependencies: ["RailwayProvider", "ProviderKit", "ReleaseCore", "ReleaseTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "DigitalOceanProviderTests",
            dependencies: ["DigitalOceanProvider", "ProviderKit", "ReleaseCore", "ReleaseTestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "AWSProviderTests",
            dependencies: ["AWSProvider", "ProviderKit", "ReleaseCore", "ReleaseTestSupport"],
            swiftSettings: strict),
        // Fuzzing the parsers of user text: ops/fuzz builds this with -sanitize=fuzzer -DFUZZING;
        // a plain build replays a corpus.
        .executableTarget(
            name: "release-fuzz",
            dependencies: ["ReleaseCore"],
            path: "Tests/Fuzz",
            swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["ReleaseCore", "ReleaseEngine", "Postgres", "ReleaseTestSupport"],
            swiftSettings: strict),
    ]
)
