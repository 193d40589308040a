//! The `microstate-tui` binary: prepares the process, parses the command line and hands over to
//! [`cli`] (one module per subcommand). Errors become one `error: …` line and a failure code.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // candle's CPU kernels read RAYON_NUM_THREADS on every matmul and, above one thread, pay a
    // rayon wake-up per small matmul (BUILD-NOTES trap 1: 28 µs vs 3 µs). Set it before any
    // other thread exists; an explicit value from the environment is kept.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: the first statement of `main`: no other thread runs yet (no runtime, no
        // logger, no thread pool), so nothing can read the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("RAYON_NUM_THREADS", "1")
        };
    }
    microstate_io::ingest::tls::install_default_provider();
    match cli::run(cli::Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            // Escaped: an error may quote a file or a peer (no control bytes reach the terminal).
            eprintln!(
                "error: {}",
                microstate_core::limits::escape_controls(&format!("{e:#}"))
            );
            ExitCode::FAILURE
        }
    }
}
