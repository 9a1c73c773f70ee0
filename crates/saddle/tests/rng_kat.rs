//! Known-answer and contract tests for `saddle::rng`.
//!
//! The Philox4x32-10 vectors are the `philox4x32 10` lines of Random123's
//! `kat_vectors` file. The layout tests pin the `(seed, cell, run)` stream
//! contract that the CUDA backend must reproduce.

use rand_core::{Rng, SeedableRng};
use saddle::rng::{philox4x32_10, standard_normal, stream, Bits, Philox4x32};

/// Random123 `kat_vectors`, `philox4x32 10`: (ctr, key, output).
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
fn philox4x32_10_known_answers() {
    for (ctr, key, expected) in KAT {
        assert_eq!(
            philox4x32_10(ctr, key),
            expected,
            "ctr={ctr:08x?} key={key:08x?}"
        );
    }
}

#[test]
fn from_key_counter_reproduces_known_answers() {
    for (ctr, key, expected) in KAT {
        let mut rng = Philox4x32::from_key_counter(key, ctr);
        let words: Vec<u32> = (0..4).map(|_| rng.next_word()).collect();
        assert_eq!(words, expected);
        let mut rng = Philox4x32::from_key_counter(key, ctr);
        assert_eq!(rng.next_block(), expected);
    }
}

#[test]
fn stream_layout_is_block_run_cell_blockhi() {
    let seed = 0xfedc_ba98_7654_3210_u64;
    let (cell, run) = (123, 45);
    let key = [seed as u32, (seed >> 32) as u32];
    let mut rng = stream(seed, cell, run);
    for k in 0..32u32 {
        for w in philox4x32_10([k, run, cell, 0], key) {
            assert_eq!(rng.next_word(), w);
        }
    }
}

#[test]
fn stream_equals_new() {
    let mut a = stream(1, 2, 3);
    let mut b = Philox4x32::new(1, 2, 3);
    for _ in 0..50 {
        assert_eq!(a.next_word(), b.next_word());
    }
}

#[test]
fn different_cells_and_runs_give_different_streams() {
    let draw = |cell, run| {
        let mut rng = stream(7, cell, run);
        (0..8).map(|_| rng.next_word()).collect::<Vec<_>>()
    };
    let base = draw(0, 0);
    assert_eq!(base, draw(0, 0));
    assert_ne!(base, draw(1, 0));
    assert_ne!(base, draw(0, 1));
    assert_ne!(draw(1, 0), draw(0, 1));
    assert_ne!(draw(1, 2), draw(2, 1));
}

#[test]
fn next_u64_takes_low_word_first() {
    let mut words = stream(5, 0, 9);
    let mut rng = words.clone();
    for _ in 0..10 {
        let lo = u64::from(words.next_word());
        let hi = u64::from(words.next_word());
        assert_eq!(rng.next_u64(), lo | (hi << 32));
    }
}

#[test]
fn next_f64_in_unit_interval_and_matches_formula() {
    let mut words = stream(31, 4, 1);
    let mut rng = words.clone();
    for _ in 0..10_000 {
        let a = u64::from(words.next_word());
        let b = u64::from(words.next_word());
        let expected = (((a << 21) ^ b) & ((1u64 << 53) - 1)) as f64 * 2f64.powi(-53);
        let x = rng.next_f64();
        assert_eq!(x.to_bits(), expected.to_bits());
        assert!((0.0..1.0).contains(&x));
    }
}

#[test]
fn bits_yield_word_bits_lowest_first() {
    let mut words = stream(77, 3, 3);
    let mut rng = words.clone();
    let mut bits = Bits::new();
    for _ in 0..4 {
        let w = words.next_word();
        for i in 0..32 {
            assert_eq!(bits.next_bit(&mut rng), (w >> i) & 1 == 1);
        }
    }
}

#[test]
fn seedable_rng_is_seed_with_cell_and_run_zero() {
    let s = 0x0bad_5eed_u64;
    let mut a = Philox4x32::from_seed(s.to_le_bytes());
    let mut b = stream(s, 0, 0);
    for _ in 0..9 {
        assert_eq!(a.next_u32(), b.next_word());
    }
}

#[test]
fn uniformity_crude() {
    let n = 100_000u32;
    let mut rng = stream(2718, 0, 0);
    let mean = (0..n).map(|_| rng.next_f64()).sum::<f64>() / f64::from(n);
    let se = (1.0 / 12.0f64).sqrt() / f64::from(n).sqrt();
    assert!((mean - 0.5).abs() < 4.0 * se, "mean {mean}");

    let words = 10_000u32;
    let ones: u32 = (0..words).map(|_| rng.next_word().count_ones()).sum();
    let total = f64::from(words) * 32.0;
    let frac = f64::from(ones) / total;
    assert!((frac - 0.5).abs() < 4.0 * 0.5 / total.sqrt(), "frac {frac}");
}

#[test]
fn standard_normal_moments_and_reproducibility() {
    let n = 50_000u32;
    let mut rng = stream(1, 1, 1);
    let (mut s, mut s2) = (0.0, 0.0);
    for _ in 0..n {
        let z = standard_normal(&mut rng);
        s += z;
        s2 += z * z;
    }
    let mean = s / f64::from(n);
    let var = s2 / f64::from(n) - mean * mean;
    assert!(mean.abs() < 4.0 / f64::from(n).sqrt(), "mean {mean}");
    assert!((var - 1.0).abs() < 0.05, "var {var}");

    let mut a = stream(9, 8, 7);
    let mut b = stream(9, 8, 7);
    for _ in 0..100 {
        assert_eq!(
            standard_normal(&mut a).to_bits(),
            standard_normal(&mut b).to_bits()
        );
    }
}
