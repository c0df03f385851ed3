//! Test support for tufkit: repository simulator and loopback server.
