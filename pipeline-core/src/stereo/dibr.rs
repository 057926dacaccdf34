//! Depth-image-based rendering of one row: edge dilation of the nearness, a subpixel warp in
//! occlusion-compatible order, a background-side hole fill, then a gather of the colours.
//!
//! The warp works on source *positions*, not colours: for each target pixel it records where in
//! the source row its colour is read (`pos`, a column in fixed point with [`FRAC_BITS`]
//! fractional bits). Holes are found and classified on the positions, one pass reads the colours
//! (a two-tap linear blend), and the default fill ([`Fill::Smooth`]) then writes each hole's
//! colour from the background beside it (see [`smooth_run`]). This keeps the scattered writes
//! small (4 bytes) and makes the colour passes the only steps that depend on the sample format.
//! See the module docs of [`super`](crate::stereo) for the rules.
use super::sample::Sample;

/// Fractional bits of a source position in `pos` (1/256 px).
pub(crate) const FRAC_BITS: u32 = 8;
const ONE: u32 = 1 << FRAC_BITS;
const FRAC_MASK: u32 = ONE - 1;
/// Flag on a `pos` value: a filled hole, whose colour the gather blends over five source rows.
pub(crate) const HOLE: u32 = 1 << 31;
/// `pos` of a target no source landed on (before the fill).
pub(crate) const EMPTY: u32 = u32::MAX;
/// Fractional bits of the warp's shifts and target positions (1/4096 px).
pub(crate) const WARP_BITS: u32 = 12;
const WONE: i32 = 1 << WARP_BITS;
const WHALF: i32 = WONE / 2;
/// Widest window (source columns) a smooth fill averages.
pub(crate) const SMOOTH_MAX: u32 = 48;
/// `RECIP[len - WONE / 2] = round(2^27 / len)` for every segment length `len` the warp
/// interpolates over (`(0.5, 2)` px in [`WARP_BITS`] fixed point): a table instead of a division
/// per source pixel.
const RECIP_LEN: usize = 3 * WHALF as usize;
static RECIP: [u16; RECIP_LEN] = recip_table();

const fn recip_table() -> [u16; RECIP_LEN] {
    let mut t = [0u16; RECIP_LEN];
    let mut i = 1;
    while i < RECIP_LEN {
        let len = (i + WHALF as usize) as u32;
        t[i] = (((1u32 << 27) + len / 2) / len) as u16;
        i += 1;
    }
    t
}

/// Largest row radius of a smooth fill's vertical average.
pub(crate) const SMOOTH_ROWS: u32 = 8;

/// How holes are filled (the default is [`Fill::Smooth`]; the others exist for the quality
/// benchmark's comparisons).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Every hole of a run copies the background neighbour (the old rule: horizontal streaks).
    Copy,
    /// The background beside the run is mirrored into it, one source row.
    Mirror,
    /// [`Fill::Mirror`], each colour a blend of the five source rows around the hole's row
    /// (weights 1-2-2-2-1) and of two neighbouring columns (half a pixel away from the hole).
    MirrorRows,
    /// The hole `j` px from its background neighbour (`j = 0` next to it) takes the mean of the
    /// `2j + 1` usable background source columns from the neighbour's on, away from the hole (at
    /// most [`SMOOTH_MAX`]; centred on the mirror image of the hole pixel), each averaged over
    /// the `2r + 1` rows around the hole's row, `r = len / 2` clamped to `2..=`[`SMOOTH_ROWS`]
    /// for a run of `len` holes: the background's colour continues into the hole and smooths
    /// out with the distance, without streaks along the row.
    Smooth,
}

/// Renderer settings that are not part of the API (the quality benchmark compares them).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Radius (px) by which the near side of a depth edge is dilated; 0 turns dilation off.
    pub dilate: usize,
    /// Shift difference (px) between neighbouring pixels from which they are two surfaces (a
    /// depth edge) rather than one; in `(0, 1)`.
    pub edge_px: f32,
    pub fill: Fill,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            dilate: 1,
            edge_px: 0.75,
            fill: Fill::Smooth,
        }
    }
}

/// Integer offset (px) that keeps `s + offset` positive for every shift `|s| <= k`, so that
/// truncation (`as i32`) rounds the right way without a libm call.
pub(crate) fn round_offset(k: f32) -> i32 {
    k.abs().ceil() as i32 + 2
}

/// Per-eye shifts of one row in fixed point ([`WARP_BITS`]): `k * (n - conv)` rounded to the
/// nearest 1/4096 px (ties to even), and one more element repeating the last (`out` is
/// `near.len() + 1` long). Rounds by adding `1.5 * 2^23` (the float's last bit is then 1/4096
/// px, for shifts below 1024 px), so the loop has no float-to-integer conversion and vectorises.
pub(crate) fn shift_row(near: &[f32], k: f32, conv: f32, out: &mut [i32]) {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let w = near.len();
    let scale = k * WONE as f32;
    let magic_bits = MAGIC.to_bits() as i32;
    for (o, &n) in out[..w].iter_mut().zip(near) {
        *o = ((n - conv) * scale + MAGIC).to_bits() as i32 - magic_bits;
    }
    out[w] = if w > 0 { out[w - 1] } else { 0 };
}

/// Dilates the near side of depth edges: `out[x]` is the largest nearness within `r` pixels of
/// `x` when that exceeds `near[x]` by more than `gate`, else `near[x]`. Smooth depth (slopes
/// below `gate` per `r` pixels) is left exactly as it is.
pub(crate) fn dilate_row(near: &[f32], r: usize, gate: f32, out: &mut [f32]) {
    let w = near.len();
    let out = &mut out[..w];
    out.copy_from_slice(near);
    // Running maximum, one offset at a time (branch-free, vectorised).
    for o in 1..=r.min(w.saturating_sub(1)) {
        for (a, &b) in out[..w - o].iter_mut().zip(&near[o..]) {
            *a = if b > *a { b } else { *a };
        }
        for (a, &b) in out[o..].iter_mut().zip(&near[..w - o]) {
            *a = if b > *a { b } else { *a };
        }
    }
    for (a, &n) in out.iter_mut().zip(near) {
        *a = if *a - n > gate { *a } else { n };
    }
}

/// Warps one row into one view.
///
/// `shift` holds the per-eye shifts in fixed point ([`shift_row`]); source column `x` lands at
/// `p(x) = x + sign * shift[x]` (`sign` 1 for the left view, -1 for the right). Between two
/// neighbours whose shifts differ by at most `edge` (same fixed point; one surface), the segment
/// `[p(x), p(x+1))` is filled by linear interpolation: target `t` reads source position `x +
/// (t - p(x)) / (p(x+1) - p(x))`. Across a larger difference (a depth edge) each side keeps only
/// its own half pixel, unblended: `[p(x), p(x) + 0.5)` reads `x`, `[p(x+1) - 0.5, p(x+1))` reads
/// `x + 1`; the gap between is a hole. The first pixel also covers `[p(0) - 0.5, p(0))`, the
/// last `[p(w-1), p(w-1) + 1)`.
///
/// Occlusion without a z-buffer: sources are drawn in occlusion-compatible order (left to right
/// for the right view, right to left for the left view), in which a later source landing on a
/// target is always the nearer one (two source points `u < u'` on one right-view target have
/// `u - s(u) = u' - s(u')`, so `s(u') > s(u)`; mirrored for the left view), so it simply
/// overwrites. A segment covers less than 2 px (`edge < 1`), so each writes exactly two slots,
/// branch-free; a slot outside the segment is the spare last element.
///
/// `shift` has one element more than the row (`w + 1`, the last a copy of the one before: see
/// [`shift_row`]). Target `t` is `pos[margin + t]`: `pos` holds `margin` slots on each side of
/// the row, so that targets off the row need no test (`margin >= ceil(max |shift|) + 2`, see
/// [`round_offset`]), and one spare slot at the end: `w + 2 * margin + 1` elements. The row's
/// targets no source landed on are left [`EMPTY`]; the margins hold garbage.
pub(crate) fn warp_view(shift: &[i32], sign: i32, edge: i32, margin: usize, pos: &mut [u32]) {
    // Monomorphised per direction: the sign is a constant in the inner loop.
    if sign < 0 {
        warp_dir::<-1>(shift, edge, margin, pos)
    } else {
        warp_dir::<1>(shift, edge, margin, pos)
    }
}

fn warp_dir<const SIGN: i32>(shift: &[i32], edge: i32, margin: usize, pos: &mut [u32]) {
    let sign = SIGN;
    let w = shift.len() - 1;
    let spare = w + 2 * margin;
    let pos = &mut pos[..spare + 1];
    pos[margin..margin + w].fill(EMPTY);
    if w == 0 {
        return;
    }
    let m = margin as i32;
    let lo = -edge.min(WHALF - 1);
    let first = |pos: &mut [u32]| {
        let p = sign * shift[0];
        let t = ceil(p - WHALF);
        pos[slot(t + m, ceil(p) + m, spare)] = 0;
    };
    let seg = |x: usize, clamp: u32, pos: &mut [u32]| {
        segment::<SIGN>(shift, x, lo, edge, m, spare, clamp, pos)
    };
    let last = (w as u32 - 1) * ONE;
    if sign < 0 {
        first(pos);
        for x in 0..w - 1 {
            seg(x, u32::MAX, pos);
        }
        seg(w - 1, last, pos);
    } else {
        seg(w - 1, last, pos);
        for x in (0..w - 1).rev() {
            seg(x, u32::MAX, pos);
        }
        first(pos);
    }
}

/// `ceil(p)` of a fixed-point ([`WARP_BITS`]) position.
#[inline(always)]
fn ceil(p: i32) -> i32 {
    (p + WONE - 1) >> WARP_BITS
}

/// Slot `t` (already offset by the margin, so never negative) when it lies before `end`, else
/// the spare one.
#[inline(always)]
fn slot(t: i32, end: i32, spare: usize) -> usize {
    if t < end {
        t as usize
    } else {
        spare
    }
}

/// Draws the piece of source `x` (to `x + 1`) of [`warp_view`]; positions are clamped to
/// `clamp` (only the last pixel's extension reaches past the row).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn segment<const SIGN: i32>(
    shift: &[i32],
    x: usize,
    lo: i32,
    edge: i32,
    m: i32,
    spare: usize,
    clamp: u32,
    pos: &mut [u32],
) {
    let s0 = SIGN * shift[x];
    let s1 = SIGN * shift[x + 1];
    let p0 = ((x as i32) << WARP_BITS) + s0;
    let d = s1 - s0;
    let base = (x as u32) << FRAC_BITS;
    // lo <= d <= edge, one unsigned comparison.
    if (d - lo) as u32 <= (edge - lo) as u32 {
        let len = WONE + d;
        let inv = RECIP[(len - WHALF) as usize] as u32;
        let (t0, t1) = (ceil(p0), ceil(p0 + len) + m);
        // fr = (dt * inv + 2^18) >> 19 for dt = t0 - p0 and dt + 1 px: one product.
        let q = ((t0 << WARP_BITS) - p0) as u32 * inv + (1 << 18);
        let fr0 = q >> 19;
        let fr1 = (q + (inv << WARP_BITS)) >> 19;
        pos[slot(t0 + m, t1, spare)] = (base + fr0).min(clamp);
        pos[slot(t0 + 1 + m, t1, spare)] = (base + fr1).min(clamp);
    } else {
        let p1 = p0 + WONE + d;
        let (tn, tf) = (ceil(p0) + m, ceil(p1 - WHALF) + m);
        let sn = slot(tn, ceil(p0 + WHALF) + m, spare);
        let sf = slot(tf, ceil(p1) + m, spare);
        // The near piece (source x) first in the right view, last in the left view.
        if SIGN < 0 {
            pos[sn] = base;
            pos[sf] = base + ONE;
        } else {
            pos[sf] = base + ONE;
            pos[sn] = base;
        }
    }
}

/// One run of holes filled by [`Fill::Smooth`]: targets `start..start + len`, the background
/// neighbour's source column `base`, `m >= 1` usable background source columns going away from
/// the hole (`base`, `base - 1`, .. when `from_left`, else `base`, `base + 1`, ..).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    pub start: u32,
    pub len: u32,
    pub base: u32,
    pub m: u32,
    /// The background neighbour is on the run's left (the hole pixel next to it is `start`).
    pub from_left: bool,
}

/// Fills the holes ([`EMPTY`] targets) of one warped row from the background side.
///
/// For each run of holes, the nearest written neighbours on the left and on the right are
/// compared and the farther one (lower nearness of the source it reads, in `near`) is the
/// background, so a foreground edge is never stretched into a disocclusion. Equal nearness picks
/// the left neighbour when `prefer_left` (use it for the left view, whose disocclusions open on
/// the left of near objects), else the right one. A run touching the image edge takes its only
/// neighbour; a row with no written pixel at all (impossible within the parameter limits)
/// becomes the identity.
///
/// Source columns beyond the neighbour's (away from the hole) are usable background while
/// their nearness is at most `tol` above the neighbour's, up to the first that is not or the
/// row's end.
/// * [`Fill::Copy`]: every hole copies the neighbour's position.
/// * [`Fill::Mirror`], [`Fill::MirrorRows`]: the background is mirrored into the run: the hole
///   pixel `j` px from the neighbour reads the source `j` px beyond the neighbour's source
///   position (ping-pong over the usable ones). `MirrorRows` also flags the positions with
///   [`HOLE`] so the gather blends five rows, and reads half a pixel further from the hole.
/// * [`Fill::Smooth`]: the positions are the neighbour's (the gather copies it; [`smooth_run`]
///   then overwrites the run's colours), and the run is pushed onto `runs` (cleared first, in
///   every mode).
pub(crate) fn fill_holes_row(
    pos: &mut [u32],
    near: &[f32],
    tol: f32,
    prefer_left: bool,
    fill: Fill,
    runs: &mut Vec<Run>,
) {
    runs.clear();
    let w = near.len();
    let pos = &mut pos[..w];
    let last = (w as u32).saturating_sub(1) * ONE;
    let flag = if fill == Fill::MirrorRows { HOLE } else { 0 };
    let src_near = |p: u32| near[(p >> FRAC_BITS) as usize];
    let mut x = 0;
    while x < w {
        x = next_hole(pos, x);
        if x == w {
            break;
        }
        let start = x;
        while x < w && pos[x] == EMPTY {
            x += 1;
        }
        let left = start.checked_sub(1);
        let right = (x < w).then_some(x);
        // The background neighbour, and whether the run lies to its left (mirror to the right).
        let (from, run_is_left) = match (left, right) {
            (Some(l), Some(r)) => {
                let (zl, zr) = (src_near(pos[l]), src_near(pos[r]));
                if zl < zr || (zl == zr && prefer_left) {
                    (l, false)
                } else {
                    (r, true)
                }
            }
            (Some(l), None) => (l, false),
            (None, Some(r)) => (r, true),
            (None, None) => {
                for (i, v) in pos.iter_mut().enumerate() {
                    *v = i as u32 * ONE;
                }
                return;
            }
        };
        let base = pos[from];
        let len = x - start;
        if fill == Fill::Copy {
            pos[start..x].fill(base);
            continue;
        }
        let limit = src_near(base) + tol;
        if fill == Fill::Smooth {
            // Whole source columns from the neighbour's (rounded) on, away from the hole.
            let b = ((base + ONE / 2) >> FRAC_BITS).min(w as u32 - 1);
            let want = (2 * len as u32 - 1).min(SMOOTH_MAX);
            let mut m = 1u32;
            while m < want {
                let c = if run_is_left {
                    b + m
                } else {
                    match b.checked_sub(m) {
                        Some(c) => c,
                        None => break,
                    }
                };
                if c as usize >= w || near[c as usize] > limit {
                    break;
                }
                m += 1;
            }
            pos[start..x].fill(b * ONE);
            runs.push(Run {
                start: start as u32,
                len: len as u32,
                base: b,
                m,
                from_left: !run_is_left,
            });
            continue;
        }
        // How many mirrored sources are usable: m >= 1 (the neighbour itself).
        let usable = |c: u32| {
            let i = (c >> FRAC_BITS) as usize;
            let j = if c & FRAC_MASK == 0 { i } else { i + 1 };
            j < w && near[i] <= limit && near[j] <= limit
        };
        let mut m = 1u32;
        while (m as usize) < len {
            let step = m * ONE;
            let c = if run_is_left {
                base.checked_add(step).filter(|&c| c <= last)
            } else {
                base.checked_sub(step)
            };
            match c {
                Some(c) if usable(c) => m += 1,
                _ => break,
            }
        }
        for j in 0..len as u32 {
            // Ping-pong over 0..m: 0, 1, .., m-1, m-1, .., 0, 0, 1, ..
            let r = j % (2 * m);
            let jj = if r < m { r } else { 2 * m - 1 - r };
            // Rows blend (MirrorRows) half a pixel further, when that source is usable too.
            let half = if flag != 0 && jj + 1 < m { ONE / 2 } else { 0 };
            let (t, c) = if run_is_left {
                (x - 1 - j as usize, base + jj * ONE + half)
            } else {
                (start + j as usize, base - jj * ONE - half)
            };
            pos[t] = c | flag;
        }
    }
}

/// The first [`EMPTY`] target at or after `x` (`pos.len()` if none): eight at a time while
/// there is none (a branch-free test per eight, vectorised), then one by one.
#[inline(always)]
fn next_hole(pos: &[u32], mut x: usize) -> usize {
    while x + 8 <= pos.len() {
        let any = pos[x..x + 8].iter().fold(false, |a, &p| a | (p == EMPTY));
        if any {
            break;
        }
        x += 8;
    }
    while x < pos.len() && pos[x] != EMPTY {
        x += 1;
    }
    x
}

/// Linear blend of the pixels at source position `p` (fixed point, [`FRAC_BITS`]) of one packed
/// row of `w` pixels: `(a * (256 - f) + b * f + 128) >> 8` per channel, `b` the next pixel
/// (clamped to the row). A whole position copies its pixel exactly. Branch-free.
#[inline(always)]
fn lerp<S: Sample>(row: &[u8], p: u32, w: usize) -> [u32; 3] {
    if w < 2 {
        return S::read_rgb(row);
    }
    // The pair (i, i + 1) always lies in the row: the last pixel is the pair (w - 2, w - 1) at
    // weight 256 (one bounds check per pair).
    let i = ((p >> FRAC_BITS) as usize).min(w - 2);
    let f = p - ((i as u32) << FRAC_BITS);
    let pair = &row[i * S::PIXEL..(i + 2) * S::PIXEL];
    let g = ONE - f;
    if S::BYTES == 1 {
        // Three 16-bit lanes in one u64 (255 * 256 + 128 < 2^16: no carry between lanes).
        let pack = |q: &[u8]| q[0] as u64 | (q[1] as u64) << 16 | (q[2] as u64) << 32;
        const HALF: u64 = 128 | 128 << 16 | 128 << 32;
        let v = (pack(&pair[..3]) * g as u64 + pack(&pair[3..6]) * f as u64 + HALF) >> 8;
        return [
            v as u32 & 0xFF,
            (v >> 16) as u32 & 0xFF,
            (v >> 32) as u32 & 0xFF,
        ];
    }
    let (a, b) = (S::read_rgb(pair), S::read_rgb(&pair[S::PIXEL..]));
    let half = ONE / 2;
    [0, 1, 2].map(|c| (a[c] * g + b[c] * f + half) >> FRAC_BITS)
}

/// Reads the colours of row `y` of one view: `dst[t]` is the blend at source position `pos[t]`
/// in row `y` of `frame` (packed RGB, `w x h` pixels of `S` samples), or for a [`HOLE`] the
/// blend `(a + 2b + 2c + 2d + e + 4) >> 3` of rows `y - 2 ..= y + 2` (clamped to the frame) at
/// that position.
pub(crate) fn gather_row<S: Sample>(
    frame: &[u8],
    w: usize,
    h: usize,
    y: usize,
    pos: &[u32],
    dst: &mut [u8],
) {
    gather::<S, true>(frame, w, h, y, pos, dst)
}

/// [`gather_row`] for positions without a [`HOLE`] flag (every fill but [`Fill::MirrorRows`]):
/// no test per pixel.
pub(crate) fn gather_row_plain<S: Sample>(
    frame: &[u8],
    w: usize,
    h: usize,
    y: usize,
    pos: &[u32],
    dst: &mut [u8],
) {
    gather::<S, false>(frame, w, h, y, pos, dst)
}

#[inline(always)]
fn gather<S: Sample, const FLAGS: bool>(
    frame: &[u8],
    w: usize,
    h: usize,
    y: usize,
    pos: &[u32],
    dst: &mut [u8],
) {
    let stride = w * S::PIXEL;
    let row = |r: usize| &frame[r * stride..(r + 1) * stride];
    let src = row(y);
    for (d, &p) in dst.chunks_exact_mut(S::PIXEL).zip(&pos[..w]) {
        if !FLAGS || p & HOLE == 0 {
            S::write_rgb(lerp::<S>(src, p, w), d);
        } else {
            let p = p & !HOLE;
            let rows = five_rows(frame, stride, h, y);
            let c = rows.map(|r| lerp::<S>(r, p, w));
            S::write_rgb(
                [0, 1, 2].map(|i| (c[0][i] + 2 * (c[1][i] + c[2][i] + c[3][i]) + c[4][i] + 4) >> 3),
                d,
            );
        }
    }
}

/// Rows `y - 2 ..= y + 2` of a frame (clamped to it).
#[inline(always)]
fn five_rows(frame: &[u8], stride: usize, h: usize, y: usize) -> [&[u8]; 5] {
    let row = |r: usize| &frame[r * stride..(r + 1) * stride];
    [
        row(y.saturating_sub(2)),
        row(y.saturating_sub(1)),
        row(y),
        row((y + 1).min(h - 1)),
        row((y + 2).min(h - 1)),
    ]
}

/// Writes the colours of one [`Fill::Smooth`] run of row `y` (see [`Fill::Smooth`]): the hole
/// `j` px from the background neighbour is the mean of the first `n = min(2j + 1, m)` usable
/// source columns from `run.base` away from the hole, each column summed over the `q = 2r + 1`
/// rows `y - r ..= y + r` (clamped to the frame, `r = len / 2` in `2..=`[`SMOOTH_ROWS`]):
/// `(sum + qn / 2) / (qn)` per channel, integer arithmetic, so a constant added to every sample
/// is added to the result exactly. Running sums: each column is read once.
pub(crate) fn smooth_run<S: Sample>(
    frame: &[u8],
    w: usize,
    h: usize,
    y: usize,
    run: &Run,
    dst: &mut [u8],
) {
    let stride = w * S::PIXEL;
    let rad = (run.len / 2).clamp(2, SMOOTH_ROWS) as isize;
    let rows = 2 * rad as u32 + 1;
    let row = |r: isize| {
        let r = r.clamp(0, h as isize - 1) as usize;
        &frame[r * stride..(r + 1) * stride]
    };
    let column = |o: u32| {
        let c = if run.from_left {
            run.base - o
        } else {
            run.base + o
        } as usize;
        let mut a = [0u32; 3];
        for r in y as isize - rad..=y as isize + rad {
            let v = S::read_rgb(&row(r)[c * S::PIXEL..]);
            a = [0, 1, 2].map(|i| a[i] + v[i]);
        }
        a
    };
    let mut acc = [0u32; 3];
    let mut n = 0u32;
    for j in 0..run.len {
        let want = (2 * j + 1).min(run.m);
        while n < want {
            let c = column(n);
            acc = [0, 1, 2].map(|i| acc[i] + c[i]);
            n += 1;
        }
        let t = if run.from_left {
            run.start + j
        } else {
            run.start + run.len - 1 - j
        } as usize;
        let v = [0, 1, 2].map(|i| (acc[i] + rows * n / 2) / (rows * n));
        S::write_rgb(v, &mut dst[t * S::PIXEL..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Warps a row of nearness (shift scale `k`, convergence `conv`) into the left view (`sign`
    /// 1) or the right view (-1): the positions (one per target), holes unfilled.
    fn warp(near: &[f32], k: f32, conv: f32, sign: i32) -> Vec<u32> {
        let w = near.len();
        let mut shift = vec![0; w + 1];
        shift_row(near, k, conv, &mut shift);
        let m = round_offset(k) as usize;
        let mut pos = vec![7; w + 2 * m + 1];
        let edge = (Tuning::default().edge_px * WONE as f32) as i32;
        warp_view(&shift, sign, edge, m, &mut pos);
        pos[m..m + w].to_vec()
    }

    fn fill(pos: &mut [u32], near: &[f32], left: bool, fill: Fill) -> Vec<Run> {
        let mut runs = Vec::new();
        fill_holes_row(pos, near, 0.1, left, fill, &mut runs);
        runs
    }

    /// Source positions in pixels.
    fn px(pos: &[u32]) -> Vec<f32> {
        pos.iter()
            .map(|&p| (p & !HOLE) as f32 / ONE as f32)
            .collect()
    }

    #[test]
    fn shifts_round_to_the_nearest_step() {
        let mut s = [0; 5];
        shift_row(&[0.5, 1.0, 0.0, 0.625], 4.0, 0.5, &mut s);
        assert_eq!(s, [0, 2 * WONE, -2 * WONE, WHALF, WHALF]);
    }

    #[test]
    fn flat_at_convergence_is_identity() {
        for sign in [1, -1] {
            let pos = warp(&[0.5; 8], 4.0, 0.5, sign);
            assert_eq!(pos, (0..8).map(|x| x * ONE).collect::<Vec<_>>());
        }
    }

    #[test]
    fn subpixel_shift_reads_between_source_pixels() {
        // s = 4 * (0.625 - 0.5) = 0.5: left target t reads source t - 0.5, right t + 0.5.
        let pos = warp(&[0.625; 6], 4.0, 0.5, 1);
        assert_eq!(px(&pos[1..]), [0.5, 1.5, 2.5, 3.5, 4.5]);
        // Target 0 is covered by source 0's left half pixel, [p(0) - 0.5, p(0)) = [0, 0.5).
        assert_eq!(pos[0], 0);
        let pos = warp(&[0.625; 6], 4.0, 0.5, -1);
        assert_eq!(px(&pos[..5]), [0.5, 1.5, 2.5, 3.5, 4.5]);
        // The last target: past the last pixel, which it reads as it is.
        assert_eq!(px(&pos[5..]), vec![5.0]);
        // s = 0.25 (a quarter pixel): left target t reads t - 0.25.
        let pos = warp(&[0.5625; 4], 4.0, 0.5, 1);
        assert_eq!(px(&pos[1..]), [0.75, 1.75, 2.75]);
    }

    #[test]
    fn a_half_pixel_shift_blends_two_neighbours() {
        // Gather at half positions: the average of the two neighbours, rounding half up, in both
        // sample formats (16-bit values keep their low bits).
        let src = [10u8, 20, 30, 11, 21, 31, 200, 100, 0];
        let pos = [ONE / 2, ONE + ONE / 2, 2 * ONE];
        let mut dst = [0u8; 9];
        gather_row::<u8>(&src, 3, 1, 0, &pos, &mut dst);
        assert_eq!(dst, [11, 21, 31, 106, 61, 16, 200, 100, 0]);
        let src16: Vec<u8> = [1000u16, 2001, 3000, 1003, 2000, 3000]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut dst = [0u8; 12];
        gather_row::<u16>(&src16, 2, 1, 0, &[ONE / 2, ONE], &mut dst[..]);
        let got: Vec<u16> = dst
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(got, [1002, 2001, 3000, 1003, 2000, 3000]);
    }

    #[test]
    fn slanted_depth_interpolates_positions() {
        // Shift grows by 0.1 px per pixel: right-view target t reads the source u with
        // u - s(u) = t, s(u) = 0.1 u (linear interpolation is exact on a linear shift).
        let near: Vec<f32> = (0..12).map(|x| 0.5 + 0.025 * x as f32).collect();
        let pos = warp(&near, 4.0, 0.5, -1);
        for (t, u) in px(&pos).into_iter().enumerate().take(10) {
            let want = t as f32 / 0.9;
            assert!((u - want).abs() <= 1.0 / 256.0, "target {t}: {u} vs {want}");
        }
    }

    #[test]
    fn nearer_source_wins_in_both_views() {
        // k = 4, conv = 0.5. Source 2 (near, s = 2) and source 4 (at convergence) both land on
        // left target 4: source 2 (drawn after source 4, right to left) must win.
        let mut near = [0.5; 10];
        near[2] = 1.0;
        let pos = warp(&near, 4.0, 0.5, 1);
        assert_eq!(pos[4], 2 * ONE);
        // Right view: source 6 (near, lands on 4) comes after source 4 and must replace it.
        let mut near = [0.5; 10];
        near[6] = 1.0;
        let pos = warp(&near, 4.0, 0.5, -1);
        assert_eq!(pos[4], 6 * ONE);
        // Behind the screen (conv = 1, far s = -4): far source 7 lands on left target 3, where
        // source 3 (s = 0) is nearer and must stay; in the right view far source 3 lands on 7.
        let mut near = [1.0; 10];
        near[7] = 0.0;
        assert_eq!(warp(&near, 4.0, 1.0, 1)[3], 3 * ONE);
        let mut near = [1.0; 10];
        near[3] = 0.0;
        assert_eq!(warp(&near, 4.0, 1.0, -1)[7], 7 * ONE);
        // A one-pixel near column survives on its own (a depth edge on both sides): it keeps its
        // whole pixel, unblended with its neighbours.
        let mut near = [0.5; 10];
        near[5] = 1.0;
        assert_eq!(warp(&near, 4.0, 0.5, -1)[3], 5 * ONE);
        assert_eq!(warp(&near, 4.0, 0.5, 1)[7], 5 * ONE);
    }

    #[test]
    fn occlusion_order_matches_a_z_buffer_on_random_rows() {
        // Against a plain z-buffer of the same pieces (nearest source point wins): on every
        // target both pick a source of the same nearness.
        let mut seed = 99u32;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % 1000) as f32 / 999.0
        };
        for _ in 0..300 {
            let w = 24;
            // Piecewise-constant layers in steps of 1/8 (1 px of shift at k = 8: every step is a
            // depth edge, every shift whole), so each target has one clear nearest source.
            let mut near = vec![0.0f32; w];
            let mut v = (rnd() * 8.0).round() / 8.0;
            for n in near.iter_mut() {
                if rnd() < 0.2 {
                    v = (rnd() * 8.0).round() / 8.0;
                }
                *n = v;
            }
            let k = 8.0;
            for sign in [1, -1] {
                let pos = warp(&near, k, 0.5, sign);
                for t in 0..w {
                    if pos[t] == EMPTY {
                        continue;
                    }
                    // Every source whose pixel covers target t in the view, at its own shift.
                    let best = (0..w)
                        .filter(|&x| {
                            let p = x as f32 + sign as f32 * k * (near[x] - 0.5);
                            (p - 0.5..p + 0.5).contains(&(t as f32))
                        })
                        .map(|x| near[x])
                        .fold(f32::NEG_INFINITY, f32::max);
                    let got = near[(pos[t] >> FRAC_BITS) as usize];
                    if best.is_finite() {
                        assert_eq!(got, best, "sign {sign} target {t} {near:?} {pos:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn depth_edges_leave_holes_unblended() {
        // Background at convergence, foreground from source 4 on, shifted 2 px left (right
        // view): targets 0..2 read sources 0..2 exactly (no blend across the edge), the
        // foreground starts at target 2 with source 4, and the sources it covers are gone.
        let near = [0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0];
        let pos = warp(&near, 4.0, 0.5, -1);
        assert_eq!(&pos[..2], &[0, ONE]);
        assert_eq!(&px(&pos[2..6]), &[4.0, 5.0, 6.0, 7.0]);
        assert_eq!(&pos[6..], &[EMPTY, EMPTY], "the right border opens");
        // Left view: the foreground moves right; the gap between source 3's half pixel and the
        // foreground's is a hole.
        let pos = warp(&near, 4.0, 0.5, 1);
        assert_eq!(&px(&pos[..4]), &[0.0, 1.0, 2.0, 3.0]);
        assert_eq!(&pos[4..6], &[EMPTY, EMPTY]);
        assert_eq!(px(&pos[6..]), [4.0, 5.0]);
    }

    #[test]
    fn edge_dilation_grows_the_near_side_only_at_depth_edges() {
        let row = [0.2, 0.2, 0.2, 0.2, 0.9, 0.9, 0.9, 0.2, 0.2];
        let mut out = [0.0; 9];
        dilate_row(&row, 1, 0.1, &mut out);
        assert_eq!(out, [0.2, 0.2, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2]);
        dilate_row(&row, 2, 0.1, &mut out);
        assert_eq!(out, [0.2, 0.2, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]);
        // A smooth slope (steps below the gate) is untouched.
        let ramp: Vec<f32> = (0..9).map(|x| 0.1 + 0.05 * x as f32).collect();
        dilate_row(&ramp, 2, 0.11, &mut out);
        assert_eq!(out.to_vec(), ramp);
    }

    #[test]
    fn holes_take_the_farther_side() {
        // A run between a far (0.2) and a near (0.9) written pixel reads the far side; a run at
        // the border reads its only neighbour. Copy fill: the old rule.
        let mut near = [0.2; 16];
        near[14] = 0.9;
        near[15] = 0.9;
        // (The nearness is read at the source columns, so the row is long enough for them.)
        let mut pos = vec![0; 16];
        pos[..8].copy_from_slice(&[
            10 * ONE,
            11 * ONE,
            EMPTY,
            EMPTY,
            14 * ONE,
            15 * ONE,
            EMPTY,
            7 * ONE,
        ]);
        fill(&mut pos, &near, false, Fill::Copy);
        assert_eq!(pos[..8], [10, 11, 11, 11, 14, 15, 7, 7].map(|v| v * ONE));
        // Ties: the left neighbour in the left view, the right one in the right view.
        let mut a = [ONE, EMPTY, 2 * ONE];
        fill(&mut a, &[0.5; 3], true, Fill::Copy);
        assert_eq!(a[1], ONE);
        let mut b = [ONE, EMPTY, 2 * ONE];
        fill(&mut b, &[0.5; 3], false, Fill::Copy);
        assert_eq!(b[1], 2 * ONE);
        // No written pixel at all: the identity.
        let mut c = [EMPTY; 3];
        fill(&mut c, &[0.5; 3], true, Fill::Mirror);
        assert_eq!(c, [0, ONE, 2 * ONE]);
    }

    #[test]
    fn hole_fill_mirrors_background_texture_instead_of_a_streak() {
        // A 4-px hole whose background neighbour is on the right (target 6, source 6): the hole
        // reads sources 6, 7, 8, 9 going away from it, mirrored: target 5 reads 6, target 2
        // reads 9. Not one repeated pixel.
        let mut near = [0.2f32; 12];
        near[..2].fill(0.9);
        let mut pos: Vec<u32> = (0..12).map(|x| x * ONE).collect();
        pos[2..6].fill(EMPTY);
        fill(&mut pos, &near, false, Fill::MirrorRows);
        // (MirrorRows reads half a pixel further from the hole: two columns blend.)
        assert_eq!(px(&pos[2..6]), [9.0, 8.5, 7.5, 6.5]);
        assert!(pos[2..6].iter().all(|&p| p & HOLE != 0));
        assert!(pos[..2].iter().chain(&pos[6..]).all(|&p| p & HOLE == 0));
        // Background on the left (left view): mirrored the other way, from its source 4.
        let mut near = [0.2; 6];
        near[5] = 0.9;
        let mut pos = [3 * ONE, 4 * ONE, EMPTY, EMPTY, EMPTY, 5 * ONE];
        fill(&mut pos, &near, true, Fill::Mirror);
        assert_eq!(px(&pos[2..5]), [4.0, 3.0, 2.0]);
        // The mirror turns back at a near source (source 6 is foreground): 4, 5, 5, 4.
        let mut near = [0.2f32; 8];
        near[0] = 0.9;
        near[6] = 0.9;
        let mut pos =
            [0, EMPTY, EMPTY, EMPTY, EMPTY, 4, 5, 6].map(|v| if v == EMPTY { v } else { v * ONE });
        fill(&mut pos, &near, false, Fill::Mirror);
        assert_eq!(px(&pos[1..5]), [4.0, 5.0, 5.0, 4.0]);
    }

    #[test]
    fn filled_holes_blend_background_rows_without_streaks() {
        // A textured background, 3 rows of 8 pixels (colour = 10 * column + row). A hole at
        // targets 0..3 of the middle row, filled from source 3 on: five colours, all different
        // along the row, each a blend of the rows around it (rows clamp at the frame).
        let (w, h) = (8, 3);
        let frame: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [(10 * x + y) as u8; 3]))
            .collect();
        let mut pos: Vec<u32> = (0..w as u32).map(|x| x * ONE).collect();
        pos[..3].fill(EMPTY);
        fill(&mut pos, &[0.2; 8], false, Fill::MirrorRows);
        let mut dst = vec![0u8; w * 3];
        gather_row::<u8>(&frame, w, h, 1, &pos, &mut dst);
        let got: Vec<u8> = dst.chunks_exact(3).map(|p| p[0]).collect();
        // Hole targets 2, 1, 0 read sources 3.5, 4.5, 5 (the last has no usable source beyond):
        // 10 * 3.5 + 1 = 36, 46, 51 (rows 0, 0, 1, 2, 2 average to 1).
        assert_eq!(&got[..3], &[51, 46, 36]);
        assert_eq!(&got[3..], &[31, 41, 51, 61, 71]);
    }

    /// Renders one row `y` of `frame` (`w x h`, rgb24) through warp positions `pos` with the
    /// smooth fill; returns the row.
    fn smooth_fill(
        frame: &[u8],
        w: usize,
        h: usize,
        y: usize,
        mut pos: Vec<u32>,
        near: &[f32],
        left: bool,
    ) -> Vec<u8> {
        let runs = fill(&mut pos, near, left, Fill::Smooth);
        let mut dst = vec![0u8; w * 3];
        gather_row::<u8>(frame, w, h, y, &pos, &mut dst);
        for r in &runs {
            smooth_run::<u8>(frame, w, h, y, r, &mut dst);
        }
        dst
    }

    #[test]
    fn smooth_fill_takes_background_texture_not_foreground() {
        // Row of 32: foreground (nearness 0.9, colour 250) at sources 0..8, background (0.2) a
        // texture 100 + 10 * (x % 4) beyond. Right view: the foreground moved left, a hole at
        // targets 6..12 between it (left) and the background (right, reading sources 12..).
        let (w, h) = (32, 5);
        let colour = |x: usize| {
            if x < 8 {
                250u8
            } else {
                100 + 10 * (x % 4) as u8
            }
        };
        let frame: Vec<u8> = (0..h)
            .flat_map(|_| (0..w).flat_map(move |x| [colour(x); 3]))
            .collect();
        let mut near = [0.2f32; 32];
        near[..8].fill(0.9);
        let mut pos: Vec<u32> = (0..w as u32).map(|x| x * ONE).collect();
        for (t, p) in pos.iter_mut().enumerate().take(6) {
            *p = (t as u32 + 2) * ONE;
        }
        pos[6..12].fill(EMPTY);
        let row = smooth_fill(&frame, w, h, 2, pos, &near, false);
        let hole: Vec<u8> = row[6 * 3..12 * 3].chunks_exact(3).map(|p| p[0]).collect();
        // Means of background columns 12.., never the foreground's 250: next to the background
        // its column 12 (the mirror image), then the means of columns 12..15, 12..17, ..,
        // tending to the texture's mean (115) instead of repeating one pixel.
        assert_eq!(hole, [114, 113, 113, 112, 110, 100]);
        // Left view (background on the left): mirrored, columns going left from the neighbour.
        let mut near = [0.2f32; 32];
        near[24..].fill(0.9);
        let frame: Vec<u8> = (0..h)
            .flat_map(|_| {
                (0..w).flat_map(move |x| {
                    [if x >= 24 {
                        250
                    } else {
                        100 + 10 * (x % 4) as u8
                    }; 3]
                })
            })
            .collect();
        let mut pos: Vec<u32> = (0..w as u32).map(|x| x * ONE).collect();
        pos[20..24].fill(EMPTY);
        let row = smooth_fill(&frame, w, h, 2, pos, &near, true);
        let hole: Vec<u8> = row[20 * 3..24 * 3].chunks_exact(3).map(|p| p[0]).collect();
        // Neighbour 19 (130), then the means of 19..17, 19..15, 19..13.
        assert_eq!(hole, [130, 120, 118, 117]);
    }

    #[test]
    fn smooth_fill_stops_at_foreground_sources_and_blends_rows() {
        // The background neighbour's source columns beyond it turn foreground after two: the
        // window never reaches them. Rows differ (colour = 10 * row + column): each filled
        // colour blends the five rows around it.
        let (w, h) = (16, 5);
        let frame: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [(10 * y + x) as u8; 3]))
            .collect();
        let mut near = [0.2f32; 16];
        near[10] = 0.9;
        near[..2].fill(0.9);
        let mut pos: Vec<u32> = (0..w as u32).map(|x| x * ONE).collect();
        pos[2..8].fill(EMPTY);
        let row = smooth_fill(&frame, w, h, 2, pos, &near, false);
        let hole: Vec<u8> = row[2 * 3..8 * 3].chunks_exact(3).map(|p| p[0]).collect();
        // Usable columns 8, 9 only (10 is foreground): 28 next to the neighbour, 20 + 8.5
        // rounded up beyond it (rows -1..=5 clamped, the radius for 6 holes, average to 20).
        assert_eq!(hole, [29, 29, 29, 29, 29, 28]);
        // The variance along a long filled run on a noisy background is far below the
        // background's: no streaks of single copied pixels, no texture noise repeated.
        let w = 64;
        let noise = |x: usize, y: usize| ((x * 7919 + y * 104729) % 97) as u8 + 80;
        let frame: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).flat_map(move |x| [noise(x, y); 3]))
            .collect();
        let mut pos: Vec<u32> = (0..w as u32).map(|x| x * ONE).collect();
        pos[..20].fill(EMPTY);
        let row = smooth_fill(&frame, w, h, 2, pos, &[0.2; 64], false);
        let var = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64
        };
        let filled: Vec<f64> = row[..8 * 3].chunks_exact(3).map(|p| p[0] as f64).collect();
        let bgv: Vec<f64> = (20..64).map(|x| noise(x, 2) as f64).collect();
        assert!(var(&filled) * 20.0 < var(&bgv), "{filled:?}");
    }

    #[test]
    fn smooth_fill_is_exact_under_a_constant_offset_in_16_bits() {
        // Integer means: a 16-bit frame `v + 0x8000` fills to `0x8000 +` the 8-bit fill of `v`.
        let (w, h) = (20, 5);
        let lo: Vec<u8> = (0..w * h * 3).map(|i| (i * 37 % 251) as u8).collect();
        let hi: Vec<u8> = lo
            .iter()
            .flat_map(|&v| (0x8000u16 + v as u16).to_le_bytes())
            .collect();
        let mut pos: Vec<u32> = (0..w as u32).map(|x| x * ONE).collect();
        pos[13..].fill(EMPTY);
        let mut p8 = pos.clone();
        let runs = fill(&mut p8, &[0.3; 20], false, Fill::Smooth);
        let mut pos16 = pos;
        fill(&mut pos16, &[0.3; 20], false, Fill::Smooth);
        let (mut d8, mut d16) = (vec![0u8; w * 3], vec![0u8; w * 6]);
        gather_row::<u8>(&lo, w, h, 2, &p8, &mut d8);
        gather_row::<u16>(&hi, w, h, 2, &pos16, &mut d16);
        for r in &runs {
            smooth_run::<u8>(&lo, w, h, 2, r, &mut d8);
            smooth_run::<u16>(&hi, w, h, 2, r, &mut d16);
        }
        let got: Vec<u16> = d16
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let want: Vec<u16> = d8.iter().map(|&v| 0x8000 + v as u16).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn positions_stay_inside_the_row_for_any_map() {
        // Pseudo-random rows at the largest shift scale: every target is written with a
        // position inside the row, and the gather never reads outside it.
        let mut seed = 12345u32;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed % 1000) as f32 / 999.0
        };
        for w in [2usize, 3, 17, 64] {
            for _ in 0..200 {
                let near: Vec<f32> = (0..w).map(|_| rnd()).collect();
                let (k, conv) = (0.05 * w as f32 * 20.0, rnd());
                for (sign, left) in [(1, true), (-1, false)] {
                    for mode in [Fill::MirrorRows, Fill::Smooth] {
                        let mut pos = warp(&near, k, conv, sign);
                        let runs = fill(&mut pos, &near, left, mode);
                        assert!(pos.iter().all(|&p| p & !HOLE <= (w as u32 - 1) * ONE));
                        let frame = vec![1u8; w * 3];
                        let mut dst = vec![0u8; w * 3];
                        gather_row::<u8>(&frame, w, 1, 0, &pos, &mut dst);
                        for r in &runs {
                            smooth_run::<u8>(&frame, w, 1, 0, r, &mut dst);
                        }
                        assert!(dst.iter().all(|&v| v == 1));
                    }
                }
            }
        }
    }
}
