import Foundation
import DploySpec
import Testing

/// Whether every integration test must run: `make test` (and so CI) exports
/// DPLOY_REQUIRE_INTEGRATION=1, and then a missing tool is a failure, not a skip.
/// `DPLOY_ALLOW_SKIP=1 make test`, or `swift test` run by hand, lets such a test skip and
/// say why.
public let integrationRequired = ProcessInfo.processInfo.environment["DPLOY_REQUIRE_INTEGRATION"] == "1"

/// Whether the tests run as root (useradd for SSH password logins, the package test).
public let isRoot = getuid() == 0

/// The repository's top folder, found from this file's path.
public let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// A program a test runs, by absolute path, and how to install it.
public struct Tool: Sendable, CustomStringConvertible {
    public let path: String
    /// The command that installs it, shown when it is missing.
    public let install: String

    public init(path: String, install: String) {
        self.path = path
        self.install = install
    }

    public var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: path) }
    public var description: String { path }

    /// Its path; throws, naming the command that installs it, when it is missing.
    public func require() throws -> String {
        guard isInstalled else { throw ToolFailure(message: "\(path) is not installed; install it with: \(install)") }
        return path
    }

    /// A Debian program, by the path its package installs.
    public static func debian(_ path: String, package: String) -> Tool {
        Tool(path: path, install: "sudo apt-get install \(package) (or sudo bash .ci/setup)")
    }

    /// The folder of the Python tools' virtual environment: DPLOY_TOOLS_BIN, an absolute
    /// path the Makefile exports, else the Makefile's default, .build-tools/venv/bin. Never PATH.
    public static let pythonToolsBin: String = {
        if let bin = ProcessInfo.processInfo.environment["DPLOY_TOOLS_BIN"], bin.hasPrefix("/") { return bin }
        return repositoryRoot.appendingPathComponent(".build-tools/venv/bin").path
    }()

    /// A program of the Python tools' virtual environment (.ci/python-tools.txt).
    public static func python(_ name: String) -> Tool {
        Tool(path: pythonToolsBin + "/" + name, install: "make tools (bash .ci/python-tools)")
    }

    public static let git = debian("/usr/bin/git", package: "git")
    public static let curl = debian("/usr/bin/curl", package: "curl")
    public static let openssl = debian("/usr/bin/openssl", package: "openssl")
    public static let sshKeygen = debian("/usr/bin/ssh-keygen", package: "openssh-client")
    public static let sshd = debian("/usr/sbin/sshd", package: "openssh-server")
    public static let dnsmasq = debian("/usr/sbin/dnsmasq", package: "dnsmasq-base")
    public static let dhcpd = debian("/usr/sbin/dhcpd", package: "isc-dhcp-server")
    public static let keaDHCP4 = debian("/usr/sbin/kea-dhcp4", package: "kea-dhcp4-server")
    public static let chromium = debian("/usr/bin/chromium", package: "chromium")
    /// A TFTP client that sends options: `--option "blksize 1468"`, tsize, windowsize.
    public static let atftp = debian("/usr/bin/atftp", package: "atftp")
    /// tftp-hpa's client: plain RFC 1350, no options (512-byte blocks).
    public static let tftp = debian("/usr/bin/tftp", package: "tftp-hpa")
    /// Debian's python3, for the tests' own standard-library scripts (fixtures, file servers).
    public static let python3 = debian("/usr/bin/python3", package: "python3")
    /// The virtual environment's python3, which has bcrypt, sushy and PyYAML.
    public static let venvPython = python("python3")
    public static let checkJSONSchema = python("check-jsonschema")
    public static let sushyEmulator = python("sushy-emulator")
}

extension Trait where Self == ConditionTrait {
    /// Runs when every tool is installed. Otherwise skips, naming what is missing and how
    /// to install it, unless integration is required: then it runs, and fails.
    public static func requires(_ tools: Tool..., also why: String? = nil) -> ConditionTrait {
        let missing = tools.filter { !$0.isInstalled }
        let comment = missing.map { "\($0.path) is not installed (\($0.install))" }.joined(separator: "; ")
        return .enabled(if: missing.isEmpty || integrationRequired, Comment(rawValue: why ?? comment))
    }

    /// Runs as root; otherwise skips saying why, unless integration is required.
    public static func requiresRoot(_ why: String) -> ConditionTrait {
        .enabled(if: isRoot || integrationRequired, Comment(rawValue: why))
    }
}

/// A tool that failed or is missing; the message says which and why.
public struct ToolFailure: Error, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// HPE's recorded iLO trees in `../shared/fixtures/hpe-ilo-mockups` (beside the repository;
/// SOURCE.md there says what they are). Tests read them in place: their licence lets us use
/// them, and the project keeps them out of its own history. CI has `../shared`.
public enum HPEMockups {
    public static let folder = repositoryRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/fixtures/hpe-ilo-mockups")

    /// ProLiant DL380a Gen11, iLO 6 v1.66.
    public static let dl380aGen11 = folder.appendingPathComponent("DL380a")
    /// ProLiant DL360 Gen10 Plus, iLO 5 v3.11.
    public static let dl360Gen10Plus = folder.appendingPathComponent("DL360")
    /// ProLiant DL365 Gen10 Plus, iLO 5 v3.14.
    public static let dl365Gen10Plus = folder.appendingPathComponent("DL365_Gen10Plus")

    public static var isPresent: Bool {
        FileManager.default.fileExists(atPath: dl380aGen11.appendingPathComponent("index.json").path)
    }

    /// One recorded document: `path` is its URI below `/redfish/v1` (`Systems/1/bios/settings`).
    public static func document(_ tree: URL, _ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: tree.appendingPathComponent(path).appendingPathComponent("index.json")))
    }

    /// The recorded system's BIOS attributes (`Systems/1/bios`'s `Attributes`), as a BIOS
    /// reading holds them: for tests of what dploy makes of a real BIOS without a BMC.
    public static func biosAttributes(_ tree: URL) throws -> [String: BIOSValue] {
        struct Bios: Decodable { var Attributes: [String: BIOSValue] }
        return try JSONDecoder().decode(Bios.self, from: Data(document(tree, "Systems/1/bios"))).Attributes
    }
}

extension Trait where Self == ConditionTrait {
    /// Runs when `../shared/fixtures/hpe-ilo-mockups` is there; otherwise skips saying so,
    /// unless integration is required (CI has the folder): then it runs, and fails.
    public static var requiresHPEMockups: ConditionTrait {
        .enabled(if: HPEMockups.isPresent || integrationRequired,
                 Comment(rawValue: "\(HPEMockups.folder.path) is missing: HPE's recorded iLO trees live beside the repository, in ../shared"))
    }
}
