//! The pressure label rule: DOWN / FLAT / UP of a mid move against a dead band. One rule for
//! training, live scoring and evaluation.
//!
//! Owns: the class indices and names, and the comparison. Must not touch: how wide the band is
//! (the dead band's kinds are in [`super::DeadBand`]), the model.

/// Class names, in output order.
pub const CLASSES: [&str; 3] = ["DOWN", "FLAT", "UP"];
pub const DOWN: u32 = 0;
pub const FLAT: u32 = 1;
pub const UP: u32 = 2;

/// The label of a mid move from `mid0` to `mid1` with a dead band `width` wide (price units,
/// see [`DeadBand::width`]): FLAT when |mid1 − mid0| is below it, else DOWN or UP. A zero width
/// makes only an unchanged mid FLAT. `None` when an input is not a finite positive number.
pub fn label(mid0: f64, mid1: f64, width: f64) -> Option<u32> {
    if !(mid0.is_finite()
        && mid1.is_finite()
        && mid0 > 0.0
        && mid1 > 0.0
        && width.is_finite()
        && width >= 0.0)
    {
        return None;
    }
    let d = mid1 - mid0;
    // Prices are decimal numbers held in f64: a move of exactly one band must not read as
    // slightly less (0.3 − 0.2 < 0.1 in binary), so compare with a relative tolerance.
    let eps = 1e-9 * mid0.abs();
    if d.abs() + eps < width || d == 0.0 {
        Some(FLAT)
    } else if d > 0.0 {
        Some(UP)
    } else {
        Some(DOWN)
    }
}
