//! A session's outgoing bytes: a data block (messages, built in place and reused) and a control
//! queue (handshakes, acknowledgements, keep-alives).
//!
//! The runtime writes [`TxBuf::pending`] and reports what went out with [`TxBuf::consume`]. The
//! data block is written before the control queue; a session prepares new bytes only once both
//! are drained, so nothing it patches in place is still waiting to be written.

/// Outgoing bytes of one session.
#[derive(Debug, Default)]
pub struct TxBuf {
    /// Control frames, appended at any time; sent after the current data block.
    pub ctrl: Vec<u8>,
    ctrl_pos: usize,
    /// The data block; only `data[..data_len]` is sent. What lies beyond stays as the session
    /// left it, so a block of frame templates survives from one use to the next.
    pub data: Vec<u8>,
    data_pos: usize,
    data_len: usize,
}

impl TxBuf {
    /// Bytes to write next (empty when everything was written).
    #[inline]
    pub fn pending(&self) -> &[u8] {
        if self.data_pos < self.data_len {
            &self.data[self.data_pos..self.data_len]
        } else {
            &self.ctrl[self.ctrl_pos..]
        }
    }

    /// True when nothing is waiting to be written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.data_pos >= self.data_len && self.ctrl_pos >= self.ctrl.len()
    }

    /// `n` bytes of [`pending`](Self::pending) were written.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        if self.data_pos < self.data_len {
            self.data_pos += n;
        } else {
            self.ctrl_pos += n;
            if self.ctrl_pos >= self.ctrl.len() {
                self.ctrl.clear();
                self.ctrl_pos = 0;
            }
        }
    }

    /// Puts back the control queue a turn took out (with what it appended) and sends
    /// `data[..data_len]` before it; returns what to write now.
    #[inline]
    pub fn queue(&mut self, ctrl: Vec<u8>, data_len: usize) -> &[u8] {
        self.ctrl = ctrl;
        self.send_data(data_len);
        self.pending()
    }

    /// Sends `data[..len]` next. Call only when [`is_empty`](Self::is_empty).
    #[inline]
    pub fn send_data(&mut self, len: usize) {
        debug_assert!(len <= self.data.len());
        self.data_pos = 0;
        self.data_len = len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_first_then_control() {
        let mut t = TxBuf::default();
        assert!(t.is_empty());
        t.data.extend_from_slice(b"0123456789");
        t.send_data(4);
        t.ctrl.extend_from_slice(b"ab");
        assert_eq!(t.pending(), b"0123");
        t.consume(3);
        assert_eq!(t.pending(), b"3");
        t.consume(1);
        assert_eq!(t.pending(), b"ab");
        t.ctrl.push(b'c');
        t.consume(2);
        assert_eq!(t.pending(), b"c");
        t.consume(1);
        assert!(t.is_empty());
        assert!(t.ctrl.is_empty());
        assert_eq!(
            &t.data[4..],
            b"456789",
            "the block beyond the sent part is kept"
        );
    }
}
