//! The one integration-test binary: every case runs the real `berth` binary
//! against real processes and servers.

mod cases;
mod support;
