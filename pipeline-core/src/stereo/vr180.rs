//! VR180: each eye's view shown on a flat virtual screen inside an equirectangular half-sphere.
//!
//! # Geometry
//!
//! One eye's picture is a square equirectangular image covering 180° x 180°: output pixel
//! `(i, j)` of an `n x n` eye looks at yaw `((i + 0.5) / n - 0.5) * 180°` (left to right) and
//! pitch `(0.5 - (j + 0.5) / n) * 180°` (top to bottom), i.e. along the direction
//! `(cos p sin y, sin p, cos p cos y)` (x right, y up, z straight ahead).
//!
//! The source frame (`w x h`) is a flat screen in the plane `z = 1`, centred straight ahead,
//! spanning `screen_deg` horizontally: half-width `tw = tan(screen_deg / 2)`, half-height
//! `th = tw * h / w` (the source's aspect kept; its vertical span is `2 atan(th)`). A direction
//! with `z > 0` meets that plane at `(x / z, y / z) = (tan y, tan p / cos y)` (the inverse of the
//! gnomonic projection); inside the screen it reads the source at
//! `((x / z / tw + 1) / 2 * w, (1 - y / z / th) / 2 * h)` in pixel units (0 and `w` are the
//! screen's left and right edges), bilinearly between pixel centres with edges clamped; every
//! other direction is black. Both eyes use the same screen: the depth comes from the views.
//!
//! # Size
//!
//! Each eye is `n x n` with `n = h * 180 / vertical span` (the source's rows spread over the
//! screen's angular height keep about their density), rounded to an even number and clamped to
//! [`MIN_EYE`]..=[`MAX_EYE`] (2048: a 4096 x 2048 side-by-side frame, 8.4 Mpx, fits H.264
//! level 5.1, the largest H.264 picture headsets and phones decode in hardware; the default
//! output codec for 8-bit sources is H.264). A 640x360 source at the default 90° screen: span
//! 58.7°, eye 1104 (output 2208 x 1104); 1920x1080: eye 2048 (clamped from 3312).
use super::sample::Sample;

/// Default horizontal size of the virtual screen, in degrees.
pub const DEFAULT_SCREEN_DEG: f32 = 90.0;
/// Accepted screen sizes (degrees, inclusive): a flat screen cannot span 180°.
pub const MIN_SCREEN_DEG: f32 = 20.0;
pub const MAX_SCREEN_DEG: f32 = 160.0;
/// Smallest and largest eye size (pixels per side).
pub const MIN_EYE: u32 = 64;
pub const MAX_EYE: u32 = 2048;

/// Checks a screen size in degrees.
pub fn validate_screen_deg(deg: f32) -> Result<(), String> {
    if deg.is_finite() && (MIN_SCREEN_DEG..=MAX_SCREEN_DEG).contains(&deg) {
        Ok(())
    } else {
        Err(format!(
            "VR screen size must be between {MIN_SCREEN_DEG} and {MAX_SCREEN_DEG} degrees, got {deg}"
        ))
    }
}

/// The flat virtual screen a `w x h` source is shown on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Screen {
    pub w: u32,
    pub h: u32,
    /// `tan` of half the horizontal and vertical spans.
    pub tan_half_w: f64,
    pub tan_half_h: f64,
}

impl Screen {
    /// The screen for a `w x h` source spanning `screen_deg` horizontally (valid sizes only:
    /// the caller checked with [`validate_screen_deg`]; `w` and `h` non-zero).
    pub fn new(w: u32, h: u32, screen_deg: f32) -> Screen {
        let tw = (screen_deg as f64 / 2.0).to_radians().tan();
        Screen {
            w,
            h,
            tan_half_w: tw,
            tan_half_h: tw * h as f64 / w.max(1) as f64,
        }
    }

    /// Vertical span of the screen, in degrees.
    pub fn vertical_deg(&self) -> f64 {
        2.0 * self.tan_half_h.atan().to_degrees()
    }

    /// Where the direction at `yaw`, `pitch` (radians) meets the screen, in source pixel units
    /// (`(0, 0)` the top-left corner, `(w, h)` the bottom-right one), or `None` when it misses
    /// it (black).
    pub fn source_point(&self, yaw: f64, pitch: f64) -> Option<(f64, f64)> {
        let z = pitch.cos() * yaw.cos();
        if z <= 1e-9 {
            return None;
        }
        let sx = pitch.cos() * yaw.sin() / z;
        let sy = pitch.sin() / z;
        if sx.abs() > self.tan_half_w || sy.abs() > self.tan_half_h {
            return None;
        }
        Some((
            (sx / self.tan_half_w + 1.0) / 2.0 * self.w as f64,
            (1.0 - sy / self.tan_half_h) / 2.0 * self.h as f64,
        ))
    }

    /// The direction (yaw, pitch in radians) of source point `(x, y)` (pixel units, as
    /// [`Self::source_point`] returns): the forward gnomonic projection.
    pub fn direction_of(&self, x: f64, y: f64) -> (f64, f64) {
        let sx = (2.0 * x / self.w as f64 - 1.0) * self.tan_half_w;
        let sy = (1.0 - 2.0 * y / self.h as f64) * self.tan_half_h;
        (sx.atan(), (sy / (1.0 + sx * sx).sqrt()).atan())
    }
}

/// Yaw and pitch (radians) of the centre of pixel `(i, j)` of an `n x n` eye.
pub fn eye_angles(i: u32, j: u32, n: u32) -> (f64, f64) {
    let n = n.max(1) as f64;
    let pi = std::f64::consts::PI;
    (
        ((i as f64 + 0.5) / n - 0.5) * pi,
        (0.5 - (j as f64 + 0.5) / n) * pi,
    )
}

/// Side of one eye's square picture for a `w x h` source on a `screen_deg` screen (see the
/// module docs); saturates, never panics.
pub fn eye_size(w: u32, h: u32, screen_deg: f32) -> u32 {
    if w == 0 || h == 0 {
        return MIN_EYE;
    }
    let deg = screen_deg.clamp(MIN_SCREEN_DEG, MAX_SCREEN_DEG);
    let span = Screen::new(w, h, deg).vertical_deg();
    let n = (h as f64 * 180.0 / span / 2.0).round() * 2.0;
    (n.clamp(MIN_EYE as f64, MAX_EYE as f64)) as u32
}

/// One eye's mapping, precomputed: per column the source column taps, per row `tan(pitch)`.
/// Both eyes share it.
#[derive(Debug, Clone)]
pub(crate) struct EyeMap {
    n: usize,
    w: usize,
    h: usize,
    tan_half_h: f64,
    /// Per output column: left source column, weight of the next one (1/256), and
    /// `1 / cos(yaw)`; `None` for columns that miss the screen.
    cols: Vec<Option<(u32, u32, f64)>>,
    /// Per output row: `tan(pitch)`.
    tan_pitch: Vec<f64>,
    /// Per output row: the columns `[start, end)` that can meet the screen (contiguous: the
    /// screen is convex and centred); every other pixel of the row is black.
    spans: Vec<(usize, usize)>,
}

/// Left tap and weight of the right one (1/256) for position `p` (pixel units, centres at
/// `k + 0.5`) in a row of `len` samples.
fn taps(p: f64, len: usize) -> (u32, u32) {
    let s = (p - 0.5).clamp(0.0, (len - 1) as f64);
    let i0 = (s.floor() as usize).min(len - 1);
    let f = ((s - i0 as f64) * 256.0).round() as u32;
    if i0 + 1 >= len {
        (i0 as u32, 0)
    } else {
        (i0 as u32, f.min(256))
    }
}

impl EyeMap {
    /// The map for a `w x h` source (both non-zero) on a `screen_deg` screen.
    pub(crate) fn new(w: u32, h: u32, screen_deg: f32) -> EyeMap {
        let n = eye_size(w, h, screen_deg);
        let screen = Screen::new(w, h, screen_deg.clamp(MIN_SCREEN_DEG, MAX_SCREEN_DEG));
        let cols: Vec<Option<(u32, u32, f64)>> = (0..n)
            .map(|i| {
                let (yaw, _) = eye_angles(i, 0, n);
                let (x, _) = screen.source_point(yaw, 0.0)?;
                let (x0, fx) = taps(x, w as usize);
                Some((x0, fx, 1.0 / yaw.cos()))
            })
            .collect();
        let tan_pitch: Vec<f64> = (0..n).map(|j| eye_angles(0, j, n).1.tan()).collect();
        let th = screen.tan_half_h;
        let spans = tan_pitch
            .iter()
            .map(|&tp| {
                let hits = |c: &Option<(u32, u32, f64)>| {
                    c.is_some_and(|(_, _, sec)| (tp * sec).abs() <= th)
                };
                match cols.iter().position(hits) {
                    None => (0, 0),
                    Some(a) => (a, cols.iter().rposition(hits).map_or(a, |b| b + 1)),
                }
            })
            .collect();
        EyeMap {
            n: n as usize,
            w: w as usize,
            h: h as usize,
            tan_half_h: th,
            cols,
            tan_pitch,
            spans,
        }
    }

    /// Side of the eye picture.
    #[cfg(test)]
    pub(crate) fn eye(&self) -> usize {
        self.n
    }

    /// Writes both eyes: `left` and `right` (`w x h`, this map's size) into `out`, side by side
    /// (`2n x n`) or, with `top_bottom`, left above right (`n x 2n`).
    pub(crate) fn compose<S: Sample>(
        &self,
        left: &[u8],
        right: &[u8],
        top_bottom: bool,
        out: &mut [u8],
    ) {
        let (n, p) = (self.n, S::PIXEL);
        let eye_row = n * p;
        let out_row = if top_bottom { eye_row } else { 2 * eye_row };
        let right_off = if top_bottom { n * eye_row } else { eye_row };
        let src_row = self.w * p;
        for j in 0..n {
            let base = j * out_row;
            let (row_l, rest) = out[base..].split_at_mut(eye_row);
            let row_r = &mut rest[right_off - eye_row..right_off];
            let tp = self.tan_pitch[j];
            let (a, b) = self.spans[j];
            // Black outside the row's span: zero bytes are black in both formats.
            for row in [&mut *row_l, &mut *row_r] {
                row[..a * p].fill(0);
                row[b * p..].fill(0);
            }
            for (i, col) in self.cols.iter().enumerate().take(b).skip(a) {
                let (dl, dr) = (&mut row_l[i * p..][..p], &mut row_r[i * p..][..p]);
                let hit = col.and_then(|(x0, fx, sec)| {
                    let sy = tp * sec;
                    (sy.abs() <= self.tan_half_h).then(|| {
                        let y = (1.0 - sy / self.tan_half_h) / 2.0 * self.h as f64;
                        let (y0, fy) = taps(y, self.h);
                        (x0 as usize, fx, y0 as usize, fy)
                    })
                });
                match hit {
                    None => {
                        S::write_rgb([0; 3], dl);
                        S::write_rgb([0; 3], dr);
                    }
                    Some((x0, fx, y0, fy)) => {
                        let x1 = if fx > 0 { x0 + 1 } else { x0 };
                        let y1 = if fy > 0 { y0 + 1 } else { y0 };
                        let idx = [
                            y0 * src_row + x0 * p,
                            y0 * src_row + x1 * p,
                            y1 * src_row + x0 * p,
                            y1 * src_row + x1 * p,
                        ];
                        let (fx, fy) = (fx as u64, fy as u64);
                        let wts = [
                            (256 - fx) * (256 - fy),
                            fx * (256 - fy),
                            (256 - fx) * fy,
                            fx * fy,
                        ];
                        S::write_rgb(bilinear::<S>(left, &idx, &wts), dl);
                        S::write_rgb(bilinear::<S>(right, &idx, &wts), dr);
                    }
                }
            }
        }
    }
}

/// The blend of four pixels at byte offsets `idx` with weights `w` (summing to 65536), rounded
/// to nearest.
#[inline(always)]
fn bilinear<S: Sample>(img: &[u8], idx: &[usize; 4], w: &[u64; 4]) -> [u32; 3] {
    let mut acc = [32768u64; 3];
    for (&i, &wt) in idx.iter().zip(w) {
        let px = S::read_rgb(&img[i..]);
        for c in 0..3 {
            acc[c] += px[c] as u64 * wt;
        }
    }
    acc.map(|a| (a >> 16) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPS: f64 = 1e-9;

    #[test]
    fn eye_sizes_follow_the_screens_vertical_span() {
        // 640x360 at 90°: tan(45°) * 360 / 640 = 0.5625, span 2 atan(0.5625) = 58.72°,
        // 360 * 180 / 58.72 = 1103.5 -> 1104.
        let s = Screen::new(640, 360, 90.0);
        assert!(
            (s.vertical_deg() - 58.715).abs() < 0.01,
            "{}",
            s.vertical_deg()
        );
        assert_eq!(eye_size(640, 360, 90.0), 1104);
        // A bigger screen shows the same pixels over more degrees: a smaller eye picture.
        assert!(eye_size(640, 360, 120.0) < 1104);
        assert_eq!(eye_size(1920, 1080, 90.0), MAX_EYE);
        assert_eq!(eye_size(16, 8, 90.0), MIN_EYE);
        for (w, h, d) in [(640, 360, 90.0), (720, 576, 60.0), (1280, 720, 150.0)] {
            assert_eq!(eye_size(w, h, d) % 2, 0);
        }
        assert_eq!(eye_size(0, 0, 90.0), MIN_EYE);
    }

    #[test]
    fn screen_sizes_are_validated() {
        assert!(validate_screen_deg(90.0).is_ok());
        assert!(validate_screen_deg(20.0).is_ok() && validate_screen_deg(160.0).is_ok());
        for bad in [19.9, 170.0, f32::NAN, -90.0] {
            let e = validate_screen_deg(bad).unwrap_err();
            assert!(e.contains("between 20 and 160 degrees"), "{e}");
        }
    }

    #[test]
    fn straight_ahead_is_the_screen_centre() {
        let s = Screen::new(640, 360, 90.0);
        let (x, y) = s.source_point(0.0, 0.0).unwrap();
        assert!(
            (x - 320.0).abs() < EPS && (y - 180.0).abs() < EPS,
            "{x} {y}"
        );
        // The centre pixel pair of an even eye straddles yaw 0: half a pixel either side.
        let n = 1104;
        let (yaw, pitch) = eye_angles(n / 2, n / 2, n);
        let half = std::f64::consts::PI / n as f64 / 2.0;
        assert!((yaw - half).abs() < EPS && (pitch + half).abs() < EPS);
    }

    #[test]
    fn half_the_screen_angle_is_its_edge_and_beyond_is_black() {
        let s = Screen::new(640, 360, 90.0);
        let edge = 45f64.to_radians();
        let (x, y) = s.source_point(edge, 0.0).unwrap();
        assert!(
            (x - 640.0).abs() < 1e-6 && (y - 180.0).abs() < EPS,
            "{x} {y}"
        );
        let (x, _) = s.source_point(-edge, 0.0).unwrap();
        assert!(x.abs() < 1e-6, "{x}");
        assert_eq!(s.source_point(edge + 0.001, 0.0), None);
        // Top edge at pitch atan(th) straight ahead; above it, black.
        let top = s.tan_half_h.atan();
        let (_, y) = s.source_point(0.0, top).unwrap();
        assert!(y.abs() < 1e-6, "{y}");
        assert_eq!(s.source_point(0.0, top + 0.001), None);
        // Behind the viewer and at the sides: black.
        assert_eq!(s.source_point(std::f64::consts::FRAC_PI_2, 0.0), None);
        assert_eq!(s.source_point(0.0, -std::f64::consts::FRAC_PI_2), None);
        // The screen's corner, looked at along its own direction, is in; the same yaw at the
        // pitch of the top edge straight ahead is out (corners are lower, the screen is flat).
        let (cy, cp) = s.direction_of(640.0, 0.0);
        let (x, y) = s.source_point(cy - 1e-9, cp - 1e-9).unwrap();
        assert!((x - 640.0).abs() < 1e-3 && y.abs() < 1e-3, "{x} {y}");
        assert!(cp < top);
        assert_eq!(s.source_point(cy - 1e-6, top - 1e-6), None);
    }

    #[test]
    fn inverse_gnomonic_round_trips_source_pixels() {
        let s = Screen::new(1280, 720, 100.0);
        for (x, y) in [
            (0.5, 0.5),
            (100.5, 700.5),
            (640.0, 360.0),
            (1279.5, 13.5),
            (3.0, 359.0),
        ] {
            let (yaw, pitch) = s.direction_of(x, y);
            let (bx, by) = s.source_point(yaw, pitch).unwrap();
            assert!(
                (bx - x).abs() < 1e-6 && (by - y).abs() < 1e-6,
                "{x},{y} -> {bx},{by}"
            );
        }
        // A hand-computed point: yaw 30°, pitch 0 on a 90° screen: tan 30° = 0.57735 of the
        // half-width 1, so x = (0.57735 + 1) / 2 * 640 = 504.75.
        let s = Screen::new(640, 360, 90.0);
        let (x, y) = s.source_point(30f64.to_radians(), 0.0).unwrap();
        assert!((x - 504.752).abs() < 1e-3 && (y - 180.0).abs() < EPS, "{x}");
        // yaw 30°, pitch 20°: y / z = tan 20° / cos 30° = 0.42028 of th 0.5625 above centre:
        // y = (1 - 0.74716) / 2 * 360 = 45.51.
        let (_, y) = s
            .source_point(30f64.to_radians(), 20f64.to_radians())
            .unwrap();
        assert!((y - 45.51).abs() < 0.01, "{y}");
    }

    fn solid(w: usize, h: usize, f: impl Fn(usize, usize) -> [u8; 3]) -> Vec<u8> {
        (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .flat_map(|(x, y)| f(x, y))
            .collect()
    }

    #[test]
    fn compose_places_the_screen_and_blacks_the_rest() {
        let (w, h) = (64usize, 36usize);
        // Left view: colour by quadrant; right view: constant.
        let left = solid(w, h, |x, y| {
            [
                if x < w / 2 { 200 } else { 50 },
                if y < h / 2 { 100 } else { 10 },
                7,
            ]
        });
        let right = solid(w, h, |_, _| [1, 2, 3]);
        let map = EyeMap::new(w as u32, h as u32, 90.0);
        let n = map.eye();
        assert_eq!(n, eye_size(64, 36, 90.0) as usize);
        for tb in [false, true] {
            let mut out = vec![0xEE; 2 * n * n * 3];
            map.compose::<u8>(&left, &right, tb, &mut out);
            let ow = if tb { n } else { 2 * n };
            let at = |x: usize, y: usize| {
                let i = (y * ow + x) * 3;
                [out[i], out[i + 1], out[i + 2]]
            };
            let (ro_x, ro_y) = if tb { (0, n) } else { (n, 0) };
            // Corners black, the screen's quadrants where they belong, right eye constant.
            assert_eq!(at(0, 0), [0, 0, 0]);
            assert_eq!(at(n - 1, n - 1), [0, 0, 0]);
            assert_eq!(
                at(n / 4 + n / 2 - 2, n / 2 - 2)[0],
                50,
                "right of centre: right half"
            );
            assert_eq!(at(n / 2 - 3, n / 2 - 3), [200, 100, 7]);
            assert_eq!(at(n / 2 - 3, n / 2 + 3), [200, 10, 7]);
            assert_eq!(at(ro_x + n / 2, ro_y + n / 2), [1, 2, 3]);
            assert_eq!(at(ro_x, ro_y), [0, 0, 0]);
            assert!(!out.contains(&0xEE), "unwritten bytes");
            // A yaw of 44° at pitch 0 is inside a 90° screen, 46° is not.
            let col = |deg: f64| ((deg / 180.0 + 0.5) * n as f64) as usize;
            assert_ne!(at(col(44.0), n / 2), [0, 0, 0]);
            assert_eq!(at(col(46.5), n / 2), [0, 0, 0]);
        }
    }

    #[test]
    fn sixteen_bit_samples_blend_at_sixteen_bits() {
        let (w, h) = (8usize, 4usize);
        let px = |x: usize| (x as u16) * 8000 + 1;
        let img: Vec<u8> = (0..w * h)
            .flat_map(|i| [px(i % w); 3])
            .flat_map(u16::to_le_bytes)
            .collect();
        let map = EyeMap::new(w as u32, h as u32, 90.0);
        let n = map.eye();
        let mut out = vec![0u8; 2 * n * n * 6];
        map.compose::<u16>(&img, &img, false, &mut out);
        let s: Vec<u16> = out
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        // Samples between the source values occur (blends), odd ones included (not 8-bit).
        let row = &s[(n / 2) * 2 * n * 3..][..n * 3];
        assert!(
            row.iter().any(|&v| v > 0 && v % 8000 != 1 && v % 2 == 1),
            "{row:?}"
        );
    }
}
