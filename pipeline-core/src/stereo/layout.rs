//! Output layouts: how the two views (or, for RGBD, the frame and its depth) are packed into
//! one frame, and the options some layouts take ([`LayoutOptions`]).
use super::anaglyph::AnaglyphMethod;
use super::vr180;
use std::fmt;
use std::str::FromStr;

/// How the left and right views are packed into one output frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Layout {
    /// `[left | right]`, each view at full size: `2w x h`.
    #[default]
    FullSbs,
    /// `[left | right]`, each view squeezed horizontally to `w/2` (pixel pairs averaged): `w x h`.
    HalfSbs,
    /// Left view on top of the right view, each at full size: `w x 2h`.
    FullTb,
    /// Left on top of right, each squeezed vertically to `h/2` (row pairs averaged): `w x h`.
    HalfTb,
    /// Red-cyan anaglyph (the matrices of [`LayoutOptions::anaglyph`], Dubois by default):
    /// `w x h`.
    Anaglyph,
    /// `[right | left]` at full size, for cross-eyed free viewing: `2w x h`.
    CrossEyed,
    /// `[source frame | depth]`: the input frame unchanged on the left, the nearness map the
    /// renderer uses (resampled to the frame) as grey on the right, white = near: `2w x h`. Not
    /// a stereo pair (no views are rendered).
    Rgbd,
    /// [`Layout::Rgbd`] with each half squeezed horizontally to `w/2`: `w x h`.
    HalfRgbd,
    /// VR180 side by side: each view on a flat virtual screen inside an equirectangular
    /// half-sphere (see [`vr180`]), left eye then right eye, `2n x n`.
    Vr180,
    /// VR180 top-bottom: left eye above right eye, `n x 2n`.
    Vr180Tb,
}

/// Options of the layouts that take any: the anaglyph's matrices and the VR180 screen size.
/// Ignored by the other layouts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayoutOptions {
    pub anaglyph: AnaglyphMethod,
    /// Horizontal size of the VR180 virtual screen, degrees ([`vr180::MIN_SCREEN_DEG`] to
    /// [`vr180::MAX_SCREEN_DEG`]).
    pub vr_screen_deg: f32,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            anaglyph: AnaglyphMethod::default(),
            vr_screen_deg: vr180::DEFAULT_SCREEN_DEG,
        }
    }
}

impl LayoutOptions {
    /// Checks the values are in range.
    pub fn validate(&self) -> Result<(), String> {
        vr180::validate_screen_deg(self.vr_screen_deg)
    }
}

/// A layout name that is not one of [`Layout::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown stereo layout {input:?}; valid layouts: {}",
    Layout::valid_names()
)]
pub struct ParseLayoutError {
    pub input: String,
}

impl Layout {
    /// Every layout, in documentation order.
    pub const ALL: [Layout; 10] = [
        Layout::FullSbs,
        Layout::HalfSbs,
        Layout::FullTb,
        Layout::HalfTb,
        Layout::Anaglyph,
        Layout::CrossEyed,
        Layout::Rgbd,
        Layout::HalfRgbd,
        Layout::Vr180,
        Layout::Vr180Tb,
    ];

    /// The command-line / configuration name (`"full-sbs"`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Layout::FullSbs => "full-sbs",
            Layout::HalfSbs => "half-sbs",
            Layout::FullTb => "full-tb",
            Layout::HalfTb => "half-tb",
            Layout::Anaglyph => "anaglyph",
            Layout::CrossEyed => "cross-eyed",
            Layout::Rgbd => "rgbd",
            Layout::HalfRgbd => "half-rgbd",
            Layout::Vr180 => "vr180",
            Layout::Vr180Tb => "vr180-tb",
        }
    }

    /// Whether the output is colour + depth rather than two views.
    pub const fn is_rgbd(self) -> bool {
        matches!(self, Layout::Rgbd | Layout::HalfRgbd)
    }

    /// Whether the output is a VR180 (equirectangular) picture.
    pub const fn is_vr180(self) -> bool {
        matches!(self, Layout::Vr180 | Layout::Vr180Tb)
    }

    /// All valid names, comma separated (for help texts and error messages).
    pub fn valid_names() -> String {
        Layout::ALL.map(Layout::name).join(", ")
    }

    /// Output frame size for an input frame of `w x h` with the default [`LayoutOptions`]
    /// (saturating, never panics); see [`Self::output_size_with`].
    pub fn output_size(self, w: u32, h: u32) -> (u32, u32) {
        self.output_size_with(w, h, &LayoutOptions::default())
    }

    /// Output frame size for an input frame of `w x h` with `options` (only the VR180 size
    /// depends on them: [`vr180::eye_size`]).
    pub fn output_size_with(self, w: u32, h: u32, options: &LayoutOptions) -> (u32, u32) {
        match self {
            Layout::FullSbs | Layout::CrossEyed | Layout::Rgbd => (w.saturating_mul(2), h),
            Layout::FullTb => (w, h.saturating_mul(2)),
            Layout::HalfSbs | Layout::HalfTb | Layout::Anaglyph | Layout::HalfRgbd => (w, h),
            Layout::Vr180 | Layout::Vr180Tb => {
                let n = vr180::eye_size(w, h, options.vr_screen_deg);
                if self == Layout::Vr180 {
                    (2 * n, n)
                } else {
                    (n, 2 * n)
                }
            }
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = ParseLayoutError;

    /// Parses a layout name; surrounding whitespace and ASCII case are ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Layout::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| ParseLayoutError {
                input: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for l in Layout::ALL {
            assert_eq!(l.to_string().parse::<Layout>(), Ok(l));
        }
        assert_eq!(" Half-SBS ".parse::<Layout>(), Ok(Layout::HalfSbs));
        assert_eq!(Layout::default(), Layout::FullSbs);
        assert_eq!(Layout::CrossEyed.to_string(), "cross-eyed");
    }

    #[test]
    fn unknown_name_lists_valid_ones() {
        let e = "sbs".parse::<Layout>().unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("\"sbs\""), "{msg}");
        for l in Layout::ALL {
            assert!(msg.contains(l.name()), "{msg} lacks {l}");
        }
    }

    #[test]
    fn output_sizes() {
        assert_eq!(Layout::FullSbs.output_size(640, 360), (1280, 360));
        assert_eq!(Layout::CrossEyed.output_size(640, 360), (1280, 360));
        assert_eq!(Layout::FullTb.output_size(640, 360), (640, 720));
        assert_eq!(Layout::HalfSbs.output_size(640, 360), (640, 360));
        assert_eq!(Layout::HalfTb.output_size(640, 360), (640, 360));
        assert_eq!(Layout::Anaglyph.output_size(640, 360), (640, 360));
        assert_eq!(Layout::FullSbs.output_size(u32::MAX, 2), (u32::MAX, 2));
        assert_eq!(Layout::Rgbd.output_size(640, 360), (1280, 360));
        assert_eq!(Layout::HalfRgbd.output_size(640, 360), (640, 360));
        assert_eq!(Layout::Vr180.output_size(640, 360), (2208, 1104));
        assert_eq!(Layout::Vr180Tb.output_size(640, 360), (1104, 2208));
        let wide = LayoutOptions {
            vr_screen_deg: 120.0,
            ..LayoutOptions::default()
        };
        let (w, h) = Layout::Vr180.output_size_with(640, 360, &wide);
        assert!(w == 2 * h && h < 1104 && h % 2 == 0, "{w}x{h}");
    }

    #[test]
    fn options_default_and_validate() {
        let o = LayoutOptions::default();
        assert_eq!(
            (o.anaglyph, o.vr_screen_deg),
            (AnaglyphMethod::Dubois, 90.0)
        );
        assert!(o.validate().is_ok());
        let bad = LayoutOptions {
            vr_screen_deg: 180.0,
            ..o
        };
        assert!(bad.validate().unwrap_err().contains("VR screen"));
        assert!(Layout::HalfRgbd.is_rgbd() && !Layout::Vr180.is_rgbd());
        assert!(Layout::Vr180Tb.is_vr180() && !Layout::FullTb.is_vr180());
        assert_eq!("VR180-TB".parse::<Layout>(), Ok(Layout::Vr180Tb));
    }
}
