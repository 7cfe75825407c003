//! Channels: bounded two-way queues between Rust and Python code in a
//! context, with backpressure both ways. Python opens one by id:
//! `ch = pyctx.Channel(id)`, then `ch.recv()` (or `await ch.recv()`) and
//! `ch.send(v)`.
//!
//! ```
//! # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
//! # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
//! use pyctx::{Channel, Value};
//! let ch = Channel::new(4).unwrap();
//! ch.send(21).unwrap();
//! ctx.exec(&format!("import pyctx\nc = pyctx.Channel({})\nc.send(c.recv() * 2)", ch.id())).unwrap();
//! assert_eq!(ch.recv().unwrap(), Value::Int(42));
//! ```

use std::ptr::{self, NonNull};
use std::time::Duration;

use crate::cbor;
use crate::error::{Error, Result};
use crate::ffi;
use crate::pending::OwnedBytes;
use crate::timeout::to_ms;
use crate::value::Value;

/// Counters of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelStats {
    /// Values Python received.
    pub to_python: u64,
    /// Values the host received.
    pub from_python: u64,
    pub queued_to_python: u64,
    pub queued_to_host: u64,
}

/// The host's end of a channel of values (or, made with
/// [`Channel::new_bytes`], of raw bytes). Dropping it closes the channel.
#[derive(Debug)]
pub struct Channel {
    raw: NonNull<ffi::pyctx_channel_t>,
    bytes: bool,
}

// SAFETY: every channel function is thread-safe except free, which `Drop`
// (with `&mut self`) does alone.
unsafe impl Send for Channel {}
unsafe impl Sync for Channel {}

impl Channel {
    /// A channel holding up to `capacity` values per direction.
    pub fn new(capacity: usize) -> Result<Channel> {
        Channel::make(capacity, false)
    }

    /// A byte channel: [`send_bytes`](Channel::send_bytes) and
    /// [`recv_bytes`](Channel::recv_bytes); Python gets and sends `bytes`.
    pub fn new_bytes(capacity: usize) -> Result<Channel> {
        Channel::make(capacity, true)
    }

    fn make(capacity: usize, bytes: bool) -> Result<Channel> {
        let mut raw = ptr::null_mut();
        // SAFETY: an out-parameter owned here.
        unsafe { Error::check(ffi::pyctx_channel_new(capacity, bytes as i32, &mut raw))? };
        Ok(Channel { raw: NonNull::new(raw).expect("channel"), bytes })
    }

    /// The id Python opens it by.
    pub fn id(&self) -> u64 {
        // SAFETY: a live handle.
        unsafe { ffi::pyctx_channel_id(self.raw.as_ptr()) }
    }

    /// Sends a value, waiting while Python's side is full.
    pub fn send(&self, value: impl Into<Value>) -> Result<()> {
        self.send_raw(&cbor::encode(&value.into()), None)
    }

    /// Sends a value, waiting at most `timeout` for room.
    pub fn send_timeout(&self, value: impl Into<Value>, timeout: Duration) -> Result<()> {
        self.send_raw(&cbor::encode(&value.into()), Some(timeout))
    }

    /// Sends without waiting (`QueueFull` when full).
    pub fn try_send(&self, value: impl Into<Value>) -> Result<()> {
        let b = cbor::encode(&value.into());
        // SAFETY: a live handle and a buffer borrowed for the call.
        unsafe { Error::check(ffi::pyctx_channel_try_send(self.raw.as_ptr(), b.as_ptr(), b.len())) }
    }

    /// Sends raw bytes on a byte channel.
    pub fn send_bytes(&self, data: &[u8]) -> Result<()> {
        if !self.bytes {
            return Err(Error::invalid_argument("send_bytes needs a byte channel"));
        }
        self.send_raw(data, None)
    }

    fn send_raw(&self, data: &[u8], timeout: Option<Duration>) -> Result<()> {
        // SAFETY: a live handle and a buffer borrowed for the call.
        unsafe {
            Error::check(ffi::pyctx_channel_send(
                self.raw.as_ptr(),
                data.as_ptr(),
                data.len(),
                to_ms(timeout),
            ))
        }
    }

    /// The next value Python sent, waiting as long as it takes (`Closed`
    /// once the channel is closed and drained).
    pub fn recv(&self) -> Result<Value> {
        cbor::decode(self.recv_raw(None)?.as_slice())
    }

    /// The next value, waiting at most `timeout` (`Timeout` otherwise).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Value> {
        cbor::decode(self.recv_raw(Some(timeout))?.as_slice())
    }

    /// The next value if one is waiting.
    pub fn try_recv(&self) -> Result<Option<Value>> {
        let mut out = OwnedBytes::empty();
        // SAFETY: a live handle; `out` frees the buffer.
        match unsafe { Error::check(ffi::pyctx_channel_try_recv(self.raw.as_ptr(), out.as_out())) } {
            Ok(()) => Ok(Some(cbor::decode(out.as_slice())?)),
            Err(e) if e.is_timeout() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The next raw bytes from a byte channel.
    pub fn recv_bytes(&self) -> Result<Vec<u8>> {
        if !self.bytes {
            return Err(Error::invalid_argument("recv_bytes needs a byte channel"));
        }
        Ok(self.recv_raw(None)?.as_slice().to_vec())
    }

    fn recv_raw(&self, timeout: Option<Duration>) -> Result<OwnedBytes> {
        let mut out = OwnedBytes::empty();
        // SAFETY: a live handle; `out` frees the buffer.
        unsafe { Error::check(ffi::pyctx_channel_recv(self.raw.as_ptr(), to_ms(timeout), out.as_out()))? };
        Ok(out)
    }

    /// Closes both directions: every waiter wakes and sees the end.
    pub fn close(&self) {
        // SAFETY: a live handle.
        unsafe { ffi::pyctx_channel_close(self.raw.as_ptr()) }
    }

    pub fn stats(&self) -> ChannelStats {
        let mut s = ffi::pyctx_channel_stats_t::default();
        // SAFETY: a live handle and an out-parameter owned here.
        unsafe { ffi::pyctx_channel_stats(self.raw.as_ptr(), &mut s) };
        ChannelStats {
            to_python: s.to_python,
            from_python: s.from_python,
            queued_to_python: s.queued_to_python,
            queued_to_host: s.queued_to_host,
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        // SAFETY: ours, freed once.
        unsafe { ffi::pyctx_channel_free(self.raw.as_ptr()) }
    }
}
