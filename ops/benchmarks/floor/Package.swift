// swift-tools-version:6.1
// The floor a Swift command line sets before `release` does any work of its own (ops/bench
// builds and times these against `psql -c 'select 1'`; BENCHMARKS.md has the figures):
//   floor-bare  the Swift runtime and libpq: connect, `select 1`, print, exit.
//   floor-cli   the same behind swift-argument-parser, with the command tree of `release`
//               (its 18 subcommand names and its global options).
import PackageDescription

let package = Package(
    name: "floor",
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .executableTarget(name: "floor-bare", dependencies: ["CLibPQ"], path: "Sources/FloorBare"),
        .executableTarget(name: "floor-cli", dependencies: [
            "CLibPQ", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/FloorCLI"),
    ]
)
