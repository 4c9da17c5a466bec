import Yams

extension MappingReader {
    /// The top mapping of a file that holds one YAML document and is not a spec, such as the
    /// controller's `dploy.yaml` (DployConfig): read with the limits, YAML 1.2 scalars and
    /// diagnostics of specs, so both files report problems the same way. nil when there is no
    /// mapping to read; why is in `log`.
    /// - Parameter what: the file's name for people, as in "the controller config is empty".
    package static func document(_ file: SpecFile, log: DiagnosticLog, describedAs what: String) -> MappingReader? {
        let text: String
        switch YAMLPreflight.text(of: file.contents, file: file.path, limits: .default) {
        case .success(let decoded): text = decoded
        case .failure(let diagnostic):
            log.append(diagnostic)
            return nil
        }
        do {
            guard let root = try Parser(yaml: text, resolver: .basic, encoding: .utf8).singleRoot() else {
                log.error("\(what) is empty", at: nil)
                return nil
            }
            return MappingReader(root, path: "", log: log)
        } catch let error as YamlError {
            log.append(YAMLDocuments.diagnostic(for: error, file: file.path))
        } catch {
            log.error("cannot read YAML: \(error)", at: nil)
        }
        return nil
    }
}
