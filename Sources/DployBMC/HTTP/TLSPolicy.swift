import DploySpec

/// How a BMC's certificate is checked. BMCs ship self-signed certificates, so an operator
/// either gives the CA that signed the replacement (`caFile`), pins the certificate the BMC
/// has (`certificateFingerprint`) or its key (`pinnedPublicKey`), or, only when the spec says
/// so, turns checking off.
public struct TLSPolicy: Hashable, Sendable {
    /// A PEM file of CAs to trust instead of the system's.
    public var caFile: String?
    /// The SHA-256 of the certificate's public key (SubjectPublicKeyInfo), as
    /// `sha256//BASE64`, the form `curl --pinnedpubkey` takes. curl checks it during the
    /// handshake, before a byte of the request (or a password) is sent. When set, it replaces
    /// the CA check: a pinned key is the stronger statement. Get it from the BMC with
    /// `openssl s_client -connect HOST:443 </dev/null | openssl x509 -pubkey -noout |
    /// openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`.
    public var pinnedPublicKey: String?
    /// The SHA-256 of the whole certificate, as `openssl x509 -fingerprint -sha256` and iLO's
    /// certificate page show it. Checked inside OpenSSL's handshake, before a byte of the
    /// request is sent; when set, it replaces the CA and host name checks (with
    /// `pinnedPublicKey` also set, both must match).
    public var certificateFingerprint: CertificateFingerprint?
    /// No certificate check at all. Only from `insecure: true` in the spec; warned once.
    public var insecure: Bool

    public init(caFile: String? = nil, pinnedPublicKey: String? = nil, certificateFingerprint: CertificateFingerprint? = nil,
                insecure: Bool = false) {
        self.caFile = caFile
        self.pinnedPublicKey = pinnedPublicKey
        self.certificateFingerprint = certificateFingerprint
        self.insecure = insecure
    }

    /// The system CAs, host name checked.
    public static let system = TLSPolicy()
}
