/// Where a BMC's user name and password come from, by the name a machine's
/// `bmc.credentials` gives. The controller answers from its secrets folder; DployBMC reads no
/// files and knows nothing of the controller's config.
public protocol BMCCredentials: Sendable {
    /// The user name and password of the credentials called `name`, to be sent to the BMC at
    /// `address` (`unverifiedTLS`: without a certificate check, `insecure: true`). Throws when
    /// the credentials may not go there: a spec chooses the address, the secret's holder where
    /// its password may be sent. A thrown error's description says what is wrong and where (a
    /// file, a fix), and never holds a value.
    func login(_ name: String, for address: String, unverifiedTLS: Bool) throws -> (username: String, password: String)
}
