//! Red-cyan anaglyph with Eric Dubois' least-squares projection matrices.
//!
//! `out = clamp(L * left + R * right, 0, max)` per pixel, applied directly to the sRGB (or, for
//! 16-bit frames, the transfer-encoded 16-bit) values with no linearisation, as most players and
//! converters do; the matrices were fitted on linear light, so colours are a little off, but a
//! grey pair stays grey because every output row of `[L R]` sums to 1. Evaluated in fixed point,
//! rounded to nearest: 16 fractional bits for 8-bit samples, 14 for 16-bit ones (so the sums
//! stay in `i32`). The two paths agree: a 16-bit frame whose samples are `v * 257` gives
//! `257 *` the 8-bit result within 257 (one 8-bit step), and its high bytes are the 8-bit result
//! within 1.
use super::sample::Sample;

/// Dubois red-cyan matrix for the left view (rows: output R, G, B; columns: input R, G, B).
pub const DUBOIS_LEFT: [[f32; 3]; 3] = [
    [0.456_100, 0.500_484, 0.176_381],
    [-0.040_082_2, -0.037_824_6, -0.015_758_9],
    [-0.015_216_1, -0.020_597_1, -0.005_468_56],
];

/// Dubois red-cyan matrix for the right view.
pub const DUBOIS_RIGHT: [[f32; 3]; 3] = [
    [-0.043_470_6, -0.087_938_8, -0.001_555_29],
    [0.378_476, 0.733_64, -0.018_450_3],
    [-0.072_152_7, -0.112_961, 1.2264],
];

/// Both matrices in fixed point with `frac_bits` fractional bits, as
/// `[out channel][left r, g, b, right r, g, b]`.
fn fixed_coefficients(frac_bits: u32) -> [[i32; 6]; 3] {
    let one = (1u32 << frac_bits) as f32;
    let mut c = [[0i32; 6]; 3];
    for (ch, row) in c.iter_mut().enumerate() {
        for i in 0..3 {
            row[i] = (DUBOIS_LEFT[ch][i] * one).round() as i32;
            row[3 + i] = (DUBOIS_RIGHT[ch][i] * one).round() as i32;
        }
    }
    c
}

/// Writes the anaglyph of two packed RGB buffers of `S` samples and equal length into `out`
/// (same length).
pub(crate) fn anaglyph<S: Sample>(left: &[u8], right: &[u8], out: &mut [u8]) {
    let [cr, cg, cb] = fixed_coefficients(S::ANAGLYPH_FRAC_BITS);
    #[inline(always)]
    fn channel<S: Sample>(c: &[i32; 6], v: &[i32; 6]) -> u32 {
        let acc = c[0] * v[0] + c[1] * v[1] + c[2] * v[2] + c[3] * v[3] + c[4] * v[4] + c[5] * v[5];
        let half = 1 << (S::ANAGLYPH_FRAC_BITS - 1);
        ((acc + half) >> S::ANAGLYPH_FRAC_BITS).clamp(0, S::MAX) as u32
    }
    for ((o, l), r) in out
        .chunks_exact_mut(S::PIXEL)
        .zip(left.chunks_exact(S::PIXEL))
        .zip(right.chunks_exact(S::PIXEL))
    {
        let (l, r) = (S::read_rgb(l), S::read_rgb(r));
        let v = [l[0], l[1], l[2], r[0], r[1], r[2]].map(|x| x as i32);
        S::write_rgb(
            [
                channel::<S>(&cr, &v),
                channel::<S>(&cg, &v),
                channel::<S>(&cb, &v),
            ],
            o,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(l: [u8; 3], r: [u8; 3]) -> [u8; 3] {
        let mut o = [0u8; 3];
        anaglyph::<u8>(&l, &r, &mut o);
        o
    }

    fn le(v: [u16; 3]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn one16(l: [u16; 3], r: [u16; 3]) -> [u16; 3] {
        let mut o = [0u8; 6];
        anaglyph::<u16>(&le(l), &le(r), &mut o);
        [0, 1, 2].map(|c| u16::from_le_bytes([o[2 * c], o[2 * c + 1]]))
    }

    /// Float reference at 16 bits: clamp(round(L l + R r)).
    fn reference16(l: [u16; 3], r: [u16; 3]) -> [u16; 3] {
        [0, 1, 2].map(|ch| {
            let acc: f64 = (0..3)
                .map(|i| {
                    DUBOIS_LEFT[ch][i] as f64 * l[i] as f64
                        + DUBOIS_RIGHT[ch][i] as f64 * r[i] as f64
                })
                .sum();
            acc.round().clamp(0.0, 65535.0) as u16
        })
    }

    /// Float reference: clamp(round(L l + R r)).
    fn reference(l: [u8; 3], r: [u8; 3]) -> [u8; 3] {
        let mut o = [0u8; 3];
        for ch in 0..3 {
            let mut acc = 0.0f32;
            for i in 0..3 {
                acc += DUBOIS_LEFT[ch][i] * l[i] as f32 + DUBOIS_RIGHT[ch][i] * r[i] as f32;
            }
            o[ch] = acc.round().clamp(0.0, 255.0) as u8;
        }
        o
    }

    #[test]
    fn greys_stay_grey() {
        for g in [0u8, 1, 17, 64, 128, 200, 254, 255] {
            let o = one([g; 3], [g; 3]);
            for c in o {
                assert!((c as i32 - g as i32).abs() <= 1, "grey {g} -> {o:?}");
            }
        }
    }

    #[test]
    fn red_follows_left_and_cyan_follows_right() {
        // Only the left eye lit: red is bright, green/blue clamp to 0.
        let o = one([200; 3], [0; 3]);
        assert_eq!(o, [227, 0, 0]);
        // Only the right eye lit: red clamps to 0, green and blue bright.
        let o = one([0; 3], [200; 3]);
        assert_eq!(o, [0, 219, 208]);
    }

    #[test]
    fn matches_float_reference() {
        let samples = [
            [0u8, 0, 0],
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [12, 200, 99],
            [255; 3],
        ];
        for l in samples {
            for r in samples {
                let (a, b) = (one(l, r), reference(l, r));
                for ch in 0..3 {
                    assert!(
                        (a[ch] as i32 - b[ch] as i32).abs() <= 1,
                        "{l:?} {r:?}: {a:?} vs {b:?}"
                    );
                }
            }
        }
    }

    const SAMPLES16: [[u16; 3]; 7] = [
        [0, 0, 0],
        [65535, 0, 0],
        [0, 65535, 0],
        [0, 0, 65535],
        [3084, 51400, 25443],
        [1, 1023, 40001],
        [65535; 3],
    ];

    #[test]
    fn sixteen_bit_matches_float_reference_without_overflow() {
        // Coefficients rounded to 2^-15 over six terms of up to 65535: at most ~12 off.
        for l in SAMPLES16 {
            for r in SAMPLES16 {
                let (a, b) = (one16(l, r), reference16(l, r));
                for ch in 0..3 {
                    assert!(a[ch].abs_diff(b[ch]) <= 16, "{l:?} {r:?}: {a:?} vs {b:?}");
                }
            }
        }
        assert_eq!(one16([65535; 3], [65535; 3]), [65535; 3]);
        assert_eq!(one16([0; 3], [0; 3]), [0; 3]);
    }

    #[test]
    fn sixteen_bit_agrees_with_eight_bit() {
        let samples = [0u8, 1, 12, 99, 128, 200, 254, 255];
        let px = |i: usize| [samples[i % 8], samples[(i / 8) % 8], samples[(i / 64) % 8]];
        for i in 0..512 {
            for j in (0..512).step_by(7) {
                let (l, r) = (px(i), px(j));
                let o8 = one(l, r);
                let o16 = one16(l.map(|v| v as u16 * 257), r.map(|v| v as u16 * 257));
                for ch in 0..3 {
                    let (a, b) = (o16[ch], o8[ch] as u16);
                    assert!(a.abs_diff(b * 257) <= 257, "{l:?} {r:?}: {o16:?} vs {o8:?}");
                    assert!((a >> 8).abs_diff(b) <= 1, "{l:?} {r:?}: {o16:?} vs {o8:?}");
                }
            }
        }
    }
}
