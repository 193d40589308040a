//! Helpers shared by the app's integration tests: the workspace's test kit (where the real
//! captures are, the independent book rebuild) and the real binary.
#![allow(dead_code, unused_imports)]

pub use microstate_testkit::*;

/// The real binary, as a user runs it.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_microstate-tui"))
}
