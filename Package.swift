// swift-tools-version:6.0
import PackageDescription

// Module layout follows CONTRIBUTING.md ("Architecture"): one module per stage
// of the reconcile flow. Modules are added when the work that fills them lands.
let package = Package(
    name: "dploy",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dploy", targets: ["dploy"]),
        .library(name: "DploySpec", targets: ["DploySpec"]),
        .library(name: "DployGit", targets: ["DployGit"]),
        .library(name: "DployController", targets: ["DployController"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        // Already pulled in by Hummingbird; named for the TFTP server's UDP sockets.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
    ],
    targets: [
        .target(
            name: "DploySpec",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .target(
            // The controller's own config (dploy.yaml) and secrets: not the spec language, but
            // read with its diagnostics; it names the render and store types it configures (DHCP, boot, PostgreSQL).
            name: "DployConfig",
            dependencies: ["DploySpec", "DployRender", "DployInventory", .product(name: "Yams", package: "Yams")]
        ),
        .systemLibrary(name: "CGit2", pkgConfig: "libgit2", providers: [.apt(["libgit2-dev"])]),
        .target(
            name: "DployGit",
            dependencies: ["CGit2", "DploySpec"]
        ),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev", "libssl-dev"])]),
        .target(
            name: "DployBMC",
            dependencies: ["CCurl", "DploySpec"]
        ),
        .systemLibrary(name: "CSSH2", pkgConfig: "libssh2", providers: [.apt(["libssh2-1-dev"])]),
        .target(
            name: "DploySSH",
            dependencies: ["CSSH2", "DploySpec"]
        ),
        // The PostgreSQL store's client: libpq, synchronous like the Store protocol, TLS checked by libpq.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // The SQLite GRDB links, for the process-wide settings GRDB does not make (sqlite3_config).
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .target(
            name: "DployInventory",
            dependencies: ["DploySpec", "CLibPQ", "CSQLite", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(
            name: "DployRender",
            dependencies: [
                "DploySpec",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "DployPlan",
            dependencies: ["DploySpec", "DployRender", "DployInventory", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .target(
            name: "DployApply",
            dependencies: ["DploySpec", "DployRender", "DployPlan"]
        ),
        .target(
            // TFTP for pxelinux and GRUB: configs from a closure (the boot decider), files from output.tftp.
            name: "DployTFTP",
            dependencies: [
                "DploySpec", "DployRender",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "DployServer",
            dependencies: [
                "DploySpec", "DployGit", "DployInventory", "DployRender", "DployPlan", "DployController",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "DployController",
            dependencies: [
                "DploySpec", "DployConfig", "DployGit", "DployInventory", "DployRender", "DployPlan", "DployApply", "DployBMC", "DploySSH",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "dploy",
            dependencies: [
                "DploySpec",
                "DployConfig",
                "DployGit",
                "DployPlan",
                "DployInventory",
                "DployController",
                "DployServer",
                "DployTFTP",
                "DployBMC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "dploy-bench",
            dependencies: ["DployGit", "DploySpec", "DployConfig", "DployController", "DployPlan"],
            path: "bench/Sources"
        ),
        // What the test targets share: the integration gate, tools by absolute path, held
        // ports, temporary folders, bounded polling. Used only by test targets.
        .target(name: "DployTestSupport", dependencies: ["DploySpec"], path: "Tests/DployTestSupport"),
        .testTarget(
            name: "DploySpecTests",
            dependencies: ["DployTestSupport", "DploySpec", .product(name: "Yams", package: "Yams")],
            exclude: ["../Fixtures"]
        ),
        .testTarget(
            name: "DployConfigTests",
            dependencies: ["DployConfig", "DploySpec", "DployTestSupport"]
        ),
        .testTarget(
            name: "DployGitTests",
            dependencies: ["DployTestSupport", "DployGit", "DploySpec"]
        ),
        .testTarget(
            name: "DployInventoryTests",
            dependencies: ["DployTestSupport", "DployInventory", "DploySpec", .product(name: "GRDB", package: "GRDB.swift")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "DployRenderTests",
            dependencies: ["DployRender", "DploySpec", "DployTestSupport"],
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "DployPlanTests",
            dependencies: ["DployTestSupport", "DployPlan", "DployApply", "DployConfig", "DployController", "DployInventory", "DployRender", "DploySpec"]
        ),
        .testTarget(
            name: "DployServerTests",
            dependencies: [
                "DployTestSupport", "DployServer", "DployTFTP", "DployInventory", "DployConfig", "DployController", "DploySpec", "DployGit",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            // A real client (atftp, tftp-hpa) and raw UDP sockets against the server on 127.0.0.1.
            name: "DployTFTPTests",
            dependencies: ["DployTestSupport", "DployTFTP", "DploySpec",
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio")]
        ),
        .testTarget(
            name: "DployBMCTests",
            // Also runs the built `dploy bmc` against the emulator, as an operator would.
            dependencies: ["DployTestSupport", "DployBMC", "DploySpec", "DployConfig", "DployController", "DployApply", "DployPlan", "DployInventory", "dploy",
                           .product(name: "Logging", package: "swift-log")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "DploySSHTests",
            // Runs Debian's sshd on 127.0.0.1 with keys made by ssh-keygen for each test; SSH
            // tasks run through the controller against it.
            dependencies: ["DployTestSupport", "DploySSH", "DploySpec", "DployConfig", "DployController", "DployInventory", "DployPlan"]
        ),
        .testTarget(
            name: "dployTests",
            // Runs the built `dploy` binary, as an operator would; seeds stores with DployInventory.
            dependencies: ["DployTestSupport", "dploy", "DployInventory", "DploySpec", .product(name: "Crypto", package: "swift-crypto")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// `make fuzz` (CONTRIBUTING.md, "Fuzzing"): the libFuzzer harness, declared only when
// DPLOY_FUZZ=1, so `swift build` and `swift test` never compile it and libFuzzer is never
// linked into a normal product. libFuzzer supplies `main`, hence -parse-as-library.
if Context.environment["DPLOY_FUZZ"] == "1" {
    package.targets.append(.executableTarget(
        name: "dploy-fuzz",
        dependencies: ["DploySpec", "DployInventory", "DployBMC", "DployRender"],
        path: "Fuzz/Sources",
        swiftSettings: [.unsafeFlags(["-parse-as-library", "-warnings-as-errors"])]
    ))
}
