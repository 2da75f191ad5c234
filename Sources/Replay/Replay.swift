// The Replay module.
