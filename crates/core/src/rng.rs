//! The project's one pseudo-random number generator: SplitMix64, integer-only.
//!
//! Owns: the random stream and a few integer samplers (the synthetic market model, reconnect
//! jitter). Must not touch: state, time. No floats anywhere: `+ × /` on integers behave identically on every
//! platform and compiler, so one seed yields byte-identical frames everywhere (a `ln` or `powf`
//! from the platform's libm would not promise that).

/// SplitMix64 (Steele, Lea & Flood 2014): one `u64` of state, passes BigCrush, a handful of
/// instructions per draw. Plenty for a market simulation; not for anything adversarial.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for stream `stream` of `seed`. Streams are decorrelated by running the pair
    /// through the SplitMix finaliser, so seed 1/stream 2 and seed 2/stream 1 differ.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng(seed ^ 0x6A09_E667_F3BC_C908);
        let a = r.next_u64();
        let mut r = Rng(a ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03));
        r.next_u64();
        r
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n == 0`). Lemire's multiply-shift: the bias is below
    /// `n / 2^64`, far under anything a simulation can notice.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p32 / 2^32`.
    #[inline]
    pub fn chance(&mut self, p32: u64) -> bool {
        (self.next_u64() >> 32) < p32
    }

    /// Geometric number of trailing coin flips, capped: `P(k) = 2^-(k+1)` for `k < cap`.
    #[inline]
    pub fn halvings(&mut self, cap: u32) -> u32 {
        self.next_u64().trailing_zeros().min(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |seed, stream| {
            let mut r = Rng::new(seed, stream);
            (0..4).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(1, 2), draw(1, 2));
        assert_ne!(draw(1, 2), draw(2, 1));
        assert_ne!(draw(1, 2), draw(1, 3));
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut r = Rng::new(9, 0);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            seen[r.below(7) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_eq!(r.below(0), 0);
    }
}
