import DployConfig
import DploySpec
import Testing

@Suite("tftp: dploy's TFTP server in dploy.yaml")
struct TFTPConfigTests {
    func parse(_ text: String) -> Result<ControllerConfig, ControllerConfigError> {
        ControllerConfig.parse(SpecFile(path: "dploy.yaml", contents: Array(text.utf8)), relativeTo: "/srv/dploy")
    }

    @Test("off when absent; listen, maxTransfers and transferTimeout read; a bad listen or unknown key refused at its line")
    func tftp() throws {
        #expect(try parse("source: {path: specs}\n").get().tftp == nil)
        let set = try parse("source: {path: specs}\ntftp:\n  listen: 0.0.0.0:69\n  maxTransfers: 32\n  transferTimeout: 2m\n").get()
        #expect(set.tftp?.listen == "0.0.0.0:69")
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
