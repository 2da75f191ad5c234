import CRdKafka

/// Facts about the librdkafka library loaded at run time.
///
/// The package compiles against Debian's librdkafka 2.0.2 headers but must run with a
/// newer library (2.16, put first on `LD_LIBRARY_PATH` by `./dev env`) to talk to the
/// Tansu broker; these values say which one the process actually loaded.
public enum Kafka {
    /// The loaded library's version text, e.g. "2.16.0".
    public static var runtimeVersion: String { String(cString: rd_kafka_version_str()) }

    /// The loaded library's version as librdkafka encodes it: `0xMMmmrrpp`
    /// (major, minor, revision, pre-release; 0xff for a release), e.g. 0x021000ff for 2.16.0.
    public static var runtimeVersionNumber: Int { Int(rd_kafka_version()) }

    /// The loaded library's (major, minor, revision), for comparisons.
    public static var runtimeVersionComponents: (major: Int, minor: Int, revision: Int) {
        let number = runtimeVersionNumber
        return ((number >> 24) & 0xff, (number >> 16) & 0xff, (number >> 8) & 0xff)
    }

    /// The version of the headers this module was compiled against (`RD_KAFKA_VERSION`).
    public static var compiledVersionNumber: Int { Int(RD_KAFKA_VERSION) }
}
