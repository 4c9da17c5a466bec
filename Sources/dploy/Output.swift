import Foundation

/// Results go to stdout, problems to stderr, so `dploy … > file` keeps only results.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Dates as ISO 8601, like the JSON API and the status file: a program reading
/// `dploy machines --json` and `/v1/machines` parses them one way.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
