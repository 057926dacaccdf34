//! What the 3D output is encoded as: codec, pixel format, colour tags, HDR metadata and the
//! stereo signalling players read — chosen from the source so nothing is lost, overridable.
//!
//! Defaults: an 8-bit source gives H.264 (High, yuv420p: plays everywhere); a source with more
//! than 8 bits gives HEVC Main10 (yuv420p10le via libx265): the format HDR10/HLG is delivered in
//! and decoded in hardware by current phones, TVs and headsets, where H.264 High10 mostly is not.
//! Colour matrix, range, primaries and transfer are the source's (conventions filled in for
//! untagged sources, see [`ColourInfo::resolve`]).
use super::mkv_raw::EquirectBounds;
use crate::domain::{ColourInfo, MediaInfo};
use crate::stereo::Layout;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    H264,
    Hevc,
}

impl VideoCodec {
    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::H264 => "h264",
            VideoCodec::Hevc => "hevc",
        }
    }
    pub fn encoder(self) -> &'static str {
        match self {
            VideoCodec::H264 => "libx264",
            VideoCodec::Hevc => "libx265",
        }
    }
}

impl fmt::Display for VideoCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for VideoCodec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "h264" | "avc" | "x264" => Ok(VideoCodec::H264),
            "hevc" | "h265" | "x265" => Ok(VideoCodec::Hevc),
            other => Err(format!("unknown output codec '{other}' (use h264 or hevc)")),
        }
    }
}

/// Output pixel formats (4:2:0, as players expect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PixFmt {
    Yuv420p,
    Yuv420p10,
}

impl PixFmt {
    pub fn name(self) -> &'static str {
        match self {
            PixFmt::Yuv420p => "yuv420p",
            PixFmt::Yuv420p10 => "yuv420p10le",
        }
    }
    pub fn bit_depth(self) -> u32 {
        match self {
            PixFmt::Yuv420p => 8,
            PixFmt::Yuv420p10 => 10,
        }
    }
}

impl fmt::Display for PixFmt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PixFmt {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "yuv420p" | "8" | "8bit" => Ok(PixFmt::Yuv420p),
            "yuv420p10le" | "yuv420p10" | "10" | "10bit" => Ok(PixFmt::Yuv420p10),
            other => Err(format!(
                "unknown pixel format '{other}' (use yuv420p or yuv420p10le)"
            )),
        }
    }
}

/// How the frame-packed layout is signalled: Matroska StereoMode on the encoder's input (ffmpeg
/// turns it into stereo side data, written as the MP4 `st3d` box under `-strict unofficial`),
/// the H.264 frame-packing SEI (x264 `frame-packing`), and a label for the file's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StereoSignal {
    pub mkv_stereo_mode: Option<u8>,
    /// Spherical video: the equirectangular crop (VR180), written as the MP4 `sv3d` box by the
    /// same route (Matroska Projection -> spherical side data -> `sv3d`).
    pub equirect: Option<EquirectBounds>,
    pub h264_frame_packing: Option<u8>,
    pub label: &'static str,
}

/// Players show a frame-packed file as 3D when told the arrangement. Anaglyph is viewed as a
/// flat picture through glasses, cross-eyed (right view on the left) is meant for free
/// viewing, and RGBD is a picture and its depth, not two views: signalling any of them as
/// side-by-side would make a player show it wrongly, so they carry only the label. VR180 is
/// frame-packed (side by side or top-bottom) and also spherical: headsets and YouTube read
/// the `st3d` and `sv3d` (equirectangular, 180° x 180°) boxes.
pub fn stereo_signal(layout: Layout) -> StereoSignal {
    use super::mkv_raw::stereo_mode;
    let (mode, sei) = match layout {
        Layout::FullSbs | Layout::HalfSbs | Layout::Vr180 => {
            (Some(stereo_mode::SIDE_BY_SIDE_LEFT_FIRST), Some(3))
        }
        Layout::FullTb | Layout::HalfTb | Layout::Vr180Tb => {
            (Some(stereo_mode::TOP_BOTTOM_LEFT_FIRST), Some(4))
        }
        Layout::Anaglyph | Layout::CrossEyed | Layout::Rgbd | Layout::HalfRgbd => (None, None),
    };
    StereoSignal {
        mkv_stereo_mode: mode,
        equirect: layout.is_vr180().then_some(EquirectBounds::HALF_SPHERE),
        h264_frame_packing: sei,
        label: layout.name(),
    }
}

/// swscale flags of the RGB <-> YUV conversions. 16-bit frames also get `accurate_rnd` (exact
/// rounding at 10 bits); 8-bit ones use plain bicubic, which keeps decoded colours within the
/// tests' 1.5/255 of the source at less than half the CPU (accurate_rnd + full_chroma_int cost
/// 2.4x on a 640x360 decode).
pub fn sws_flags(sixteen_bit: bool) -> &'static str {
    if sixteen_bit {
        "bicubic+accurate_rnd"
    } else {
        "bicubic"
    }
}

/// Everything the encoder of one stereo segment needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputFormat {
    pub codec: VideoCodec,
    pub pix_fmt: PixFmt,
    /// Render and hand frames over at 16 bits per sample (10-bit sources or output).
    pub sixteen_bit: bool,
    /// Tags of the output (the source's colour, conventions filled in).
    pub colour: ColourInfo,
    /// MP4 timescale of the output video track (the source's time base denominator).
    pub timescale: u32,
    pub stereo: StereoSignal,
}

/// The output format for `media` with optional user overrides.
pub fn choose(
    media: &MediaInfo,
    layout: Layout,
    codec: Option<VideoCodec>,
    pix_fmt: Option<PixFmt>,
) -> OutputFormat {
    let deep = media.colour.is_high_depth();
    let pix_fmt = pix_fmt.unwrap_or(if deep {
        PixFmt::Yuv420p10
    } else {
        PixFmt::Yuv420p
    });
    let codec = codec.unwrap_or(if pix_fmt.bit_depth() > 8 {
        VideoCodec::Hevc
    } else {
        VideoCodec::H264
    });
    OutputFormat {
        codec,
        pix_fmt,
        sixteen_bit: deep || pix_fmt.bit_depth() > 8,
        colour: media.colour.clone(),
        timescale: media.time_base.1.max(1),
        stereo: stereo_signal(layout),
    }
}

impl OutputFormat {
    /// Encoder arguments after the input: filter, codec, tags, HDR and stereo signalling.
    pub fn encoder_args(&self, preset: &str, crf: u8) -> Vec<String> {
        let c = &self.colour;
        let mut a: Vec<String> = Vec::new();
        let mut push = |v: &[&str]| a.extend(v.iter().map(|s| s.to_string()));
        let filter = format!(
            // setsar=1: Matroska's demuxer reads a side-by-side (top-bottom) StereoMode as
            // pixels twice as wide (tall); the packed frame's pixels are square.
            "scale=out_color_matrix={}:out_range={}:flags={},format={},setsar=1",
            c.scale_matrix(),
            c.scale_range(),
            sws_flags(self.sixteen_bit),
            self.pix_fmt.name()
        );
        push(&["-vf", &filter]);
        push(&[
            "-c:v",
            self.codec.encoder(),
            "-preset",
            preset,
            "-crf",
            &crf.to_string(),
        ]);
        push(&["-colorspace", &c.matrix, "-color_primaries", &c.primaries]);
        push(&["-color_trc", &c.transfer, "-color_range", &c.range]);
        match self.codec {
            VideoCodec::H264 => {
                if let Some(fp) = self.stereo.h264_frame_packing {
                    push(&["-x264-params", &format!("frame-packing={fp}")]);
                }
            }
            VideoCodec::Hevc => {
                let mut p = vec!["log-level=error".to_string()];
                if let Some(h) = &c.hdr {
                    p.push("hdr10=1".into());
                    if let Some(m) = &h.master_display {
                        p.push(format!("master-display={m}"));
                    }
                    if let Some(l) = &h.max_cll {
                        p.push(format!("max-cll={l}"));
                    }
                }
                push(&["-x265-params", &p.join(":")]);
                // Apple players and browsers want the parameter sets in the sample entry.
                push(&["-tag:v", "hvc1"]);
            }
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::HdrMetadata;

    fn media(pix_fmt: &str) -> MediaInfo {
        MediaInfo {
            coded_width: 1280,
            coded_height: 720,
            time_base: (1, 12288),
            colour: ColourInfo::resolve(None, None, None, None, pix_fmt, 1280, 720),
            ..Default::default()
        }
    }

    #[test]
    fn eight_bit_is_h264_ten_bit_is_hevc_main10() {
        let f = choose(&media("yuv420p"), Layout::FullSbs, None, None);
        assert_eq!(
            (f.codec, f.pix_fmt, f.sixteen_bit),
            (VideoCodec::H264, PixFmt::Yuv420p, false)
        );
        let f = choose(&media("yuv420p10le"), Layout::FullSbs, None, None);
        assert_eq!(
            (f.codec, f.pix_fmt, f.sixteen_bit),
            (VideoCodec::Hevc, PixFmt::Yuv420p10, true)
        );
        assert_eq!(f.timescale, 12288);
        // Overrides: 10-bit H.264 (High10); 8-bit output of a 10-bit source still renders at 16.
        let f = choose(
            &media("yuv420p"),
            Layout::FullSbs,
            Some(VideoCodec::H264),
            Some(PixFmt::Yuv420p10),
        );
        assert_eq!((f.codec, f.sixteen_bit), (VideoCodec::H264, true));
        let f = choose(
            &media("yuv420p10le"),
            Layout::FullSbs,
            None,
            Some(PixFmt::Yuv420p),
        );
        assert_eq!(
            (f.codec, f.pix_fmt, f.sixteen_bit),
            (VideoCodec::H264, PixFmt::Yuv420p, true)
        );
    }

    #[test]
    fn args_carry_tags_stereo_and_hdr() {
        let f = choose(&media("yuv420p"), Layout::HalfTb, None, None);
        let a = f.encoder_args("veryfast", 18).join(" ");
        assert!(
            a.contains("out_color_matrix=bt709:out_range=limited"),
            "{a}"
        );
        assert!(
            a.contains("-colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv"),
            "{a}"
        );
        assert!(a.contains("-x264-params frame-packing=4"), "{a}");
        let mut m = media("yuv420p10le");
        m.colour.transfer = "smpte2084".into();
        m.colour.hdr = Some(HdrMetadata {
            master_display: Some("G(1,2)B(3,4)R(5,6)WP(7,8)L(9,10)".into()),
            max_cll: Some("1000,400".into()),
        });
        let a = choose(&m, Layout::Anaglyph, None, None)
            .encoder_args("fast", 20)
            .join(" ");
        assert!(a.contains("-c:v libx265"), "{a}");
        assert!(
            a.contains("hdr10=1:master-display=G(1,2)B(3,4)R(5,6)WP(7,8)L(9,10):max-cll=1000,400"),
            "{a}"
        );
        assert!(a.contains("format=yuv420p10le"), "{a}");
        assert!(!a.contains("frame-packing"), "{a}");
    }

    #[test]
    fn only_frame_packed_layouts_are_signalled_as_3d() {
        assert_eq!(stereo_signal(Layout::FullSbs).mkv_stereo_mode, Some(1));
        assert_eq!(stereo_signal(Layout::FullTb).mkv_stereo_mode, Some(3));
        assert_eq!(stereo_signal(Layout::CrossEyed).mkv_stereo_mode, None);
        assert_eq!(stereo_signal(Layout::Anaglyph).h264_frame_packing, None);
        assert_eq!(stereo_signal(Layout::Anaglyph).label, "anaglyph");
        for l in [Layout::Rgbd, Layout::HalfRgbd] {
            let s = stereo_signal(l);
            assert_eq!(
                (s.mkv_stereo_mode, s.h264_frame_packing, s.equirect),
                (None, None, None)
            );
        }
        let v = stereo_signal(Layout::Vr180);
        assert_eq!(
            (v.mkv_stereo_mode, v.h264_frame_packing),
            (Some(1), Some(3))
        );
        assert_eq!(v.equirect, Some(EquirectBounds::HALF_SPHERE));
        let v = stereo_signal(Layout::Vr180Tb);
        assert_eq!(
            (v.mkv_stereo_mode, v.h264_frame_packing),
            (Some(3), Some(4))
        );
        assert_eq!(v.equirect, Some(EquirectBounds::HALF_SPHERE));
        assert_eq!(stereo_signal(Layout::FullSbs).equirect, None);
    }

    #[test]
    fn names_parse() {
        assert_eq!("H265".parse::<VideoCodec>(), Ok(VideoCodec::Hevc));
        assert!("vp9"
            .parse::<VideoCodec>()
            .unwrap_err()
            .contains("h264 or hevc"));
        assert_eq!("10bit".parse::<PixFmt>(), Ok(PixFmt::Yuv420p10));
    }
}
