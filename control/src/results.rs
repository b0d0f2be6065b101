//! The results directory: `DIR/N/` per run with a `last` link, the latency interval log and the
//! per-second rate file written as the run goes (so a run that dies keeps what it measured) and
//! `summary.json` at the end.

use allegro_engine::clock::Nanos;
use allegro_engine::stats::Histograms;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// File name of the latency interval log.
pub const LATENCY_LOG: &str = "latency.hlog";
/// File name of the summary.
pub const SUMMARY: &str = "summary.json";
/// File name of the rate file: `second,sent,received`, one line per second of the engine's
/// clock (epoch seconds) from the first with a message on; the lines add up to the totals.
pub const RATE: &str = "rate.csv";

/// An open results directory.
pub struct ResultsDir {
    pub path: PathBuf,
    /// The interval log, written a whole interval at a time.
    log: File,
    /// Its length up to the last interval written whole: a failed write is cut back to it, so
    /// that readers always find whole lines.
    log_len: u64,
    serializer: V2DeflateSerializer,
    base: Nanos,
    last_interval: Nanos,
    rate: File,
    /// The last second written to the rate file.
    rated_through: Option<i64>,
}

impl std::fmt::Debug for ResultsDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultsDir")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Creates `root/N` with N one more than the highest number there, and points `root/last` at it.
pub fn create(root: &Path, base: Nanos) -> io::Result<ResultsDir> {
    std::fs::create_dir_all(root)?;
    let next = std::fs::read_dir(root)?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
        .max()
        .unwrap_or(0)
        + 1;
    let mut n = next;
    let path = loop {
        let p = root.join(n.to_string());
        match std::fs::create_dir(&p) {
            Ok(()) => break p,
            // Another run took this number meanwhile.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
            Err(e) => return Err(e),
        }
    };
    // A `last` that is not ours to replace (a directory someone made) costs the link, not the
    // run.
    if let Err(e) = link(root, "last", &n.to_string()) {
        eprintln!(
            "allegro: cannot point {} at this run ({e}); its results are in {}",
            root.join("last").display(),
            path.display()
        );
    }
    let file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(path.join(LATENCY_LOG))?;
    let mut log = BufWriter::new(file);
    let mut serializer = V2DeflateSerializer::new();
    let base_time = UNIX_EPOCH + Duration::from_nanos(base.max(0) as u64);
    IntervalLogWriterBuilder::new()
        .add_comment(
            "Allegro latency log: tags service, corrected, send-delay; values in microseconds",
        )
        .with_start_time(base_time)
        .with_base_time(base_time)
        .begin_log_with(&mut log, &mut serializer)?;
    log.write_all(b"\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n")?;
    let log = log.into_inner().map_err(|e| e.into_error())?;
    let log_len = log.metadata()?.len();
    let mut rate = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(path.join(RATE))?;
    rate.write_all(b"second,sent,received\n")?;
    Ok(ResultsDir {
        rate,
        rated_through: None,
        path,
        log,
        log_len,
        serializer,
        base,
        last_interval: base,
    })
}

/// Points `root/name` at `target` (a relative symlink), replacing an older link.
pub fn link(root: &Path, name: &str, target: &str) -> io::Result<()> {
    let at = root.join(name);
    if std::fs::symlink_metadata(&at).is_ok_and(|m| !m.file_type().is_symlink()) {
        return Err(io::Error::other(format!("{} is not a link", at.display())));
    }
    let tmp = root.join(format!(".{name}.tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, &at).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

impl ResultsDir {
    /// Appends the interval ending at `now` (one histogram per tag) and flushes it to disk.
    pub fn write_interval(&mut self, now: Nanos, h: &Histograms) -> io::Result<()> {
        let start = Duration::from_nanos((self.last_interval - self.base).max(0) as u64);
        let len = Duration::from_nanos((now - self.last_interval).max(0) as u64);
        self.last_interval = now;
        let mut buf = Vec::new();
        let mut w =
            IntervalLogWriterBuilder::new().begin_log_with(&mut buf, &mut self.serializer)?;
        for (name, hist) in h.named() {
            if hist.is_empty() {
                continue;
            }
            w.write_histogram(hist, start, len, Tag::new(&name.replace('_', "-")))
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        drop(w);
        match self.log.write_all(&buf) {
            Ok(()) => {
                self.log_len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // No half interval for a reader to choke on (a full disk).
                let _ = self.log.set_len(self.log_len);
                Err(e)
            }
        }
    }

    /// Appends the seconds of `seconds` up to `upto` not written yet (a quiet second in between
    /// gets zeros), whole lines at a time.
    pub fn write_rates(
        &mut self,
        seconds: &std::collections::BTreeMap<i64, (u64, u64)>,
        upto: i64,
    ) -> io::Result<()> {
        let Some(&first) = seconds.keys().next() else {
            return Ok(());
        };
        let from = self.rated_through.map_or(first, |s| s + 1);
        if from > upto {
            return Ok(());
        }
        let mut lines = String::new();
        for second in from..=upto {
            let (sent, received) = seconds.get(&second).copied().unwrap_or_default();
            lines.push_str(&format!("{second},{sent},{received}\n"));
        }
        self.rate.write_all(lines.as_bytes())?;
        self.rated_through = Some(upto);
        Ok(())
    }

    /// Writes `summary.json` (via a temporary file, so a reader never sees half of it).
    pub fn write_summary(&self, summary: &serde_json::Value) -> io::Result<()> {
        let tmp = self.path.join(".summary.json.tmp");
        let written = (|| {
            let mut f = BufWriter::new(File::create(&tmp)?);
            serde_json::to_writer_pretty(&mut f, summary)?;
            f.write_all(b"\n")?;
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, self.path.join(SUMMARY))
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}
