import Foundation

/// Checks a commit's SSH signature against an allowed-signers file with OpenSSH's own
/// `ssh-keygen -Y`, the tool git itself uses for `gpg.format ssh`.
struct CommitVerifier {
    var allowedSigners: String

    func verify(_ id: GitObjectID, in repository: GitRepository) throws {
        guard let (signature, signedData) = try repository.signature(of: id) else {
            throw SourceError.unsigned(commit: id.short)
        }
        guard String(decoding: signature.prefix(40), as: UTF8.self).contains("BEGIN SSH SIGNATURE") else {
            throw SourceError.badSignature(commit: id.short, reason: "the signature is not an SSH signature")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let signatureFile = scratch.appendingPathComponent("commit.sig")
        try Data(signature).write(to: signatureFile)

        // Which principal does the allowed-signers file give this key? Then verify as that one.
        let principals = try sshKeygen(["-Y", "find-principals", "-f", allowedSigners, "-s", signatureFile.path], input: [])
        guard principals.status == 0, let principal = principals.output.split(separator: "\n").first else {
            throw SourceError.badSignature(commit: id.short, reason: "the signing key is not in \(allowedSigners)")
        }
        let verified = try sshKeygen(["-Y", "verify", "-f", allowedSigners, "-I", String(principal), "-n", "git",
                                      "-s", signatureFile.path], input: signedData)
        guard verified.status == 0 else {
            throw SourceError.badSignature(commit: id.short,
                                           reason: verified.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    private func sshKeygen(_ arguments: [String], input: [UInt8]) throws -> (status: Int32, output: String) {
        guard let tool = ["/usr/bin/ssh-keygen", "/bin/ssh-keygen", "/usr/local/bin/ssh-keygen"]
            .first(where: FileManager.default.isExecutableFile(atPath:)) else {
            throw SourceError.verifierMissing("ssh-keygen")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
