//! VR180 output of `stereospot convert`: size, spherical and stereo metadata (read back by
//! ffprobe and from the MP4 boxes themselves, after the join of several segments) and the
//! projected picture (screen centre, edges, black corners).
use crate::util::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A 160x90 clip, 2 s at 10 fps with a keyframe every second (two segments of 1 s): left half
/// red, right half blue, a green band across the middle rows.
fn halves_clip(dir: &Path) -> PathBuf {
    let p = dir.join("halves.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:size=160x90:rate=10:duration=2",
        "-vf",
        "drawbox=x=80:y=0:w=80:h=90:color=blue:t=fill,\
         drawbox=x=0:y=40:w=160:h=10:color=lime:t=fill",
        "-c:v",
        "libx264",
        "-g",
        "10",
        "-crf",
        "12",
        p.to_str().unwrap(),
    ]);
    p
}

/// `stereospot convert` with a flat depth model (both views are the source, so the pixels
/// are the projection alone), two segments.
fn convert_vr(input: &Path, dir: &Path, args: &[&str]) -> (PathBuf, Value) {
    std::fs::create_dir_all(dir).unwrap();
    let flat = flat_model(dir);
    let out = dir.join("vr.mp4");
    let mut all = vec![
        "--model",
        flat.to_str().unwrap(),
        "--model-profile",
        "stereospot-cues",
        "--segment-seconds",
        "1",
    ];
    all.extend_from_slice(args);
    let s = summary(&convert(input, &out, &dir.join("wd"), &all));
    (out, s)
}

/// The eye size the docs specify: `h * 180 / vertical span`, even.
fn eye(w: f64, h: f64, screen_deg: f64) -> u64 {
    let th = (screen_deg / 2.0).to_radians().tan() * h / w;
    let span = 2.0 * th.atan().to_degrees();
    ((h * 180.0 / span / 2.0).round() * 2.0) as u64
}

/// The payload of the first `kind` box in `bytes` (a naive scan: the four-character codes are
/// unlikely inside the tiny test files' other data).
fn mp4_box<'a>(bytes: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let at = bytes.windows(4).position(|w| w == kind)?;
    let size = u32::from_be_bytes(bytes[at - 4..at].try_into().ok()?) as usize;
    bytes.get(at + 4..at - 4 + size)
}

fn side_data<'a>(v: &'a Value, kind: &str) -> Option<&'a Value> {
    v["side_data_list"]
        .as_array()?
        .iter()
        .find(|s| s["side_data_type"] == kind)
}

fn px(frame: &[u8], w: u64, x: u64, y: u64) -> [i32; 3] {
    let i = ((y * w + x) * 3) as usize;
    [frame[i] as i32, frame[i + 1] as i32, frame[i + 2] as i32]
}

fn near(a: [i32; 3], b: [i32; 3], tol: i32) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

const RED: [i32; 3] = [255, 0, 0];
const BLUE: [i32; 3] = [0, 0, 255];
const BLACK: [i32; 3] = [0, 0, 0];

/// Output column of an eye `n` wide that looks at `yaw_deg`.
fn col(yaw_deg: f64, n: u64) -> u64 {
    ((yaw_deg / 180.0 + 0.5) * n as f64).floor() as u64
}

#[test]
fn vr180_side_by_side_is_spherical_stereo_with_the_screen_in_front() {
    let dir = tempfile::tempdir().unwrap();
    let input = halves_clip(dir.path());
    let (output, s) = convert_vr(&input, &dir.path().join("sbs"), &["--layout", "vr180"]);
    let n = eye(160.0, 90.0, 90.0);
    assert_eq!(n, 276);
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(2 * n), Some(n))
    );
    assert_eq!(s["segments"], 2, "{s}");
    let p = probe(&output);
    let v = stream(&p, "video").unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(2 * n), Some(n))
    );
    assert_eq!(decoded_frames(&p), 20);
    // ffprobe: "Stereo 3D" side by side and "Spherical Mapping", equirectangular cropped to
    // the front half (ffprobe 5.1 calls a cropped one "tiled" and gives the crop in pixels of
    // the full-sphere frame: a quarter of twice the width on each side).
    let st3d = side_data(v, "Stereo 3D").unwrap_or_else(|| panic!("no Stereo 3D: {v}"));
    assert_eq!(st3d["type"], "side by side");
    let sv3d = side_data(v, "Spherical Mapping").unwrap_or_else(|| panic!("no sv3d: {v}"));
    assert_eq!(sv3d["projection"], "tiled equirectangular", "{sv3d}");
    assert_eq!(
        (sv3d["bound_top"].as_i64(), sv3d["bound_bottom"].as_i64()),
        (Some(0), Some(0))
    );
    for k in ["bound_left", "bound_right"] {
        let b = sv3d[k].as_i64().unwrap();
        assert!((b - n as i64).abs() <= 1, "{k} {b}: {sv3d}");
    }
    assert_eq!(
        (sv3d["yaw"].as_i64(), sv3d["pitch"].as_i64()),
        (Some(0), Some(0))
    );
    // The boxes themselves: st3d stereo_mode 2 (left-right); sv3d/proj/equi bounds 0, 0,
    // 0x40000000, 0x40000000 (0.32 fixed point: a quarter of the sphere off each side).
    let bytes = std::fs::read(&output).unwrap();
    let st3d = mp4_box(&bytes, b"st3d").expect("st3d box");
    assert_eq!(st3d[4], 2, "st3d stereo_mode");
    let equi = mp4_box(&bytes, b"equi").expect("equi box");
    let bounds: Vec<u32> = equi[4..20]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(bounds, [0, 0, 0x4000_0000, 0x4000_0000]);
    assert!(mp4_box(&bytes, b"sv3d").is_some());
    assert!(v["tags"]["handler_name"]
        .as_str()
        .unwrap_or("")
        .contains("vr180"));

    // Pixels: the screen spans yaw -45..45 degrees, pitch -29.4..29.4 at its centre.
    let (w, _, frames) = decode_rgb(&output);
    assert_eq!(w as u64, 2 * n);
    for f in [&frames[0], &frames[15]] {
        for eye_x in [0, n] {
            let at = |yaw: f64, row: u64| px(f, w as u64, eye_x + col(yaw, n), row);
            // Straight ahead, just above the green band: red left of centre, blue right of it.
            let row = n / 2 - n / 12;
            assert!(near(at(-10.0, row), RED, 40), "{:?}", at(-10.0, row));
            assert!(near(at(10.0, row), BLUE, 40), "{:?}", at(10.0, row));
            // The middle rows are the green band, and so is the screen's centre (the source's
            // centre pixel is in the band).
            for yaw in [-10.0, 0.0, 10.0] {
                let c = at(yaw, n / 2);
                assert!(c[1] > 180 && c[0] < 80 && c[2] < 80, "{yaw}: {c:?}");
            }
            // Inside the screen's edge, then black beyond it.
            assert!(near(at(-43.0, row), RED, 40), "{:?}", at(-43.0, row));
            assert!(near(at(43.0, row), BLUE, 40), "{:?}", at(43.0, row));
            assert!(near(at(-47.0, row), BLACK, 20), "{:?}", at(-47.0, row));
            assert!(near(at(47.0, row), BLACK, 20), "{:?}", at(47.0, row));
            // Above the screen (pitch 40 degrees) and the corners: black.
            let top = ((0.5 - 40.0 / 180.0) * n as f64) as u64;
            assert!(near(at(0.0, top), BLACK, 20), "{:?}", at(0.0, top));
            for (x, y) in [(0, 0), (n - 1, 0), (0, n - 1), (n - 1, n - 1)] {
                assert!(near(px(f, w as u64, eye_x + x, y), BLACK, 20));
            }
        }
    }
}

#[test]
fn vr180_top_bottom_with_a_narrower_screen() {
    let dir = tempfile::tempdir().unwrap();
    let input = halves_clip(dir.path());
    let (output, _) = convert_vr(
        &input,
        &dir.path().join("tb"),
        &["--layout", "vr180-tb", "--vr-screen-deg", "60"],
    );
    let n = eye(160.0, 90.0, 60.0);
    assert_eq!(n, 450);
    let p = probe(&output);
    let v = stream(&p, "video").unwrap();
    assert_eq!(
        (v["width"].as_u64(), v["height"].as_u64()),
        (Some(n), Some(2 * n))
    );
    assert_eq!(side_data(v, "Stereo 3D").unwrap()["type"], "top and bottom");
    let sv3d = side_data(v, "Spherical Mapping").expect("sv3d");
    assert_eq!(sv3d["projection"], "tiled equirectangular");
    let bytes = std::fs::read(&output).unwrap();
    assert_eq!(mp4_box(&bytes, b"st3d").expect("st3d")[4], 1, "top-bottom");
    let (w, _, frames) = decode_rgb(&output);
    let f = &frames[5];
    for eye_y in [0, n] {
        let row = eye_y + n / 2 - n / 12;
        let at = |yaw: f64| px(f, w as u64, col(yaw, n), row);
        // A 60 degree screen: +-28 inside, +-32 outside.
        assert!(near(at(-28.0), RED, 40), "{:?}", at(-28.0));
        assert!(near(at(28.0), BLUE, 40), "{:?}", at(28.0));
        assert!(near(at(-32.0), BLACK, 20), "{:?}", at(-32.0));
        assert!(near(at(32.0), BLACK, 20), "{:?}", at(32.0));
    }
}

#[test]
fn a_bad_vr_screen_size_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("missing-is-fine.mp4");
    let out = convert(
        &input,
        &dir.path().join("o.mp4"),
        &dir.path().join("wd"),
        &["--layout", "vr180", "--vr-screen-deg", "175"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("--vr-screen-deg") && lines[0].contains("between 20 and 160 degrees"),
        "{err}"
    );
    // An unknown anaglyph method is refused while parsing the arguments, naming the valid ones.
    let out = convert(
        &input,
        &dir.path().join("o.mp4"),
        &dir.path().join("wd"),
        &["--layout", "anaglyph", "--anaglyph-method", "magenta"],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("dubois, dubois2, color, half-color, gray, wimmer"),
        "{err}"
    );
}
