//! Result files in Maestro's formats (`docs/maestro-protocol.md` §10), so that Maestro's reports
//! server and tools read what an Allegro worker measured: per test a numbered directory with
//! `test.properties`, `sender.dat` or `receiver.dat` (one record a second) and, for receivers,
//! `receiverd-latency.hdr`; `last`, `lastSuccessful` and `lastFailed` links.

use allegro_engine::clock::Nanos;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use sha1::{Digest, Sha1};
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// `"1.5.5"` → 155, the version number Maestro writes in rate files (§10.3).
pub const MAESTRO_VERSION: i32 = 155;

/// Escapes a value as `java.util.Properties.store` does (§10.2).
pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            ':' | '=' | '#' | '!' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Writes a properties file: `#maestro-plotter`, a date line, then `key=value` lines.
pub fn write_properties(path: &Path, pairs: &[(&str, String)]) -> io::Result<()> {
    let mut f = BufWriter::new(File::create(path)?);
    writeln!(f, "#maestro-plotter")?;
    writeln!(f, "#{}", chrono_like_now())?;
    for (k, v) in pairs {
        writeln!(f, "{}={}", escape(k), escape(v))?;
    }
    f.flush()
}

fn chrono_like_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{secs} (seconds since the epoch)")
}

/// The next test directory: the first integer from 0 that does not exist yet (§10.1).
pub fn next_test_dir(root: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(root)?;
    for n in 0.. {
        let p = root.join(n.to_string());
        match std::fs::create_dir(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("an unbounded range always yields")
}

/// Points `root/last` and `root/lastSuccessful` or `root/lastFailed` at `dir` (absolute links).
pub fn link_result(root: &Path, dir: &Path, success: bool) -> io::Result<()> {
    let abs = std::fs::canonicalize(dir)?;
    for name in [
        "last",
        if success {
            "lastSuccessful"
        } else {
            "lastFailed"
        },
    ] {
        let tmp = root.join(format!(".{name}.tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&abs, &tmp)?;
        std::fs::rename(&tmp, root.join(name))?;
    }
    Ok(())
}

/// A binary rate file (§10.3): a 20-byte header, then one 20-byte record a second.
#[derive(Debug)]
pub struct RateFile {
    out: BufWriter<File>,
    last_second: i64,
}

impl RateFile {
    /// Java writes role 1 in both files (§10.3); so does this, for readers that compare.
    pub fn create(path: &Path) -> io::Result<Self> {
        let mut out = BufWriter::new(OpenOptions::new().create_new(true).write(true).open(path)?);
        out.write_all(b" maestro")?;
        out.write_all(&1i32.to_be_bytes())?;
        out.write_all(&MAESTRO_VERSION.to_be_bytes())?;
        out.write_all(&1i32.to_be_bytes())?;
        Ok(RateFile {
            out,
            last_second: i64::MIN,
        })
    }

    /// Records `count` messages for epoch second `second`, stamped with its start; a second
    /// already recorded (or an earlier one) is refused (a second slot holds one record, §10.3).
    pub fn record(&mut self, second: i64, count: u64) -> io::Result<()> {
        if second <= self.last_second {
            return Err(io::Error::other(format!(
                "second {second} comes after {} in the rate file",
                self.last_second
            )));
        }
        self.last_second = second;
        self.out.write_all(&0i32.to_be_bytes())?;
        self.out.write_all(&(count as i64).to_be_bytes())?;
        self.out.write_all(&(second * 1_000_000).to_be_bytes())?;
        self.out.flush()
    }
}

/// `receiverd-latency.hdr` (§10.4): an HdrHistogram log of microsecond intervals with absolute
/// start times.
#[derive(Debug)]
pub struct LatencyLog {
    out: BufWriter<File>,
}

impl LatencyLog {
    pub fn create(path: &Path, start: Nanos) -> io::Result<Self> {
        let mut out = BufWriter::new(File::create(path)?);
        writeln!(out, "#[mpt]")?;
        writeln!(out, "#[Histogram log format version 1.3]")?;
        writeln!(
            out,
            "#[StartTime: {:.3} (seconds since epoch)]",
            start as f64 / 1e9
        )?;
        writeln!(out, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        out.flush()?;
        Ok(LatencyLog { out })
    }

    /// One interval from `from` to `to`; empty histograms are skipped.
    pub fn interval(&mut self, from: Nanos, to: Nanos, h: &Histogram<u64>) -> io::Result<()> {
        if h.is_empty() {
            return Ok(());
        }
        let mut bytes = Vec::new();
        V2DeflateSerializer::new()
            .serialize(h, &mut bytes)
            .map_err(|e| io::Error::other(format!("{e:?}")))?;
        writeln!(
            self.out,
            "{:.3},{:.3},{:.3},{}",
            from as f64 / 1e9,
            (to - from) as f64 / 1e9,
            h.max() as f64 / 1e6,
            STANDARD.encode(&bytes)
        )?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_escape_like_java() {
        assert_eq!(
            escape("amqp://sut:5672/q?a=b"),
            "amqp\\://sut\\:5672/q?a\\=b"
        );
    }

    #[test]
    fn rate_file_layout() {
        let dir = std::env::temp_dir().join(format!("allegro-rate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("sender.dat");
        let mut f = RateFile::create(&p).unwrap();
        f.record(1_700_000_000, 10).unwrap();
        assert!(f.record(1_700_000_000, 11).is_err(), "one record a second");
        f.record(1_700_000_001, 12).unwrap();
        drop(f);
        let b = std::fs::read(&p).unwrap();
        assert_eq!(b.len(), 20 + 2 * 20);
        assert_eq!(&b[..8], b" maestro");
        assert_eq!(&b[12..16], &155i32.to_be_bytes());
        assert_eq!(&b[24..32], &10i64.to_be_bytes());
        assert_eq!(&b[32..40], &1_700_000_000_000_000i64.to_be_bytes());
        assert_eq!(&b[44..52], &12i64.to_be_bytes());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// SHA-1 of `data` as lower-case hex (FIPS 180-4), the `fileHash` of LOG chunks (§8.7).
pub fn sha1_hex(data: &[u8]) -> String {
    format!("{:x}", Sha1::digest(data))
}

/// Largest LOG chunk (§8.7).
pub const LOG_CHUNK: usize = 10_000_000;

/// The regular files of a test directory, by name.
pub fn test_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod sha1_tests {
    use super::sha1_hex;

    #[test]
    fn known_digests() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(sha1_hex(long), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
        assert_eq!(
            sha1_hex(&vec![b'a'; 1_000_000]),
            "34aa973cd4c4daa4f61eeb2bdbad27316534016f"
        );
    }
}

/// A rate file read back: (epoch second of the record's timestamp, count) per whole record, and
/// what was wrong with the rest, if anything.
pub type RateRecords = (Vec<(i64, u64)>, Option<String>);

/// Reads a rate file (§10.3). A file cut short keeps its whole records and says how many bytes
/// were left over.
pub fn read_rate_file(path: &Path) -> Result<RateRecords, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < 20 || &bytes[..8] != b" maestro" {
        return Err(format!(
            "{}: not a Maestro rate file (no ' maestro' header)",
            path.display()
        ));
    }
    let body = &bytes[20..];
    let records = body
        .chunks_exact(20)
        .map(|r| {
            let count = i64::from_be_bytes(r[4..12].try_into().unwrap_or_default());
            let us = i64::from_be_bytes(r[12..20].try_into().unwrap_or_default());
            (us.div_euclid(1_000_000), count.max(0) as u64)
        })
        .collect();
    let cut = (body.len() % 20 != 0).then(|| {
        format!(
            "{}: truncated ({} bytes after the last whole record)",
            path.display(),
            body.len() % 20
        )
    });
    Ok((records, cut))
}

/// Reads a properties file (§10.2): `key=value` lines, comments skipped, Java escapes undone.
pub fn read_properties(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text
        .lines()
        .filter(|l| !l.trim_start().starts_with(['#', '!']) && !l.trim().is_empty())
        .filter_map(|l| {
            // The first `=` or `:` not escaped separates the key.
            let mut key = String::new();
            let mut chars = l.chars();
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '=' | ':') => return Some((key, unescape(chars.as_str()))),
                    (_, c) => {
                        key.push(c);
                        escaped = false;
                    }
                }
            }
            None
        })
        .collect())
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut escaped = false;
    for c in v.chars() {
        match (escaped, c) {
            (false, '\\') => escaped = true,
            (_, c) => {
                out.push(c);
                escaped = false;
            }
        }
    }
    out
}

/// One interval of an HdrHistogram interval log.
#[derive(Debug, Clone)]
pub struct LogInterval {
    /// `Tag=` of the line (Allegro's `latency.hlog`); `None` in a Maestro log (§10.4).
    pub tag: Option<String>,
    /// Its start, in the log's seconds (absolute in a Maestro log, from the base time in
    /// Allegro's).
    pub start_s: f64,
    pub histogram: Histogram<u64>,
}

/// A latency log read back: its whole intervals, and, when a line did not parse or decode,
/// what stopped the reading (the file, the line, and how many intervals came before it).
pub type LogIntervals = (Vec<LogInterval>, Option<String>);

/// Reads an HdrHistogram interval log: a Maestro `receiverd-latency.hdr` (§10.4) or Allegro's
/// tagged `latency.hlog`.
pub fn read_intervals(path: &Path) -> Result<LogIntervals, String> {
    use hdrhistogram::serialization::interval_log::{
        IntervalLogIterator, LogEntry, LogIteratorError,
    };
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut de = hdrhistogram::serialization::Deserializer::new();
    let mut out = Vec::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let i = match entry {
            Ok(LogEntry::Interval(i)) => i,
            Ok(_) => continue,
            Err(LogIteratorError::ParseError { offset }) => {
                let line = bytes[..offset.min(bytes.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1;
                let why = format!(
                    "{}: line {line} does not parse (truncated?): {} interval(s) before it are kept",
                    path.display(),
                    out.len()
                );
                return Ok((out, Some(why)));
            }
        };
        let decoded = decode_base64(i.encoded_histogram())
            .ok_or_else(|| "bad base64".to_string())
            .and_then(|raw| de.deserialize(&mut &raw[..]).map_err(|e| format!("{e:?}")));
        match decoded {
            Ok(histogram) => out.push(LogInterval {
                tag: i.tag().map(|t| t.as_str().to_owned()),
                start_s: i.start_timestamp().as_secs_f64(),
                histogram,
            }),
            Err(e) => {
                let why = format!(
                    "{}: an interval's histogram does not decode ({e}): {} interval(s) before it are kept",
                    path.display(),
                    out.len()
                );
                return Ok((out, Some(why)));
            }
        }
    }
    Ok((out, None))
}

pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s.trim()).ok()
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        assert_eq!(decode_base64("SElTVEZBQQ=="), Some(b"HISTFAA".to_vec()));
        assert_eq!(decode_base64("Zm9v"), Some(b"foo".to_vec()));
        assert_eq!(decode_base64("!!"), None);
    }

    #[test]
    fn a_rate_file_and_properties_read_back_as_written() {
        let dir = std::env::temp_dir().join(format!("allegro-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rate = dir.join("sender.dat");
        let _ = std::fs::remove_file(&rate);
        let mut f = RateFile::create(&rate).unwrap();
        f.record(1_700_000_000, 5).unwrap();
        f.record(1_700_000_002, 7).unwrap();
        drop(f);
        let (records, cut) = read_rate_file(&rate).unwrap();
        assert_eq!(records, [(1_700_000_000, 5), (1_700_000_002, 7)]);
        assert!(cut.is_none());
        // Cut mid-record: the whole records stay, the rest is named.
        let bytes = std::fs::read(&rate).unwrap();
        std::fs::write(&rate, &bytes[..bytes.len() - 3]).unwrap();
        let (records, cut) = read_rate_file(&rate).unwrap();
        assert_eq!(records.len(), 1);
        assert!(cut.unwrap().contains("truncated"));
        let props = dir.join("test.properties");
        write_properties(
            &props,
            &[
                ("brokerUri", "amqp://sut:5672/q".into()),
                ("rate", "100".into()),
            ],
        )
        .unwrap();
        let read = read_properties(&props).unwrap();
        assert!(
            read.contains(&("brokerUri".into(), "amqp://sut:5672/q".into())),
            "{read:?}"
        );
        assert!(read.contains(&("rate".into(), "100".into())));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
