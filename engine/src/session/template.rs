//! A message's whole frames for one body size, built once by its protocol: each message copies
//! them (or a block of copies is laid over the data block once) and patches only what changes,
//! the body's stamp and a protocol field (an MQTT packet id, a STOMP receipt id).

use super::TX_BLOCK;

#[derive(Debug)]
pub(crate) struct FrameTemplate {
    pub(crate) frame: Vec<u8>,
    /// The body size the frames are built for (`usize::MAX`: none yet).
    pub(crate) body_len: usize,
    /// Where the body (its first bytes: the stamp) starts in `frame`.
    pub(crate) body_off: usize,
    /// Where the protocol's per-message field starts in `frame`, if it has one.
    pub(crate) patch_off: usize,
    /// Copies of `frame` laid end to end at the start of the data block (0: the block holds
    /// something else).
    pub(crate) block_frames: usize,
    /// Copies to lay: one at first, twice as many each time a turn used them all, up to a
    /// block's worth. A paced sender's block stays the size of what falls due at once (a
    /// sender at 1 message a second keeps one frame, not 64 KiB); an unbounded one has its
    /// whole block after a few turns.
    wanted: usize,
}

impl Default for FrameTemplate {
    fn default() -> Self {
        FrameTemplate {
            frame: Vec::new(),
            body_len: usize::MAX,
            body_off: 0,
            patch_off: 0,
            block_frames: 0,
            wanted: 1,
        }
    }
}

impl FrameTemplate {
    /// Starts new frames for bodies of `body_len` bytes: the emptied buffer to encode them into
    /// (the caller sets `body_off`, and `patch_off` when it has one).
    pub(crate) fn rebuild(&mut self, body_len: usize) -> &mut Vec<u8> {
        self.body_len = body_len;
        self.block_frames = 0;
        self.frame.clear();
        &mut self.frame
    }

    /// Lays copies of the frames over `block` (as many as wanted; later blocks only patch
    /// them).
    pub(crate) fn lay(&mut self, block: &mut Vec<u8>) {
        let n = self.wanted.clamp(1, (TX_BLOCK / self.frame.len()).max(1));
        if self.block_frames < n {
            if self.block_frames == 0 {
                block.clear();
            }
            block.truncate(self.block_frames * self.frame.len());
            for _ in self.block_frames..n {
                block.extend_from_slice(&self.frame);
            }
            self.block_frames = n;
        }
    }

    /// A turn used `used` of the laid copies: all of them asks for twice as many next time.
    #[inline]
    pub(crate) fn used(&mut self, used: usize) {
        if used >= self.block_frames {
            self.wanted = self.block_frames * 2;
        }
    }
}
