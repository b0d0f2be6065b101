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

/// How a turn ended the connection: `Ok` when it finished or was stopped, `Err` with why it
/// failed.
pub type End = Result<(), Failure>;

/// Why a connection failed: one line, and whether making the connection again may help (the
/// connection was lost, refused or timed out; not so when the broker refused a login or spoke
/// garbage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub line: String,
    pub transient: bool,
}

impl Failure {
    pub fn lost(line: String) -> Self {
        Failure {
            line,
            transient: true,
        }
    }
}

/// The first wait before making a lost connection again, and the longest.
pub const BACKOFF_FIRST: Nanos = 100_000_000;
pub const BACKOFF_MAX: Nanos = 5_000_000_000;

/// When to try a lost connection again: waits doubling from [`BACKOFF_FIRST`] to
/// [`BACKOFF_MAX`], each drawn between half and all of that so that connections lost together
/// do not all come back in the same instant; no more tries once the connection has been down
/// for `window`.
#[derive(Debug, Clone)]
pub struct Backoff {
    window: Nanos,
    attempts: u32,
    down_since: Option<Nanos>,
    rng: u64,
}

impl Backoff {
    pub fn new(window: Nanos, seed: u64) -> Self {
        Backoff {
            window,
            attempts: 0,
            down_since: None,
            rng: (seed ^ 0x9E37_79B9_7F4A_7C15).wrapping_mul(0xA24B_AED4_963E_E407) | 1,
        }
    }

    /// The connection failed at `now`: when to try again, or `None` when it has been down for
    /// the whole window.
    pub fn next(&mut self, now: Nanos) -> Option<Nanos> {
        let since = *self.down_since.get_or_insert(now);
        let ceiling = BACKOFF_FIRST
            .saturating_mul(1 << self.attempts.min(16))
            .min(BACKOFF_MAX);
        self.attempts += 1;
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let wait = ceiling / 2 + (self.rng % (ceiling as u64 / 2 + 1)) as Nanos;
        // The last try falls at the end of the window.
        let end = since.saturating_add(self.window);
        (now < end).then(|| (now + wait).min(end))
    }

    /// Whether an outage is going on (a failure since the last [`up`](Self::up)).
    pub fn down(&self) -> bool {
        self.down_since.is_some()
    }

    /// How long the connection has been down at `now`.
    pub fn down_for(&self, now: Nanos) -> Nanos {
        self.down_since.map_or(0, |t| now - t)
    }

    /// The connection is up again: the next outage starts from the first wait.
    pub fn up(&mut self) {
        self.attempts = 0;
        self.down_since = None;
    }
}

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
    spec: ConnSpec,
    /// `--reconnect`: the back-off of a lost connection.
    backoff: Option<Backoff>,
    /// The connection came up once: only such a connection is made again when lost (a first
    /// connection that fails fails the run, as without `--reconnect`).
    was_up: bool,
    /// Counted in [`Core::handshaking`] until it comes up or ends.
    gated: bool,
}

impl Conn {
    /// Connection `spec` of the shard's plan, begun (connect called, or accepted) at `created`.
    pub fn new(sp: &ShardPlan, spec: ConnSpec, created: Nanos) -> Self {
        let plan = &sp.plan;
        Conn {
            pump: Self::fresh_pump(sp, spec),
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
            spec,
            backoff: plan
                .reconnect
                .map(|w| Backoff::new(w, u64::from(sp.index as u32) << 32 | spec_id(spec))),
            was_up: false,
            gated: false,
        }
    }

    /// The connection was begun by the shard's launcher and is counted in
    /// [`Core::handshaking`] (by the runtime, when it began it) until it comes up or ends.
    pub fn launched(mut self) -> Self {
        self.gated = true;
        self
    }

    fn handshake_over(&mut self, core: &mut Core) {
        if std::mem::take(&mut self.gated) {
            core.handshaking = core.handshaking.saturating_sub(1);
        }
    }

    fn fresh_pump(sp: &ShardPlan, spec: ConnSpec) -> Pump<AnySession> {
        let plan = &sp.plan;
        Pump::new(build::session_for(plan, spec))
            .with_coalescing(build::rx_window(plan, spec))
            .with_tls(plan.tls.clone().map(crate::tls::TlsLayer::new))
    }

    /// A failure ended the connection at `now`. With `--reconnect`, a connection that had come
    /// up and failed in a way that making it again may help is retried: returns when to try
    /// (the loss is counted, with what its sender had unconfirmed and its receiver unsettled,
    /// and the connection counts as connecting again). Otherwise the failure is handed back for
    /// [`finish`](Self::finish); after a whole window of tries it says so.
    pub fn retry(&mut self, core: &mut Core, now: Nanos, f: Failure) -> Result<Nanos, Failure> {
        let Some(backoff) = self.backoff.as_mut().filter(|_| self.was_up && f.transient) else {
            return Err(f);
        };
        if core.stop {
            return Err(f);
        }
        let first = !backoff.down();
        let Some(at) = backoff.next(now) else {
            let down = crate::plan::format_duration(backoff.down_for(now));
            return Err(Failure {
                line: format!("{} (down for {down}: gave up reconnecting)", f.line),
                transient: false,
            });
        };
        if first {
            core.stats.on_disconnect(f.line);
        }
        let s = &self.pump.session;
        core.stats.counters.unconfirmed += s.unconfirmed();
        core.stats.counters.unsettled += s.unsettled();
        if self.stalled {
            core.set_stalled(false);
            self.stalled = false;
        }
        core.transition(&mut self.state, ConnState::Connecting, self.sending);
        Ok(at)
    }

    /// The runtime starts making a lost connection again at `now`: a fresh session that carries
    /// the old one's load (see [`session::carry_load`](crate::session::carry_load)), and the
    /// connect and handshake deadline counted from now.
    pub fn renew(&mut self, sp: &ShardPlan, now: Nanos) {
        let mut pump = Self::fresh_pump(sp, self.spec);
        crate::session::carry_load(&mut self.pump.session, &mut pump.session);
        self.pump = pump;
        self.created = now;
        self.started = false;
        self.drained = None;
        self.closing_since = None;
    }

    pub fn spec(&self) -> ConnSpec {
        self.spec
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
            if let Some(resumed) = self.pump.tls_resumed() {
                core.stats.counters.tls_handshakes += 1;
                core.stats.counters.tls_resumed += u64::from(resumed);
            }
            self.handshake_over(core);
            if self.was_up {
                core.stats.counters.reconnects += 1;
            }
            self.was_up = true;
            if let Some(b) = self.backoff.as_mut() {
                b.up();
            }
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
            return Some(Err(Failure::lost(format!(
                "{} to {}: the peer stopped reading (nothing could be written for {})",
                if self.pump.session.is_sender() {
                    "sender"
                } else {
                    "receiver"
                },
                self.addr,
                crate::plan::format_duration(d)
            ))));
        }
        let s = &self.pump.session;
        if s.phase() == Phase::Handshake && now - self.created > self.connect_timeout {
            return Some(Err(Failure::lost(format!(
                "connected to {} but the protocol handshake did not finish within {}",
                self.addr,
                crate::plan::format_duration(self.connect_timeout)
            ))));
        }
        None
    }

    /// When the runtime must come back without I/O: what the pump has due, or the idle cap.
    pub fn wake_at(&self, now: Nanos) -> Nanos {
        let idle = next_tick(now, MAX_IDLE);
        self.pump.next_timeout(now).map_or(idle, |t| t.min(idle))
    }

    /// Which connection failed and why, in one line; transient unless the broker refused
    /// something, broke the protocol, or sent bytes (or a certificate) that do not check out.
    pub fn io_failed(&self, e: PumpError) -> Failure {
        let role = if self.pump.session.is_sender() {
            "sender"
        } else {
            "receiver"
        };
        let transient = match &e {
            PumpError::Session(e) => matches!(
                e,
                SessionError::Closed | SessionError::Timeout(_) | SessionError::Forced(_)
            ),
            PumpError::Io(e) => e.kind() != std::io::ErrorKind::InvalidData,
        };
        let line = match e {
            PumpError::Session(SessionError::Closed)
                if self.pump.session.phase() == Phase::Handshake =>
            {
                format!(
                    "{role} to {}: connection closed by the broker during the handshake",
                    self.addr
                )
            }
            e => format!("{role} to {}: {e}", self.addr),
        };
        Failure { line, transient }
    }

    /// The connection is over: counted done when its session finished, failed otherwise (with
    /// the error, if any). What its receiver could not settle is added to `unsettled`, what its
    /// sender had unacknowledged to `unconfirmed`.
    pub fn finish(mut self, core: &mut Core, end: End) {
        self.handshake_over(core);
        if self.stalled {
            core.set_stalled(false);
        }
        core.stats.counters.unsettled += self.pump.session.unsettled();
        core.stats.counters.unconfirmed += self.pump.session.unconfirmed();
        let to = match end {
            Ok(()) if self.pump.session.phase() == Phase::Finished => ConnState::Done,
            Ok(()) => ConnState::Failed,
            Err(f) => {
                core.stats.on_error(f.line);
                ConnState::Failed
            }
        };
        core.transition(&mut self.state, to, self.sending);
    }
}

/// A number for `spec` unique within its shard (seeds its back-off).
fn spec_id(spec: ConnSpec) -> u64 {
    match spec {
        ConnSpec::Sender(i) => u64::from(i),
        ConnSpec::Receiver(i) => 1 << 31 | u64::from(i),
        ConnSpec::Accept(i) => 3 << 30 | u64::from(i),
    }
}

/// A connection the launcher began that never came up: counts it failed with the reason.
pub fn connect_failed(core: &mut Core, spec: ConnSpec, addr: SocketAddr, e: &str, timeout: Nanos) {
    core.handshaking = core.handshaking.saturating_sub(1);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_and_ends_with_the_window() {
        let s = 1_000_000_000;
        let mut b = Backoff::new(30 * s, 7);
        let mut now = 0;
        let mut ceiling = BACKOFF_FIRST;
        for _ in 0..8 {
            let at = b.next(now).unwrap();
            assert!(
                at - now >= ceiling / 2 && at - now <= ceiling,
                "{}",
                at - now
            );
            now = at;
            ceiling = (ceiling * 2).min(BACKOFF_MAX);
        }
        assert_eq!(ceiling, BACKOFF_MAX);
        // The last try falls at the window's end; after it, no more.
        let mut last = now;
        while let Some(at) = b.next(last) {
            assert!(at <= 30 * s);
            last = at;
        }
        assert_eq!(last, 30 * s);
        assert!(b.down());
        // Up again: the next outage starts over from the first wait and a whole window.
        b.up();
        assert!(!b.down());
        let at = b.next(100 * s).unwrap();
        assert!(at - 100 * s <= BACKOFF_FIRST);
    }

    #[test]
    fn connections_lost_together_draw_different_waits() {
        let waits: std::collections::HashSet<Nanos> = (0..32)
            .map(|seed| Backoff::new(1_000_000_000_000, seed).next(0).unwrap())
            .collect();
        assert!(waits.len() > 24, "{} distinct waits of 32", waits.len());
    }
}
