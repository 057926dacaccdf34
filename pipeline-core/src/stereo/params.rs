//! Stereo strength parameters.

/// How strong the 3D effect is and where the screen plane sits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StereoParams {
    /// Maximum total left-right disparity, in percent of the frame width (`[0, 10]`).
    pub divergence: f32,
    /// Nearness that lands on the screen plane (zero parallax), `[0, 1]`. Nearer pixels pop out,
    /// farther ones recede.
    pub convergence: f32,
}

impl Default for StereoParams {
    fn default() -> Self {
        StereoParams {
            divergence: 2.0,
            convergence: 0.5,
        }
    }
}

impl StereoParams {
    /// Largest accepted divergence (percent of width).
    pub const MAX_DIVERGENCE: f32 = 10.0;

    /// Checks both values are finite and in range.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.divergence.is_finite() && (0.0..=Self::MAX_DIVERGENCE).contains(&self.divergence))
        {
            return Err(format!(
                "divergence must be a number in [0, {}] (percent of width), got {}",
                Self::MAX_DIVERGENCE,
                self.divergence
            ));
        }
        if !(self.convergence.is_finite() && (0.0..=1.0).contains(&self.convergence)) {
            return Err(format!(
                "convergence must be a number in [0, 1], got {}",
                self.convergence
            ));
        }
        Ok(())
    }

    /// Per-eye shift in pixels per unit of `(nearness - convergence)` for a frame `width` wide:
    /// `divergence / 100 * width / 2`.
    pub fn shift_scale(&self, width: u32) -> f32 {
        self.divergence / 100.0 * width as f32 * 0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(divergence: f32, convergence: f32) -> StereoParams {
        StereoParams {
            divergence,
            convergence,
        }
    }

    #[test]
    fn defaults_are_valid() {
        let d = StereoParams::default();
        assert_eq!((d.divergence, d.convergence), (2.0, 0.5));
        assert_eq!(d.validate(), Ok(()));
    }

    #[test]
    fn bounds_are_inclusive() {
        assert!(p(0.0, 0.0).validate().is_ok());
        assert!(p(10.0, 1.0).validate().is_ok());
    }

    #[test]
    fn out_of_range_and_non_finite_rejected() {
        for bad in [
            p(-0.1, 0.5),
            p(10.01, 0.5),
            p(f32::NAN, 0.5),
            p(f32::INFINITY, 0.5),
            p(2.0, -0.01),
            p(2.0, 1.01),
            p(2.0, f32::NAN),
        ] {
            assert!(bad.validate().is_err(), "{bad:?} accepted");
        }
        let msg = p(2.0, 3.0).validate().unwrap_err();
        assert!(msg.contains("convergence"), "{msg}");
        let msg = p(11.0, 0.5).validate().unwrap_err();
        assert!(msg.contains("divergence"), "{msg}");
    }

    #[test]
    fn shift_scale_is_half_divergence_percent_of_width() {
        assert!((p(2.0, 0.5).shift_scale(640) - 6.4).abs() < 1e-5);
        assert!((p(10.0, 0.5).shift_scale(80) - 4.0).abs() < 1e-5);
    }
}
