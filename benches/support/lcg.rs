//! A tiny deterministic pseudo-random generator (a 64-bit LCG) for generated
//! benchmark environments: the same seed gives the same environment, no `rand` needed.

/// The generator's state.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % n as u64).expect("below n")
    }
}
