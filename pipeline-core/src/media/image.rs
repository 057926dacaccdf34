//! Still images through ffmpeg: probe (size, bit depth, EXIF orientation), decode to packed RGB
//! upright, encode PNG or JPEG.
//!
//! EXIF orientation: Debian's ffmpeg 5.1 exports a JPEG's orientation as the frame tag
//! `Orientation` and as a display matrix, and its CLI auto-rotates by the matrix, but only by
//! rotations: the mirrored orientations (2, 4, 5, 7) come out wrong. So the tag is read with
//! ffprobe, auto-rotation is switched off and the exact transform for the tag is applied.
use super::process::{check, ffmpeg, ffprobe, last_line, run};
use crate::stereo::SampleFormat;
use crate::{PipelineError, Result};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

/// Image inputs `convert` takes (by extension, case-insensitive).
pub const IMAGE_INPUTS: &[&str] = &["jpg", "jpeg", "png", "webp"];

/// The lower-case extension of `path`, if any.
pub fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Whether `path` names an image input by its extension.
pub fn is_image(path: &Path) -> bool {
    extension(path).is_some_and(|e| IMAGE_INPUTS.contains(&e.as_str()))
}

/// What an image output is written as, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
}

impl ImageFormat {
    /// `photo_sbs.png` -> PNG, `.jpg`/`.jpeg` -> JPEG; anything else is a one-line reason.
    pub fn for_output(path: &Path) -> std::result::Result<ImageFormat, String> {
        match extension(path).as_deref() {
            Some("png") => Ok(ImageFormat::Png),
            Some("jpg") | Some("jpeg") => Ok(ImageFormat::Jpeg),
            other => Err(format!(
                "a photo is written as .png or .jpg, not {}",
                other
                    .map(|e| format!(".{e}"))
                    .unwrap_or_else(|| "a file without extension".into())
            )),
        }
    }
}

/// The facts of a still image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub codec: String,
    /// Stored size (before orientation).
    pub width: u32,
    pub height: u32,
    /// EXIF orientation 1..=8 (1: as stored).
    pub orientation: u8,
    /// More than 8 bits per sample (16-bit PNG).
    pub sixteen_bit: bool,
}

impl ImageInfo {
    /// Size once upright, rounded down to even (what is rendered).
    pub fn upright_size(&self) -> (u32, u32) {
        let (w, h) = if (5..=8).contains(&self.orientation) {
            (self.height, self.width)
        } else {
            (self.width, self.height)
        };
        (w & !1, h & !1)
    }
}

/// ffmpeg filters that turn an image stored with EXIF `orientation` upright.
pub fn orientation_filter(orientation: u8) -> Option<&'static str> {
    match orientation {
        2 => Some("hflip"),
        3 => Some("hflip,vflip"),
        4 => Some("vflip"),
        5 => Some("transpose=0"), // mirrored along the main diagonal
        6 => Some("transpose=1"), // rotate 90° clockwise
        7 => Some("transpose=3"), // mirrored along the other diagonal
        8 => Some("transpose=2"), // rotate 90° counter-clockwise
        _ => None,
    }
}

/// Probe an image by decoding its first frame. Unreadable files become one clear reason.
pub fn probe_image(path: &Path) -> Result<ImageInfo> {
    let shown = path.display();
    super::probe::check_readable(path)?;
    let out = run(
        "ffprobe",
        ffprobe()
            .args(["-select_streams", "v:0", "-read_intervals", "%+#1"])
            .args([
                "-show_entries",
                "stream=codec_name,width,height,pix_fmt:frame=width,height:frame_tags=Orientation",
            ])
            .args(["-show_frames", "-of", "json"])
            .arg(path),
    )?;
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    let frame = json.pointer("/frames/0");
    let (Some(frame), true) = (frame, out.status.success()) else {
        let line = last_line(&out.stderr);
        // `[mjpeg @ 0x55f3...] No JPEG data found in image`: the decoder's address says nothing.
        let why = match line.split_once("] ") {
            Some((head, rest)) if head.starts_with('[') && head.contains(" @ 0x") => rest,
            _ => line.as_str(),
        };
        return Err(PipelineError::bad_input(
            &shown,
            format!("not an image ffmpeg can decode ({why})"),
        ));
    };
    let dim = |k: &str| frame.get(k).and_then(Value::as_u64).unwrap_or(0) as u32;
    let (width, height) = (dim("width"), dim("height"));
    if width < 2 || height < 2 {
        return Err(PipelineError::bad_input(
            &shown,
            format!("invalid image size {width}x{height}"),
        ));
    }
    if width as u64 * height as u64 > super::probe::MAX_PIXELS || width > 16384 || height > 16384 {
        return Err(PipelineError::bad_input(
            &shown,
            format!("image size {width}x{height} is larger than supported"),
        ));
    }
    let stream = json.pointer("/streams/0");
    let text = |k: &str| {
        stream
            .and_then(|s| s.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let pix_fmt = text("pix_fmt");
    let orientation = frame
        .pointer("/tags/Orientation")
        .and_then(Value::as_str)
        .and_then(|s| s.trim().parse::<u8>().ok())
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1);
    Ok(ImageInfo {
        codec: text("codec_name"),
        width,
        height,
        orientation,
        sixteen_bit: pix_fmt.contains("48") || pix_fmt.contains("64") || pix_fmt.contains("16"),
    })
}

/// Decode `path` upright (EXIF orientation applied), cropped to even size, as packed `format`.
pub fn decode_image(path: &Path, info: &ImageInfo, format: SampleFormat) -> Result<Vec<u8>> {
    let (w, h) = info.upright_size();
    let mut vf: Vec<String> = orientation_filter(info.orientation)
        .map(|f| vec![f.to_string()])
        .unwrap_or_default();
    vf.push(format!("crop={w}:{h}:0:0"));
    vf.push(format!("format={}", format.name()));
    let out = run(
        "ffmpeg",
        ffmpeg()
            .arg("-noautorotate")
            .arg("-i")
            .arg(path)
            .args(["-frames:v", "1", "-vf", &vf.join(",")])
            .args(["-f", "rawvideo", "-pix_fmt", format.name(), "-"]),
    )?;
    check("ffmpeg", &out).map_err(|e| PipelineError::bad_input(path.display(), e.to_string()))?;
    let want = w as usize * h as usize * format.bytes_per_pixel();
    if out.stdout.len() != want {
        return Err(PipelineError::bad_input(
            path.display(),
            format!(
                "decoded {} bytes, expected {want} for {w}x{h}",
                out.stdout.len()
            ),
        ));
    }
    Ok(out.stdout)
}

/// Encode one packed frame as `out` (PNG: 8 or 16 bits as `format`; JPEG: 8 bits, 4:4:4,
/// quality `jpeg_q` on ffmpeg's 2 (best) .. 31 scale). `out` is written directly: callers
/// write to a temporary name and rename.
pub fn encode_image(
    frame: &[u8],
    width: u32,
    height: u32,
    format: SampleFormat,
    image: ImageFormat,
    jpeg_q: u8,
    out: &Path,
) -> Result<()> {
    let mut cmd = ffmpeg();
    cmd.args(["-f", "rawvideo", "-pix_fmt", format.name()])
        .args(["-s", &format!("{width}x{height}"), "-i", "-"])
        .args(["-frames:v", "1", "-f", "image2", "-update", "1"]);
    match image {
        ImageFormat::Png => cmd.args([
            "-c:v",
            "png",
            "-pix_fmt",
            match format {
                SampleFormat::Rgb24 => "rgb24",
                SampleFormat::Rgb48 => "rgb48be",
            },
        ]),
        ImageFormat::Jpeg => cmd
            .args(["-c:v", "mjpeg", "-pix_fmt", "yuvj444p"])
            .args(["-q:v", &jpeg_q.clamp(2, 31).to_string()]),
    };
    cmd.arg("-y").arg(out);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        PipelineError::worker(format!(
            "cannot run ffmpeg ({e}); install ffmpeg (Debian: apt-get install ffmpeg)"
        ))
    })?;
    let wrote = child
        .stdin
        .take()
        .map(|mut s| s.write_all(frame))
        .unwrap_or(Ok(()));
    let res = child
        .wait_with_output()
        .map_err(|e| PipelineError::media("ffmpeg", e.to_string()))?;
    check("ffmpeg", &res)?;
    wrote.map_err(|e| PipelineError::media("ffmpeg", format!("writing the image: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_orientation_sizes() {
        assert!(is_image(Path::new("a/B.JPG")) && is_image(Path::new("x.webp")));
        assert!(!is_image(Path::new("clip.mp4")) && !is_image(Path::new("noext")));
        assert_eq!(
            ImageFormat::for_output(Path::new("o.JPEG")),
            Ok(ImageFormat::Jpeg)
        );
        assert_eq!(
            ImageFormat::for_output(Path::new("o.webp")).unwrap_err(),
            "a photo is written as .png or .jpg, not .webp"
        );
        let info = |orientation| ImageInfo {
            codec: "mjpeg".into(),
            width: 321,
            height: 200,
            orientation,
            sixteen_bit: false,
        };
        assert_eq!(info(1).upright_size(), (320, 200));
        assert_eq!(info(6).upright_size(), (200, 320));
        assert_eq!(info(3).upright_size(), (320, 200));
        assert_eq!(orientation_filter(1), None);
        assert_eq!(orientation_filter(6), Some("transpose=1"));
    }
}
