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
}

impl Default for FrameTemplate {
    fn default() -> Self {
        FrameTemplate {
            frame: Vec::new(),
            body_len: usize::MAX,
            body_off: 0,
            patch_off: 0,
            block_frames: 0,
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

    /// Lays copies of the frames over `block` (once; later blocks only patch them).
    pub(crate) fn lay(&mut self, block: &mut Vec<u8>) {
        if self.block_frames == 0 {
            let n = (TX_BLOCK / self.frame.len()).max(1);
            block.clear();
            for _ in 0..n {
                block.extend_from_slice(&self.frame);
            }
            self.block_frames = n;
        }
    }
}
