//! Output layouts: how the two views are packed into one frame.
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
    /// Red-cyan anaglyph (Dubois least-squares matrices): `w x h`.
    Anaglyph,
    /// `[right | left]` at full size, for cross-eyed free viewing: `2w x h`.
    CrossEyed,
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
    pub const ALL: [Layout; 6] = [
        Layout::FullSbs,
        Layout::HalfSbs,
        Layout::FullTb,
        Layout::HalfTb,
        Layout::Anaglyph,
        Layout::CrossEyed,
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
        }
    }

    /// All valid names, comma separated (for help texts and error messages).
    pub fn valid_names() -> String {
        Layout::ALL.map(Layout::name).join(", ")
    }

    /// Output frame size for an input frame of `w x h` (saturating, never panics).
    pub fn output_size(self, w: u32, h: u32) -> (u32, u32) {
        match self {
            Layout::FullSbs | Layout::CrossEyed => (w.saturating_mul(2), h),
            Layout::FullTb => (w, h.saturating_mul(2)),
            Layout::HalfSbs | Layout::HalfTb | Layout::Anaglyph => (w, h),
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
    }
}
