//! Allegro's side of the Maestro 1.5 protocol (`docs/maestro-protocol.md`).
//!
//! - [`note`]: every note, encoded byte for byte as Maestro's Java peers write them and read
//!   leniently, and the topics they travel on;
//! - [`link`]: the MQTT 3.1.1 client to the Maestro broker (sans-IO `Link`, mio `Driver`);
//! - [`files`]: Maestro's result files (test directories, `test.properties`, rate files, the
//!   HDR latency log, log chunks);
//! - [`cluster`]: one-shot cluster commands (`ping`, `stats`, `halt`);
//! - [`client`]: the test client (fixed-rate, incremental, fair-incremental, log collection);
//! - [`worker`]: the worker daemon;
//! - [`xunit`]: the client's JUnit XML report.

use std::fmt;

/// Why a cluster command, a test or the worker could not go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The Maestro broker's URL does not parse.
    BadBrokerUrl(String),
    /// The Maestro broker could not be reached, or nobody answered on it.
    Broker(String),
    /// The test could not run: too few workers.
    Workers(String),
    /// Result files could not be written or read.
    Files(String),
    /// The worker's shards could not be placed on the CPUs asked for.
    Placement(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::BadBrokerUrl(e)
            | Error::Broker(e)
            | Error::Workers(e)
            | Error::Files(e)
            | Error::Placement(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Error {}

pub mod client;
pub mod cluster;
pub mod files;
pub mod link;
pub mod note;
pub mod worker;
pub mod xunit;
