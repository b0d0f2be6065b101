//! One connection, whatever the runtime: its session and pump, where it stands in the run's
//! counts, and the logic of each turn (the run's commands, counted state changes, the end of a
//! sender's schedule, the handshake deadline, the goodbye on stop, the end-of-connection
//! accounting). A runtime only connects, waits and wakes: it calls [`Conn::on_stop`] and
//! [`Conn::apply_commands`] at the start of a turn, steps [`Conn::pump`] over its transport, and
//! calls [`Conn::end_turn`]; when a turn ends the connection, [`Conn::finish`] counts it.

use crate::clock::{next_tick, Nanos};
use crate::pump::{Pump, PumpError};
use crate::session::{build, AnySession, Phase, Session, SessionError};
use crate::shard::{ConnSpec, ConnState, Core, ShardPlan};
use std::net::SocketAddr;

/// The wake-up cap: a connection with nothing due still looks at its shard's commands this often.
pub const MAX_IDLE: Nanos = 20_000_000;

/// Bytes waiting this long for a peer that does not read make a connection count as stalled.
pub const STALLED_AFTER: Nanos = 1_000_000_000;

/// How long a stopped connection may take to say goodbye before it is cut.
pub const CLOSE_GRACE: Nanos = 1_000_000_000;

/// How a turn ended the connection: `Ok` when it finished or was stopped, `Err` with the line
/// saying why it failed.
pub type End = Result<(), String>;

/// One connection's runtime-independent state.
#[derive(Debug)]
pub struct Conn {
    pub pump: Pump<AnySession>,
    addr: SocketAddr,
    connect_timeout: Nanos,
    state: ConnState,
    created: Nanos,
    started: bool,
    drained: Option<u64>,
    /// Still counted among the senders that are sending.
    sending: bool,
    /// When the run's stop reached this connection.
    closing_since: Option<Nanos>,
    /// A command reached the session this turn: step it even without I/O.
    poked: bool,
    stall_timeout: Nanos,
    /// Counted among the stalled connections.
    stalled: bool,
}

impl Conn {
    /// Connection `spec` of the shard's plan, begun (connect called, or accepted) at `created`.
    pub fn new(sp: &ShardPlan, spec: ConnSpec, created: Nanos) -> Self {
        let plan = &sp.plan;
        Conn {
            pump: Pump::new(build::session_for(plan, spec))
                .with_coalescing(build::rx_window(plan, spec))
                .with_tls(plan.tls.clone().map(crate::tls::TlsLayer::new)),
            addr: sp.addr,
            connect_timeout: plan.connect_timeout,
            state: ConnState::Connecting,
            created,
            started: false,
            drained: None,
            sending: spec.is_sender(),
            closing_since: None,
            poked: false,
            stall_timeout: plan.stall_timeout,
            stalled: false,
        }
    }

    pub fn created(&self) -> Nanos {
        self.created
    }

    /// The run's stop: the session says goodbye once, and the connection ends when it is done
    /// or [`CLOSE_GRACE`] later (at once when not `connected` yet).
    pub fn on_stop(&mut self, core: &Core, now: Nanos, connected: bool) -> Option<End> {
        if !core.stop {
            return None;
        }
        match self.closing_since {
            None if connected => {
                self.pump.session.close();
                self.closing_since = Some(now);
                self.poked = true;
                None
            }
            Some(t) if now - t <= CLOSE_GRACE => None,
            _ => Some(Ok(())),
        }
    }

    /// Hands the run's start and drain to the session, once each.
    pub fn apply_commands(&mut self, core: &Core, now: Nanos) {
        if let (Some(t0), false) = (core.t0, self.started) {
            self.pump.session.start(t0);
            self.started = true;
        }
        if core.drain.is_some() && core.drain != self.drained {
            self.pump.session.drain(now, core.drain.unwrap_or(0));
            self.drained = core.drain;
            self.poked = true;
        }
    }

    /// Whether a command reached the session since the last call.
    pub fn take_poke(&mut self) -> bool {
        std::mem::take(&mut self.poked)
    }

    /// After the turn's I/O: moves the connection in the run's counts, counts a sender whose
    /// schedule is done, and ends the connection when its session finished or its handshake
    /// missed the connect deadline.
    pub fn end_turn(&mut self, core: &mut Core, now: Nanos) -> Option<End> {
        let to = Core::state_of(self.pump.session.phase());
        if self.state == ConnState::Connecting && to == ConnState::Up {
            core.stats.counters.on_connected(now - self.created);
        }
        if to != ConnState::Done {
            core.transition(&mut self.state, to, self.sending);
        }
        if self.sending && self.pump.session.sending_done() {
            core.sender_finished();
            self.sending = false;
        }
        if self.pump.done() {
            return Some(Ok(()));
        }
        // A peer that stops reading: counted as stalled after a second, failed at the limit.
        let stalled_for = self.pump.write_stalled_since().map(|t| now - t);
        let stalled = stalled_for.is_some_and(|d| d >= STALLED_AFTER);
        if stalled != self.stalled {
            core.set_stalled(stalled);
            self.stalled = stalled;
        }
        if let Some(d) = stalled_for.filter(|&d| self.stall_timeout > 0 && d > self.stall_timeout) {
            return Some(Err(format!(
                "{} to {}: the peer stopped reading (nothing could be written for {})",
                if self.pump.session.is_sender() {
                    "sender"
                } else {
                    "receiver"
                },
                self.addr,
                crate::plan::format_duration(d)
            )));
        }
        let s = &self.pump.session;
        if s.phase() == Phase::Handshake && now - self.created > self.connect_timeout {
            return Some(Err(format!(
                "connected to {} but the protocol handshake did not finish within {}",
                self.addr,
                crate::plan::format_duration(self.connect_timeout)
            )));
        }
        None
    }

    /// When the runtime must come back without I/O: what the pump has due, or the idle cap.
    pub fn wake_at(&self, now: Nanos) -> Nanos {
        let idle = next_tick(now, MAX_IDLE);
        self.pump.next_timeout(now).map_or(idle, |t| t.min(idle))
    }

    /// One line saying which connection failed and why.
    pub fn io_failed(&self, e: PumpError) -> String {
        let role = if self.pump.session.is_sender() {
            "sender"
        } else {
            "receiver"
        };
        match e {
            PumpError::Session(SessionError::Closed)
                if self.pump.session.phase() == Phase::Handshake =>
            {
                format!(
                    "{role} to {}: connection closed by the broker during the handshake",
                    self.addr
                )
            }
            e => format!("{role} to {}: {e}", self.addr),
        }
    }

    /// The connection is over: counted done when its session finished, failed otherwise (with
    /// the error, if any). What its receiver could not settle is added to `unsettled`.
    pub fn finish(mut self, core: &mut Core, end: End) {
        if self.stalled {
            core.set_stalled(false);
        }
        core.stats.counters.unsettled += self.pump.session.unsettled();
        let to = match end {
            Ok(()) if self.pump.session.phase() == Phase::Finished => ConnState::Done,
            Ok(()) => ConnState::Failed,
            Err(e) => {
                core.stats.on_error(e);
                ConnState::Failed
            }
        };
        core.transition(&mut self.state, to, self.sending);
    }
}

/// A connection that never came up: counts it failed with the reason.
pub fn connect_failed(core: &mut Core, spec: ConnSpec, addr: SocketAddr, e: &str, timeout: Nanos) {
    core.stats.on_error(connect_error(addr, e, timeout));
    core.transition(
        &mut ConnState::Connecting,
        ConnState::Failed,
        spec.is_sender(),
    );
}

pub fn connect_error(addr: SocketAddr, e: &str, timeout: Nanos) -> String {
    // Both runtimes' words for the same errno: "IO error occurred: X (os error N)" becomes "X".
    let e = e.trim_start_matches("IO error occurred: ");
    let e = match e.rfind(" (os error ") {
        Some(i) => &e[..i],
        None => e,
    };
    if e.contains("timed out") || e.contains("TimedOut") {
        format!(
            "cannot connect to {addr}: no answer within {}",
            crate::plan::format_duration(timeout)
        )
    } else {
        format!("cannot connect to {addr}: {e}")
    }
}
