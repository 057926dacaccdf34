//! Red-cyan anaglyph with Eric Dubois' least-squares projection matrices.
//!
//! `out = clamp(L * left + R * right, 0, 255)` per pixel, applied directly to the 8-bit sRGB
//! values (no linearisation, as most players and converters do; the matrices were fitted on
//! linear light, so colours are a little off, but a grey pair stays grey because every output
//! row of `[L R]` sums to 1). Evaluated in 16.16 fixed point, rounded to nearest.

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

const ONE: f32 = 65536.0;

/// Both matrices in 16.16 fixed point, as `[out channel][left r, g, b, right r, g, b]`.
fn fixed_coefficients() -> [[i32; 6]; 3] {
    let mut c = [[0i32; 6]; 3];
    for (ch, row) in c.iter_mut().enumerate() {
        for i in 0..3 {
            row[i] = (DUBOIS_LEFT[ch][i] * ONE).round() as i32;
            row[3 + i] = (DUBOIS_RIGHT[ch][i] * ONE).round() as i32;
        }
    }
    c
}

/// Writes the anaglyph of two packed RGB24 buffers of equal length into `out` (same length).
pub(crate) fn anaglyph(left: &[u8], right: &[u8], out: &mut [u8]) {
    let [cr, cg, cb] = fixed_coefficients();
    #[inline(always)]
    fn channel(c: &[i32; 6], v: &[i32; 6]) -> u8 {
        let acc = c[0] * v[0] + c[1] * v[1] + c[2] * v[2] + c[3] * v[3] + c[4] * v[4] + c[5] * v[5];
        ((acc + (1 << 15)) >> 16).clamp(0, 255) as u8
    }
    for ((o, l), r) in out
        .chunks_exact_mut(3)
        .zip(left.chunks_exact(3))
        .zip(right.chunks_exact(3))
    {
        let v = [
            l[0] as i32,
            l[1] as i32,
            l[2] as i32,
            r[0] as i32,
            r[1] as i32,
            r[2] as i32,
        ];
        o[0] = channel(&cr, &v);
        o[1] = channel(&cg, &v);
        o[2] = channel(&cb, &v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(l: [u8; 3], r: [u8; 3]) -> [u8; 3] {
        let mut o = [0u8; 3];
        anaglyph(&l, &r, &mut o);
        o
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
}
