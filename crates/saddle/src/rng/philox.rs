//! Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror and
//! Shaw, "Parallel random numbers: as easy as 1, 2, 3" (SC'11), as shipped in
//! D. E. Shaw Research's Random123 library.
//!
//! The generator is written here rather than taken from a crate because it is
//! the same generator — same key/counter layout, same output words, same
//! word-to-float conversion — that a later GPU backend (CUDA) will use, so that
//! the CPU and the GPU draw identical streams for the same `(seed, cell, run)`.
//! Owning the few dozen lines of the block function lets us pin every detail of
//! that contract and check it against Random123's known-answer vectors.
//!
//! The module has three layers:
//!
//! * [`philox4x32_10`]: the pure block function, mapping a 128-bit counter and
//!   a 64-bit key to 128 random bits;
//! * [`Philox4x32`]: a stream that walks the counter block by block and hands
//!   out words, floats, and (through [`rand_core::TryRng`] /
//!   [`rand_core::Rng`]) anything `rand_distr` can sample;
//! * [`Bits`]: cheap fair coin flips, 32 per word.

use core::convert::Infallible;

use rand_core::{SeedableRng, TryRng};

/// First Philox multiplier (applied to counter word 0).
const PHILOX_M4X32_0: u32 = 0xD251_1F53;
/// Second Philox multiplier (applied to counter word 2).
const PHILOX_M4X32_1: u32 = 0xCD9E_8D57;
/// Weyl increment of key word 0 between rounds (golden ratio).
const PHILOX_W32_0: u32 = 0x9E37_79B9;
/// Weyl increment of key word 1 between rounds (sqrt(3) - 1).
const PHILOX_W32_1: u32 = 0xBB67_AE85;

/// 2^-53, the spacing of the grid [`Philox4x32::next_f64`] draws from.
const TWO_POW_MINUS_53: f64 = 1.0 / (1u64 << 53) as f64;
/// Mask keeping the low 53 bits of a `u64`.
const MASK_53: u64 = (1u64 << 53) - 1;

/// Full 64-bit product of two 32-bit words, returned as `(hi, lo)`.
#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let p = u64::from(a) * u64::from(b);
    ((p >> 32) as u32, p as u32)
}

/// One Philox4x32 round (without the key bump).
#[inline(always)]
fn round(c: [u32; 4], k: [u32; 2]) -> [u32; 4] {
    let (hi0, lo0) = mulhilo(PHILOX_M4X32_0, c[0]);
    let (hi1, lo1) = mulhilo(PHILOX_M4X32_1, c[2]);
    [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0]
}

/// Weyl key schedule: bump the key between rounds.
#[inline(always)]
fn bump_key(k: [u32; 2]) -> [u32; 2] {
    [
        k[0].wrapping_add(PHILOX_W32_0),
        k[1].wrapping_add(PHILOX_W32_1),
    ]
}

/// The Philox4x32-10 block function: 10 rounds over a 128-bit counter `ctr`
/// under the 64-bit key `key`, returning 128 random bits.
///
/// Each round computes the 64-bit products `hi0:lo0 = 0xD2511F53 * c0` and
/// `hi1:lo1 = 0xCD9E8D57 * c2` and replaces the counter by
/// `[hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0]`; between rounds the key is
/// bumped by `(0x9E3779B9, 0xBB67AE85)` (wrapping). There is no bump after the
/// last round, exactly as in Random123's `philox4x32_R(10, ctr, key)`, whose
/// output this reproduces word for word (see the known-answer tests).
///
/// This is a pure function: the same `(ctr, key)` always gives the same block,
/// on any thread, in any order, on the CPU or the GPU.
#[inline(always)]
#[must_use]
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = ctr;
    let mut k = key;
    c = round(c, k);
    for _ in 1..10 {
        k = bump_key(k);
        c = round(c, k);
    }
    c
}

/// The key of the streams of `seed`: `[seed as u32, (seed >> 32) as u32]` (the layout of
/// [`Philox4x32`]).
#[inline(always)]
fn key_of(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// Block `block` of `N` consecutive runs' streams at once: that block of
/// [`Philox4x32::new`]`(seed, cell, first + i)` for i in 0..N, word j of run i at
/// `[j][i]`. The same rounds as [`philox4x32_10`], written across runs (structure of
/// arrays, 32 × 32 → 64-bit products in 64-bit lanes) so the compiler vectorises them.
/// [`LaneWords`] reads streams this way.
#[inline(always)]
#[must_use]
pub fn blocks<const N: usize>(seed: u64, cell: u32, first: u32, block: u64) -> [[u32; N]; 4] {
    let mut k = key_of(seed);
    // Counter [block_lo, run, cell, block_hi]; carried as u64 lanes so each product is one
    // vector multiply.
    let mut c0 = [u64::from(block as u32); N];
    let mut c1: [u64; N] = std::array::from_fn(|i| u64::from(first.wrapping_add(i as u32)));
    let mut c2 = [u64::from(cell); N];
    let mut c3 = [block >> 32; N];
    for r in 0..10 {
        if r > 0 {
            k = bump_key(k);
        }
        let (k0, k1) = (u64::from(k[0]), u64::from(k[1]));
        for i in 0..N {
            // The masks tell the compiler both operands fit in 32 bits, so the product is one
            // 32 × 32 → 64-bit multiply (`vpmuludq`), not a full 64-bit one (`vpmullq`, three
            // times the work on some processors). The values do not change: every lane holds
            // a 32-bit word.
            let p0 = u64::from(PHILOX_M4X32_0) * (c0[i] & 0xFFFF_FFFF);
            let p1 = u64::from(PHILOX_M4X32_1) * (c2[i] & 0xFFFF_FFFF);
            let n0 = (p1 >> 32) ^ c1[i] ^ k0;
            let n2 = (p0 >> 32) ^ c3[i] ^ k1;
            c1[i] = p1 & 0xFFFF_FFFF;
            c3[i] = p0 & 0xFFFF_FFFF;
            c0[i] = n0;
            c2[i] = n2;
        }
    }
    // Plain loops: `array::map` is not always inlined here.
    let mut out = [[0u32; N]; 4];
    for (o, c) in out.iter_mut().zip([c0, c1, c2, c3]) {
        for (o, x) in o.iter_mut().zip(c) {
            *o = x as u32;
        }
    }
    out
}

/// The streams of `N` consecutive runs, read in lockstep: each call hands out the next word
/// of every run's stream at once, their blocks generated across runs ([`blocks`]). Word for
/// word the streams [`Philox4x32::new`]`(seed, cell, first + i)` read by
/// [`Philox4x32::next_word`], as long as every run draws the same number of words;
/// [`LaneWords::streams`] hands each run its own stream from where the lanes are.
#[derive(Clone, Debug)]
pub struct LaneWords<const N: usize> {
    seed: u64,
    cell: u32,
    first: u32,
    /// Index of the block in `words`.
    block: u64,
    /// The block's words: word j of run i at `[j][i]`.
    words: [[u32; N]; 4],
    /// The next word to hand out; 4 once the block is used up.
    idx: usize,
}

impl<const N: usize> LaneWords<N> {
    /// The streams of runs `first..first + N` (wrapping) of `cell`, at their start.
    #[inline(always)]
    #[must_use]
    pub fn new(seed: u64, cell: u32, first: u32) -> Self {
        LaneWords {
            seed,
            cell,
            first,
            block: 0,
            words: blocks(seed, cell, first, 0),
            idx: 0,
        }
    }

    /// The next word of every run's stream.
    #[inline(always)]
    pub fn next_words(&mut self) -> [u32; N] {
        if self.idx >= 4 {
            self.block += 1;
            self.words = blocks(self.seed, self.cell, self.first, self.block);
            self.idx = 0;
        }
        let w = self.words[self.idx];
        self.idx += 1;
        w
    }

    /// The next uniform of every run's stream: [`Philox4x32::next_f64`] across runs.
    #[inline(always)]
    pub fn next_f64(&mut self) -> [f64; N] {
        let a = self.next_words();
        let b = self.next_words();
        let mut u = [0.0; N];
        for ((u, a), b) in u.iter_mut().zip(a).zip(b) {
            *u = u01(a, b);
        }
        u
    }

    /// Each run's own stream, positioned where the lanes are (the same next word).
    #[must_use]
    pub fn streams(&self) -> [Philox4x32; N] {
        std::array::from_fn(|i| {
            let block = [0, 1, 2, 3].map(|j| self.words[j][i]);
            let run = self.first.wrapping_add(i as u32);
            Philox4x32::resume(self.seed, self.cell, run, self.block, block, self.idx)
        })
    }
}

/// A Philox4x32-10 stream: successive blocks of a fixed key, read word by word.
///
/// # Key and counter layout
///
/// For [`Philox4x32::new`]`(seed, cell, run)`:
///
/// * `key = [seed as u32, (seed >> 32) as u32]`;
/// * the counter of block `b` (a 64-bit block index) is
///   `ctr = [block_lo, run, cell, block_hi]` with `block_lo = b as u32` and
///   `block_hi = (b >> 32) as u32`.
///
/// The block index starts at 0 and increases by one per 128-bit block
/// (`block_lo` wraps into `block_hi`). The stream yields the four `u32` words
/// of each block in order `c[0], c[1], c[2], c[3]`, so word `4 * b + i` of the
/// stream is `philox4x32_10([b_lo, run, cell, b_hi], key)[i]`. Any party that
/// knows `(seed, cell, run)` — another thread, another process, a CUDA kernel —
/// can therefore reproduce, or jump straight to, any part of the stream.
///
/// # Traits
///
/// `Philox4x32` implements [`rand_core::TryRng`] with
/// `Error = Infallible`, hence [`rand_core::Rng`], so any `rand_distr`
/// distribution can sample from it. [`SeedableRng`] is implemented with an
/// 8-byte seed (the little-endian `seed`, with `cell = run = 0`).
///
/// The type is deliberately not `Copy`: copying a stream by accident would
/// silently replay its draws.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Philox4x32 {
    /// The Philox key, fixed for the life of the stream.
    key: [u32; 2],
    /// Counter of the next block to generate.
    ctr: [u32; 4],
    /// The current block of output words.
    buf: [u32; 4],
    /// Index in `buf` of the next word to hand out; 4 means "buffer empty".
    idx: usize,
}

impl Philox4x32 {
    /// The stream keyed by `(seed, cell, run)`, positioned at block 0.
    ///
    /// `key = [seed as u32, (seed >> 32) as u32]` and the first block's counter
    /// is `[0, run, cell, 0]`; see the type documentation for the layout.
    #[must_use]
    pub fn new(seed: u64, cell: u32, run: u32) -> Self {
        Self::from_key_counter(key_of(seed), [0, run, cell, 0])
    }

    /// [`Philox4x32::new`]`(seed, cell, run)` after `idx` words of its block `block`, given
    /// that block's words (computed elsewhere, e.g. by [`blocks`] for many runs at once):
    /// the same stream, word for word, from there on.
    #[must_use]
    pub fn resume(seed: u64, cell: u32, run: u32, block: u64, words: [u32; 4], idx: usize) -> Self {
        let next = block.wrapping_add(1);
        Self {
            buf: words,
            idx: idx.min(4),
            ..Self::from_key_counter(key_of(seed), [next as u32, run, cell, (next >> 32) as u32])
        }
    }

    /// A stream with an explicit key whose first block uses counter `ctr`.
    ///
    /// Later blocks follow the same layout as [`Philox4x32::new`]: `ctr[0]`
    /// (block_lo) is incremented per block, carrying into `ctr[3]`
    /// (block_hi); `ctr[1]` and `ctr[2]` never change.
    #[must_use]
    pub fn from_key_counter(key: [u32; 2], ctr: [u32; 4]) -> Self {
        Self {
            key,
            ctr,
            buf: [0; 4],
            idx: 4,
        }
    }

    /// Generates the block at the current counter and advances the counter.
    #[inline(always)]
    fn generate(&mut self) -> [u32; 4] {
        let out = philox4x32_10(self.ctr, self.key);
        let (lo, carry) = self.ctr[0].overflowing_add(1);
        self.ctr[0] = lo;
        if carry {
            self.ctr[3] = self.ctr[3].wrapping_add(1);
        }
        out
    }

    /// The next 32-bit word of the stream.
    #[inline(always)]
    pub fn next_word(&mut self) -> u32 {
        if self.idx >= 4 {
            self.buf = self.generate();
            self.idx = 0;
        }
        let w = self.buf[self.idx];
        self.idx += 1;
        w
    }

    /// The next whole 128-bit block, as four words `c[0], c[1], c[2], c[3]`.
    ///
    /// If some words of the current block have already been handed out by
    /// [`next_word`](Self::next_word) (or the methods built on it), the rest
    /// of that block is **discarded**: the returned block is always a fresh
    /// one, aligned on a block boundary, and the next word drawn afterwards
    /// comes from the block after it. This keeps block-wise consumers (for
    /// instance the GPU, which draws a whole block per call) aligned with the
    /// counter.
    #[inline(always)]
    pub fn next_block(&mut self) -> [u32; 4] {
        self.idx = 4;
        self.generate()
    }

    /// A uniform `f64` in `[0, 1)` with 53 random bits.
    ///
    /// Two consecutive words `a` then `b` are combined as
    ///
    /// ```text
    /// (((a as u64) << 21) ^ (b as u64)) & ((1 << 53) - 1)
    /// ```
    ///
    /// and the result is multiplied by `2^-53`. This is exactly the CUDA
    /// reference `u01(x, y)`, so CPU and GPU produce bit-identical floats
    /// from the same words. The result is a multiple of `2^-53`, never 1.0.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        let a = self.next_word();
        let b = self.next_word();
        u01(a, b)
    }
}

/// The word-pair to `[0, 1)` conversion used by [`Philox4x32::next_f64`].
#[inline(always)]
fn u01(a: u32, b: u32) -> f64 {
    let bits = ((u64::from(a) << 21) ^ u64::from(b)) & MASK_53;
    bits as f64 * TWO_POW_MINUS_53
}

impl TryRng for Philox4x32 {
    type Error = Infallible;

    /// Equal to [`Philox4x32::next_word`].
    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.next_word())
    }

    /// Two consecutive words, the first one in the low half:
    /// `lo | (hi << 32)`.
    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let lo = self.next_word();
        let hi = self.next_word();
        Ok(u64::from(lo) | (u64::from(hi) << 32))
    }

    /// Consecutive words written as little-endian bytes; a trailing partial
    /// chunk takes the low bytes of one more word (its other bytes are
    /// dropped).
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let mut chunks = dst.chunks_exact_mut(4);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next_word().to_le_bytes());
        }
        let rem = chunks.into_remainder();
        if !rem.is_empty() {
            let n = rem.len();
            rem.copy_from_slice(&self.next_word().to_le_bytes()[..n]);
        }
        Ok(())
    }
}

impl SeedableRng for Philox4x32 {
    /// The 64-bit seed in little-endian byte order.
    type Seed = [u8; 8];

    /// `Philox4x32::new(u64::from_le_bytes(seed), 0, 0)`.
    fn from_seed(seed: [u8; 8]) -> Self {
        Self::new(u64::from_le_bytes(seed), 0, 0)
    }

    /// `Philox4x32::new(state, 0, 0)`.
    ///
    /// Overrides the default (which scrambles `state` through PCG32 first) so
    /// that `seed_from_u64(s)`, `from_seed(s.to_le_bytes())` and
    /// `new(s, 0, 0)` are all the same stream. Philox needs no scrambling:
    /// low-Hamming-weight keys such as 0 or 1 give good streams.
    fn seed_from_u64(state: u64) -> Self {
        Self::new(state, 0, 0)
    }
}

/// A source of cheap fair coin flips drawn from a [`Philox4x32`] stream.
///
/// One 32-bit word feeds 32 fair coin flips: bits are taken from the lowest
/// bit upward, and a new word is drawn with [`Philox4x32::next_word`] only when
/// all 32 bits of the previous one have been used. The `n`-th flip overall is
/// therefore bit `n % 32` of the `n / 32`-th word drawn for this source.
///
/// `Bits` holds no reference to the stream; pass the same stream to every
/// [`next_bit`](Self::next_bit) call. Words drawn by other users of the stream
/// in between are simply not seen by this source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bits {
    /// Unused bits of the current word, next one in bit 0.
    word: u32,
    /// Number of unused bits left in `word`.
    left: u32,
}

impl Bits {
    /// An empty bit source; the first [`next_bit`](Self::next_bit) draws a word.
    #[must_use]
    pub const fn new() -> Self {
        Self { word: 0, left: 0 }
    }

    /// Whether no buffered bit is left (the next flip starts a fresh word).
    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.left == 0
    }

    /// The next `n` ≤ 32 flips at once, flip i in bit i: the same bits, in the same order,
    /// as `n` calls of [`next_bit`](Self::next_bit).
    #[inline(always)]
    pub fn take(&mut self, n: u32, rng: &mut Philox4x32) -> u32 {
        debug_assert!(n <= 32);
        if n <= self.left {
            let (out, rest) = Cut::new(n).take(self.word);
            self.word = rest;
            self.left -= n;
            return out;
        }
        let (have, need) = (Cut::new(self.left), Cut::new(n - self.left));
        let (out, rest) = splice(self.word, rng.next_word(), have, need);
        self.word = rest;
        self.left = 32 - (n - self.left);
        out
    }

    /// The next fair coin flip (`true` for a 1 bit).
    #[inline(always)]
    pub fn next_bit(&mut self, rng: &mut Philox4x32) -> bool {
        if self.left == 0 {
            self.word = rng.next_word();
            self.left = 32;
        }
        let bit = self.word & 1 != 0;
        self.word >>= 1;
        self.left -= 1;
        bit
    }
}

/// Taking the lowest `n` ≤ 32 bits of a word: the bits taken, and the rest moved down.
/// Computed once per `n`, so a loop of lanes that share `n` has no branch and vectorises.
#[derive(Clone, Copy)]
struct Cut {
    mask: u32,
    shift: u32,
    /// All ones, or zero when `n` = 32 (nothing is left).
    rest: u32,
}

impl Cut {
    #[inline(always)]
    fn new(n: u32) -> Self {
        debug_assert!(n <= 32);
        Cut {
            mask: ((1u64 << n) - 1) as u32,
            shift: n % 32,
            rest: if n >= 32 { 0 } else { u32::MAX },
        }
    }

    /// The bits taken from `word` and its rest.
    #[inline(always)]
    fn take(self, word: u32) -> (u32, u32) {
        (word & self.mask, (word >> self.shift) & self.rest)
    }
}

/// `n` bits when only `have` < `n` are left in `word`: those, then the lowest `n − have` of
/// a `fresh` word above them; and the fresh word's rest (`32 − (n − have)` bits). The cuts
/// are `Cut::new(have)` and `Cut::new(n − have)`.
#[inline(always)]
fn splice(word: u32, fresh: u32, have: Cut, need: Cut) -> (u32, u32) {
    let (low, _) = have.take(word);
    let (high, rest) = need.take(fresh);
    (low | high << have.shift, rest)
}

/// The [`Bits`] of `N` consecutive runs' streams read in lockstep, their words drawn by
/// [`LaneWords`]: each call hands out every run's next flips at once. Flip for flip those of
/// a [`Bits`] reading each run's stream, as long as every run draws the same words.
#[derive(Clone, Debug)]
pub struct LaneBits<const N: usize> {
    words: LaneWords<N>,
    /// Unused bits of each run's current word, the next one in bit 0.
    word: [u32; N],
    /// Unused bits left, the same for every run.
    left: u32,
}

impl<const N: usize> LaneBits<N> {
    /// An empty bit source over the lanes' streams, where they are.
    #[inline(always)]
    #[must_use]
    pub fn new(words: LaneWords<N>) -> Self {
        LaneBits {
            words,
            word: [0; N],
            left: 0,
        }
    }

    /// [`Bits::take`] for every run: its next `n` ≤ 32 flips, flip i in bit i.
    #[inline(always)]
    pub fn take(&mut self, n: u32) -> [u32; N] {
        debug_assert!(n <= 32);
        let mut out = [0; N];
        if n <= self.left {
            let cut = Cut::new(n);
            for (o, w) in out.iter_mut().zip(&mut self.word) {
                (*o, *w) = cut.take(*w);
            }
            self.left -= n;
        } else {
            let fresh = self.words.next_words();
            let (have, need) = (Cut::new(self.left), Cut::new(n - self.left));
            for ((o, w), f) in out.iter_mut().zip(&mut self.word).zip(fresh) {
                (*o, *w) = splice(*w, f, have, need);
            }
            self.left = 32 - (n - self.left);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    /// Random123 `kat_vectors`, `philox4x32 10` lines: (ctr, key, output).
    const KAT: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
        (
            [0, 0, 0, 0],
            [0, 0],
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8],
        ),
        (
            [0xffff_ffff; 4],
            [0xffff_ffff; 2],
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd],
        ),
        (
            [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
            [0xa409_3822, 0x299f_31d0],
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
        ),
    ];

    #[test]
    fn take_equals_flip_by_flip() {
        for n in [1u32, 5, 17, 31, 32] {
            let (mut a, mut b) = (Philox4x32::new(3, 1, 2), Philox4x32::new(3, 1, 2));
            let (mut ba, mut bb) = (Bits::new(), Bits::new());
            for _ in 0..20 {
                let word = ba.take(n, &mut a);
                for i in 0..n {
                    assert_eq!(
                        (word >> i) & 1 == 1,
                        bb.next_bit(&mut b),
                        "n = {n}, bit {i}"
                    );
                }
                if n < 32 {
                    assert_eq!(word >> n, 0, "no bits above n");
                }
            }
        }
    }

    #[test]
    fn known_answer_vectors() {
        for (ctr, key, expected) in KAT {
            assert_eq!(
                philox4x32_10(ctr, key),
                expected,
                "ctr={ctr:08x?} key={key:08x?}"
            );
        }
    }

    #[test]
    fn from_key_counter_first_block_is_kat() {
        for (ctr, key, expected) in KAT {
            let mut rng = Philox4x32::from_key_counter(key, ctr);
            assert_eq!(rng.next_block(), expected);
            let mut rng = Philox4x32::from_key_counter(key, ctr);
            let words: Vec<u32> = (0..4).map(|_| rng.next_word()).collect();
            assert_eq!(words, expected);
        }
    }

    #[test]
    fn stream_layout() {
        let seed = 0x0123_4567_89ab_cdef_u64;
        let (cell, run) = (17, 5);
        let key = [seed as u32, (seed >> 32) as u32];
        let mut rng = Philox4x32::new(seed, cell, run);
        for k in 0..16u32 {
            let block = philox4x32_10([k, run, cell, 0], key);
            for &w in &block {
                assert_eq!(rng.next_word(), w);
            }
        }
    }

    /// Blocks computed across runs are the streams' blocks; streams read in lockstep are the
    /// streams, word for word, across block boundaries; and a stream resumed where the lanes
    /// are goes on as the plain stream.
    #[test]
    fn lane_words_are_the_streams_words() {
        for (seed, cell, first) in [
            (0u64, 0u32, 0u32),
            (0x1234_5678_9abc_def0, 7, 1000),
            (u64::MAX, u32::MAX, u32::MAX - 5),
        ] {
            let runs: Vec<u32> = (0..16).map(|i| first.wrapping_add(i)).collect();
            let mut plain: Vec<_> = runs
                .iter()
                .map(|&r| Philox4x32::new(seed, cell, r))
                .collect();
            let mut lanes = LaneWords::<16>::new(seed, cell, first);
            for step in 0..11 {
                if step % 3 == 2 {
                    let u = lanes.next_f64();
                    for (p, u) in plain.iter_mut().zip(u) {
                        assert_eq!(p.next_f64().to_bits(), u.to_bits());
                    }
                } else {
                    let w = lanes.next_words();
                    for (p, w) in plain.iter_mut().zip(w) {
                        assert_eq!(p.next_word(), w);
                    }
                }
                let streams = lanes.streams();
                for (p, s) in plain.iter().zip(&streams) {
                    let (mut p, mut s) = (p.clone(), s.clone());
                    for _ in 0..9 {
                        assert_eq!(s.next_word(), p.next_word());
                    }
                    assert_eq!(s, p);
                }
            }
            // A block far along, with its index's high word set.
            let far = (1u64 << 32) + 5;
            let b = blocks::<16>(seed, cell, first, far);
            for (i, &run) in runs.iter().enumerate() {
                let ctr = [far as u32, run, cell, (far >> 32) as u32];
                let want = philox4x32_10(ctr, [seed as u32, (seed >> 32) as u32]);
                assert_eq!([b[0][i], b[1][i], b[2][i], b[3][i]], want);
            }
        }
    }

    /// Lockstep flips equal each run's own [`Bits`] over its stream, after uniforms drawn
    /// from the same streams, whatever the sizes taken (0 to 32, across word boundaries).
    #[test]
    fn lane_bits_are_each_runs_bits() {
        let sizes = [32, 20, 12, 1, 0, 31, 32, 5, 27, 32, 3, 30, 2, 32, 16, 16, 7];
        for (seed, cell, first) in [(3u64, 1u32, 0u32), (0xdead_beef, 9, u32::MAX - 3)] {
            let mut plain: Vec<_> = (0..8)
                .map(|i| Philox4x32::new(seed, cell, first.wrapping_add(i)))
                .collect();
            let mut bits = vec![Bits::new(); 8];
            let mut words = LaneWords::<8>::new(seed, cell, first);
            let u = words.next_f64();
            for (p, u) in plain.iter_mut().zip(u) {
                assert_eq!(p.next_f64().to_bits(), u.to_bits());
            }
            let mut lanes = LaneBits::new(words);
            for &n in sizes.iter().chain(&sizes) {
                let got = lanes.take(n);
                for ((p, b), g) in plain.iter_mut().zip(&mut bits).zip(got) {
                    assert_eq!(b.take(n, p), g, "{n} bits");
                }
            }
        }
    }

    #[test]
    fn counter_carries_into_block_hi() {
        let key = [7, 9];
        let mut rng = Philox4x32::from_key_counter(key, [u32::MAX, 3, 4, 0]);
        assert_eq!(rng.next_block(), philox4x32_10([u32::MAX, 3, 4, 0], key));
        assert_eq!(rng.next_block(), philox4x32_10([0, 3, 4, 1], key));
    }

    #[test]
    fn next_block_discards_partial_block() {
        let key = [1, 2];
        let mut rng = Philox4x32::new(0x0000_0002_0000_0001, 0, 0);
        assert_eq!(rng.next_word(), philox4x32_10([0, 0, 0, 0], key)[0]);
        assert_eq!(rng.next_block(), philox4x32_10([1, 0, 0, 0], key));
        assert_eq!(rng.next_word(), philox4x32_10([2, 0, 0, 0], key)[0]);
    }

    #[test]
    fn distinct_cells_and_runs_differ() {
        let draw = |cell, run| {
            let mut rng = Philox4x32::new(42, cell, run);
            (0..8).map(|_| rng.next_word()).collect::<Vec<_>>()
        };
        let a = draw(0, 0);
        assert_ne!(a, draw(1, 0));
        assert_ne!(a, draw(0, 1));
        assert_ne!(draw(1, 0), draw(0, 1));
        assert_eq!(a, draw(0, 0));
    }

    #[test]
    fn next_u64_is_low_word_first() {
        let mut words = Philox4x32::new(3, 1, 2);
        let mut rng = words.clone();
        for _ in 0..10 {
            let lo = u64::from(words.next_word());
            let hi = u64::from(words.next_word());
            assert_eq!(rng.next_u64(), lo | (hi << 32));
        }
    }

    #[test]
    fn fill_bytes_is_little_endian_words() {
        let mut words = Philox4x32::new(11, 0, 0);
        let mut rng = words.clone();
        let mut buf = [0u8; 10];
        rng.fill_bytes(&mut buf);
        let w0 = words.next_word().to_le_bytes();
        let w1 = words.next_word().to_le_bytes();
        let w2 = words.next_word().to_le_bytes();
        assert_eq!(&buf[0..4], &w0);
        assert_eq!(&buf[4..8], &w1);
        assert_eq!(&buf[8..10], &w2[..2]);
        assert_eq!(rng.next_word(), words.next_word());
    }

    #[test]
    fn next_f64_matches_formula_and_range() {
        let mut words = Philox4x32::new(99, 3, 4);
        let mut rng = words.clone();
        for _ in 0..1000 {
            let a = words.next_word();
            let b = words.next_word();
            let bits = ((u64::from(a) << 21) ^ u64::from(b)) & ((1u64 << 53) - 1);
            let expected = bits as f64 * 2f64.powi(-53);
            let x = rng.next_f64();
            assert_eq!(x.to_bits(), expected.to_bits());
            assert!((0.0..1.0).contains(&x));
        }
        assert_eq!(u01(0, 0), 0.0);
        // The largest value: all 53 bits set, i.e. 1 - 2^-53, still below 1.
        let max = u01(u32::MAX, 0x001f_ffff);
        assert_eq!(max, 1.0 - 2f64.powi(-53));
        assert!(max < 1.0);
    }

    #[test]
    fn seedable_rng_matches_new() {
        let s = 0xdead_beef_1234_5678_u64;
        let mut a = Philox4x32::from_seed(s.to_le_bytes());
        let mut b = Philox4x32::seed_from_u64(s);
        let mut c = Philox4x32::new(s, 0, 0);
        for _ in 0..9 {
            let w = c.next_word();
            assert_eq!(a.next_u32(), w);
            assert_eq!(b.next_u32(), w);
        }
    }

    #[test]
    fn rand_distr_can_sample() {
        use rand_distr::{Distribution, Normal, StandardNormal};
        let mut rng = Philox4x32::new(2024, 1, 1);
        let n = 20_000;
        let mut sum = 0.0;
        let mut sum_sq = 0.0;
        for _ in 0..n {
            let z: f64 = StandardNormal.sample(&mut rng);
            sum += z;
            sum_sq += z * z;
        }
        let mean = sum / f64::from(n);
        let var = sum_sq / f64::from(n) - mean * mean;
        assert!(mean.abs() < 4.0 / f64::from(n).sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");

        let normal = Normal::new(10.0, 2.0).unwrap();
        let x: f64 = normal.sample(&mut rng);
        assert!(x.is_finite());

        // Reproducible: same stream, same draws.
        let mut r1 = Philox4x32::new(5, 6, 7);
        let mut r2 = Philox4x32::new(5, 6, 7);
        for _ in 0..100 {
            let a: f64 = StandardNormal.sample(&mut r1);
            let b: f64 = StandardNormal.sample(&mut r2);
            assert_eq!(a.to_bits(), b.to_bits());
        }
    }

    #[test]
    fn bits_follow_words_lowest_first() {
        let mut words = Philox4x32::new(8, 2, 1);
        let mut rng = words.clone();
        let mut bits = Bits::new();
        for _ in 0..5 {
            let w = words.next_word();
            for i in 0..32 {
                assert_eq!(bits.next_bit(&mut rng), (w >> i) & 1 == 1);
            }
        }
        assert_eq!(rng.next_word(), words.next_word());
    }

    #[test]
    fn uniformity_crude() {
        let n = 100_000u32;
        let mut rng = Philox4x32::new(12345, 0, 0);
        let mean = (0..n).map(|_| rng.next_f64()).sum::<f64>() / f64::from(n);
        // Uniform on [0, 1) has standard deviation 1/sqrt(12).
        let se = (1.0 / 12.0f64).sqrt() / f64::from(n).sqrt();
        assert!((mean - 0.5).abs() < 4.0 * se, "mean {mean}");

        let words = 10_000u32;
        let ones: u32 = (0..words).map(|_| rng.next_word().count_ones()).sum();
        let total = f64::from(words) * 32.0;
        let frac = f64::from(ones) / total;
        let se = 0.5 / total.sqrt();
        assert!((frac - 0.5).abs() < 4.0 * se, "frac {frac}");
    }
}
