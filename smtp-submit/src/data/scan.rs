//! The one pass over a DATA body: finds, in a single scan, every place the receiver must look
//! at more closely: a `LF .` pair (a line may start with a dot) and, as asked, a content
//! problem (a `CR` not followed by `LF` or an `LF` not preceded by `CR`, a NUL, an 8-bit
//! octet).
//!
//! Each position `j` is judged with the pair `(hay[j - 1], hay[j])`, so state crosses block
//! boundaries by loading the same bytes again one position earlier (an unaligned load at
//! `j - 1`) instead of shifting masks. On x86_64 the blocks are 32 bytes (AVX2, when the CPU
//! has it) or 16 bytes (SSE2, always present); elsewhere, and for the last bytes of an input,
//! a plain loop does the same. The vector code only narrows down where to look: every
//! position it reports, and everything after the last full block, is judged again by the
//! plain loop.
#![allow(unsafe_code)]

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const DOT: u8 = b'.';

/// Which content problems the scan stops at, besides `LF .`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checks {
    /// A `CR` not followed by `LF` (reported at the octet after the `CR`), or an `LF` not
    /// preceded by `CR`.
    pub bare: bool,
    /// A NUL.
    pub nul: bool,
    /// An octet above 127.
    pub high: bool,
}

/// Which vector instructions the scan uses; chosen once per receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    /// 32-byte blocks.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// 16-byte blocks.
    #[cfg(target_arch = "x86_64")]
    Sse2,
    /// One octet at a time (tests, and targets without a vector kernel).
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    Scalar,
}

impl Kernel {
    /// The best kernel for this CPU.
    pub(crate) fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                Kernel::Avx2
            } else {
                Kernel::Sse2
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Kernel::Scalar
        }
    }
}

/// The first position `j` in `from..hay.len()` where `hay[j - 1], hay[j]` is `LF .` or shows a
/// problem that `checks` asks for; `hay.len()` if there is none. `from` must be at least 1.
pub(crate) fn find_event(hay: &[u8], from: usize, checks: Checks, kernel: Kernel) -> usize {
    assert!(from >= 1);
    match (checks.bare, checks.nul, checks.high) {
        (false, false, false) => find::<false, false, false>(hay, from, kernel),
        (false, false, true) => find::<false, false, true>(hay, from, kernel),
        (false, true, false) => find::<false, true, false>(hay, from, kernel),
        (false, true, true) => find::<false, true, true>(hay, from, kernel),
        (true, false, false) => find::<true, false, false>(hay, from, kernel),
        (true, false, true) => find::<true, false, true>(hay, from, kernel),
        (true, true, false) => find::<true, true, false>(hay, from, kernel),
        (true, true, true) => find::<true, true, true>(hay, from, kernel),
    }
}

#[inline(always)]
fn find<const BARE: bool, const NUL: bool, const HIGH: bool>(
    hay: &[u8],
    from: usize,
    kernel: Kernel,
) -> usize {
    let from = match kernel {
        // SAFETY: the kernel is only chosen (Kernel::detect) when the CPU has AVX2; from >= 1
        // was asserted by find_event.
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => unsafe { x86::avx2::<BARE, NUL, HIGH>(hay, from) },
        // SAFETY: SSE2 is part of the x86_64 baseline; from >= 1 was asserted by find_event.
        #[cfg(target_arch = "x86_64")]
        Kernel::Sse2 => unsafe { x86::sse2::<BARE, NUL, HIGH>(hay, from) },
        Kernel::Scalar => from,
    };
    scalar::<BARE, NUL, HIGH>(hay, from)
}

/// Whether the pair `previous, byte` is an event; the definition the vector kernels follow.
#[inline(always)]
fn is_event<const BARE: bool, const NUL: bool, const HIGH: bool>(previous: u8, byte: u8) -> bool {
    (previous == LF && byte == DOT)
        || (BARE && ((previous == CR) != (byte == LF)))
        || (NUL && byte == 0)
        || (HIGH && byte >= 0x80)
}

fn scalar<const BARE: bool, const NUL: bool, const HIGH: bool>(hay: &[u8], from: usize) -> usize {
    if from >= hay.len() {
        return hay.len();
    }
    hay[from - 1..]
        .windows(2)
        .position(|pair| is_event::<BARE, NUL, HIGH>(pair[0], pair[1]))
        .map_or(hay.len(), |found| from + found)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use core::arch::x86_64::*;

    use super::{CR, DOT, LF};

    /// The events of the 32 positions starting at `at` as a byte mask (0xFF where an event is;
    /// for HIGH alone only the top bit of each byte is meaningful, which is all movemask reads).
    ///
    /// # Safety
    /// The CPU must have AVX2, and `at - 1 .. at + 32` must lie within one allocation.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn events32<const BARE: bool, const NUL: bool, const HIGH: bool>(
        at: *const u8,
    ) -> __m256i {
        let byte = _mm256_loadu_si256(at.cast());
        let previous = _mm256_loadu_si256(at.sub(1).cast());
        let mut events = _mm256_and_si256(
            _mm256_cmpeq_epi8(previous, _mm256_set1_epi8(LF as i8)),
            _mm256_cmpeq_epi8(byte, _mm256_set1_epi8(DOT as i8)),
        );
        if BARE {
            events = _mm256_or_si256(
                events,
                _mm256_xor_si256(
                    _mm256_cmpeq_epi8(previous, _mm256_set1_epi8(CR as i8)),
                    _mm256_cmpeq_epi8(byte, _mm256_set1_epi8(LF as i8)),
                ),
            );
        }
        if NUL && HIGH {
            // Signed: 1 > byte exactly for 0 and for 0x80..=0xFF.
            events = _mm256_or_si256(events, _mm256_cmpgt_epi8(_mm256_set1_epi8(1), byte));
        } else if NUL {
            events = _mm256_or_si256(events, _mm256_cmpeq_epi8(byte, _mm256_setzero_si256()));
        } else if HIGH {
            events = _mm256_or_si256(events, byte);
        }
        events
    }

    /// Skips whole 32-byte blocks without events; returns the first event's position or where
    /// the blocks ran out.
    ///
    /// # Safety
    /// The CPU must have AVX2, and `from >= 1`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2<const BARE: bool, const NUL: bool, const HIGH: bool>(
        hay: &[u8],
        mut from: usize,
    ) -> usize {
        let start = hay.as_ptr();
        // Every block read below covers from - 1 .. from + 32 (or + 64) with from >= 1 and
        // from + 32 (or + 64) <= hay.len(): inside hay.
        while from + 64 <= hay.len() {
            let first = events32::<BARE, NUL, HIGH>(start.add(from));
            let second = events32::<BARE, NUL, HIGH>(start.add(from + 32));
            if _mm256_movemask_epi8(_mm256_or_si256(first, second)) != 0 {
                let mask = _mm256_movemask_epi8(first) as u32;
                if mask != 0 {
                    return from + mask.trailing_zeros() as usize;
                }
                let mask = _mm256_movemask_epi8(second) as u32;
                return from + 32 + mask.trailing_zeros() as usize;
            }
            from += 64;
        }
        while from + 32 <= hay.len() {
            let mask = _mm256_movemask_epi8(events32::<BARE, NUL, HIGH>(start.add(from))) as u32;
            if mask != 0 {
                return from + mask.trailing_zeros() as usize;
            }
            from += 32;
        }
        from
    }

    /// As [`events32`] for 16 positions with SSE2.
    ///
    /// # Safety
    /// `at - 1 .. at + 16` must lie within one allocation.
    #[inline(always)]
    unsafe fn events16<const BARE: bool, const NUL: bool, const HIGH: bool>(
        at: *const u8,
    ) -> __m128i {
        let byte = _mm_loadu_si128(at.cast());
        let previous = _mm_loadu_si128(at.sub(1).cast());
        let mut events = _mm_and_si128(
            _mm_cmpeq_epi8(previous, _mm_set1_epi8(LF as i8)),
            _mm_cmpeq_epi8(byte, _mm_set1_epi8(DOT as i8)),
        );
        if BARE {
            events = _mm_or_si128(
                events,
                _mm_xor_si128(
                    _mm_cmpeq_epi8(previous, _mm_set1_epi8(CR as i8)),
                    _mm_cmpeq_epi8(byte, _mm_set1_epi8(LF as i8)),
                ),
            );
        }
        if NUL && HIGH {
            events = _mm_or_si128(events, _mm_cmpgt_epi8(_mm_set1_epi8(1), byte));
        } else if NUL {
            events = _mm_or_si128(events, _mm_cmpeq_epi8(byte, _mm_setzero_si128()));
        } else if HIGH {
            events = _mm_or_si128(events, byte);
        }
        events
    }

    /// As [`avx2`] with 16-byte SSE2 blocks.
    ///
    /// # Safety
    /// `from >= 1`.
    pub(super) unsafe fn sse2<const BARE: bool, const NUL: bool, const HIGH: bool>(
        hay: &[u8],
        mut from: usize,
    ) -> usize {
        let start = hay.as_ptr();
        // Every block read covers from - 1 .. from + 16 with from >= 1 and
        // from + 16 <= hay.len(): inside hay.
        while from + 16 <= hay.len() {
            let mask = _mm_movemask_epi8(events16::<BARE, NUL, HIGH>(start.add(from))) as u32;
            if mask != 0 {
                return from + mask.trailing_zeros() as usize;
            }
            from += 16;
        }
        from
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kernels() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::Scalar];
        #[cfg(target_arch = "x86_64")]
        {
            kernels.push(Kernel::Sse2);
            if std::is_x86_feature_detected!("avx2") {
                kernels.push(Kernel::Avx2);
            }
        }
        kernels
    }

    fn reference(hay: &[u8], from: usize, checks: Checks) -> usize {
        (from..hay.len())
            .find(|&j| {
                let (previous, byte) = (hay[j - 1], hay[j]);
                (previous == LF && byte == DOT)
                    || (checks.bare && ((previous == CR) != (byte == LF)))
                    || (checks.nul && byte == 0)
                    || (checks.high && byte >= 0x80)
            })
            .unwrap_or(hay.len())
    }

    proptest! {
        #[test]
        fn every_kernel_finds_the_first_event_as_a_byte_loop_does(
            // Mostly clean CR LF text, so events are sparse and fall in every lane.
            hay in proptest::collection::vec(prop_oneof![
                20 => Just(b'a'), 4 => Just(b'\r'), 4 => Just(b'\n'), 2 => Just(b'.'),
                1 => Just(0u8), 1 => Just(0xC3u8), 1 => any::<u8>()
            ], 1..300),
            from in 1usize..300,
            bare: bool, nul: bool, high: bool,
        ) {
            let checks = Checks { bare, nul, high };
            let from = from.min(hay.len());
            let expected = reference(&hay, from, checks);
            for kernel in kernels() {
                prop_assert_eq!(find_event(&hay, from, checks, kernel), expected, "{:?}", kernel);
            }
        }
    }

    #[test]
    fn events_in_every_lane_of_long_clean_text_are_found() {
        let clean: Vec<u8> = b"abc\r\n".iter().copied().cycle().take(200).collect();
        for checks in [
            Checks {
                bare: true,
                nul: true,
                high: true,
            },
            Checks {
                bare: false,
                nul: false,
                high: false,
            },
        ] {
            assert_eq!(reference(&clean, 1, checks), clean.len());
            for at in 1..clean.len() {
                for bad in [b'\r', b'\n', b'.', 0, 0x80, 0xFF] {
                    let mut hay = clean.clone();
                    hay[at] = bad;
                    let expected = reference(&hay, 1, checks);
                    for kernel in kernels() {
                        assert_eq!(find_event(&hay, 1, checks, kernel), expected);
                    }
                }
            }
        }
    }
}
