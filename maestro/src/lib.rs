//! Allegro's side of the Maestro 1.5 protocol (`docs/maestro-protocol.md`).
//!
//! - [`note`]: every note, encoded byte for byte as Maestro's Java peers write them and read
//!   leniently, and the topics they travel on;
//! - [`link`]: the MQTT 3.1.1 client to the Maestro broker (sans-IO `Link`, mio `Driver`);
//! - [`files`]: Maestro's result files (test directories, `test.properties`, rate files, the
//!   HDR latency log, log chunks);
//! - [`cluster`]: one-shot cluster commands (`ping`, `stats`, `halt`);
//! - [`client`]: the test client (fixed-rate, incremental, fair-incremental, log collection);
//! - [`worker`]: the worker daemon.

pub mod client;
pub mod cluster;
pub mod files;
pub mod link;
pub mod note;
pub mod worker;
