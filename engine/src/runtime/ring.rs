//! The io_uring reactor: a shard pays one `io_uring_enter` per tick, not a system call per
//! message.
//!
//! - Each socket is watched by one multishot poll (`IORING_OP_POLL_ADD` with
//!   `IORING_POLL_ADD_MULTI`, Linux 5.13): armed once, it reports every wake-up of the socket
//!   until the socket is let go, so a tick reads without re-arming anything.
//! - A small write (a paced tick's message, an acknowledgement) is copied into its
//!   connection's staging buffer and becomes a `send` entry; nothing reaches the kernel until
//!   the shard waits. A large write (a busy sender's 64 KiB block) is written at once: its
//!   system call is shared by hundreds of messages, and copying it would cost more.
//! - The wait is an absolute `IORING_OP_TIMEOUT` at the shard's next deadline, submitted with
//!   the tick's sends in the same `io_uring_enter`, which also waits for their completions.
//! - A short write puts its remainder back on the ring; a remainder the socket refuses
//!   (`EAGAIN`) waits for the poll to say the socket is writable. A write's error is handed to
//!   its connection's next read or write.
//!
//! A connection has at most one write in the kernel; further writes wait (`Ok(None)`) and the
//! connection is told it is writable when the write completes.

use super::driver::{Reactor, Ready};
use super::ShardThread;
use crate::clock::{Clock, Nanos};
use crate::pump::nonblocking;
use crate::shard::{Command, ShardPlan};
use crate::stats::Snapshot;
use crossbeam_channel::{Receiver, Sender};
use io_uring::EnterFlags;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use mio::net::TcpStream;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};

/// Starts the shard on its own pinned thread.
pub fn spawn(
    sp: ShardPlan,
    commands: Receiver<Command>,
    snapshots: Sender<Snapshot>,
) -> io::Result<ShardThread> {
    super::driver::spawn(sp, commands, snapshots, |sp| {
        Ring::new(sp.conns.len(), sp.clock)
    })
}

/// Writes of this many bytes or more go straight to the socket when nothing is staged; smaller
/// ones are staged.
pub const DIRECT_FROM: usize = 16 * 1024;
/// The most a connection stages (what it writes in one pass joins one `send`).
pub const STAGE_MAX: usize = 64 * 1024;

/// What a completion is for: the two top bits of its `user_data`.
const POLL: u64 = 0;
const SEND: u64 = 1;
const OTHER: u64 = 3;
/// The generation's bits: a slot's sockets are told apart by it.
const GEN_MASK: u32 = (1 << 30) - 1;

fn user_data(kind: u64, gen: u32, token: usize) -> u64 {
    kind << 62 | u64::from(gen & GEN_MASK) << 32 | token as u64
}

fn split(ud: u64) -> (u64, u32, usize) {
    (ud >> 62, (ud >> 32) as u32 & GEN_MASK, ud as u32 as usize)
}

/// A ring of `entries` as the reactor uses it; `Err` names what the kernel lacks.
/// `IORING_SETUP_SUBMIT_ALL` (Linux 5.18) also vouches for multishot polls (5.13); waits need
/// `IORING_FEAT_EXT_ARG` (5.11).
pub(crate) fn build(entries: u32) -> io::Result<IoUring> {
    let ring = IoUring::builder()
        .setup_cqsize(4 * entries)
        // The kernel's own limits (32,768 entries, 65,536 completions) cap a large shard's.
        .setup_clamp()
        .setup_submit_all()
        .build(entries)?;
    if !ring.params().is_feature_ext_arg() {
        return Err(io::Error::other(
            "the kernel's io_uring lacks IORING_FEAT_EXT_ARG",
        ));
    }
    Ok(ring)
}

/// One connection's place in the ring.
#[derive(Debug, Default)]
struct Slot {
    /// The socket watched now and its generation (bumped on every watch and unwatch).
    fd: RawFd,
    gen: u32,
    watching: bool,
    /// The armed poll's number, bumped whenever it is replaced.
    poll_gen: u32,
    /// Staged bytes; `buf[at..]` is not written yet. Never touched while a write is in flight.
    buf: Vec<u8>,
    at: usize,
    /// The generation of the write in the kernel, if one is.
    flight: Option<u32>,
    /// The socket refused the remainder: it goes back on the ring when the socket is writable.
    parked: bool,
    /// Bytes were staged since the last submission (the slot is in `Ring::dirty`).
    dirty: bool,
    /// A write was refused because of the staged one: report writable when it is done.
    blocked: bool,
    /// The connection reads on its own ticks: its poll leaves readability out.
    quiet: bool,
    error: Option<io::Error>,
}

impl Slot {
    fn staged(&self) -> bool {
        self.at < self.buf.len()
    }
}

/// What the reactor has done, for tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RingCounters {
    /// `io_uring_enter` calls.
    pub enters: u64,
    /// Entries submitted.
    pub submitted: u64,
    /// `send` entries.
    pub sends: u64,
    /// Short writes whose remainder was put back on the ring.
    pub resumed: u64,
}

/// A shard's io_uring and its connections' slots.
pub(crate) struct Ring {
    ring: IoUring,
    clock: Clock,
    slots: Vec<Slot>,
    /// Entries pushed since the last `io_uring_enter`, and how many of them complete at once
    /// (writes on loopback finish inside the call that submits them).
    unsubmitted: u32,
    prompt: u32,
    /// The last wait that did not sleep left its entries for the next.
    deferred: bool,
    /// Slots whose connection waits for its write to complete.
    waiting: u32,
    /// Slots with bytes staged since the last submission.
    dirty: Vec<usize>,
    /// Waits end at an instant (`IORING_ENTER_ABS_TIMER`), not after a time.
    absolute: bool,
    /// Sockets let go while entries naming them were still queued (a submission failed): closed
    /// once the queue is empty, so that their descriptors are not reused under those entries.
    closing: Vec<TcpStream>,
    pub counters: RingCounters,
}

impl Ring {
    /// A ring for `conns` connections (tokens `0..conns`).
    pub(crate) fn new(conns: usize, clock: Clock) -> io::Result<Self> {
        // A poll and a write per connection, a timeout and cancellations: room for a tick's
        // work in one submission; completions get four times that.
        let entries = (2 * conns + 64).next_power_of_two().clamp(256, 32_768) as u32;
        let ring = build(entries)?;
        Ok(Ring {
            ring,
            clock,
            slots: (0..conns).map(|_| Slot::default()).collect(),
            unsubmitted: 0,
            prompt: 0,
            deferred: false,
            waiting: 0,
            dirty: Vec::with_capacity(conns),
            absolute: true,
            closing: Vec::new(),
            counters: RingCounters::default(),
        })
    }

    /// Puts `e` on the submission queue, submitting what is there when it is full.
    fn push(&mut self, e: squeue::Entry, prompt: bool) -> io::Result<()> {
        // SAFETY: the staged bytes a write points at live in `self` and are not touched until
        // its completion is reaped; descriptors are submitted before they are closed.
        while unsafe { self.ring.submission().push(&e) }.is_err() {
            self.enter(0, None)?;
        }
        self.unsubmitted += 1;
        self.prompt += u32::from(prompt);
        Ok(())
    }

    /// One `io_uring_enter`: submits what is queued and waits for `want` completions, or
    /// until `until` (on the shard's clock) at most.
    fn enter(&mut self, want: u32, until: Option<Nanos>) -> io::Result<()> {
        let r = match until {
            None => self.ring.submit(),
            Some(t) => loop {
                // `IORING_ENTER_ABS_TIMER` (Linux 6.12) waits until an instant; before it,
                // the wait is the time left.
                let wait = if self.absolute {
                    self.clock.monotonic(t)
                } else {
                    (t - self.clock.now()).max(0)
                };
                let ts = types::Timespec::new()
                    .sec((wait / 1_000_000_000) as u64)
                    .nsec((wait % 1_000_000_000) as u32);
                let args = types::SubmitArgs::new().timespec(&ts);
                let flags = if self.absolute {
                    EnterFlags::ABS_TIMER
                } else {
                    EnterFlags::empty()
                };
                let r =
                    self.ring
                        .submitter()
                        .submit_with_args_and_flags(want as usize, &args, flags);
                match r {
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) && self.absolute => {
                        self.absolute = false;
                    }
                    r => break r,
                }
            },
        };
        self.counters.enters += 1;
        if !self.closing.is_empty() && self.ring.submission().is_empty() {
            self.closing.drain(..).for_each(close);
        }
        match r {
            Ok(n) => {
                self.counters.submitted += n as u64;
                self.unsubmitted = self.unsubmitted.saturating_sub(n as u32);
                self.prompt = 0;
                Ok(())
            }
            // The wait's end, a signal, or a full completion queue: reap, then go on.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Puts the bytes staged since the last submission on the ring, a `send` per connection.
    fn push_staged(&mut self) -> io::Result<()> {
        let mut dirty = std::mem::take(&mut self.dirty);
        for (k, &token) in dirty.iter().enumerate() {
            let s = &self.slots[token];
            if s.dirty && s.staged() && s.flight.is_none() && !s.parked {
                if let Err(e) = self.push_send(token, true) {
                    // What was not put on the ring stays staged for the next try.
                    self.dirty.extend_from_slice(&dirty[k..]);
                    return Err(e);
                }
            }
            self.slots[token].dirty = false;
        }
        dirty.clear();
        self.dirty = dirty;
        Ok(())
    }

    /// Puts slot `token`'s staged bytes on the ring. `fresh`: a tick's write, which loopback
    /// completes inside the call that submits it (a remainder put back goes to a socket that
    /// was just full, and may wait there).
    fn push_send(&mut self, token: usize, fresh: bool) -> io::Result<()> {
        let s = &self.slots[token];
        let rest = &s.buf[s.at..];
        let e = opcode::Send::new(types::Fd(s.fd), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(user_data(SEND, s.gen, token));
        let gen = s.gen;
        self.push(e, fresh)?;
        self.slots[token].flight = Some(gen);
        self.counters.sends += 1;
        Ok(())
    }

    /// Arms slot `token`'s poll (again) for what its connection waits for: not readability
    /// while it reads on its own ticks, so that bytes landing in between make no completion.
    fn push_poll(&mut self, token: usize) -> io::Result<()> {
        let s = &mut self.slots[token];
        let mask = if s.quiet {
            libc::POLLOUT | libc::POLLRDHUP
        } else {
            libc::POLLIN | libc::POLLOUT | libc::POLLRDHUP
        };
        s.poll_gen = s.poll_gen.wrapping_add(1) & GEN_MASK;
        let e = opcode::PollAdd::new(types::Fd(s.fd), mask as u32)
            .multi(true)
            .build()
            .user_data(user_data(POLL, s.poll_gen, token));
        self.push(e, false)
    }

    /// Cancels slot `token`'s poll (its last completion, if any, is stale from here on).
    fn remove_poll(&mut self, token: usize) {
        let s = &mut self.slots[token];
        let poll = user_data(POLL, s.poll_gen, token);
        s.poll_gen = s.poll_gen.wrapping_add(1) & GEN_MASK;
        let e = opcode::PollRemove::new(poll)
            .build()
            .user_data(user_data(OTHER, 0, token));
        let _ = self.push(e, true);
    }

    /// Handles one completion; reports what became ready, and whether it ends the wait.
    fn complete(&mut self, cqe: &cqueue::Entry, ready: &mut dyn FnMut(usize, Ready)) -> bool {
        let (kind, gen, token) = split(cqe.user_data());
        let res = cqe.result();
        match kind {
            SEND => self.sent(token, gen, res, ready),
            POLL => {
                let Some(s) = self.slots.get_mut(token) else {
                    return false;
                };
                if gen != s.poll_gen || !s.watching {
                    return false;
                }
                let more = cqueue::more(cqe.flags());
                let r = if res < 0 {
                    s.error.get_or_insert(io::Error::from_raw_os_error(-res));
                    Ready {
                        readable: true,
                        writable: true,
                    }
                } else {
                    let m = res as i16;
                    let bad = libc::POLLERR | libc::POLLHUP;
                    Ready {
                        readable: m & (libc::POLLIN | libc::POLLRDHUP | bad) != 0,
                        writable: m & (libc::POLLOUT | bad) != 0,
                    }
                };
                let resume = r.writable && std::mem::take(&mut s.parked);
                // A multishot poll ends on an error or when the kernel drops it: arm again.
                let rearm = !more && res >= 0;
                if resume {
                    let _ = self.push_send(token, false);
                }
                if rearm {
                    let _ = self.push_poll(token);
                }
                ready(token, r);
                true
            }
            _ => false,
        }
    }

    /// Handles the completions there are; whether one ends a wait.
    fn reap(&mut self, ready: &mut dyn FnMut(usize, Ready)) -> bool {
        let mut woke = false;
        while let Some(cqe) = self.next_completion() {
            woke |= self.complete(&cqe, ready);
        }
        woke
    }

    fn next_completion(&mut self) -> Option<cqueue::Entry> {
        self.ring.completion().next()
    }

    /// A write completed with `res` (bytes, or a negated errno).
    fn sent(
        &mut self,
        token: usize,
        gen: u32,
        res: i32,
        ready: &mut dyn FnMut(usize, Ready),
    ) -> bool {
        let Some(s) = self.slots.get_mut(token) else {
            return false;
        };
        s.flight = None;
        if gen != s.gen {
            // The socket it was for is gone: the slot is free for the one there now.
            s.buf.clear();
            s.at = 0;
            return unblock(&mut self.waiting, s) && {
                ready(token, Ready::WRITABLE);
                true
            };
        }
        match res {
            n if n > 0 => {
                s.at += n as usize;
                if s.staged() {
                    self.counters.resumed += 1;
                    let _ = self.push_send(token, false);
                    return false;
                }
                s.buf.clear();
                s.at = 0;
                unblock(&mut self.waiting, s) && {
                    ready(token, Ready::WRITABLE);
                    true
                }
            }
            // Refused (or nothing taken): wait for the poll to say the socket is writable.
            0 => {
                s.parked = true;
                false
            }
            e if e == -libc::EAGAIN || e == -libc::EINTR => {
                s.parked = true;
                false
            }
            e => {
                s.buf.clear();
                s.at = 0;
                unblock(&mut self.waiting, s);
                s.error = Some(io::Error::from_raw_os_error(-e));
                ready(
                    token,
                    Ready {
                        readable: true,
                        writable: true,
                    },
                );
                true
            }
        }
    }
}

/// Clears `s`'s wait for its write, keeping the count of waiting slots; whether it waited.
fn unblock(waiting: &mut u32, s: &mut Slot) -> bool {
    let was = std::mem::take(&mut s.blocked);
    *waiting -= u32::from(was);
    was
}

impl Reactor for Ring {
    fn watch(&mut self, stream: &TcpStream, token: usize) -> io::Result<()> {
        let s = &mut self.slots[token];
        s.gen = s.gen.wrapping_add(1) & GEN_MASK;
        s.fd = stream.as_raw_fd();
        s.watching = true;
        s.quiet = false;
        s.parked = false;
        unblock(&mut self.waiting, s);
        s.error = None;
        if s.flight.is_none() {
            s.buf.clear();
            s.at = 0;
            s.dirty = false;
        }
        self.push_poll(token)
    }

    fn unwatch(&mut self, stream: TcpStream, token: usize) {
        // The connection's last staged bytes (a close frame after an error, say) and every
        // entry naming the descriptor go to the kernel before it is closed (and its number
        // perhaps given to another socket).
        let st = &mut self.slots[token];
        if std::mem::take(&mut st.dirty) && st.staged() && st.flight.is_none() && !st.parked {
            let _ = self.push_send(token, true);
        }
        if self.unsubmitted > 0 {
            let _ = self.enter(0, None);
        }
        // With the queue empty, no entry the kernel has yet to take names the descriptor (the
        // poll's removal pushed next names the poll, not the descriptor).
        let taken = self.ring.submission().is_empty();
        self.remove_poll(token);
        let s = &mut self.slots[token];
        s.watching = false;
        s.parked = false;
        unblock(&mut self.waiting, s);
        s.error = None;
        s.gen = s.gen.wrapping_add(1) & GEN_MASK;
        if s.flight.is_none() {
            s.buf.clear();
            s.at = 0;
            s.dirty = false;
        }
        if taken {
            close(stream);
        } else {
            self.closing.push(stream);
        }
    }

    fn send(
        &mut self,
        token: usize,
        mut stream: &TcpStream,
        buf: &[u8],
    ) -> io::Result<Option<usize>> {
        let s = &mut self.slots[token];
        let room = STAGE_MAX.saturating_sub(s.buf.len());
        if s.flight.is_some() || s.parked || room == 0 {
            if !std::mem::replace(&mut s.blocked, true) {
                self.waiting += 1;
            }
            return Ok(None);
        }
        if !s.staged() && buf.len() >= DIRECT_FROM {
            return nonblocking(stream.write(buf));
        }
        // Bytes written in one pass go out together, in one `send`.
        let n = buf.len().min(room);
        s.buf.extend_from_slice(&buf[..n]);
        if !std::mem::replace(&mut s.dirty, true) {
            self.dirty.push(token);
        }
        Ok(Some(n))
    }

    fn quiet(&mut self, token: usize, on: bool) {
        let s = &mut self.slots[token];
        if s.quiet != on {
            s.quiet = on;
            if s.watching {
                self.remove_poll(token);
                let _ = self.push_poll(token);
            }
        }
    }

    fn flushed(&mut self, token: usize) -> bool {
        let s = &mut self.slots[token];
        if s.flight.is_none() && !s.staged() {
            return true;
        }
        if !std::mem::replace(&mut s.blocked, true) {
            self.waiting += 1;
        }
        false
    }

    fn take_error(&mut self, token: usize) -> Option<io::Error> {
        self.slots.get_mut(token).and_then(|s| s.error.take())
    }

    fn wait(
        &mut self,
        now: Nanos,
        wake: Nanos,
        ready: &mut dyn FnMut(usize, Ready),
    ) -> io::Result<()> {
        let sleep = wake > now;
        // A shard that has just moved bytes looks at its connections once more before it
        // sleeps: its writes wait for that sleep's call (and more bytes may join them), unless
        // it did not sleep last time either (a busy shard submits on every other pass).
        let queued = self.unsubmitted > 0 || !self.dirty.is_empty();
        if !sleep && !std::mem::take(&mut self.deferred) && queued {
            self.deferred = true;
            self.reap(ready);
            return Ok(());
        }
        self.deferred = false;
        self.push_staged()?;
        if !sleep {
            self.enter(0, None)?;
            self.reap(ready);
            return Ok(());
        }
        // The writes complete inside the call that submits them: wait for them and one more
        // completion (a socket's), or until `wake`. A connection waiting for its write is woken
        // by that write's completion, whenever it comes.
        loop {
            let want = if self.waiting > 0 { 1 } else { self.prompt + 1 };
            self.enter(want, Some(wake))?;
            if self.reap(ready) || self.clock.now() >= wake {
                return Ok(());
            }
        }
    }
}

/// Closes a socket let go: shut down both ways, then its descriptor.
fn close(stream: TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    /// A connected pair on loopback: the ring's end (non-blocking) and the far end.
    fn pair(l: &TcpListener) -> (TcpStream, std::net::TcpStream) {
        let near = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (far, _) = l.accept().unwrap();
        near.set_nonblocking(true).unwrap();
        (TcpStream::from_std(near), far)
    }

    /// Reaps what is there, collecting readiness.
    fn collect(r: &mut Ring, clock: &Clock, wake_in: Nanos) -> Vec<(usize, Ready)> {
        let mut seen = Vec::new();
        let now = clock.now();
        r.wait(now, now + wake_in, &mut |t, ready| seen.push((t, ready)))
            .unwrap();
        seen
    }

    fn read_exactly(far: &mut std::net::TcpStream, n: usize) -> Vec<u8> {
        far.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut got = vec![0; n];
        far.read_exact(&mut got).unwrap();
        got
    }

    #[test]
    fn a_ticks_sends_go_to_the_kernel_in_one_submission() {
        let clock = Clock::new();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let n = 50;
        let mut r = Ring::new(n, clock).unwrap();
        let mut pairs: Vec<_> = (0..n).map(|_| pair(&l)).collect();
        for (i, (near, _)) in pairs.iter().enumerate() {
            r.watch(near, i).unwrap();
        }
        // Every socket says it is writable once its poll is armed.
        let mut writable = std::collections::HashSet::new();
        while writable.len() < n {
            for (t, ready) in collect(&mut r, &clock, 0) {
                assert!(ready.writable);
                writable.insert(t);
            }
        }
        let before = r.counters;
        let msg = |i: usize| format!("message for connection {i}");
        for (i, (near, _)) in pairs.iter().enumerate() {
            let m = msg(i);
            assert_eq!(r.send(i, near, m.as_bytes()).unwrap(), Some(m.len()));
            // A second write of the same tick joins the first.
            assert_eq!(r.send(i, near, b", and more").unwrap(), Some(10));
        }
        assert_eq!(
            r.counters.enters, before.enters,
            "nothing sent before the wait"
        );
        // The tick: its sends (one per connection) and the wait, 2 ms at most, in one call.
        collect(&mut r, &clock, 2_000_000);
        assert_eq!(r.counters.enters, before.enters + 1, "one io_uring_enter");
        assert_eq!(r.counters.sends, before.sends + n as u64);
        assert_eq!(r.counters.submitted, before.submitted + n as u64);
        for (i, (near, far)) in pairs.iter_mut().enumerate() {
            let m = format!("{}, and more", msg(i));
            assert_eq!(read_exactly(far, m.len()), m.as_bytes());
            // Written: the connection may write again at once.
            assert_eq!(r.send(i, near, b"next").unwrap(), Some(4));
        }
    }

    #[test]
    fn a_socket_let_go_under_queued_entries_is_closed_only_once_they_are_taken() {
        let clock = Clock::new();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut r = Ring::new(4, clock).unwrap();
        // Nothing queued: closed at once.
        let (near, mut far) = pair(&l);
        r.watch(&near, 1).unwrap();
        r.send(1, &near, b"last words").unwrap();
        r.unwatch(near, 1);
        assert!(r.closing.is_empty());
        let mut all = Vec::new();
        far.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        far.read_to_end(&mut all).unwrap();
        assert_eq!(
            all, b"last words",
            "staged bytes first, then the end of stream"
        );
        let (near, mut far) = pair(&l);
        r.watch(&near, 0).unwrap();
        r.enter(0, None).unwrap();
        // An entry the kernel has not taken, as when a submission failed.
        let nop = opcode::Nop::new().build().user_data(u64::MAX);
        // SAFETY: a no-op names no memory.
        unsafe { r.ring.submission().push(&nop) }.unwrap();
        r.unwatch(near, 0);
        assert_eq!(r.closing.len(), 1, "kept open while the entry is queued");
        far.set_read_timeout(Some(std::time::Duration::from_millis(50)))
            .unwrap();
        let mut b = [0u8; 8];
        assert!(
            far.read(&mut b).is_err(),
            "the peer sees no end of stream yet"
        );
        r.enter(0, None).unwrap();
        assert!(r.closing.is_empty());
        far.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        assert_eq!(
            far.read(&mut b).unwrap(),
            0,
            "closed once the queue was taken"
        );
    }

    #[test]
    fn a_short_write_is_resumed_in_order() {
        let clock = Clock::new();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let (near, mut far) = pair(&l);
        let small: libc::c_int = 4096;
        crate::sys::set_option(near.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, small).unwrap();
        let mut r = Ring::new(1, clock).unwrap();
        r.watch(&near, 0).unwrap();
        collect(&mut r, &clock, 0);
        // Staged writes until the socket's buffers are full and one of them goes short.
        let mut sent = Vec::new();
        let mut k = 0u32;
        let chunk =
            |k: u32| -> Vec<u8> { (0..DIRECT_FROM - 1).map(|j| (j as u32 + k) as u8).collect() };
        let deadline = clock.now() + 5_000_000_000;
        while r.counters.resumed == 0 {
            let c = chunk(k);
            match r.send(0, &near, &c).unwrap() {
                Some(n) => {
                    sent.extend_from_slice(&c[..n]);
                    k += 1;
                }
                None => {
                    collect(&mut r, &clock, 1_000_000);
                }
            }
            assert!(
                clock.now() < deadline,
                "no write went short: {:?}",
                r.counters
            );
        }
        // The far end reads everything; the remainder goes out as room appears.
        let total = sent.len();
        let reader = std::thread::spawn(move || read_exactly(&mut far, total));
        let deadline = clock.now() + 5_000_000_000;
        while r.slots[0].flight.is_some() || r.slots[0].staged() {
            collect(&mut r, &clock, 1_000_000);
            assert!(clock.now() < deadline, "the remainder never went out");
        }
        assert_eq!(reader.join().unwrap(), sent, "every byte, in order");
        assert!(r.take_error(0).is_none());
    }

    #[test]
    fn a_connection_closed_mid_tick_fails_alone() {
        let clock = Clock::new();
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut r = Ring::new(3, clock).unwrap();
        let (near0, mut far0) = pair(&l);
        let (near1, far1) = pair(&l);
        let (old2, _far_old2) = pair(&l);
        for (i, near) in [&near0, &near1, &old2].into_iter().enumerate() {
            r.watch(near, i).unwrap();
        }
        collect(&mut r, &clock, 0);
        // The far end of connection 1 resets it.
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        crate::sys::set_option(far1.as_raw_fd(), libc::SOL_SOCKET, libc::SO_LINGER, linger)
            .unwrap();
        drop(far1);
        std::thread::sleep(std::time::Duration::from_millis(20));
        // The tick: three writes staged. Connection 2 is let go after its write was staged,
        // and its slot given to a new socket (likely on the same descriptor number).
        r.send(0, &near0, b"zero").unwrap();
        r.send(1, &near1, b"one").unwrap();
        r.send(2, &old2, b"two, old socket").unwrap();
        r.unwatch(old2, 2);
        let (new2, mut far2) = pair(&l);
        r.watch(&new2, 2).unwrap();
        let mut failed = None;
        let deadline = clock.now() + 5_000_000_000;
        let mut new_sent = false;
        while failed.is_none() {
            if !new_sent {
                new_sent = r.send(2, &new2, b"two, new socket").unwrap().is_some();
            }
            collect(&mut r, &clock, 1_000_000);
            failed = r.take_error(1);
            if failed.is_none() && r.slots[1].flight.is_none() {
                // The reset may land after a write was taken: the next one fails.
                let _ = r.send(1, &near1, b"one");
            }
            assert!(clock.now() < deadline, "the reset was never reported");
        }
        let kind = failed.unwrap().kind();
        assert!(
            matches!(
                kind,
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{kind:?}"
        );
        while !new_sent {
            collect(&mut r, &clock, 1_000_000);
            new_sent = r.send(2, &new2, b"two, new socket").unwrap().is_some();
        }
        // A wait that sleeps submits what was staged (one that does not may leave it for the
        // next).
        collect(&mut r, &clock, 1_000_000);
        // The others are untouched: their bytes arrived, and only the new socket's on slot 2.
        assert_eq!(read_exactly(&mut far0, 4), b"zero");
        assert_eq!(read_exactly(&mut far2, 15), b"two, new socket");
        assert!(r.take_error(0).is_none() && r.take_error(2).is_none());
    }
}
