//! Checking a loaded model's inputs/outputs against a [`Profile`].
use ort::value::{Outlet, TensorElementType, ValueType};

use super::profile::{Profile, ResizePolicy};

/// What the adapter learned about a model's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelIo {
    pub input_name: String,
    pub output_name: String,
    /// The batch dimension is fixed to 1: frames are run one at a time.
    pub batch_one: bool,
    /// The model fixes its input height/width: `(width, height)`.
    pub fixed_size: Option<(u32, u32)>,
}

/// One model input/output as far as the checks are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSig {
    pub name: String,
    /// Element type; `None` for non-tensor values (sequences, maps).
    pub elem: Option<TensorElementType>,
    /// Dimensions, `-1` where dynamic.
    pub dims: Vec<i64>,
}

impl TensorSig {
    pub fn from_outlet(outlet: &Outlet) -> TensorSig {
        let (elem, dims) = match outlet.dtype() {
            ValueType::Tensor { ty, shape, .. } => (Some(*ty), shape.iter().copied().collect()),
            _ => (None, Vec::new()),
        };
        TensorSig {
            name: outlet.name().to_string(),
            elem,
            dims,
        }
    }

    pub fn from_outlets(outlets: &[Outlet]) -> Vec<TensorSig> {
        outlets.iter().map(TensorSig::from_outlet).collect()
    }
}

impl std::fmt::Display for TensorSig {
    /// e.g. `pixel_values`: float32 [?, ?, ?, ?]
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(ty) = self.elem else {
            return write!(f, "`{}`: not a tensor", self.name);
        };
        let ty = match ty {
            TensorElementType::Float32 => "float32".to_string(),
            other => format!("{other:?}").to_ascii_lowercase(),
        };
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| {
                if *d < 0 {
                    "?".to_string()
                } else {
                    d.to_string()
                }
            })
            .collect();
        write!(f, "`{}`: {ty} [{}]", self.name, dims.join(", "))
    }
}

fn list(sigs: &[TensorSig]) -> String {
    if sigs.is_empty() {
        return "none".into();
    }
    sigs.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Check the model's I/O against `profile`. The error text names what was expected and what the
/// model has.
pub fn check_io(
    inputs: &[TensorSig],
    outputs: &[TensorSig],
    profile: &Profile,
) -> Result<ModelIo, String> {
    let expected_in = "one float32 image input [N, 3, H, W] (RGB, NCHW)";
    let input = match &profile.input_name {
        Some(name) => inputs.iter().find(|o| o.name == *name).ok_or_else(|| {
            format!(
                "profile `{}` expects input `{name}`: {expected_in}; model inputs: {}",
                profile.name,
                list(inputs)
            )
        })?,
        None => inputs
            .first()
            .ok_or_else(|| format!("expected {expected_in}; the model has no inputs"))?,
    };
    if inputs.len() != 1 {
        return Err(format!(
            "expected {expected_in}; model inputs: {}",
            list(inputs)
        ));
    }
    let bad_input = || {
        format!(
            "profile `{}` expects {expected_in}; model input {}",
            profile.name, input
        )
    };
    let dims = &input.dims;
    if input.elem != Some(TensorElementType::Float32)
        || dims.len() != 4
        || !(dims[1] == 3 || dims[1] < 0)
    {
        return Err(bad_input());
    }
    let batch_one = match dims[0] {
        d if d < 0 => false,
        1 => true,
        _ => {
            return Err(format!(
                "{}; a fixed batch other than 1 is not supported",
                bad_input()
            ))
        }
    };
    let fixed_size = match (dims[2], dims[3]) {
        (h, w) if h > 0 && w > 0 => Some((w as u32, h as u32)),
        (h, w) if h < 0 && w < 0 => None,
        _ => {
            return Err(format!(
                "{}; height and width must be both fixed or both dynamic",
                bad_input()
            ))
        }
    };
    if let (ResizePolicy::Fixed { width, height }, Some((w, h))) = (profile.resize, fixed_size) {
        if (w, h) != (width, height) {
            return Err(format!(
                "profile `{}` feeds {width}x{height} images; model input {} is fixed at {w}x{h}",
                profile.name, input
            ));
        }
    }

    let expected_out = "a float32 output [N, H, W] or [N, 1, H, W]";
    let output = outputs
        .first()
        .ok_or_else(|| format!("expected {expected_out}; the model has no outputs"))?;
    let bad_output = || {
        format!(
            "profile `{}` expects {expected_out}; model output {}",
            profile.name, output
        )
    };
    let dims = &output.dims;
    let shape_ok = match dims.len() {
        3 => true,
        4 => dims[1] == 1 || dims[1] < 0,
        _ => false,
    };
    if output.elem != Some(TensorElementType::Float32) || !shape_ok {
        return Err(bad_output());
    }
    Ok(ModelIo {
        input_name: input.name.clone(),
        output_name: output.name.clone(),
        batch_one,
        fixed_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(name: &str, dims: &[i64]) -> TensorSig {
        TensorSig {
            name: name.into(),
            elem: Some(TensorElementType::Float32),
            dims: dims.to_vec(),
        }
    }

    #[test]
    fn accepts_the_supported_signatures() {
        let cues = Profile::stereospot_cues();
        let io = check_io(
            &[sig("image", &[-1, 3, -1, -1])],
            &[sig("nearness", &[-1, 1, -1, -1])],
            &cues,
        )
        .expect("cues signature");
        assert_eq!(io.input_name, "image");
        assert_eq!(io.output_name, "nearness");
        assert!(!io.batch_one);
        assert_eq!(io.fixed_size, None);

        let da = Profile::depth_anything_v2();
        let io = check_io(
            &[sig("pixel_values", &[-1, -1, -1, -1])],
            &[sig("predicted_depth", &[-1, -1, -1])],
            &da,
        )
        .expect("onnx-community DA-V2 signature");
        assert_eq!(io.input_name, "pixel_values");

        let midas = Profile::midas_small();
        let io = check_io(
            &[sig("0", &[1, 3, 256, 256])],
            &[sig("out", &[1, 256, 256])],
            &midas,
        )
        .expect("MiDaS signature");
        assert!(io.batch_one);
        assert_eq!(io.fixed_size, Some((256, 256)));

        // A fixed-size export used with a keep-aspect profile: accepted, size taken from the model.
        let io = check_io(
            &[sig("image", &[1, 3, 518, 518])],
            &[sig("depth", &[1, 518, 518])],
            &da,
        )
        .expect("static DA-V2 export");
        assert_eq!(io.fixed_size, Some((518, 518)));
    }

    #[test]
    fn rejects_wrong_signatures_naming_expected_and_actual() {
        let cues = Profile::stereospot_cues();
        let da = Profile::depth_anything_v2();
        let out = [sig("y", &[-1, 1, -1, -1])];
        let err = check_io(&[sig("x", &[1, 1, 64, 64])], &out, &da).unwrap_err();
        assert!(
            err.contains("[N, 3, H, W]") && err.contains("`x`: float32 [1, 1, 64, 64]"),
            "{err}"
        );
        let err = check_io(&[sig("x", &[-1, 3, -1, -1])], &out, &cues).unwrap_err();
        assert!(err.contains("`image`") && err.contains("`x`"), "{err}");
        let err = check_io(&[sig("image", &[-1, 3, -1])], &out, &cues).unwrap_err();
        assert!(err.contains("[?, 3, ?]"), "{err}");
        let err = check_io(&[sig("image", &[4, 3, -1, -1])], &out, &cues).unwrap_err();
        assert!(err.contains("fixed batch"), "{err}");
        let err = check_io(&[sig("image", &[-1, 3, 64, -1])], &out, &cues).unwrap_err();
        assert!(err.contains("both fixed or both dynamic"), "{err}");
        let err = check_io(
            &[sig("0", &[1, 3, 384, 384])],
            &out,
            &Profile::midas_small(),
        )
        .unwrap_err();
        assert!(err.contains("256x256") && err.contains("384x384"), "{err}");
        let two = [
            sig("image", &[-1, 3, -1, -1]),
            sig("mask", &[-1, 1, -1, -1]),
        ];
        assert!(check_io(&two, &out, &da).is_err());
        let int_in = TensorSig {
            elem: Some(TensorElementType::Uint8),
            ..sig("image", &[-1, 3, -1, -1])
        };
        let err = check_io(&[int_in], &out, &da).unwrap_err();
        assert!(err.contains("uint8"), "{err}");
        let img = [sig("image", &[-1, 3, -1, -1])];
        let err = check_io(&img, &[sig("d", &[-1, 2, -1, -1])], &da).unwrap_err();
        assert!(err.contains("output `d`: float32 [?, 2, ?, ?]"), "{err}");
        assert!(check_io(&img, &[sig("d", &[-1, -1])], &da).is_err());
        assert!(check_io(&img, &[], &da).is_err());
        assert!(check_io(&[], &out, &da).is_err());
    }
}
