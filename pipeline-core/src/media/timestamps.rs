//! Frame timestamps: every frame keeps its own presentation time from decode to mux (VFR
//! sources included). Read from the container's packets (a demux, no decode): sorted, they are
//! the presentation times of the frames ffmpeg decodes with `-fps_mode passthrough`.
use super::process::{check, ffprobe, run};
use crate::{PipelineError, Result};
use std::path::Path;

/// Timestamps of the first video stream's packets, in ticks of `time_base`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameTimes {
    /// Presentation timestamps in presentation order (sorted).
    pub pts: Vec<i64>,
    /// The presentation timestamp of the first packet in decode order (the piece's keyframe).
    pub first_decoded: i64,
    /// Presentation timestamps in decode (file) order.
    pub decode_order: Vec<i64>,
    pub time_base: (u32, u32),
}

impl FrameTimes {
    /// Nanoseconds from the first decodable frame, one per frame the decoder outputs, in
    /// presentation order. Frames shown before the first keyframe (the leading pictures of an
    /// open GOP, which reference the previous piece) cannot be decoded from this piece: ffmpeg
    /// drops them, so they are left out here too and the times stay aligned with the frames.
    pub fn relative_ns(&self) -> Vec<u64> {
        let first = self.first_decoded;
        self.pts
            .iter()
            .filter(|p| **p >= first)
            .map(|p| ticks_to_ns(p - first, self.time_base).max(0) as u64)
            .collect()
    }

    /// Nanoseconds from the earliest frame, for every frame (leading pictures included: when
    /// the piece is decoded after a pre-roll of the previous one, they decode too).
    pub fn all_relative_ns(&self) -> Vec<u64> {
        let first = self.pts.first().copied().unwrap_or(0);
        self.pts
            .iter()
            .map(|p| ticks_to_ns(p - first, self.time_base).max(0) as u64)
            .collect()
    }

    /// Whether some frames are shown before the first keyframe (an open GOP's leading
    /// pictures, which reference frames of the previous piece).
    pub fn has_leading_pictures(&self) -> bool {
        self.pts.first().is_some_and(|p| *p < self.first_decoded)
    }
}

/// `ticks` of `tb` in nanoseconds, rounded to nearest.
pub fn ticks_to_ns(ticks: i64, tb: (u32, u32)) -> i64 {
    let num = ticks as i128 * tb.0 as i128 * 1_000_000_000;
    let den = tb.1.max(1) as i128;
    (if num >= 0 {
        num + den / 2
    } else {
        num - den / 2
    } / den) as i64
}

/// Convert `ticks` of `from` into ticks of `to`, rounded to nearest.
pub fn rescale(ticks: i64, from: (u32, u32), to: (u32, u32)) -> i64 {
    let num = ticks as i128 * from.0 as i128 * to.1 as i128;
    let den = (from.1 as i128 * to.0 as i128).max(1);
    (if num >= 0 {
        num + den / 2
    } else {
        num - den / 2
    } / den) as i64
}

/// Probe `path`'s video packet timestamps.
pub fn frame_times(path: &Path) -> Result<FrameTimes> {
    let out = run(
        "ffprobe",
        ffprobe()
            .args(["-select_streams", "v:0"])
            .args(["-show_entries", "stream=time_base:packet=pts,dts"])
            .args(["-of", "csv=p=1"])
            .arg(path),
    )?;
    check("ffprobe", &out)?;
    parse_frame_times(&String::from_utf8_lossy(&out.stdout))
        .map_err(|why| PipelineError::media("ffprobe", format!("{}: {why}", path.display())))
}

/// Parse `ffprobe -show_entries stream=time_base:packet=pts,dts -of csv=p=1`: lines
/// `packet,PTS,DTS` and one `stream,NUM/DEN`. A packet without pts takes its dts; one without
/// either is placed one typical frame after the previous one.
pub fn parse_frame_times(text: &str) -> std::result::Result<FrameTimes, String> {
    let mut time_base = None;
    let mut raw: Vec<Option<i64>> = Vec::new();
    for line in text.lines() {
        let mut f = line.trim().split(',');
        match f.next() {
            Some("packet") => {
                let pts = f.next().and_then(|v| v.parse::<i64>().ok());
                let dts = f.next().and_then(|v| v.parse::<i64>().ok());
                raw.push(pts.or(dts));
            }
            Some("stream") => {
                time_base = f.next().and_then(|tb| {
                    let (n, d) = tb.split_once('/')?;
                    let (n, d) = (n.parse::<u32>().ok()?, d.parse::<u32>().ok()?);
                    (n > 0 && d > 0).then_some((n, d))
                });
            }
            _ => {}
        }
    }
    let time_base = time_base.ok_or("no video stream time base")?;
    if raw.is_empty() {
        return Err("no video packets".into());
    }
    let mut known: Vec<i64> = raw.iter().flatten().copied().collect();
    known.sort_unstable();
    let step = typical_step(&known).max(1);
    let mut decode_order = Vec::with_capacity(raw.len());
    let mut prev: Option<i64> = None;
    for r in raw {
        let v = r.unwrap_or_else(|| prev.map_or(0, |p| p + step));
        decode_order.push(v);
        prev = Some(v);
    }
    let mut pts = decode_order.clone();
    pts.sort_unstable();
    Ok(FrameTimes {
        first_decoded: decode_order[0],
        pts,
        decode_order,
        time_base,
    })
}

/// The median distance between sorted timestamps (0 with fewer than two).
fn typical_step(sorted: &[i64]) -> i64 {
    let mut d: Vec<i64> = sorted
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .collect();
    if d.is_empty() {
        return 0;
    }
    let mid = d.len() / 2;
    *d.select_nth_unstable(mid).1
}

/// Where each piece starts, in ticks of the original's time base from its first frame: piece
/// `k` holds the next `counts[k]` packets of the original in decode order (pieces are cut at
/// keyframes and copied, never reordered), so it starts at the earliest presentation time among
/// them: its keyframe, or the first leading picture of an open GOP (decoded with a pre-roll).
/// `None` when the counts do not add up to the original's packets.
pub fn piece_starts(original: &FrameTimes, counts: &[usize]) -> Option<Vec<i64>> {
    if counts.iter().sum::<usize>() != original.decode_order.len() || counts.contains(&0) {
        return None;
    }
    let first = *original.pts.first()?;
    let mut at = 0usize;
    let mut starts = Vec::with_capacity(counts.len());
    for c in counts {
        let earliest = original.decode_order[at..at + c].iter().min()?;
        starts.push(earliest - first);
        at += c;
    }
    Some(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sorts_and_fills_gaps() {
        let t = parse_frame_times(
            "stream,1/12288\npacket,0,-1024\npacket,2048,-512\npacket,1024,0\npacket,N/A,1536\npacket,N/A,N/A\n",
        )
        .unwrap();
        assert_eq!(t.time_base, (1, 12288));
        // pts 0, 2048, 1024; dts 1536 stands in; the unknown one lands one step after it.
        assert_eq!(t.pts, vec![0, 1024, 1536, 2048, 2048]);
        assert_eq!(t.decode_order, vec![0, 2048, 1024, 1536, 2048]);
        assert_eq!(t.first_decoded, 0);
        assert!(parse_frame_times("packet,1,1\n")
            .unwrap_err()
            .contains("time base"));
        assert!(parse_frame_times("stream,1/90000\n")
            .unwrap_err()
            .contains("no video packets"));
    }

    #[test]
    fn nanoseconds_and_rescaling_round_to_nearest() {
        assert_eq!(ticks_to_ns(1, (1, 3)), 333_333_333);
        assert_eq!(ticks_to_ns(2, (1, 3)), 666_666_667);
        assert_eq!(ticks_to_ns(-1, (1, 3)), -333_333_333);
        assert_eq!(ticks_to_ns(1001, (1, 30000)), 33_366_667);
        // 90 kHz MPEG-TS ticks back to a 12288 time base are exact.
        for t in [0i64, 1, 409, 410, 12287, 123_456] {
            let ts = rescale(t, (1, 12288), (1, 90000));
            assert_eq!(rescale(ts, (1, 90000), (1, 12288)), t);
        }
        let t = times(&[1000, 5000, 1410], (1, 12288));
        assert_eq!(t.relative_ns(), vec![0, 33_365_885, 325_520_833]);
    }

    fn times(decode_order: &[i64], time_base: (u32, u32)) -> FrameTimes {
        let mut pts = decode_order.to_vec();
        pts.sort_unstable();
        FrameTimes {
            pts,
            first_decoded: decode_order[0],
            decode_order: decode_order.to_vec(),
            time_base,
        }
    }

    #[test]
    fn piece_starts_are_the_keyframes_of_each_piece() {
        // Closed GOPs with B-frames: I P B | I P B (decode order), pts 10 30 20 | 40 60 50.
        let orig = times(&[10, 30, 20, 40, 60, 50], (1, 10));
        assert_eq!(piece_starts(&orig, &[3, 3]), Some(vec![0, 30]));
        assert_eq!(piece_starts(&orig, &[2, 2]), None);
        assert_eq!(piece_starts(&orig, &[6, 0]), None);
        // Open GOP: the second piece starts at a CRA (pts 50) whose leading pictures (pts 40,
        // 45) follow it in decode order but are shown before it.
        let open = times(&[10, 30, 20, 50, 40, 45, 60], (1, 10));
        assert_eq!(piece_starts(&open, &[3, 4]), Some(vec![0, 30]));
        assert!(times(&[50, 40, 45, 60], (1, 10)).has_leading_pictures());
        assert!(!times(&[40, 60, 50], (1, 10)).has_leading_pictures());
    }

    #[test]
    fn leading_pictures_of_an_open_gop_are_not_timed() {
        let piece = times(&[50, 40, 45, 60, 55], (1, 10));
        assert_eq!(piece.relative_ns(), vec![0, 500_000_000, 1_000_000_000]);
        assert_eq!(piece.all_relative_ns().len(), 5);
        assert_eq!(piece.all_relative_ns()[2], 1_000_000_000);
    }
}
