//! Red-cyan anaglyphs: one 3x3 matrix per eye, per [`AnaglyphMethod`].
//!
//! `out = clamp(L * left + R * right, 0, max)` per pixel, applied directly to the sRGB (or, for
//! 16-bit frames, the transfer-encoded 16-bit) values with no linearisation, as most players and
//! converters do; the Dubois matrices were fitted on linear light, so colours are a little off,
//! but a grey pair stays grey because every output row of `[L R]` sums to 1 (for `gray` and
//! `half-color` the luma weights sum to 1 as well). Evaluated in fixed point, rounded to
//! nearest: 16 fractional bits for 8-bit samples, 14 for 16-bit ones (so the sums stay in
//! `i32`: every row's absolute coefficients sum to less than 1.5). The two paths agree: a 16-bit
//! frame whose samples are `v * 257` gives `257 *` the 8-bit result within 257 (one 8-bit
//! step), and its high bytes are the 8-bit result within 1.
use super::sample::Sample;
use std::fmt;
use std::str::FromStr;

/// A 3x3 colour matrix: rows are output R, G, B; columns input R, G, B.
pub type Matrix = [[f32; 3]; 3];

/// Dubois red-cyan matrix for the left view (rows: output R, G, B; columns: input R, G, B).
///
/// E. Dubois, "A projection method to generate anaglyph stereo images", Proc. IEEE ICASSP 2001,
/// vol. 3, pp. 1661-1664; the red-cyan least-squares matrices as published on the author's page
/// (<https://www.site.uottawa.ca/~edubois/anaglyph/>).
pub const DUBOIS_LEFT: Matrix = [
    [0.456_100, 0.500_484, 0.176_381],
    [-0.040_082_2, -0.037_824_6, -0.015_758_9],
    [-0.015_216_1, -0.020_597_1, -0.005_468_56],
];

/// Dubois red-cyan matrix for the right view (same source as [`DUBOIS_LEFT`]).
pub const DUBOIS_RIGHT: Matrix = [
    [-0.043_470_6, -0.087_938_8, -0.001_555_29],
    [0.378_476, 0.733_64, -0.018_450_3],
    [-0.072_152_7, -0.112_961, 1.2264],
];

/// Dubois' revised red-cyan matrices (left view), fitted to measured filter and display spectra:
/// E. Dubois, "Conversion of a stereo pair to anaglyph with the least-squares projection
/// method", University of Ottawa, March 2009 (the matrices of its red-cyan example).
pub const DUBOIS2_LEFT: Matrix = [
    [0.437, 0.449, 0.164],
    [-0.062, -0.062, -0.024],
    [-0.048, -0.050, -0.017],
];

/// Dubois' 2009 red-cyan matrix for the right view (same source as [`DUBOIS2_LEFT`]).
pub const DUBOIS2_RIGHT: Matrix = [
    [-0.011, -0.032, -0.007],
    [0.377, 0.761, 0.009],
    [-0.026, -0.093, 1.234],
];

/// ITU-R BT.601 luma weights, the luminance of the classic gray and half-color anaglyphs.
const LUMA: [f32; 3] = [0.299, 0.587, 0.114];
const ZERO: [f32; 3] = [0.0; 3];
const ONLY_R: [f32; 3] = [1.0, 0.0, 0.0];
const ONLY_G: [f32; 3] = [0.0, 1.0, 0.0];
const ONLY_B: [f32; 3] = [0.0, 0.0, 1.0];

/// How the two views are mixed into one red-cyan picture. The classic definitions (color,
/// half-color, gray) and Wimmer's optimized anaglyph follow P. Wimmer, "Anaglyph methods
/// comparison" (3dtv.at, <https://3dtv.at/Knowhow/AnaglyphComparison_en.aspx>), the reference
/// the Stereoscopic Player and most converters implement:
///
/// | method | red | green | blue |
/// |---|---|---|---|
/// | `color` | R of left | G of right | B of right |
/// | `half-color` | luma of left | G of right | B of right |
/// | `gray` | luma of left | luma of right | luma of right |
/// | `wimmer` (optimized) | 0.7 G + 0.3 B of left | G of right | B of right |
///
/// (luma: BT.601, `0.299 R + 0.587 G + 0.114 B`). `dubois` and `dubois2` are Dubois'
/// least-squares projections (2001 and 2009 matrices, see [`DUBOIS_LEFT`], [`DUBOIS2_LEFT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AnaglyphMethod {
    /// Dubois 2001 least-squares red-cyan (the default, and the only method before there was a
    /// choice).
    #[default]
    Dubois,
    /// Dubois 2009 least-squares red-cyan.
    Dubois2,
    /// Full colour: red from the left view, green and blue from the right. Most colour, most
    /// retinal rivalry.
    Color,
    /// Luma of the left view as red, green and blue from the right: less rivalry on reds.
    HalfColor,
    /// Luma of each view: no colour, no rivalry.
    Gray,
    /// Wimmer's optimized anaglyph: the left view's red channel is dropped (it is what causes
    /// rivalry), red is made of its green and blue.
    Wimmer,
}

/// A method name that is not one of [`AnaglyphMethod::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown anaglyph method {input:?}; valid methods: {}",
    AnaglyphMethod::valid_names()
)]
pub struct ParseAnaglyphMethodError {
    pub input: String,
}

impl AnaglyphMethod {
    /// Every method, in documentation order.
    pub const ALL: [AnaglyphMethod; 6] = [
        AnaglyphMethod::Dubois,
        AnaglyphMethod::Dubois2,
        AnaglyphMethod::Color,
        AnaglyphMethod::HalfColor,
        AnaglyphMethod::Gray,
        AnaglyphMethod::Wimmer,
    ];

    /// The command-line / configuration name (`"dubois"`, `"half-color"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            AnaglyphMethod::Dubois => "dubois",
            AnaglyphMethod::Dubois2 => "dubois2",
            AnaglyphMethod::Color => "color",
            AnaglyphMethod::HalfColor => "half-color",
            AnaglyphMethod::Gray => "gray",
            AnaglyphMethod::Wimmer => "wimmer",
        }
    }

    /// All valid names, comma separated.
    pub fn valid_names() -> String {
        AnaglyphMethod::ALL.map(AnaglyphMethod::name).join(", ")
    }

    /// The `(left, right)` matrices of this method.
    pub const fn matrices(self) -> (Matrix, Matrix) {
        match self {
            AnaglyphMethod::Dubois => (DUBOIS_LEFT, DUBOIS_RIGHT),
            AnaglyphMethod::Dubois2 => (DUBOIS2_LEFT, DUBOIS2_RIGHT),
            AnaglyphMethod::Color => ([ONLY_R, ZERO, ZERO], [ZERO, ONLY_G, ONLY_B]),
            AnaglyphMethod::HalfColor => ([LUMA, ZERO, ZERO], [ZERO, ONLY_G, ONLY_B]),
            AnaglyphMethod::Gray => ([LUMA, ZERO, ZERO], [ZERO, LUMA, LUMA]),
            AnaglyphMethod::Wimmer => ([[0.0, 0.7, 0.3], ZERO, ZERO], [ZERO, ONLY_G, ONLY_B]),
        }
    }
}

impl fmt::Display for AnaglyphMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for AnaglyphMethod {
    type Err = ParseAnaglyphMethodError;

    /// Parses a method name; surrounding whitespace and ASCII case are ignored, `grey`,
    /// `colour`, `half-colour` and `optimized` are accepted as well.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('_', "-");
        let alias = match t.as_str() {
            "grey" => "gray",
            "colour" => "color",
            "half-colour" | "halfcolor" => "half-color",
            "optimized" | "optimised" => "wimmer",
            other => other,
        };
        AnaglyphMethod::ALL
            .into_iter()
            .find(|m| m.name() == alias)
            .ok_or_else(|| ParseAnaglyphMethodError {
                input: s.to_string(),
            })
    }
}

/// The method's matrices in fixed point with `frac_bits` fractional bits, as
/// `[out channel][left r, g, b, right r, g, b]`.
fn fixed_coefficients(method: AnaglyphMethod, frac_bits: u32) -> [[i32; 6]; 3] {
    let (l, r) = method.matrices();
    let one = (1u32 << frac_bits) as f32;
    let mut c = [[0i32; 6]; 3];
    for (ch, row) in c.iter_mut().enumerate() {
        for i in 0..3 {
            row[i] = (l[ch][i] * one).round() as i32;
            row[3 + i] = (r[ch][i] * one).round() as i32;
        }
    }
    c
}

/// Writes the anaglyph of two packed RGB buffers of `S` samples and equal length into `out`
/// (same length).
pub(crate) fn anaglyph<S: Sample>(
    method: AnaglyphMethod,
    left: &[u8],
    right: &[u8],
    out: &mut [u8],
) {
    let [cr, cg, cb] = fixed_coefficients(method, S::ANAGLYPH_FRAC_BITS);
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
        anaglyph::<u8>(AnaglyphMethod::Dubois, &l, &r, &mut o);
        o
    }

    fn le(v: [u16; 3]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn one16(l: [u16; 3], r: [u16; 3]) -> [u16; 3] {
        let mut o = [0u8; 6];
        anaglyph::<u16>(AnaglyphMethod::Dubois, &le(l), &le(r), &mut o);
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

    fn with(m: AnaglyphMethod, l: [u8; 3], r: [u8; 3]) -> [u8; 3] {
        let mut o = [0u8; 3];
        anaglyph::<u8>(m, &l, &r, &mut o);
        o
    }

    const RED: [u8; 3] = [255, 0, 0];
    const GREEN: [u8; 3] = [0, 255, 0];
    const BLUE: [u8; 3] = [0, 0, 255];
    const WHITE: [u8; 3] = [255; 3];
    const GREY: [u8; 3] = [128; 3];

    /// Each method on a flat region (both views the same colour), hand-computed from the
    /// matrices: e.g. half-color red = (0.299 * 255, 0, 0) = (76.2, 0, 0); Dubois red = ((0.4561
    /// - 0.0434706) * 255, (0.378476 - 0.0400822) * 255, < 0) = (105.2, 86.3, 0).
    #[test]
    fn every_method_maps_known_colours_as_its_matrices_say() {
        use AnaglyphMethod::*;
        let cases: [(AnaglyphMethod, [[u8; 3]; 5]); 6] = [
            (Color, [RED, GREEN, BLUE, WHITE, GREY]),
            (
                HalfColor,
                [[76, 0, 0], [150, 255, 0], [29, 0, 255], WHITE, GREY],
            ),
            (Gray, [[76; 3], [150; 3], [29; 3], WHITE, GREY]),
            // 0.7 * 255 = 178.5: the fixed-point 0.7 (45875 / 65536) gives 178.499, so 178.
            (
                Wimmer,
                [[0, 0, 0], [178, 255, 0], [77, 0, 255], WHITE, GREY],
            ),
            (
                Dubois,
                [[105, 86, 0], [105, 177, 0], [45, 0, 255], WHITE, GREY],
            ),
            (
                Dubois2,
                [[109, 80, 0], [106, 178, 0], [40, 0, 255], WHITE, GREY],
            ),
        ];
        for (m, want) in cases {
            for (c, w) in [RED, GREEN, BLUE, WHITE, GREY].into_iter().zip(want) {
                assert_eq!(with(m, c, c), w, "{m} of {c:?}");
            }
        }
        // Wimmer on values that are exact: 0.7 * 200 = 140, 0.3 * 200 = 60.
        assert_eq!(with(Wimmer, [0, 200, 0], [0, 200, 0]), [140, 200, 0]);
        assert_eq!(with(Wimmer, [0, 0, 200], [0, 0, 200]), [60, 0, 200]);
    }

    #[test]
    fn red_comes_from_the_left_eye_and_cyan_from_the_right() {
        use AnaglyphMethod::*;
        let black = [0u8; 3];
        for (m, left_only, right_only) in [
            (Color, [255, 0, 0], [0, 255, 255]),
            (HalfColor, [255, 0, 0], [0, 255, 255]),
            (Gray, [255, 0, 0], [0, 255, 255]),
            (Wimmer, [255, 0, 0], [0, 255, 255]),
        ] {
            assert_eq!(with(m, WHITE, black), left_only, "{m}");
            assert_eq!(with(m, black, WHITE), right_only, "{m}");
        }
        // The left view's red channel is what Wimmer drops.
        assert_eq!(with(Wimmer, RED, black), black);
        assert_eq!(with(Color, RED, black), RED);
    }

    #[test]
    fn every_method_keeps_greys_grey_in_both_formats() {
        for m in AnaglyphMethod::ALL {
            for g in [0u8, 17, 64, 128, 200, 255] {
                let o = with(m, [g; 3], [g; 3]);
                assert!(
                    o.iter().all(|c| c.abs_diff(g) <= 1),
                    "{m} grey {g} -> {o:?}"
                );
                let v = g as u16 * 257;
                let mut o16 = [0u8; 6];
                anaglyph::<u16>(m, &le([v; 3]), &le([v; 3]), &mut o16);
                for c in 0..3 {
                    let s = u16::from_le_bytes([o16[2 * c], o16[2 * c + 1]]);
                    assert!(s.abs_diff(v) <= 257, "{m} grey16 {v} -> {o16:?}");
                }
            }
        }
    }

    #[test]
    fn method_names_parse_and_list() {
        for m in AnaglyphMethod::ALL {
            assert_eq!(m.to_string().parse::<AnaglyphMethod>(), Ok(m));
        }
        assert_eq!(" Grey ".parse(), Ok(AnaglyphMethod::Gray));
        assert_eq!("half_colour".parse(), Ok(AnaglyphMethod::HalfColor));
        assert_eq!("optimized".parse(), Ok(AnaglyphMethod::Wimmer));
        assert_eq!(AnaglyphMethod::default(), AnaglyphMethod::Dubois);
        let e = "magenta".parse::<AnaglyphMethod>().unwrap_err().to_string();
        assert!(
            e.contains("\"magenta\"") && e.contains("half-color, gray, wimmer"),
            "{e}"
        );
    }

    #[test]
    fn rows_stay_inside_the_fixed_point_budget() {
        for m in AnaglyphMethod::ALL {
            let (l, r) = m.matrices();
            for ch in 0..3 {
                let abs: f32 = (0..3).map(|i| l[ch][i].abs() + r[ch][i].abs()).sum();
                assert!(abs < 1.5, "{m} row {ch}: {abs}");
            }
        }
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
