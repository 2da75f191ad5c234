import Testing
@testable import LMDB
