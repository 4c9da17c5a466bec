@testable import DployBMC
import DployConfig
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Against sushy-tools' emulator (fake driver) over HTTPS on loopback. Covers: basic auth
/// fallback (it has no sessions), power on/off/cycle mapped onto its allowed reset types and
/// polled, boot override, virtual media with an image served on loopback, and the failures an
/// operator meets: wrong password, BMC down, wrong CA, wrong pinned key, insecure warned once.
@Suite("Redfish against sushy-tools", .ownThread, .requires(.sushyEmulator, .openssl, .curl))
struct SushyTests {
    @Test("Power on, cycle and off, each observed by polling; reset types from the allowed list")
    func power() async throws {
        let bmc = try await SushyEmulator()
        try await bmc.ready()
        let client = RedfishClient(endpoint: try bmc.endpoint(), options: quickOptions())
        let reading = try await client.reading()
        #expect(reading.power == .off)
        #expect(reading.health == "OK")

        let on = try await client.setPower(.on)
        #expect(on.resetType == "On")
        // sushy-tools applies a reset 1 to 11 s later: poll, bounded.
        try await client.waitForPower(.on, timeout: .seconds(40), interval: .milliseconds(250))
        #expect(try await client.setPower(.on).resetType == nil, "on when on does nothing")

        // It offers no PowerCycle: a cycle becomes ForceRestart.
        #expect(try await client.setPower(.cycle).resetType == "ForceRestart")
        // While it restarts it may read Off; wait until it is back before turning it off.
        try await client.waitForPower(.on, timeout: .seconds(40), interval: .milliseconds(250))

        #expect(try await client.setPower(.off).resetType == "ForceOff")
        try await client.waitForPower(.off, timeout: .seconds(40), interval: .milliseconds(250))
        await client.close()
    }

    @Test("Boot once from the network")
    func bootOverride() async throws {
        let bmc = try await SushyEmulator()
        try await bmc.ready()
        let client = RedfishClient(endpoint: try bmc.endpoint(), options: quickOptions())
        try await client.bootOnce(from: .pxe)
        let system = try await client.system()
        #expect(system.bootOverrideTarget == "Pxe")
        // sushy-tools always reads BootSourceOverrideEnabled back as Continuous, and its fake
        // driver accepts UefiHttp without applying it; neither is asserted.
    }

    @Test("Virtual media: insert an image served on loopback, then eject it")
    func virtualMedia() async throws {
        let bmc = try await SushyEmulator()
        let images = try TemporaryFolder(prefix: "dploy-bmc")
        try images.write("boot.iso", String(repeating: "dploy", count: 1000), mode: 0o644)
        // It listens before it prints its port: the BMC's download cannot beat it.
        let server = try await FileServer(serving: images.path, log: images.file("http.log"))
        defer { server.stop() }
        try await bmc.ready()
        let client = RedfishClient(endpoint: try bmc.endpoint(), options: quickOptions())
        let image = "http://127.0.0.1:\(server.port)/boot.iso"
        try await client.insertVirtualMedia(image)
        let inserted = try await client.virtualMedia()
        #expect(inserted.inserted)
        #expect(inserted.image == image)
        try await client.ejectVirtualMedia()
        #expect(try await client.virtualMedia().inserted == false)
    }

    @Test("A wrong password is a clear unauthorized error that never shows the password")
    func wrongPassword() async throws {
        let bmc = try await SushyEmulator()
        try await bmc.ready()
        let wrong = "not-the-password-\(UUID().uuidString.prefix(6))"
        let client = RedfishClient(endpoint: try bmc.endpoint(password: wrong), options: quickOptions())
        let error = await #expect(throws: BMCError.self) { try await client.power() }
        #expect(error?.kind == .unauthorized)
        #expect(error?.description.contains("admin") == true)
        #expect(error?.description.contains("password") == true)
        #expect(error?.description.contains(wrong) == false)
    }

    @Test("Wrong CA is refused; a pinned key is accepted only when it matches")
    func certificates() async throws {
        let bmc = try await SushyEmulator()
        try await bmc.ready()
        let other = try TemporaryFolder(prefix: "dploy-bmc")
        let stranger = try TestCertificate(in: other, name: "stranger")

        let wrongCA = RedfishClient(endpoint: try bmc.endpoint(tls: TLSPolicy(caFile: stranger.certificate)), options: quickOptions())
        let refused = await #expect(throws: BMCError.self) { try await wrongCA.power() }
        #expect(refused?.kind == .tls)

        let systemCAs = RedfishClient(endpoint: try bmc.endpoint(tls: .system), options: quickOptions())
        #expect(await (try? systemCAs.power()) == nil, "a self-signed certificate is not trusted by the system CAs")

        let pinned = RedfishClient(endpoint: try bmc.endpoint(tls: TLSPolicy(pinnedPublicKey: bmc.certificate.pin)), options: quickOptions())
        #expect(try await pinned.power() == .off)

        let wrongPin = RedfishClient(endpoint: try bmc.endpoint(tls: TLSPolicy(pinnedPublicKey: stranger.pin)), options: quickOptions())
        let mismatch = await #expect(throws: BMCError.self) { try await wrongPin.power() }
        #expect(mismatch?.kind == .tls)
    }

    @Test("A pinned certificate fingerprint is trusted without a CA; a wrong one is refused before any request is sent")
    func certificateFingerprint() async throws {
        let bmc = try await SushyEmulator()
        try await bmc.ready()
        let other = try TemporaryFolder(prefix: "dploy-bmc")
        let stranger = try TestCertificate(in: other, name: "stranger")

        // openssl's colon form and plain lower-case hex name the same pin; no CA file is given.
        let plain = bmc.certificate.fingerprint.replacingOccurrences(of: ":", with: "").lowercased()
        for text in [bmc.certificate.fingerprint, plain] {
            let pin = try #require(CertificateFingerprint(text))
            let pinned = RedfishClient(endpoint: try bmc.endpoint(tls: TLSPolicy(certificateFingerprint: pin)), options: quickOptions())
            #expect(try await pinned.power() == .off)
            await pinned.close()
        }

        let before = try await bmc.mark()
        let wrongPin = try #require(CertificateFingerprint(stranger.fingerprint))
        let wrong = RedfishClient(endpoint: try bmc.endpoint(tls: TLSPolicy(certificateFingerprint: wrongPin)), options: quickOptions())
        let mismatch = await #expect(throws: BMCError.self) { try await wrong.power() }
        await wrong.close()
        let after = try await bmc.mark()
        #expect(after == before + 1, "the refused client's requests never reached the emulator")
        #expect(mismatch?.kind == .tls)
        let message = mismatch?.description ?? ""
        #expect(message.contains(bmc.certificate.fingerprint.uppercased()), "names the fingerprint the BMC showed: \(message)")
        #expect(message.contains(stranger.fingerprint.uppercased()), "names the pinned fingerprint: \(message)")
        #expect(message.contains("bmc.fingerprint"))
        #expect(!message.contains(bmc.password))

        // Both pins given: both must match.
        let plainPin: CertificateFingerprint = try #require(CertificateFingerprint(plain))
        let both = RedfishClient(endpoint: try bmc.endpoint(tls: TLSPolicy(pinnedPublicKey: stranger.pin,
                                                                           certificateFingerprint: plainPin)),
                                 options: quickOptions())
        #expect(await (try? both.power()) == nil, "a right fingerprint does not excuse a wrong key pin")
    }

    @Test("insecure: true works without a CA and is warned about once per BMC")
    func insecureWarnedOnce() async throws {
        let bmc = try await SushyEmulator()
        try await bmc.ready()
        let log = WarningLog()
        let warnings = BMCWarnings { log.append($0) }
        for _ in 0..<3 {
            let client = RedfishClient(endpoint: try bmc.endpoint(tls: TLSPolicy(insecure: true)), options: quickOptions(), warnings: warnings)
            #expect(try await client.power() == .off)
        }
        #expect(log.all.count == 1)
        #expect(log.all.first?.contains("insecure") == true)
    }

    @Test("Many BMCs observed with bounded concurrency; one down BMC is its own error row")
    func observeMany() async throws {
        let bmc = try await SushyEmulator(systems: 3)
        try await bmc.ready()
        let secrets = try TemporaryFolder(prefix: "dploy-bmc")
        try secrets.write("lab-bmc.yaml", "username: \(bmc.username)\npassword: '\(bmc.password)'\nallowedAddresses: [\"https://127.0.0.1:*\"]\n")
        let down = try HeldPort()
        defer { withExtendedLifetime(down) {} }  // held until the test ends, not its last use
        var targets: [(machine: String, bmc: BMCSettings)] = (0..<3).map { index in
            ("node-\(index)", BMCSettings(address: "\(bmc.baseURL)/redfish/v1/Systems/\(bmc.systems[index])",
                                          credentials: "lab-bmc", caFile: bmc.certificate.certificate))
        }
        // node-2 trusts its BMC by pinned key (spec.bmc.pinnedKey) instead of a CA.
        targets[2].bmc.caFile = nil
        targets[2].bmc.pinnedKey = bmc.certificate.pin
        targets.insert(("gone", BMCSettings(address: "https://127.0.0.1:\(down.port)", credentials: "lab-bmc")), at: 1)
        targets.append(("nosecret", BMCSettings(address: bmc.baseURL, credentials: "missing")))
        let observer = BMCObserver(secrets: SecretStore(folder: secrets.path), baseDirectory: secrets.path, concurrency: 2,
                                   options: quickOptions())
        let observations = await observer.observe(targets)
        #expect(observations.map(\.machine) == ["node-0", "gone", "node-1", "node-2", "nosecret"])
        #expect(observations.filter { $0.reading?.power == .off }.count == 3)
        #expect(observations[1].error?.kind == .unreachable)
        #expect(observations[4].error?.kind == .configuration)
        #expect(observations[4].error?.description.contains("missing.yaml") == true)
    }
}

/// A BMC that is not there: bounded retries, then a clear error. Needs no emulator.
@Suite("Unreachable BMC", .ownThread)
struct UnreachableTests {
    @Test("Connection refused: tried `attempts` times with backoff, then unreachable")
    func down() async throws {
        let down = try HeldPort()
        defer { withExtendedLifetime(down) {} }  // held until the test ends, not its last use
        let endpoint = try BMCEndpoint(address: "https://127.0.0.1:\(down.port)", username: "u", password: "secret-pw")
        let client = RedfishClient(endpoint: endpoint, options: quickOptions(attempts: 3))
        let error = await #expect(throws: BMCError.self) { try await client.power() }
        #expect(error?.kind == .unreachable)
        #expect(error?.description.contains("3 tries") == true)
        #expect(error?.description.contains("secret-pw") == false)
    }
}
