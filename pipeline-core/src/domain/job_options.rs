//! Per-job stereo options: what a user chose for one film (layout, divergence, convergence),
//! over the workers' defaults.
//!
//! They travel with the upload as S3 user metadata (`x-amz-meta-stereospot-layout`, ...: the web
//! UI's presigned upload signs them), are read and checked by the chunk step, recorded with the
//! job's media facts, and applied by every video-worker that renders one of its segments. An
//! upload without them gets the workers' configuration.
use crate::steps::StereoSettings;
use crate::stereo::{Layout, StereoParams};

pub const META_LAYOUT: &str = "stereospot-layout";
pub const META_DIVERGENCE: &str = "stereospot-divergence";
pub const META_CONVERGENCE: &str = "stereospot-convergence";
pub const META_DEPTH_FROM: &str = "stereospot-depth-from";
/// The uploader (the web UI's signed-in user): recorded as the job's owner.
pub const META_OWNER: &str = "stereospot-owner";
/// Longest owner name kept (an OIDC subject or a configured user name).
pub const MAX_OWNER_CHARS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JobOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub divergence: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convergence: Option<f32>,
    /// A re-render: the job whose kept depth (`jobs/<id>/depth/`) replaces the model, when its
    /// pieces are this job's pieces (same input, same cuts). Set by the web UI's re-render.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_from: Option<String>,
}

impl JobOptions {
    pub fn is_empty(&self) -> bool {
        self == &JobOptions::default()
    }

    /// Check the values; the message names the option and the valid range.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(j) = &self.depth_from {
            super::JobId::parse(j).map_err(|e| format!("{META_DEPTH_FROM}: {e}"))?;
        }
        if let Some(l) = &self.layout {
            l.parse::<Layout>().map_err(|e| e.to_string())?;
        }
        let defaults = StereoParams::default();
        StereoParams {
            divergence: self.divergence.unwrap_or(defaults.divergence),
            convergence: self.convergence.unwrap_or(defaults.convergence),
        }
        .validate()
    }

    /// Read from object metadata (keys without the `x-amz-meta-` prefix, any case). Unknown
    /// keys are ignored; a present but unreadable value is an error naming it.
    pub fn from_metadata(meta: &[(String, String)]) -> Result<JobOptions, String> {
        let get = |name: &str| {
            meta.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        };
        let number = |name: &str| -> Result<Option<f32>, String> {
            get(name)
                .map(|v| {
                    v.parse::<f32>()
                        .map_err(|_| format!("{name} must be a number, got {v:?}"))
                })
                .transpose()
        };
        let o = JobOptions {
            layout: get(META_LAYOUT).map(|l| l.to_ascii_lowercase()),
            divergence: number(META_DIVERGENCE)?,
            convergence: number(META_CONVERGENCE)?,
            depth_from: get(META_DEPTH_FROM).map(|v| v.to_ascii_lowercase()),
        };
        o.validate()?;
        Ok(o)
    }

    /// The uploader named in object metadata, when there is a usable one.
    pub fn owner_from_metadata(meta: &[(String, String)]) -> Option<String> {
        meta.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(META_OWNER))
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty() && v.chars().count() <= MAX_OWNER_CHARS)
    }

    /// As object metadata (for a presigned upload).
    pub fn to_metadata(&self) -> Vec<(String, String)> {
        let mut m = Vec::new();
        if let Some(l) = &self.layout {
            m.push((META_LAYOUT.to_string(), l.clone()));
        }
        if let Some(d) = self.divergence {
            m.push((META_DIVERGENCE.to_string(), d.to_string()));
        }
        if let Some(c) = self.convergence {
            m.push((META_CONVERGENCE.to_string(), c.to_string()));
        }
        if let Some(j) = &self.depth_from {
            m.push((META_DEPTH_FROM.to_string(), j.clone()));
        }
        m
    }

    /// `base` with these options over it (values were validated when the job was recorded; an
    /// unreadable layout keeps the base's).
    pub fn apply(&self, base: &StereoSettings) -> StereoSettings {
        let mut s = base.clone();
        if let Some(l) = self
            .layout
            .as_deref()
            .and_then(|l| l.parse::<Layout>().ok())
        {
            s.layout = l;
        }
        if let Some(d) = self.divergence {
            s.params.divergence = d;
        }
        if let Some(c) = self.convergence {
            s.params.convergence = c;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn metadata_round_trips_and_applies_over_the_defaults() {
        let o = JobOptions {
            layout: Some("half-tb".into()),
            divergence: Some(3.5),
            convergence: None,
            depth_from: Some("0123456789abcdef".into()),
        };
        assert_eq!(JobOptions::from_metadata(&o.to_metadata()).unwrap(), o);
        let s = o.apply(&StereoSettings::default());
        assert_eq!(s.layout, Layout::HalfTb);
        assert_eq!(s.params.divergence, 3.5);
        assert_eq!(s.params.convergence, 0.5, "unset keeps the worker's value");
        assert!(JobOptions::from_metadata(&[]).unwrap().is_empty());
        let upper = meta(&[("Stereospot-Layout", "ANAGLYPH")]);
        assert_eq!(
            JobOptions::from_metadata(&upper).unwrap().layout.as_deref(),
            Some("anaglyph")
        );
    }

    #[test]
    fn bad_values_name_what_is_wrong() {
        let e = JobOptions::from_metadata(&meta(&[(META_LAYOUT, "sbs")])).unwrap_err();
        assert!(e.contains("unknown stereo layout"), "{e}");
        let e = JobOptions::from_metadata(&meta(&[(META_DIVERGENCE, "lots")])).unwrap_err();
        assert!(e.contains("stereospot-divergence must be a number"), "{e}");
        let e = JobOptions::from_metadata(&meta(&[(META_DIVERGENCE, "11")])).unwrap_err();
        assert!(e.contains("divergence must be a number in [0, 10]"), "{e}");
        let e = JobOptions::from_metadata(&meta(&[(META_CONVERGENCE, "-1")])).unwrap_err();
        assert!(e.contains("convergence"), "{e}");
        let e = JobOptions::from_metadata(&meta(&[(META_DEPTH_FROM, "../x")])).unwrap_err();
        assert!(e.contains("stereospot-depth-from"), "{e}");
    }

    #[test]
    fn the_owner_rides_beside_the_options() {
        let m = meta(&[("Stereospot-Owner", " alice "), (META_LAYOUT, "half-sbs")]);
        assert_eq!(
            JobOptions::owner_from_metadata(&m).as_deref(),
            Some("alice")
        );
        assert!(
            JobOptions::from_metadata(&m).is_ok(),
            "the owner is not an option"
        );
        assert_eq!(
            JobOptions::owner_from_metadata(&meta(&[(META_OWNER, " ")])),
            None
        );
        let long = "x".repeat(MAX_OWNER_CHARS + 1);
        assert_eq!(
            JobOptions::owner_from_metadata(&meta(&[(META_OWNER, &long)])),
            None
        );
        assert_eq!(JobOptions::owner_from_metadata(&[]), None);
    }
}
