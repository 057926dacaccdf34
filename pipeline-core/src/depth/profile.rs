//! Model profiles: how frames are fed to a depth model and how its output is read.
//!
//! A profile never hard-codes anything about one export: the input name, the input size policy,
//! the normalisation and the meaning of the output are all data, so a different export of the
//! same network only needs a different profile.
use std::fmt;

/// ImageNet channel means / standard deviations (on RGB scaled to [0, 1]).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Names accepted by [`Profile::by_name`].
pub const PROFILE_NAMES: [&str; 3] = ["stereospot-cues", "depth-anything-v2", "midas-small"];

/// Tensor layout of the image input. Only planar NCHW is used by the supported models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Nchw,
}

/// How a frame is resized before it enters the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResizePolicy {
    /// Always this size (models with a fixed input shape).
    Fixed { width: u32, height: u32 },
    /// Keep the frame's aspect ratio: the height becomes `height` and both sides are rounded to
    /// a multiple of `multiple` (the model's stride / patch size).
    KeepAspect { height: u32, multiple: u32 },
}

impl ResizePolicy {
    /// Model input size `(width, height)` for a frame of `frame_w` x `frame_h`.
    pub fn input_size(&self, frame_w: u32, frame_h: u32) -> (u32, u32) {
        match *self {
            ResizePolicy::Fixed { width, height } => (width.max(1), height.max(1)),
            ResizePolicy::KeepAspect { height, multiple } => {
                let m = multiple.max(1);
                let h = round_to_multiple(height as f64, m);
                let aspect = if frame_h == 0 {
                    1.0
                } else {
                    frame_w as f64 / frame_h as f64
                };
                let w = round_to_multiple(h as f64 * aspect, m);
                (w, h)
            }
        }
    }
}

fn round_to_multiple(v: f64, m: u32) -> u32 {
    let k = (v / m as f64).round().max(1.0);
    (k as u32).saturating_mul(m)
}

impl fmt::Display for ResizePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResizePolicy::Fixed { width, height } => write!(f, "{width}x{height}"),
            ResizePolicy::KeepAspect { height, multiple } => {
                write!(f, "height {height}, keep aspect, multiple of {multiple}")
            }
        }
    }
}

/// Input normalisation: `(pixel * scale - mean[c]) / std[c]` with pixel in 0..=255.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Normalization {
    /// RGB / 255, nothing else.
    pub const UNIT: Normalization = Normalization {
        scale: 1.0 / 255.0,
        mean: [0.0; 3],
        std: [1.0; 3],
    };
    /// RGB / 255 then ImageNet mean / std.
    pub const IMAGENET: Normalization = Normalization {
        scale: 1.0 / 255.0,
        mean: IMAGENET_MEAN,
        std: IMAGENET_STD,
    };

    /// Per-channel `(a, b)` such that the normalised value is `pixel * a + b`.
    pub fn affine(&self) -> [(f32, f32); 3] {
        let mut out = [(0.0, 0.0); 3];
        for (c, slot) in out.iter_mut().enumerate() {
            let std = if self.std[c] == 0.0 { 1.0 } else { self.std[c] };
            *slot = (self.scale / std, -self.mean[c] / std);
        }
        out
    }
}

/// What the model's output values mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMeaning {
    /// Absolute nearness already in [0, 1] (1 = nearest): values are only clamped.
    Nearness01,
    /// Relative inverse depth / disparity: larger = nearer. Normalised per frame.
    InverseDepth,
    /// Relative depth: larger = farther. Normalised per frame, then inverted.
    Depth,
}

impl fmt::Display for OutputMeaning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputMeaning::Nearness01 => "nearness in [0,1]",
            OutputMeaning::InverseDepth => "relative inverse depth",
            OutputMeaning::Depth => "relative depth",
        })
    }
}

/// Everything the ONNX adapter needs to know about one model export.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    /// Name of the image input; `None` = the model's first input.
    pub input_name: Option<String>,
    pub layout: Layout,
    pub resize: ResizePolicy,
    pub normalization: Normalization,
    pub output: OutputMeaning,
}

impl Profile {
    /// StereoSpot's embedded monocular-cue model (`models/stereospot-cues.onnx`).
    pub fn stereospot_cues() -> Profile {
        Profile {
            name: "stereospot-cues".into(),
            input_name: Some("image".into()),
            layout: Layout::Nchw,
            resize: ResizePolicy::KeepAspect {
                height: 192,
                multiple: 8,
            },
            normalization: Normalization::UNIT,
            output: OutputMeaning::Nearness01,
        }
    }

    /// Depth Anything V2 (Small) exports: dynamic H/W, multiples of 14 (518 is the native
    /// size). The default input height is 252 because 518 is too slow on CPU; change it with
    /// [`Profile::with_input_height`]. The input name is taken from the model (onnx-community
    /// calls it `pixel_values`, other exports `image`).
    pub fn depth_anything_v2() -> Profile {
        Profile {
            name: "depth-anything-v2".into(),
            input_name: None,
            layout: Layout::Nchw,
            resize: ResizePolicy::KeepAspect {
                height: 252,
                multiple: 14,
            },
            normalization: Normalization::IMAGENET,
            output: OutputMeaning::InverseDepth,
        }
    }

    /// MiDaS v2.1 small 256: fixed 256x256 input, relative inverse depth out.
    pub fn midas_small() -> Profile {
        Profile {
            name: "midas-small".into(),
            input_name: None,
            layout: Layout::Nchw,
            resize: ResizePolicy::Fixed {
                width: 256,
                height: 256,
            },
            normalization: Normalization::IMAGENET,
            output: OutputMeaning::InverseDepth,
        }
    }

    /// Look a built-in profile up by name (case-insensitive).
    pub fn by_name(name: &str) -> Result<Profile, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "stereospot-cues" => Ok(Profile::stereospot_cues()),
            "depth-anything-v2" => Ok(Profile::depth_anything_v2()),
            "midas-small" => Ok(Profile::midas_small()),
            _ => Err(format!(
                "unknown model profile `{name}`; valid profiles: {}",
                PROFILE_NAMES.join(", ")
            )),
        }
    }

    /// Same profile with another target input height (keep-aspect profiles only; the height
    /// is rounded to the profile's multiple). Fixed-size profiles are returned unchanged.
    pub fn with_input_height(mut self, height: u32) -> Profile {
        if let ResizePolicy::KeepAspect { multiple, .. } = self.resize {
            self.resize = ResizePolicy::KeepAspect { height, multiple };
        }
        self
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (input {}, output {})",
            self.name, self.resize, self.output
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_every_listed_name() {
        for name in PROFILE_NAMES {
            let p = Profile::by_name(name).expect("listed profile must resolve");
            assert_eq!(p.name, name);
        }
        assert_eq!(
            Profile::by_name(" MiDaS-Small ").map(|p| p.name),
            Ok("midas-small".into())
        );
    }

    #[test]
    fn unknown_name_lists_valid_names() {
        let err = Profile::by_name("dpt-large").unwrap_err();
        assert!(err.contains("dpt-large"), "{err}");
        for name in PROFILE_NAMES {
            assert!(err.contains(name), "{err} should list {name}");
        }
    }

    #[test]
    fn builtin_profiles_have_the_documented_settings() {
        let cues = Profile::stereospot_cues();
        assert_eq!(
            cues.resize,
            ResizePolicy::KeepAspect {
                height: 192,
                multiple: 8
            }
        );
        assert_eq!(cues.normalization, Normalization::UNIT);
        assert_eq!(cues.output, OutputMeaning::Nearness01);
        let da = Profile::depth_anything_v2();
        assert_eq!(
            da.resize,
            ResizePolicy::KeepAspect {
                height: 252,
                multiple: 14
            }
        );
        assert_eq!(da.normalization.mean, IMAGENET_MEAN);
        assert_eq!(da.output, OutputMeaning::InverseDepth);
        let midas = Profile::midas_small();
        assert_eq!(
            midas.resize,
            ResizePolicy::Fixed {
                width: 256,
                height: 256
            }
        );
        assert_eq!(midas.normalization.std, IMAGENET_STD);
    }

    #[test]
    fn keep_aspect_sizes_are_multiples() {
        let cues = Profile::stereospot_cues().resize;
        assert_eq!(cues.input_size(640, 360), (344, 192)); // 341.3 -> 344
        assert_eq!(cues.input_size(1920, 1080), (344, 192));
        assert_eq!(cues.input_size(360, 640), (112, 192)); // portrait: 108 -> 112
        let da = Profile::depth_anything_v2().resize;
        assert_eq!(da.input_size(640, 360), (448, 252));
        assert_eq!(
            Profile::depth_anything_v2()
                .with_input_height(518)
                .resize
                .input_size(518, 518),
            (518, 518)
        );
        // Height not a multiple: rounded to the nearest multiple.
        assert_eq!(
            Profile::depth_anything_v2()
                .with_input_height(250)
                .resize
                .input_size(100, 100),
            (252, 252)
        );
        // Degenerate frames never give a zero size.
        assert_eq!(cues.input_size(1, 1000), (8, 192));
        assert_eq!(
            Profile::midas_small().resize.input_size(640, 360),
            (256, 256)
        );
        assert_eq!(
            Profile::midas_small()
                .with_input_height(100)
                .resize
                .input_size(1, 1),
            (256, 256)
        );
    }

    #[test]
    fn normalization_affine_matches_formula() {
        let aff = Normalization::IMAGENET.affine();
        for c in 0..3 {
            let (a, b) = aff[c];
            let px = 200.0f32;
            let want = (px / 255.0 - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
            assert!((px * a + b - want).abs() < 1e-5);
        }
        assert_eq!(Normalization::UNIT.affine()[1], (1.0 / 255.0, 0.0));
    }
}
