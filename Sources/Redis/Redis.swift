// The Redis module.
