//! Subnormal numbers flushed to zero while an ensemble runs.
//!
//! Multiplicative dynamics (the paper's trapped phase: w_t = ∏(1 − λx_i)·w₀) drive states
//! through the subnormal range (|w| < 2.2·10⁻³⁰⁸) on their way to 0, and arithmetic on
//! subnormals takes a slow microcode path on x86-64 (about a hundred times slower). The
//! engine therefore runs each chunk of runs with the processor's flush-to-zero and
//! denormals-are-zero modes on (x86-64 MXCSR FTZ and DAZ; aarch64 FPCR.FZ), and restores the
//! caller's mode afterwards. A state that underflows becomes exactly 0 — on a landscape
//! whose origin is a fixed point the run is then counted as absorbed — instead of
//! lingering for hundreds of steps at magnitudes no observer can distinguish from 0.
//!
//! The mode is set per chunk, identically whatever thread runs it, so results stay
//! byte-identical across thread counts. No crate offers this (it is a two-instruction
//! register update), hence the small `unsafe` blocks below.

/// Guard: flush-to-zero on while alive; the previous mode is restored on drop.
pub struct FlushToZero {
    #[allow(dead_code)]
    saved: u64,
}

impl FlushToZero {
    /// Turn flush-to-zero (and denormals-are-zero where the processor has it) on.
    #[inline]
    pub fn on() -> Self {
        FlushToZero {
            saved: imp::enable(),
        }
    }
}

impl Drop for FlushToZero {
    #[inline]
    fn drop(&mut self) {
        imp::restore(self.saved);
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::asm;
    const FTZ_DAZ: u32 = 0x8040;

    fn get() -> u32 {
        let mut csr: u32 = 0;
        // SAFETY: stmxcsr stores the SSE control/status register (present on every x86-64)
        // into the 4 bytes at the given address, which is a valid local.
        unsafe { asm!("stmxcsr [{}]", in(reg) &mut csr, options(nostack, preserves_flags)) };
        csr
    }

    fn set(csr: u32) {
        // SAFETY: ldmxcsr loads the SSE control register from a valid local; the values
        // written are the caller's own previous value or it with the FTZ/DAZ bits set.
        unsafe { asm!("ldmxcsr [{}]", in(reg) &csr, options(nostack, readonly, preserves_flags)) };
    }

    pub fn enable() -> u64 {
        let old = get();
        set(old | FTZ_DAZ);
        old as u64
    }

    pub fn restore(saved: u64) {
        set(saved as u32);
    }
}

#[cfg(target_arch = "aarch64")]
mod imp {
    use std::arch::asm;
    const FZ: u64 = 1 << 24;

    pub fn enable() -> u64 {
        let old: u64;
        // SAFETY: reading and writing FPCR only changes floating-point rounding/flush modes
        // of the current thread; the FZ bit is the only one changed.
        unsafe {
            asm!("mrs {}, fpcr", out(reg) old, options(nomem, nostack, preserves_flags));
            asm!("msr fpcr, {}", in(reg) old | FZ, options(nomem, nostack, preserves_flags));
        }
        old
    }

    pub fn restore(saved: u64) {
        // SAFETY: restores the value read in `enable`.
        unsafe { asm!("msr fpcr, {}", in(reg) saved, options(nomem, nostack, preserves_flags)) };
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod imp {
    pub fn enable() -> u64 {
        0
    }
    pub fn restore(_: u64) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormals_flush_inside_and_survive_outside() {
        let tiny = std::hint::black_box(f64::MIN_POSITIVE);
        let half = std::hint::black_box(0.5);
        assert!(tiny * half > 0.0, "subnormal results exist by default");
        {
            let _g = FlushToZero::on();
            let r = std::hint::black_box(tiny) * std::hint::black_box(half);
            if cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
                assert_eq!(r, 0.0);
            }
        }
        assert!(
            std::hint::black_box(tiny) * std::hint::black_box(half) > 0.0,
            "mode restored"
        );
    }
}
