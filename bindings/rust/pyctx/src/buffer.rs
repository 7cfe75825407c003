//! `Buffer`: memory crossing the boundary without a copy
//! (`pyctx_buffer_t`): host memory lent to Python as a `memoryview`, memory
//! the library allocates, and views of Python objects handed to the host.

use std::ffi::c_void;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{self, NonNull};

use crate::cstr::with_cstr;
use crate::error::{Error, ErrorKind, Result};
use crate::ffi;

/// Whose memory a [`Buffer`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BufferMemory {
    /// The host's, lent with [`Buffer::lend`] or [`Buffer::lend_mut`].
    Host,
    /// Allocated by the library ([`Buffer::alloc`]).
    Library,
    /// A Python object's, from [`Request::take_buffer`](crate::Request::take_buffer).
    Python,
}

/// A buffer's layout, in the terms of Python's buffer protocol (PEP 3118).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferInfo {
    /// `itemsize * product(shape)`: the elements' bytes.
    pub len: usize,
    pub itemsize: usize,
    /// The element format, e.g. `"d"` or `"<i"`; `"B"` for plain bytes.
    pub format: String,
    pub shape: Vec<i64>,
    /// In bytes (C order when none were given); may be negative for a
    /// Python view.
    pub strides: Vec<i64>,
    /// Must not be written through this buffer.
    pub readonly: bool,
    /// The elements are contiguous in C order.
    pub c_contiguous: bool,
    pub memory: BufferMemory,
}

/// Memory shared with Python without a copy: attach it to a request
/// ([`Call::attach`](crate::Call::attach),
/// [`Request::attach_buffer`](crate::Request::attach_buffer)) and name it
/// in the arguments as [`Value::Buffer`](crate::Value::Buffer) with its
/// index; Python receives a `memoryview` over this very memory (numpy,
/// hashlib and every buffer consumer read it in place). Or receive a
/// Python object's memory with [`ResultForm::Buffer`](crate::ResultForm):
/// [`Request::take_buffer`](crate::Request::take_buffer),
/// [`Call::run_buffer`](crate::Call::run_buffer).
///
/// Lent memory stays lent — the data is not dropped (or given back) —
/// until the last of these is gone: this handle, every request it is
/// attached to and not yet submitted, every submission until it completes,
/// and every Python object viewing it (a view Python keeps in a global
/// keeps it lent). A Python view the host holds pins its object until the
/// handle is dropped; closing its context waits for that.
///
/// `Send` and `Sync`. The memory itself is shared with Python without
/// synchronization, which is why reading and writing it here is `unsafe`:
/// do so only when no request that uses it runs (across a completion).
///
/// ```
/// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
/// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
/// use pyctx::{Buffer, Value};
/// let mut doubles = Buffer::lend(vec![0u8; 16]).unwrap();
/// doubles.set_format("d").unwrap();
/// let v = ctx
///     .call_with("builtins", "len")
///     .arg(Value::Buffer(0))
///     .attach(&doubles)
///     .run()
///     .unwrap();
/// assert_eq!(v, Value::Int(2)); // two doubles, read in place
///
/// // And back: a Python object's memory as a pinned view.
/// let view = ctx.eval_with("b'hello'").run_buffer().unwrap();
/// assert!(view.info().unwrap().readonly);
/// // SAFETY: nothing in Python writes these bytes.
/// assert_eq!(unsafe { view.as_slice() }.unwrap(), b"hello");
/// ```
pub struct Buffer {
    raw: NonNull<ffi::pyctx_buffer_t>,
}

// SAFETY: the header lets data, info and free run from any thread,
// concurrently with requests using the buffer; set_format and set_shape
// need `&mut self` here, so they never race.
unsafe impl Send for Buffer {}
unsafe impl Sync for Buffer {}

/// What a loan owns until it ends: the data, and what to do with it then.
struct Loan<T> {
    data: T,
    on_return: Option<Box<dyn FnOnce(T) + Send>>,
}

unsafe extern "C" fn end_loan<T>(user_data: *mut c_void) {
    // SAFETY: from `Box::into_raw` in `lend_raw`; the library calls this once.
    let loan = unsafe { Box::from_raw(user_data as *mut Loan<T>) };
    let outcome = catch_unwind(AssertUnwindSafe(move || {
        let Loan { data, on_return } = *loan;
        match on_return {
            Some(give_back) => give_back(data),
            None => drop(data),
        }
    }));
    if outcome.is_err() {
        // Unwinding into C would abort: the panic ends here.
        eprintln!("pyctx: a lent buffer's return callback panicked (ignored)");
    }
}

impl Buffer {
    /// Lends `data` to Python read-only (Python cannot write it: its
    /// memoryview refuses, numpy arrays made from it are not writeable).
    /// `data` is dropped when the loan ends. Default layout: unsigned bytes,
    /// one dimension (see [`set_format`](Buffer::set_format)).
    pub fn lend<T: AsRef<[u8]> + Send + 'static>(data: T) -> Result<Buffer> {
        let loan = Box::new(Loan { data, on_return: None });
        Buffer::lend_raw(loan, false, |data| {
            let bytes = data.as_ref();
            (bytes.as_ptr() as *mut c_void, bytes.len())
        })
    }

    /// Lends `data` writable: Python may write into it. When the loan ends
    /// `on_return` receives `data` back (on the thread that dropped the last
    /// reference: a library thread, or this one), with whatever Python
    /// wrote. It must not block for long.
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
    /// use std::sync::mpsc;
    /// use pyctx::{Buffer, Value};
    /// let (tx, rx) = mpsc::channel();
    /// let buffer = Buffer::lend_mut(vec![0u8; 4], move |data| tx.send(data).unwrap()).unwrap();
    /// ctx.exec("def fill(view):\n    view[:] = b'rust'\n").unwrap();
    /// ctx.call_with("__main__", "fill").arg(Value::Buffer(0)).attach(&buffer).run().unwrap();
    /// drop(buffer); // the handle was the last holder
    /// assert_eq!(rx.recv().unwrap(), b"rust");
    /// ```
    pub fn lend_mut<T, F>(data: T, on_return: F) -> Result<Buffer>
    where
        T: AsMut<[u8]> + Send + 'static,
        F: FnOnce(T) + Send + 'static,
    {
        let loan = Box::new(Loan { data, on_return: Some(Box::new(on_return) as Box<dyn FnOnce(T) + Send>) });
        Buffer::lend_raw(loan, true, |data| {
            let bytes = data.as_mut();
            (bytes.as_mut_ptr() as *mut c_void, bytes.len())
        })
    }

    /// Lends the memory `memory` finds in `loan.data`, read through the
    /// box's raw pointer (so nothing moves or reborrows the data afterwards)
    /// and kept in place by it until the loan ends.
    fn lend_raw<T>(
        loan: Box<Loan<T>>,
        writable: bool,
        memory: impl FnOnce(&mut T) -> (*mut c_void, usize),
    ) -> Result<Buffer> {
        let user_data = Box::into_raw(loan);
        // SAFETY: ours until handed to the library below.
        let (data, len) = memory(unsafe { &mut (*user_data).data });
        let mut raw = ptr::null_mut();
        // SAFETY: the memory stays valid until `end_loan::<T>` runs, which
        // catches every panic; `data` may be dangling only when `len` is 0,
        // and the C API wants NULL then.
        let lent = unsafe {
            Error::check(ffi::pyctx_buffer_lend(
                if len == 0 { ptr::null_mut() } else { data },
                len,
                i32::from(writable),
                Some(end_loan::<T>),
                user_data as *mut c_void,
                &mut raw,
            ))
        };
        if let Err(error) = lent {
            // The finalizer is not called on failure: the data is still ours.
            // SAFETY: from `Box::into_raw` above, never handed over.
            drop(unsafe { Box::from_raw(user_data) });
            return Err(error);
        }
        Buffer::from_raw(raw)
    }

    /// `len` zeroed, writable bytes, 64-byte aligned, owned by the library
    /// and freed when the loan ends. Fill them with
    /// [`as_mut_slice`](Buffer::as_mut_slice).
    pub fn alloc(len: usize) -> Result<Buffer> {
        let mut raw = ptr::null_mut();
        // SAFETY: `raw` is written on success.
        unsafe { Error::check(ffi::pyctx_buffer_alloc(len, &mut raw))? };
        Buffer::from_raw(raw)
    }

    pub(crate) fn from_raw(raw: *mut ffi::pyctx_buffer_t) -> Result<Buffer> {
        let raw = NonNull::new(raw).ok_or_else(|| Error::new(ErrorKind::Internal, "no buffer handle"))?;
        Ok(Buffer { raw })
    }

    /// The C handle, for the raw [`ffi`](crate::ffi) functions. Valid while
    /// this `Buffer` lives.
    pub fn as_raw(&self) -> *mut ffi::pyctx_buffer_t {
        self.raw.as_ptr()
    }

    /// Sets the element format, a PEP 3118 / `struct` code with an optional
    /// byte-order prefix (`"d"`, `"<i"`, `"Zd"`, ...; default `"B"`). With
    /// no shape, one dimension of `len / itemsize` elements.
    /// [`ErrorKind::InvalidArgument`] for another format, a length that is
    /// no multiple of the item size, or once attached.
    pub fn set_format(&mut self, format: &str) -> Result<()> {
        with_cstr("buffer format", format, |format| {
            // SAFETY: live handle, exclusively borrowed.
            unsafe { Error::check(ffi::pyctx_buffer_set_format(self.as_raw(), format)) }
        })
    }

    /// Sets the shape (1..=64 dimensions) and optionally the strides in
    /// bytes (`None`: C-contiguous, filling the buffer exactly). Set the
    /// format first. [`ErrorKind::InvalidArgument`] names what does not fit.
    pub fn set_shape(&mut self, shape: &[i64], strides: Option<&[i64]>) -> Result<()> {
        if let Some(strides) = strides {
            if strides.len() != shape.len() {
                return Err(Error::invalid_argument(format!(
                    "{} strides for {} dimensions",
                    strides.len(),
                    shape.len()
                )));
            }
        }
        let ndim = i32::try_from(shape.len()).map_err(|_| Error::invalid_argument("too many dimensions"))?;
        let strides = strides.map_or(ptr::null(), <[i64]>::as_ptr);
        // SAFETY: live handle, exclusively borrowed; arrays of `ndim` entries.
        unsafe { Error::check(ffi::pyctx_buffer_set_shape(self.as_raw(), ndim, shape.as_ptr(), strides)) }
    }

    /// The memory's layout.
    pub fn info(&self) -> Result<BufferInfo> {
        let mut raw = std::mem::MaybeUninit::<ffi::pyctx_buffer_info_t>::zeroed();
        // SAFETY: live handle; we pass the size of the struct we know, and
        // a zeroed struct is a valid one (NULL pointers, zero counts).
        let info = unsafe {
            Error::check(ffi::pyctx_buffer_info(
                self.as_raw(),
                raw.as_mut_ptr(),
                std::mem::size_of::<ffi::pyctx_buffer_info_t>(),
            ))?;
            raw.assume_init()
        };
        let ndim = usize::try_from(info.ndim).unwrap_or(0);
        // SAFETY: `ndim` entries each, valid as long as the handle.
        let dims = |p: *const i64| {
            if p.is_null() { Vec::new() } else { unsafe { std::slice::from_raw_parts(p, ndim) }.to_vec() }
        };
        Ok(BufferInfo {
            len: info.len,
            itemsize: info.itemsize,
            // SAFETY: a NUL-terminated string valid as long as the handle.
            format: unsafe { crate::error::owned_string(info.format) },
            shape: dims(info.shape),
            strides: dims(info.strides),
            readonly: info.readonly != 0,
            c_contiguous: info.c_contiguous != 0,
            memory: match info.memory {
                ffi::PYCTX_BUFFER_LIBRARY => BufferMemory::Library,
                ffi::PYCTX_BUFFER_PYTHON => BufferMemory::Python,
                _ => BufferMemory::Host,
            },
        })
    }

    /// The bytes, when they are C-contiguous (`None` otherwise).
    ///
    /// # Safety
    /// No Python code may write this memory while the slice lives: no
    /// request using a writable loan runs, and (for a Python view) nothing
    /// in Python changes the object.
    pub unsafe fn as_slice(&self) -> Option<&[u8]> {
        let (data, len) = self.contiguous()?;
        // SAFETY: `len` bytes at `data`, valid as long as the handle; the
        // caller vouches that nothing writes them meanwhile.
        Some(if len == 0 { &[] } else { unsafe { std::slice::from_raw_parts(data, len) } })
    }

    /// The bytes to write, when the buffer is writable and C-contiguous
    /// (`None` otherwise).
    ///
    /// # Safety
    /// No Python code may read or write this memory while the slice lives
    /// (no request using it runs).
    pub unsafe fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        if self.info().ok()?.readonly {
            return None;
        }
        let (data, len) = self.contiguous()?;
        // SAFETY: as for `as_slice`, and writable.
        Some(if len == 0 { &mut [] } else { unsafe { std::slice::from_raw_parts_mut(data, len) } })
    }

    fn contiguous(&self) -> Option<(*mut u8, usize)> {
        if !self.info().ok()?.c_contiguous {
            return None;
        }
        let mut len = 0usize;
        // SAFETY: live handle.
        let data = unsafe { ffi::pyctx_buffer_data(self.as_raw(), &mut len) };
        if data.is_null() && len != 0 {
            return None;
        }
        Some((data.cast(), len))
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: owned; the loan ends once nothing else holds the buffer.
        unsafe { ffi::pyctx_buffer_free(self.as_raw()) };
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffer").field("info", &self.info().ok()).finish()
    }
}

/// Buffer counters of one context, from
/// [`Context::buffer_stats`](crate::Context::buffer_stats).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BufferStats {
    /// Python views of lent buffers alive in the context now.
    pub lent_views: u64,
    /// Buffers lent to the context over its life.
    pub lent_total: u64,
    /// Views of the context's Python objects the host holds now.
    pub held_views: u64,
}
