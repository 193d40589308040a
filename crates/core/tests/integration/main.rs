//! The core crate's integration tests, one binary (it links the core and proptest only: no
//! runtime, no screen, no candle).
//!
//! - `book_props`: the book against a naive model, the sync machine for any snapshot timing.
//!
//! Proptest keeps its regression seeds in `tests/proptest-regressions/<module>.txt`.

mod book_props;
