//! Colour facts of a video stream (matrix, range, primaries, transfer, bit depth, HDR metadata),
//! named as ffmpeg names them, and the conventions applied where the source does not say.

/// How a video's samples are to be read as colours.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ColourInfo {
    /// YUV -> RGB matrix: `bt709`, `smpte170m` (BT.601), `bt470bg`, `bt2020nc`, ...
    pub matrix: String,
    /// Colour primaries: `bt709`, `smpte170m`, `bt470bg`, `bt2020`, ...
    pub primaries: String,
    /// Transfer characteristic: `bt709`, `smpte170m`, `smpte2084` (PQ), `arib-std-b67` (HLG), ...
    pub transfer: String,
    /// `tv` (limited) or `pc` (full).
    pub range: String,
    /// Which of matrix/primaries/transfer/range the source left untagged (filled by convention:
    /// BT.709 for HD, BT.601 for SD, limited range).
    #[serde(default)]
    pub assumed: Vec<String>,
    /// Bits per sample of the source (8, 10, 12).
    pub bit_depth: u32,
    /// The source pixel format (`yuv420p`, `yuv420p10le`, ...).
    pub pix_fmt: String,
    /// HDR10 static metadata, when the source carries it.
    #[serde(default)]
    pub hdr: Option<HdrMetadata>,
}

/// HDR10 static metadata in the units x265 takes (`master-display`, `max-cll`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HdrMetadata {
    /// `G(x,y)B(x,y)R(x,y)WP(x,y)L(max,min)`: chromaticities in 0.00002, luminance in 0.0001
    /// cd/m².
    pub master_display: Option<String>,
    /// `MaxCLL,MaxFALL` in cd/m².
    pub max_cll: Option<String>,
}

impl Default for ColourInfo {
    fn default() -> Self {
        ColourInfo {
            matrix: "bt709".into(),
            primaries: "bt709".into(),
            transfer: "bt709".into(),
            range: "tv".into(),
            assumed: Vec::new(),
            bit_depth: 8,
            pix_fmt: "yuv420p".into(),
            hdr: None,
        }
    }
}

/// A tag value ffmpeg uses for "not said".
fn untagged(v: Option<&str>) -> bool {
    matches!(
        v,
        None | Some("") | Some("unknown") | Some("unspecified") | Some("reserved") | Some("N/A")
    )
}

/// Bits per sample from a pixel format name (`yuv420p10le` -> 10, `p010le` -> 10, `gray12` -> 12).
pub fn bit_depth_of(pix_fmt: &str) -> u32 {
    let f = pix_fmt.trim_end_matches("le").trim_end_matches("be");
    if f.starts_with("p010") || f.starts_with("y210") || f.starts_with("x2") {
        return 10;
    }
    if f.starts_with("p016") || f.starts_with("rgb48") || f.starts_with("rgba64") {
        return 16;
    }
    for bits in [16, 14, 12, 10, 9] {
        let gray = f.starts_with("gray") && f.ends_with(&bits.to_string());
        if f.ends_with(&format!("p{bits}")) || gray {
            return bits;
        }
    }
    8
}

impl ColourInfo {
    /// Resolve the stream's tags (`None` or "unknown" = untagged) with the usual conventions:
    /// BT.709 for HD (width >= 1280 or height >= 720), BT.601 (SMPTE 170M, or BT.470BG for
    /// 576-line PAL) for SD, BT.2020 primaries with a PQ or HLG transfer, limited range unless the
    /// format is a full-range (`yuvj*`) or RGB one.
    pub fn resolve(
        matrix: Option<&str>,
        primaries: Option<&str>,
        transfer: Option<&str>,
        range: Option<&str>,
        pix_fmt: &str,
        width: u32,
        height: u32,
    ) -> ColourInfo {
        let hd = width >= 1280 || height >= 720;
        let pal = !hd && (height == 576 || height == 288);
        let wide = |v: Option<&str>| v.is_some_and(|s| s.starts_with("bt2020"));
        let hdr_trc = matches!(transfer, Some("smpte2084") | Some("arib-std-b67"));
        let uhd = wide(matrix) || wide(primaries) || hdr_trc;
        let mut assumed = Vec::new();
        let mut pick = |what: &str, v: Option<&str>, default: &str| -> String {
            if untagged(v) {
                assumed.push(what.to_string());
                default.to_string()
            } else {
                v.unwrap_or(default).to_string()
            }
        };
        let (m, p, t) = if uhd {
            ("bt2020nc", "bt2020", "bt709")
        } else if hd {
            ("bt709", "bt709", "bt709")
        } else if pal {
            ("bt470bg", "bt470bg", "smpte170m")
        } else {
            ("smpte170m", "smpte170m", "smpte170m")
        };
        let matrix = pick("matrix", matrix, m);
        let primaries = pick("primaries", primaries, p);
        let transfer = pick("transfer", transfer, t);
        let full_fmt =
            pix_fmt.starts_with("yuvj") || pix_fmt.starts_with("rgb") || pix_fmt.starts_with("gbr");
        let range = pick("range", range, if full_fmt { "pc" } else { "tv" });
        ColourInfo {
            matrix,
            primaries,
            transfer,
            range,
            assumed,
            bit_depth: bit_depth_of(pix_fmt),
            pix_fmt: pix_fmt.to_string(),
            hdr: None,
        }
    }

    /// More than 8 bits per sample.
    pub fn is_high_depth(&self) -> bool {
        self.bit_depth > 8
    }

    /// PQ or HLG transfer.
    pub fn is_hdr(&self) -> bool {
        matches!(self.transfer.as_str(), "smpte2084" | "arib-std-b67")
    }

    /// The `scale` filter's name for this matrix (`in_color_matrix` / `out_color_matrix`).
    pub fn scale_matrix(&self) -> &'static str {
        match self.matrix.as_str() {
            "bt709" => "bt709",
            "fcc" => "fcc",
            "smpte240m" => "smpte240m",
            "bt2020nc" | "bt2020c" => "bt2020",
            // smpte170m, bt470bg and anything else ffmpeg would read as BT.601.
            _ => "bt601",
        }
    }

    /// The `scale` filter's name for this range.
    pub fn scale_range(&self) -> &'static str {
        if self.range == "pc" {
            "full"
        } else {
            "limited"
        }
    }
}

/// `num/den` (as ffprobe prints rationals) scaled to integer units of `1/unit`.
fn scaled(v: Option<&serde_json::Value>, unit: f64) -> Option<u64> {
    let s = match v? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let (n, d) = match s.split_once('/') {
        Some((n, d)) => (n.trim().parse::<f64>().ok()?, d.trim().parse::<f64>().ok()?),
        None => (s.trim().parse::<f64>().ok()?, 1.0),
    };
    (d != 0.0 && n.is_finite()).then(|| (n / d * unit).round().max(0.0) as u64)
}

/// HDR10 metadata from one frame's `side_data_list` (ffprobe `-show_frames` JSON).
pub fn hdr_from_side_data(side_data: &[serde_json::Value]) -> Option<HdrMetadata> {
    let kind = |sd: &serde_json::Value, name: &str| {
        sd.get("side_data_type").and_then(|v| v.as_str()) == Some(name)
    };
    let master = side_data
        .iter()
        .find(|sd| kind(sd, "Mastering display metadata"))
        .and_then(|sd| {
            let c = |k: &str| scaled(sd.get(k), 50000.0);
            let l = |k: &str| scaled(sd.get(k), 10000.0);
            Some(format!(
                "G({},{})B({},{})R({},{})WP({},{})L({},{})",
                c("green_x")?,
                c("green_y")?,
                c("blue_x")?,
                c("blue_y")?,
                c("red_x")?,
                c("red_y")?,
                c("white_point_x")?,
                c("white_point_y")?,
                l("max_luminance")?,
                l("min_luminance")?
            ))
        });
    let cll = side_data
        .iter()
        .find(|sd| kind(sd, "Content light level metadata"))
        .and_then(|sd| {
            Some(format!(
                "{},{}",
                scaled(sd.get("max_content"), 1.0)?,
                scaled(sd.get("max_average"), 1.0)?
            ))
        });
    (master.is_some() || cll.is_some()).then_some(HdrMetadata {
        master_display: master,
        max_cll: cll,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bit_depths_from_pixel_formats() {
        for (f, b) in [
            ("yuv420p", 8),
            ("yuvj420p", 8),
            ("nv12", 8),
            ("nv16", 8),
            ("yuv420p10le", 10),
            ("yuv422p10be", 10),
            ("p010le", 10),
            ("yuv444p12le", 12),
            ("gray10le", 10),
            ("rgb48le", 16),
        ] {
            assert_eq!(bit_depth_of(f), b, "{f}");
        }
    }

    #[test]
    fn untagged_sources_follow_hd_and_sd_conventions() {
        let hd = ColourInfo::resolve(None, None, Some("unknown"), None, "yuv420p", 1280, 720);
        assert_eq!(
            (hd.matrix.as_str(), hd.primaries.as_str()),
            ("bt709", "bt709")
        );
        assert_eq!(hd.range, "tv");
        assert_eq!(hd.assumed, ["matrix", "primaries", "transfer", "range"]);
        let sd = ColourInfo::resolve(None, None, None, None, "yuv420p", 640, 360);
        assert_eq!(sd.matrix, "smpte170m");
        assert_eq!(sd.scale_matrix(), "bt601");
        let pal = ColourInfo::resolve(None, None, None, None, "yuv420p", 720, 576);
        assert_eq!(pal.primaries, "bt470bg");
        let jpeg = ColourInfo::resolve(None, None, None, None, "yuvj420p", 640, 480);
        assert_eq!((jpeg.range.as_str(), jpeg.scale_range()), ("pc", "full"));
    }

    #[test]
    fn tags_win_and_hdr_defaults_to_bt2020() {
        let c = ColourInfo::resolve(
            Some("bt709"),
            Some("bt709"),
            Some("bt709"),
            Some("pc"),
            "yuv420p",
            640,
            360,
        );
        assert_eq!((c.matrix.as_str(), c.range.as_str()), ("bt709", "pc"));
        assert!(c.assumed.is_empty());
        let pq = ColourInfo::resolve(
            None,
            None,
            Some("smpte2084"),
            Some("tv"),
            "yuv420p10le",
            1920,
            1080,
        );
        assert_eq!(
            (pq.matrix.as_str(), pq.primaries.as_str()),
            ("bt2020nc", "bt2020")
        );
        assert!(pq.is_hdr() && pq.is_high_depth());
        assert_eq!(pq.scale_matrix(), "bt2020");
    }

    #[test]
    fn hdr10_side_data_in_x265_units() {
        let sd = json!([
            {"side_data_type":"Mastering display metadata",
             "red_x":"34000/50000","red_y":"16000/50000","green_x":"13250/50000","green_y":"34500/50000",
             "blue_x":"7500/50000","blue_y":"3000/50000","white_point_x":"15635/50000","white_point_y":"16450/50000",
             "min_luminance":"50/10000","max_luminance":"10000000/10000"},
            {"side_data_type":"Content light level metadata","max_content":1000,"max_average":400}
        ]);
        let h = hdr_from_side_data(sd.as_array().unwrap()).unwrap();
        assert_eq!(
            h.master_display.as_deref(),
            Some("G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,50)")
        );
        assert_eq!(h.max_cll.as_deref(), Some("1000,400"));
        assert!(hdr_from_side_data(&[json!({"side_data_type":"Stereo 3D"})]).is_none());
    }
}
