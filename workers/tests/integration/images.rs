//! Photos and folders: `convert photo -o out.png|jpg` (sizes per layout, formats, EXIF
//! orientation, 16-bit PNG) and `convert DIR -o OUTDIR --recursive` (the rest convert when one
//! file is bad; exit code and summary name it).
use crate::util::*;
use serde_json::Value;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A 320x240 still of testsrc2 (a real picture with detail for the depth model).
fn still(path: &Path, extra: &[&str]) {
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240",
        "-frames:v",
        "1",
    ];
    args.extend_from_slice(extra);
    args.push(s(path));
    ffmpeg(&args);
}

/// `jpeg` with an EXIF APP1 segment (big-endian TIFF, one IFD0 entry: Orientation) inserted
/// after SOI, as a phone camera writes it.
fn with_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    assert_eq!(&jpeg[..2], b"\xff\xd8", "not a JPEG");
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend(1u16.to_be_bytes()); // one entry
    tiff.extend(0x0112u16.to_be_bytes()); // Orientation
    tiff.extend(3u16.to_be_bytes()); // SHORT
    tiff.extend(1u32.to_be_bytes()); // count
    tiff.extend(orientation.to_be_bytes());
    tiff.extend([0, 0]); // value padding
    tiff.extend(0u32.to_be_bytes()); // no next IFD
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xff, 0xe1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

fn size_and_codec(path: &Path) -> (u64, u64, String, String) {
    let p = probe(path);
    let v = stream(&p, "video").expect("image stream");
    (
        v["width"].as_u64().expect("w"),
        v["height"].as_u64().expect("h"),
        v["codec_name"].as_str().unwrap_or("").to_string(),
        v["pix_fmt"].as_str().unwrap_or("").to_string(),
    )
}

/// Mean RGB of the rectangle (x, y, w, h) of a packed RGB24 frame of width `fw`.
fn mean_rgb(frame: &[u8], fw: u32, (x, y, w, h): (u32, u32, u32, u32)) -> [f64; 3] {
    let mut sum = [0.0; 3];
    for row in y..y + h {
        for col in x..x + w {
            let i = ((row * fw + col) * 3) as usize;
            for c in 0..3 {
                sum[c] += frame[i + c] as f64;
            }
        }
    }
    sum.map(|v| v / (w * h) as f64)
}

fn is_red(c: [f64; 3]) -> bool {
    c[0] > 180.0 && c[1] < 80.0 && c[2] < 80.0
}

fn is_blue(c: [f64; 3]) -> bool {
    c[2] > 180.0 && c[0] < 80.0 && c[1] < 80.0
}

#[test]
fn photo_sizes_per_layout_and_formats_follow_the_extension() {
    let d = tempfile::tempdir().expect("tempdir");
    let work = d.path().join("work");
    let (jpg, png, webp) = (
        d.path().join("in.jpg"),
        d.path().join("in.png"),
        d.path().join("in.webp"),
    );
    still(&jpg, &[]);
    still(&png, &[]);
    still(&webp, &[]);
    for (layout, w, h) in [
        ("full-sbs", 640, 240),
        ("half-sbs", 320, 240),
        ("full-tb", 320, 480),
        ("half-tb", 320, 240),
        ("anaglyph", 320, 240),
        ("cross-eyed", 640, 240),
    ] {
        let out = d.path().join(format!("out_{layout}.png"));
        let sum = summary(&convert(&jpg, &out, &work, &["--layout", layout]));
        assert_eq!(
            (sum["width"].as_u64(), sum["height"].as_u64()),
            (Some(w), Some(h)),
            "{sum}"
        );
        assert_eq!(sum["layout"], layout);
        let got = size_and_codec(&out);
        assert_eq!((got.0, got.1, got.2.as_str()), (w, h, "png"), "{layout}");
    }
    // jpg -> jpg, png -> png, webp -> png and -> jpg.
    for (input, name, codec) in [
        (&jpg, "a.jpg", "mjpeg"),
        (&png, "b.png", "png"),
        (&webp, "c.png", "png"),
        (&webp, "d.JPEG", "mjpeg"),
    ] {
        let out = d.path().join(name);
        summary(&convert(input, &out, &work, &["--layout", "half-sbs"]));
        let got = size_and_codec(&out);
        assert_eq!((got.0, got.1, got.2.as_str()), (320, 240, codec), "{name}");
    }
    // The left view of a half-sbs photo is the picture (squeezed, shifted a little by depth).
    let out = d.path().join("b.png");
    let (_, _, views) = decode_rgb(&out);
    let (_, _, orig) = decode_rgb(&png);
    let half = |f: &[u8]| -> Vec<u8> {
        f.chunks_exact(3 * 2)
            .flat_map(|p| p[..3].to_vec())
            .collect()
    };
    let left = crop_cols(&views[0], 320, 0, 160);
    assert!(
        mad(&left, &half(&orig[0])) < 40.0,
        "left view is not the picture"
    );
    // A photo cannot be written as anything but PNG or JPEG.
    let run = convert(&jpg, &d.path().join("x.webp"), &work, &[]);
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("a photo is written as .png or .jpg, not .webp"),
        "{err}"
    );
}

#[test]
fn exif_orientation_is_honoured() {
    let d = tempfile::tempdir().expect("tempdir");
    let work = d.path().join("work");
    // Stored 320x240: red left half, blue right half.
    let plain = d.path().join("plain.jpg");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=320x240,drawbox=x=160:y=0:w=160:h=240:c=blue:t=fill",
        "-frames:v",
        "1",
        s(&plain),
    ]);
    let bytes = std::fs::read(&plain).expect("read");
    // (orientation, upright size, where red is in the upright left view)
    for (o, (w, h), red_first) in [
        (6u16, (240u32, 320u32), "top"), // rotate 90° clockwise: the left half goes to the top
        (8, (240, 320), "bottom"),       // 90° counter-clockwise
        (3, (320, 240), "right"),        // 180°
        (2, (320, 240), "right"),        // mirrored
        (1, (320, 240), "left"),
    ] {
        let photo = d.path().join(format!("phone_{o}.jpg"));
        std::fs::write(&photo, with_orientation(&bytes, o)).expect("write");
        let out = d.path().join(format!("phone_{o}_sbs.png"));
        let sum = summary(&convert(&photo, &out, &work, &["--layout", "full-sbs"]));
        assert_eq!(sum["orientation"], o, "{sum}");
        let (ow, oh, frames) = decode_rgb(&out);
        assert_eq!((ow, oh), (2 * w, h), "orientation {o}");
        let f = &frames[0];
        // Probe boxes well inside each half of the left view.
        let (a, b) = match red_first {
            "top" | "bottom" => (
                (w / 4, h / 8, w / 2, h / 4),
                (w / 4, 5 * h / 8, w / 2, h / 4),
            ),
            _ => (
                (w / 8, h / 4, w / 4, h / 2),
                (5 * w / 8, h / 4, w / 4, h / 2),
            ),
        };
        let (first, second) = (mean_rgb(f, ow, a), mean_rgb(f, ow, b));
        let red_is_first = matches!(red_first, "top" | "left");
        let (red, blue) = if red_is_first {
            (first, second)
        } else {
            (second, first)
        };
        assert!(
            is_red(red) && is_blue(blue),
            "orientation {o}: red {red:?}, blue {blue:?}"
        );
    }
}

#[test]
fn a_16_bit_png_stays_16_bit() {
    let d = tempfile::tempdir().expect("tempdir");
    let work = d.path().join("work");
    let png = d.path().join("deep.png");
    still(&png, &["-pix_fmt", "rgb48be"]);
    let out = d.path().join("deep_sbs.png");
    let sum = summary(&convert(&png, &out, &work, &[]));
    assert_eq!(sum["bits"], 16, "{sum}");
    let got = size_and_codec(&out);
    assert_eq!((got.0, got.1, got.3.as_str()), (640, 240, "rgb48be"));
    // JPEG holds 8 bits.
    let out = d.path().join("deep_sbs.jpg");
    let sum = summary(&convert(&png, &out, &work, &[]));
    assert_eq!(sum["bits"], 8, "{sum}");
}

#[test]
fn a_folder_converts_everything_but_the_bad_file_and_names_it() {
    let d = tempfile::tempdir().expect("tempdir");
    let (dir, outdir) = (d.path().join("album"), d.path().join("album_3d"));
    std::fs::create_dir_all(dir.join("trip/day1")).expect("mkdir");
    std::fs::create_dir_all(dir.join(".thumbs")).expect("mkdir");
    still(&dir.join("a.JPG"), &[]);
    still(&dir.join("b.png"), &[]);
    still(&dir.join("trip/c.webp"), &[]);
    still(&dir.join(".thumbs/t.jpg"), &[]);
    still(&dir.join(".hidden.png"), &[]);
    std::fs::write(dir.join("notes.txt"), "not media").expect("write");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x96:rate=24:duration=1",
        s(&dir.join("trip/day1/clip.mp4")),
    ]);
    std::fs::write(dir.join("trip/broken.jpg"), b"\xff\xd8 this is not a JPEG").expect("write");
    let run = stereospot()
        .arg("convert")
        .arg(&dir)
        .arg("-o")
        .arg(&outdir)
        .arg("--recursive")
        .arg("--workdir")
        .arg(d.path().join("work"))
        .arg("--json")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("failed: trip/broken.jpg: not an image ffmpeg can decode"),
        "{err}"
    );
    assert!(err.contains("converted 4 of 5 files"), "{err}");
    let sum: Value = serde_json::from_slice(&run.stdout).expect("json summary");
    assert_eq!(
        (sum["total"].as_u64(), sum["converted"].as_u64()),
        (Some(5), Some(4))
    );
    let failed = sum["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["input"], "trip/broken.jpg");
    // The tree is mirrored; hidden files and other files are not converted.
    let mut outputs: Vec<String> = Vec::new();
    let mut stack = vec![outdir.clone()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).expect("read").flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(&outdir)
                    .expect("rel")
                    .display()
                    .to_string();
                outputs.push(rel);
            }
        }
    }
    outputs.sort();
    assert_eq!(
        outputs,
        ["a.jpg", "b.png", "trip/c.png", "trip/day1/clip.mp4"],
        "{err}"
    );
    assert_eq!(size_and_codec(&outdir.join("a.jpg")).0, 640);
    let clip = probe(&outdir.join("trip/day1/clip.mp4"));
    assert_eq!(decoded_frames(&clip), 24);
    // A file where the output folder should be stops the batch before it starts (exit 1).
    let run = stereospot()
        .arg("convert")
        .arg(&dir)
        .arg("-o")
        .arg(dir.join("b.png"))
        .output()
        .expect("run");
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("must be a folder"));
}
