// The Zstd module.
