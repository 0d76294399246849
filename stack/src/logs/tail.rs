//! Reading a log group as `edge-stack logs` prints it: every stream, oldest first, each line
//! prefixed with its group and stream; optionally following new lines as they are written.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{group_dir, streams};

/// How often a follower looks for new lines and new streams.
const FOLLOW_EVERY: Duration = Duration::from_millis(300);

/// Write the lines of `group` under `logs_root` to `out` as `<group> <stream> <line>`; with
/// `follow`, keep writing new ones until `out` is closed. Only whole lines are written: a line
/// still being written is written on the next round.
pub fn tail(
    logs_root: &Path,
    group: &str,
    follow: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut offsets: Vec<(PathBuf, u64)> = Vec::new();
    loop {
        for stream in streams(logs_root, group)? {
            if !offsets.iter().any(|(p, _)| *p == stream) {
                offsets.push((stream, 0));
            }
        }
        for (path, offset) in &mut offsets {
            let mut file = std::fs::File::open(&*path)?;
            file.seek(SeekFrom::Start(*offset))?;
            let mut text = String::new();
            file.read_to_string(&mut text)?;
            let complete = text.rfind('\n').map_or(0, |i| i + 1);
            if complete == 0 {
                continue;
            }
            let name = path
                .strip_prefix(group_dir(logs_root, group))
                .unwrap_or(path)
                .display()
                .to_string();
            for line in text[..complete].lines() {
                // A closed pipe (`| head`) ends the tail quietly.
                if writeln!(out, "{group} {name} {line}").is_err() {
                    return Ok(());
                }
            }
            *offset += complete as u64;
        }
        if !follow {
            return Ok(());
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
}
