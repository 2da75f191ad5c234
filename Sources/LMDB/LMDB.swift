// The LMDB module.
