import DployConfig
import DploySpec
import DployTestSupport
import Testing

@Suite("dploy.yaml: store limits, DHCP and TFTP settings", .ownThread)
struct ControllerConfigTests {
    func parse(_ text: String) -> Result<ControllerConfig, ControllerConfigError> {
        ControllerConfig.parse(SpecFile(path: "dploy.yaml", contents: Array(text.utf8)), relativeTo: "/srv/dploy")
    }

    @Test("the defaults hold, each limit can be set, and a negative one is refused at its line")
    func limits() throws {
        let defaults = try parse("source: {path: specs}\n").get()
        #expect(defaults.retention.maxDiscovered == 10_000)
        #expect(defaults.retention.maxEvents == 100_000)
        #expect(defaults.attemptWindow == .seconds(600))
        #expect(try parse("source: {path: specs}\nserver: {attemptWindow: 5s}\n").get().attemptWindow == .seconds(5))

        let set = try parse("source: {path: specs}\nstore:\n  sqlite: state/dploy.db\n  maxDiscovered: 50\n  maxEvents: 500\n").get()
        #expect(set.retention.maxDiscovered == 50)
        #expect(set.retention.maxEvents == 500)
        #expect(set.storePath == "/srv/dploy/state/dploy.db")

        guard case .failure(let error) = parse("source: {path: specs}\nstore:\n  sqlite: state/dploy.db\n  maxDiscovered: -1\n") else {
            Issue.record("a negative limit was accepted")
            return
        }
        #expect(String(describing: error).contains("dploy.yaml:4:18"), "\(error)")
    }

    @Test("store.postgres: url, passwordFile and caFile read; a password in the URL, plain TCP off loopback, or both stores refused")
    func postgresStore() throws {
        let config = try parse("""
            source: {path: specs}
            store:
              postgres: {url: "postgres://dploy@db1.example/dploy", passwordFile: db.password, caFile: /etc/ssl/db-ca.pem}
            """).get()
        let postgres = try #require(config.postgres)
        #expect(postgres.settings.url == "postgres://dploy@db1.example/dploy" && postgres.settings.tls == .verifyFull)
        #expect(postgres.passwordFile == "/srv/dploy/db.password" && postgres.settings.caFile == "/etc/ssl/db-ca.pem")
        #expect(postgres.settings.password == nil, "the password is read when the store is opened, never kept in the config")
        #expect(config.storePath == "/srv/dploy/state/dploy.db", "the state folder stays where it was")
        #expect(try parse("source: {path: specs}\nstore: {postgres: {url: 'postgres://dploy@/dploy?host=/run/postgresql', tls: disable}}\n")
            .get().postgres?.settings.tls == .disable)

        func refusal(_ store: String) -> String {
            guard case .failure(let error) = parse("source: {path: specs}\nstore: \(store)\n") else { return "accepted" }
            return error.description
        }
        #expect(refusal("{postgres: {url: 'postgres://dploy:hunter2@db1/dploy'}}")
                == "dploy.yaml:2:25: error: 'store.postgres.url' holds a password; put it in 'passwordFile' (mode 0600) instead")
        #expect(refusal("{postgres: {url: 'postgres://dploy@db1/dploy?password=hunter2'}}").contains("holds a password"))
        #expect(refusal("{postgres: {url: 'postgres://dploy@db1/dploy?sslmode=disable'}}").contains("use 'tls'"))
        #expect(refusal("{postgres: {url: 'postgres://dploy@db1/dploy', tls: disable}}").contains("only for a Unix socket or loopback"))
        #expect(refusal("{postgres: {url: 'mysql://db1/dploy'}}").contains("must be a postgres:// URL"))
        #expect(refusal("{postgres: {url: 'postgres://dploy@db1/dploy?%70assword=hunter2'}}").contains("holds a password"),
                "as libpq decodes the key")
        #expect(refusal("{postgres: {url: 'postgres://dploy:S3CRET?@/dploy?host=/run/postgresql'}}").contains("holds a password"),
                "a ? before the @ is still the user part to libpq")
        #expect(refusal("{postgres: {url: 'postgres://localhost?@198.18.0.2:5499/dploy', tls: disable}}")
            .contains("only for a Unix socket or loopback"))
        for sneaky in ["postgres://dploy@localhost/dploy?hostaddr=198.18.0.5", "postgres://dploy@[::1]:5432,db2:5432/dploy",
                       "postgres://dploy@/dploy?host=/run/postgresql,db2", "postgres://dploy@%2Frun%2Fpostgresql,db2/dploy",
                       "postgres://dploy@/dploy?service=elsewhere"] {
            #expect(refusal("{postgres: {url: '\(sneaky)', tls: disable}}").contains("only for a Unix socket or loopback"), "\(sneaky)")
        }
        #expect(!refusal("{postgres: {url: 'postgres://dploy@localhost,127.0.0.1/dploy', tls: disable}}").contains("error"))
        #expect(refusal("{postgres: {url: 'postgres://dploy@db1/dploy', tls: sometimes}}").contains("must be one of verify-full, verify-ca, disable"))
        #expect(refusal("{sqlite: state/dploy.db, postgres: {url: 'postgres://dploy@db1/dploy'}}").contains("'sqlite' or 'postgres', not both"))
        #expect(refusal("{maxEvents: 5}").contains("'store' needs 'sqlite' (a file) or 'postgres' (a shared database)"))
        #expect(!refusal("{postgres: {url: 'postgres://dploy:hunter2@db1/dploy'}}").contains("hunter2"), "a refused password is never echoed")
    }

    @Test("output.watch and output.verifyInterval: on and 10 minutes by default, set, and a bad value refused at its line")
    func outputObservation() throws {
        let defaults = try parse("source: {path: specs}\n").get().outputObservation
        #expect(defaults.watch && defaults.verifyInterval == .seconds(600))
        let set = try parse("source: {path: specs}\noutput: {http: out/http, watch: false, verifyInterval: 30s}\n").get()
        #expect(!set.outputObservation.watch && set.outputObservation.verifyInterval == .seconds(30))
        #expect(set.httpOutput == "/srv/dploy/out/http")
        for (output, message) in [
            ("output:\n  verifyInterval: 0s\n", "dploy.yaml:3:19: error:"),
            ("output:\n  watch: sometimes\n", "dploy.yaml:3:10: error:"),
        ] {
            guard case .failure(let error) = parse("source: {path: specs}\n" + output) else {
                Issue.record("accepted: \(output)")
                continue
            }
            #expect(String(describing: error).contains(message), "\(error)")
        }
    }

    @Test("output.snapshots: unset, per-machine boot files are written only for what dploy does not serve; true or false decides; a bad value is refused at its line")
    func snapshots() throws {
        for (settings, ipxe, tftp) in [
            ("", true, true),
            ("server: {listen: \"127.0.0.1:8080\"}\n", false, true),
            ("tftp: {listen: \"127.0.0.1:69\"}\n", true, false),
            ("server: {listen: \"127.0.0.1:8080\"}\ntftp: {listen: \"127.0.0.1:69\"}\n", false, false),
            ("output: {snapshots: true}\nserver: {listen: \"127.0.0.1:8080\"}\ntftp: {listen: \"127.0.0.1:69\"}\n", true, true),
            ("output: {snapshots: false}\n", false, false),
        ] {
            let written = try parse("source: {path: specs}\n" + settings).get().writesSnapshots
            #expect(written.ipxe == ipxe && written.tftp == tftp, "\(settings)")
        }
        guard case .failure(let error) = parse("source: {path: specs}\noutput:\n  snapshots: auto\n") else {
            Issue.record("output.snapshots: auto was accepted")
            return
        }
        #expect(String(describing: error).contains("dploy.yaml:3:14: error: 'output.snapshots' must be true or false"), "\(error)")
    }

    @Test("dhcp.network: required for dnsmasq-proxy, refused for a server that hands out addresses, checked as a network")
    func proxyNetwork() throws {
        let base = "source: {path: specs}\nstore: {sqlite: state/dploy.db}\n"
        let proxy = try parse(base + "dhcp: {backend: dnsmasq-proxy, config: out/dhcp/dploy.conf, network: 198.18.0.0/24}\n").get()
        #expect(proxy.dhcp?.network?.netmask == "255.255.255.0")
        for (dhcp, message) in [
            ("{backend: dnsmasq-proxy, config: d.conf}", "dploy.yaml:3:7: error: missing required field 'dhcp.network'"),
            ("{backend: dnsmasq, config: d.conf, network: 198.18.0.0/24}",
             "dploy.yaml:3:51: error: 'dhcp.network' is for backend dnsmasq-proxy only: dnsmasq hands out the addresses itself"),
            ("{backend: dnsmasq-proxy, config: d.conf, network: 198.18.0.0}", #"is not an IPv4 network: "198.18.0.0" (write it as 198.18.0.0/24)"#),
            // inet_pton stops at a NUL: the rest must not reach dnsmasq's config as lines.
            (#"{backend: dnsmasq-proxy, config: d.conf, network: "198.18.0.0\0\nenable-tftp\n#/24"}"#,
             #"is not an IPv4 network: "198.18.0.0\u{0}\nenable-tftp\n#/24""#),
            ("{backend: dnsmasq-proxy, config: d.conf, network: 198.18.0.0/+24}", "is not an IPv4 network"),
            ("{backend: dnsmasq-proxy, config: d.conf, network: 198.18.0.0/024}", "is not an IPv4 network"),
        ] {
            guard case .failure(let error) = parse(base + "dhcp: \(dhcp)\n") else {
                Issue.record("accepted: \(dhcp)")
                continue
            }
            #expect(String(describing: error).contains(message), "\(error)")
        }
    }

    @Test("off when absent; listen, maxTransfers and transferTimeout read; a bad listen or unknown key refused at its line")
    func tftp() throws {
        #expect(try parse("source: {path: specs}\n").get().tftp == nil)
        let set = try parse("source: {path: specs}\ntftp:\n  listen: 0.0.0.0:69\n  maxTransfers: 32\n  transferTimeout: 2m\n").get()
        #expect(set.tftp?.listen == "0.0.0.0:69")
        #expect(set.tftp?.address?.host == "0.0.0.0" && set.tftp?.address?.port == 69)
        #expect(try parse("source: {path: specs}\ntftp: {listen: \"[::]:6969\"}\n").get().tftp?.address?.host == "::")
        #expect(set.tftp?.maxTransfers == 32)
        #expect(set.tftp?.transferTimeout == .seconds(120))
        #expect(try parse("source: {path: specs}\ntftp: {listen: \"[::]:6969\"}\n").get().tftp?.maxTransfers == 256)

        for (text, expected) in [
            ("source: {path: specs}\ntftp:\n  listen: localhost\n", "dploy.yaml:3:11: error: 'tftp.listen' must be HOST:PORT"),
            ("source: {path: specs}\ntftp:\n  listen: host:70000\n", "dploy.yaml:3:11"),
            ("source: {path: specs}\ntftp: {}\n", "listen"),
            ("source: {path: specs}\ntftp:\n  listen: 0.0.0.0:69\n  blksize: 1468\n", "dploy.yaml:4:3"),
        ] {
            guard case .failure(let error) = parse(text) else {
                Issue.record("accepted: \(text)")
                continue
            }
            #expect(String(describing: error).contains(expected), "\(error)")
        }
    }
}
