import DployBMC
import DployConfig
import DployController
import DploySpec
import DployTestSupport
import Foundation
import Testing

/// Issue 19, finding 1, at the last gate: whatever loaded the specs, an endpoint (what every
/// BMC connection is made from) is not built, so nothing connects, when the password may not
/// go to the address: plain http, an address the secret does not list, or insecure: true
/// without the secret's consent.
@Test("an endpoint is refused before any connection when its secret does not allow the address or the TLS", .ownThread)
func endpointRefusedByItsSecret() throws {
    let secrets = try TemporaryFolder(prefix: "dploy-bmc")
    try secrets.write("lab.yaml", "username: admin\npassword: 'hunter2'\nallowedAddresses: [\"https://198.18.0.1*\"]\n")
    let store = SecretStore(folder: secrets.path)
    func refusal(_ settings: BMCSettings) -> String? {
        do {
            _ = try BMCEndpoint.from(settings, secrets: store, baseDirectory: secrets.path)
            return nil
        } catch {
            return error.description
        }
    }
    #expect(refusal(BMCSettings(address: "https://198.18.0.121", credentials: "lab")) == nil)
    let http = try #require(refusal(BMCSettings(address: "http://198.18.0.121", credentials: "lab")))
    #expect(http.contains("BMC credentials go only over https://") && http.contains("nothing was sent"))
    let elsewhere = try #require(refusal(BMCSettings(address: "https://203.0.113.9", credentials: "lab")))
    #expect(elsewhere.contains("'https://203.0.113.9' is not among the allowedAddresses of secret 'lab'"))
    let insecure = try #require(refusal(BMCSettings(address: "https://198.18.0.121", credentials: "lab", insecure: true)))
    #expect(insecure.contains("allowInsecureTLS: true"))
    for text in [http, elsewhere, insecure] { #expect(!text.contains("hunter2")) }
}
