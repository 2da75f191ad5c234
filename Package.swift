// swift-tools-version:6.0
import PackageDescription

/// C libraries enter through one system-library target each; exactly one Swift
/// module wraps each of them (see STYLE.md).
let cLibraries: [Target] = [
    .systemLibrary(name: "CLMDB", path: "Sources/CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
    .systemLibrary(name: "CRdKafka", path: "Sources/CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
    .systemLibrary(name: "CLibPQ", path: "Sources/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
    // hiredis.pc adds -D_FILE_OFFSET_BITS=64, which SwiftPM rejects with a warning; the
    // header is found as <hiredis/hiredis.h> on the default path, so no pkg-config here.
    .systemLibrary(name: "CHiredis", path: "Sources/CHiredis", providers: [.apt(["libhiredis-dev"])]),
    .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
]

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
    name: "tickfold",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "tickfold", targets: ["tickfold"]),
        .library(name: "Events", targets: ["Events"]),
        .library(name: "Projections", targets: ["Projections"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: cLibraries + [
        // Thin, safe wrappers: one per C library.
        .target(name: "LMDB", dependencies: ["CLMDB"]),
        .target(name: "Kafka", dependencies: ["CRdKafka", logging]),
        .target(name: "Postgres", dependencies: ["CLibPQ"]),
        .target(name: "Redis", dependencies: ["CHiredis"]),
        .target(name: "Zstd", dependencies: ["CZstd"]),

        // Small dependency-free servers: a blocking HTTP/1.1 listener, metrics and health.
        .target(name: "HTTPServing"),
        .target(name: "Telemetry", dependencies: ["HTTPServing"]),

        // The product.
        .target(name: "Events", dependencies: [
            "LMDB", "Kafka", "Zstd", logging,
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "Ingest", dependencies: [
            "Events", "HTTPServing", logging,
            .product(name: "Crypto", package: "swift-crypto"),
        ], exclude: ["FIXTURES.md"]),
        .target(name: "Projections", dependencies: ["Events", "Kafka", "Postgres", "Redis", logging]),
        .target(name: "Replay", dependencies: [
            "Projections", "Events", "Postgres", "Redis", logging, .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(name: "tickfold", dependencies: [
            "Events", "Ingest", "Projections", "Replay", "LMDB", "Kafka", "Postgres", "Redis", "Zstd", "Telemetry", logging,
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Tests: one target per module, plus integration tests against real servers.
        .target(name: "TickfoldTesting", dependencies: [logging], path: "Tests/TickfoldTesting"),
        .testTarget(name: "LMDBTests", dependencies: ["LMDB", "TickfoldTesting"]),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "TickfoldTesting", logging]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TickfoldTesting"]),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "TickfoldTesting"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry", "HTTPServing"]),
        .testTarget(name: "ZstdTests", dependencies: ["Zstd", "Events"]),
        .testTarget(name: "EventsTests", dependencies: ["Events", "Kafka", "LMDB", "TickfoldTesting"]),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "TickfoldTesting", logging]),
        .testTarget(name: "ProjectionsTests", dependencies: ["Projections", "Kafka", "TickfoldTesting"]),
        .testTarget(name: "ReplayTests", dependencies: ["Replay", "Events", "Postgres", "Redis", "TickfoldTesting"]),
        .testTarget(name: "IntegrationTests", dependencies: [
            "Events", "Projections", "Replay", "Kafka", "Postgres", "Redis", "LMDB", "TickfoldTesting",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
