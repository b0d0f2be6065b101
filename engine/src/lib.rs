//! Allegro's data plane: per-core shards that drive protocol sessions at a planned rate and
//! measure what comes back.
//!
//! The control thread builds a [`plan::Plan`], resolves a [`placement::Placement`] and calls
//! [`run::execute`]; shards (one pinned thread per CPU, on io_uring directly or on epoll via
//! mio, [`runtime`]) own their connections, buffers, pacing and histograms, and report snapshots once a
//! second over channels. Sessions ([`session`]) are sans-IO; [`pump`] moves their bytes.

pub mod clock;
pub mod engine;
pub mod host;
pub mod metrics;
pub mod pacing;
pub mod payload;
pub mod placement;
pub mod plan;
pub mod pump;
pub mod run;
pub mod runtime;
pub mod seq;
pub mod session;
pub mod shard;
pub mod stats;
pub mod sys;
pub mod tls;
pub mod url;
