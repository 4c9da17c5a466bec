import DployApply
import DployPlan
import DployRender
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

@Suite("Observed files, through the daemon's observation cache")
struct ObservedFilesTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("dploy-observed-\(UUID().uuidString)").path
    var folders: OutputFolders { OutputFolders(http: root + "/http", tftp: root + "/tftp", dhcp: root + "/dhcp") }

    func write(_ path: String, _ text: String) throws {
        let full = root + "/" + path
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }

    func read(_ cache: ObservationCache) throws -> [String: ObservedFile] {
        Dictionary(uniqueKeysWithValues: try ObservedFiles.read(folders, dhcpFileNames: ["dploy.hosts"], cache: cache)
            .map { ($0.key.description, $0.value) })
    }

    @Test("sees every edit, even one that keeps the size and puts the old mtime back, and files added, replaced or removed")
    func seesEdits() throws {
        defer { try? FileManager.default.removeItem(atPath: root) }
        try write("http/ipxe/94-18-82-00-00-01.ipxe", "#!ipxe\n# dploy: web-01 (94:18:82:00:00:01)\nexit\n")
        try write("http/installers/web-01/preseed.cfg", "d-i one\n")
        try write("tftp/pxelinux.cfg/01-94-18-82-00-00-01", "# dploy: web-01 (94:18:82:00:00:01)\n")
        try write("dhcp/dploy.hosts", "hosts\n")
        let cache = ObservationCache()
        let first = try read(cache)
        #expect(first.keys.sorted() == ["dhcp/dploy.hosts", "http/installers/web-01/preseed.cfg",
                                        "http/ipxe/94-18-82-00-00-01.ipxe", "tftp/pxelinux.cfg/01-94-18-82-00-00-01"])
        #expect(first["http/ipxe/94-18-82-00-00-01.ipxe"]?.owner == "web-01")
        #expect(try read(cache) == first, "nothing changed, nothing differs")

        // Same size, and the modification time put back as it was: only the change time moved.
        let preseed = root + "/http/installers/web-01/preseed.cfg"
        var before = stat()
        #expect(lstat(preseed, &before) == 0)
        let handle = try #require(FileHandle(forWritingAtPath: preseed), "written in place: the same inode")
        handle.write(Data("d-i two\n".utf8))
        try handle.close()
        let times = [before.st_atim, before.st_mtim]
        #expect(utimensat(AT_FDCWD, preseed, times, 0) == 0, "the old modification time, to the nanosecond")
        let edited = try read(cache)
        #expect(edited["http/installers/web-01/preseed.cfg"]?.digest == ObservedFile(contents: Array("d-i two\n".utf8)).digest)

        // Replaced by rename (a new inode), one added in a new folder, one removed.
        try write("http/ipxe/.staged", "#!ipxe\nexit 1\n")
        #expect(rename(root + "/http/ipxe/.staged", root + "/http/ipxe/94-18-82-00-00-01.ipxe") == 0)
        try FileManager.default.removeItem(atPath: root + "/tftp/pxelinux.cfg/01-94-18-82-00-00-01")
        try write("http/installers/web-02/preseed.cfg", "d-i web-02\n")
        let now = try read(cache)
        #expect(now.keys.sorted() == ["dhcp/dploy.hosts", "http/installers/web-01/preseed.cfg",
                                      "http/installers/web-02/preseed.cfg", "http/ipxe/94-18-82-00-00-01.ipxe"])
        #expect(now["http/ipxe/94-18-82-00-00-01.ipxe"] == ObservedFile(contents: Array("#!ipxe\nexit 1\n".utf8)))
        #expect(now == (try read(ObservationCache())), "the cache agrees with a fresh read")
    }
}
