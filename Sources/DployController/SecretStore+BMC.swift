import DployBMC
import DployConfig

/// BMC logins come from the secrets folder: `NAME.yaml` with `username` and `password`.
/// Here, in the controller, because DployBMC knows no config and DployConfig no BMC.
extension SecretStore: BMCCredentials {
    public func login(_ name: String, for address: String, unverifiedTLS: Bool) throws -> (username: String, password: String) {
        let secret = try read(name)
        guard let password = secret.password else {
            throw SecretError(file: path(of: name), problem: "a BMC secret needs 'password'")
        }
        if let refusal = bmcRefusal(secret, address: address, insecure: unverifiedTLS) {
            throw SecretError(file: path(of: name), problem: refusal + "; nothing was sent")
        }
        return (secret.username, password)
    }
}
