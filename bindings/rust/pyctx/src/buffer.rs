//! `Buffer`: memory crossing the boundary without a copy
//! (`pyctx_buffer_t`): host memory lent to Python as a `memoryview`, memory
//! the library allocates, and views of Python objects handed to the host.

use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{self, NonNull};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

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
/// Plain numbers ([`Element`]: `u8` ... `f64`) have typed forms that set
/// the format and item size: [`lend_elements`](Buffer::lend_elements) (a
/// `Vec<T>` or `Box<[T]>`), [`scoped`](Buffer::scoped) (a borrowed `&[T]`,
/// for the duration of a closure that returns only after the loan ended),
/// and [`into_view`](Buffer::into_view) (a result as `&[T]`).
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

/// Typed lending and typed views.
impl Buffer {
    /// Lends a `Vec<T>` or `Box<[T]>` of plain numbers to Python read-only,
    /// its format (`"d"` for `f64`, `"i"` for `i32`, ... see [`Element`])
    /// and item size set: Python's `memoryview` has `len(view)` elements
    /// of that type. The data moves into the loan and is dropped when the
    /// loan ends (when the library's finalizer runs: see the type's
    /// documentation).
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
    /// use pyctx::{Buffer, Value};
    /// let data = Buffer::lend_elements(vec![1.5f64, 2.0, 4.25]).unwrap();
    /// let sum = ctx.eval_with("sum(view)").local("view", Value::Buffer(0)).attach(&data).run().unwrap();
    /// assert_eq!(sum, Value::Float(7.75));
    /// assert_eq!(data.info().unwrap().format, "d");
    /// ```
    pub fn lend_elements<D: Elements>(data: D) -> Result<Buffer> {
        let loan = Box::new(Loan { data, on_return: None });
        let mut buffer = Buffer::lend_raw(loan, false, |data| {
            let elements = data.elements();
            (elements.as_ptr() as *mut c_void, std::mem::size_of_val(elements))
        })?;
        // Dropping `buffer` on failure ends the loan: the data is dropped.
        buffer.set_format(D::Element::FORMAT)?;
        Ok(buffer)
    }

    /// Lends a `Vec<T>` or `Box<[T]>` of plain numbers writable, typed as
    /// in [`lend_elements`](Buffer::lend_elements); `on_return` gets it back
    /// when the loan ends, with whatever Python wrote (as in
    /// [`lend_mut`](Buffer::lend_mut)).
    pub fn lend_elements_mut<D, F>(data: D, on_return: F) -> Result<Buffer>
    where
        D: Elements,
        F: FnOnce(D) + Send + 'static,
    {
        let loan = Box::new(Loan { data, on_return: Some(Box::new(on_return) as Box<dyn FnOnce(D) + Send>) });
        let mut buffer = Buffer::lend_raw(loan, true, |data| {
            let elements = data.elements_mut();
            (elements.as_mut_ptr() as *mut c_void, std::mem::size_of_val(elements))
        })?;
        buffer.set_format(D::Element::FORMAT)?;
        Ok(buffer)
    }

    /// Lends `data`, borrowed, read-only and typed (as in
    /// [`lend_elements`](Buffer::lend_elements)) for the duration of `f`,
    /// with no copy and no `'static` bound: `f` gets the buffer to attach
    /// to its requests, and `scoped` returns only once the library's
    /// finalizer of the loan has run, so nothing can read `data` after the
    /// borrow ends — also when `f` panics (the panic goes on after the
    /// wait).
    ///
    /// The finalizer runs when the last holder of the loan is gone (the
    /// handle, dropped when `f` returns; each request it is attached to and
    /// each submission until it completes; each Python object viewing it).
    /// So `scoped` blocks for as long as any of those live: a view Python
    /// keeps (in a global, in a worker context's module, at the latest until
    /// shutdown), or a [`Request`](crate::Request) with the buffer attached
    /// that `f` let escape, keeps it waiting — that is the price of the
    /// borrow being safe. For the same reason do not call it from a host
    /// function or a completion callback of a context that uses the buffer.
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
    /// use pyctx::{Buffer, Value};
    /// let data = [3i32, -1, 40];
    /// let max = Buffer::scoped(&data, |buffer| {
    ///     ctx.call_with("builtins", "max").arg(Value::Buffer(0)).attach(buffer).run()
    /// })
    /// .unwrap()
    /// .unwrap();
    /// assert_eq!(max, Value::Int(40));
    /// ```
    pub fn scoped<T: Element, R>(data: &[T], f: impl FnOnce(&Buffer) -> R) -> Result<R> {
        Buffer::scoped_raw(data.as_ptr() as *mut c_void, std::mem::size_of_val(data), false, T::FORMAT, f)
    }

    /// [`scoped`](Buffer::scoped), writable: Python may write into `data`
    /// while `f` runs; when `scoped_mut` returns, `data` holds what it
    /// wrote and Python holds nothing of it.
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
    /// use pyctx::{Buffer, Value};
    /// ctx.exec("def double(v):\n    for i in range(len(v)):\n        v[i] *= 2\n").unwrap();
    /// let mut data = vec![1u16, 2, 3];
    /// Buffer::scoped_mut(&mut data, |buffer| {
    ///     ctx.call_with("__main__", "double").arg(Value::Buffer(0)).attach(buffer).run().unwrap();
    /// })
    /// .unwrap();
    /// assert_eq!(data, [2, 4, 6]);
    /// ```
    pub fn scoped_mut<T: Element, R>(data: &mut [T], f: impl FnOnce(&Buffer) -> R) -> Result<R> {
        Buffer::scoped_raw(data.as_mut_ptr() as *mut c_void, std::mem::size_of_val(data), true, T::FORMAT, f)
    }

    fn scoped_raw<R>(
        data: *mut c_void,
        len: usize,
        writable: bool,
        format: &str,
        f: impl FnOnce(&Buffer) -> R,
    ) -> Result<R> {
        Buffer::scoped_latched(Arc::new(Latch::default()), data, len, writable, format, f)
    }

    /// `scoped_raw` with the latch given (the unit tests watch it).
    fn scoped_latched<R>(
        latch: Arc<Latch>,
        data: *mut c_void,
        len: usize,
        writable: bool,
        format: &str,
        f: impl FnOnce(&Buffer) -> R,
    ) -> Result<R> {
        let user_data = Box::into_raw(Box::new(Arc::clone(&latch))) as *mut c_void;
        let mut raw = ptr::null_mut();
        // SAFETY: the memory stays borrowed (valid, and unwritten by us)
        // until `Scope`'s drop saw `open_latch` run; `open_latch` catches
        // every panic.
        let lent = unsafe {
            Error::check(ffi::pyctx_buffer_lend(
                if len == 0 { ptr::null_mut() } else { data },
                len,
                i32::from(writable),
                Some(open_latch),
                user_data,
                &mut raw,
            ))
        };
        if let Err(error) = lent {
            // The finalizer is not called on failure.
            // SAFETY: from `Box::into_raw` above, never handed over.
            drop(unsafe { Box::from_raw(user_data as *mut Arc<Latch>) });
            return Err(error);
        }
        // From here on the wait happens whatever else does (errors, panics).
        let mut scope = Scope { buffer: Some(Buffer::from_raw(raw)?), latch };
        scope.buffer.as_mut().expect("set above").set_format(format)?;
        Ok(f(scope.buffer.as_ref().expect("set above")))
    }

    /// A typed, read-only view of this buffer's elements, which derefs to
    /// `&[T]` and releases the buffer (for a Python result: unpins the
    /// object) when dropped. [`ErrorKind::Conversion`] (and the buffer is
    /// released) unless the elements are `T`: the format is `T`'s code, or
    /// one of the same kind and size (`"l"` and `"q"` for `i64` on 64-bit
    /// Linux), in native byte order (no prefix, `@`, `=` or the native
    /// one of `<` / `>`); the item size is `size_of::<T>()`; the memory is
    /// C-contiguous and aligned for `T`. Every dimension is flattened.
    ///
    /// # Safety
    /// As for [`as_slice`](Buffer::as_slice), for as long as the view
    /// lives: no Python code may write this memory (no request using a
    /// writable loan runs; for a Python result, nothing in Python changes
    /// the object's elements).
    ///
    /// ```
    /// # let rt = pyctx::Runtime::get_or_init(&Default::default()).unwrap();
    /// # let ctx = rt.context(&pyctx::ContextOptions::new()).unwrap();
    /// let result = ctx.eval_with("__import__('array').array('d', [0.5, 1.5])").run_buffer().unwrap();
    /// // SAFETY: nothing else in Python has this array.
    /// let doubles = unsafe { result.into_view::<f64>() }.unwrap();
    /// assert_eq!(&*doubles, [0.5, 1.5]);
    ///
    /// let bytes = ctx.eval_with("b'abc'").run_buffer().unwrap();
    /// // SAFETY: bytes are immutable.
    /// let err = unsafe { bytes.into_view::<f64>() }.unwrap_err();
    /// assert_eq!(err.kind(), pyctx::ErrorKind::Conversion);
    /// ```
    pub unsafe fn into_view<T: Element>(self) -> Result<BufferView<T>> {
        let (data, count) = self.typed_parts::<T>()?;
        Ok(BufferView { buffer: self, data, len: count, _element: PhantomData })
    }

    /// The borrowed form of [`into_view`](Buffer::into_view): the elements
    /// as `&[T]`, with the same checks.
    ///
    /// # Safety
    /// As for [`as_slice`](Buffer::as_slice), while the slice lives.
    pub unsafe fn as_elements<T: Element>(&self) -> Result<&[T]> {
        let (data, count) = self.typed_parts::<T>()?;
        // SAFETY: checked by `typed_parts`; the caller vouches for writes.
        Ok(unsafe { elements_at(data, count) })
    }

    /// Checks that the elements are `T`s, and finds them.
    fn typed_parts<T: Element>(&self) -> Result<(*const T, usize)> {
        let info = self.info()?;
        let mismatch = |why: &str| {
            Error::conversion(format!(
                "a buffer of format {:?} (item size {}) is not [{}]: {why}",
                info.format,
                info.itemsize,
                std::any::type_name::<T>()
            ))
        };
        if info.itemsize != std::mem::size_of::<T>() || !T::accepts(&info.format) {
            return Err(mismatch("another element type"));
        }
        if !info.c_contiguous {
            return Err(mismatch("not C-contiguous"));
        }
        let mut len = 0usize;
        // SAFETY: live handle.
        let data = unsafe { ffi::pyctx_buffer_data(self.as_raw(), &mut len) } as *const T;
        if len % std::mem::size_of::<T>() != 0 {
            return Err(mismatch("its length is no multiple of the item size"));
        }
        let count = len / std::mem::size_of::<T>();
        if count != 0 && (data.is_null() || !data.is_aligned()) {
            return Err(mismatch("its memory is not aligned for the element type"));
        }
        Ok((data, count))
    }
}

/// `count` elements at `data` (anything, when `count` is 0).
///
/// # Safety
/// `data` points to `count` initialized, aligned `T`s that nothing writes
/// while the slice lives.
unsafe fn elements_at<'a, T>(data: *const T, count: usize) -> &'a [T] {
    if count == 0 { &[] } else { unsafe { std::slice::from_raw_parts(data, count) } }
}

/// The typed elements of a [`Buffer`], from
/// [`Buffer::into_view`]: derefs to `&[T]`; dropping it releases the
/// buffer (a Python result's object is unpinned).
pub struct BufferView<T: Element> {
    buffer: Buffer,
    data: *const T,
    len: usize,
    _element: PhantomData<T>,
}

// SAFETY: a read-only view of plain numbers (`Element: Send + Sync`) kept
// alive by a `Buffer`, which is `Send` and `Sync`.
unsafe impl<T: Element> Send for BufferView<T> {}
unsafe impl<T: Element> Sync for BufferView<T> {}

impl<T: Element> BufferView<T> {
    /// The buffer, to read its [`info`](Buffer::info) or attach it to
    /// another request.
    pub fn buffer(&self) -> &Buffer {
        &self.buffer
    }

    /// Gives the buffer back (still held).
    pub fn into_buffer(self) -> Buffer {
        self.buffer
    }
}

impl<T: Element> Deref for BufferView<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: checked by `into_view`, valid as long as `self.buffer`;
        // its caller vouched that nothing writes the memory meanwhile.
        unsafe { elements_at(self.data, self.len) }
    }
}

impl<T: Element> AsRef<[T]> for BufferView<T> {
    fn as_ref(&self) -> &[T] {
        self
    }
}

impl<T: Element + fmt::Debug> fmt::Debug for BufferView<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Waits, when dropped, until a scoped loan's finalizer ran.
struct Scope {
    buffer: Option<Buffer>,
    latch: Arc<Latch>,
}

impl Drop for Scope {
    fn drop(&mut self) {
        // The handle first: often the last holder, so the finalizer runs
        // inside this very call.
        drop(self.buffer.take());
        self.latch.wait();
    }
}

/// Opened once by a scoped loan's finalizer.
#[derive(Default)]
struct Latch {
    open: Mutex<bool>,
    opened: Condvar,
    /// How often the finalizer ran (once; the unit tests check).
    #[cfg(test)]
    runs: std::sync::atomic::AtomicUsize,
}

impl Latch {
    fn open(&self) {
        #[cfg(test)]
        self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        *self.open.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.opened.notify_all();
    }

    fn wait(&self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        while !*open {
            open = self.opened.wait(open).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

unsafe extern "C" fn open_latch(user_data: *mut c_void) {
    // SAFETY: from `Box::into_raw` in `scoped_raw`; the library calls this once.
    let latch = unsafe { Box::from_raw(user_data as *mut Arc<Latch>) };
    if catch_unwind(AssertUnwindSafe(move || latch.open())).is_err() {
        eprintln!("pyctx: ending a scoped buffer loan panicked (ignored)");
    }
}

mod sealed {
    pub trait Sealed {}
    pub trait SealedElements {}
}

/// A plain number Python's buffer protocol describes with one format code:
/// `u8` `"B"`, `i8` `"b"`, `u16` `"H"`, `i16` `"h"`, `u32` `"I"`, `i32`
/// `"i"`, `u64` `"Q"`, `i64` `"q"`, `f32` `"f"`, `f64` `"d"` (native byte
/// order and size). Sealed: implemented for exactly these.
pub trait Element: sealed::Sealed + Copy + Send + Sync + 'static {
    /// The PEP 3118 / `struct` format code lent buffers get.
    const FORMAT: &'static str;
    /// Integer codes of the same signedness (the item size is checked
    /// separately); for floats just the one.
    #[doc(hidden)]
    const CODES: &'static str;

    /// True when a buffer of this `format` (its item size being
    /// `size_of::<Self>()`) holds `Self`s.
    #[doc(hidden)]
    fn accepts(format: &str) -> bool {
        let native = if cfg!(target_endian = "little") { '<' } else { '>' };
        let code = match format.strip_prefix(['@', '=', native]) {
            Some(code) => code,
            None => format,
        };
        code.len() == 1 && Self::CODES.contains(code)
    }
}

macro_rules! elements {
    ($($t:ty => $format:literal, $codes:literal;)*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const FORMAT: &'static str = $format;
            const CODES: &'static str = $codes;
        }
    )*};
}

elements! {
    u8 => "B", "BHILQN";
    i8 => "b", "bhilqn";
    u16 => "H", "BHILQN";
    i16 => "h", "bhilqn";
    u32 => "I", "BHILQN";
    i32 => "i", "bhilqn";
    u64 => "Q", "BHILQN";
    i64 => "q", "bhilqn";
    f32 => "f", "f";
    f64 => "d", "d";
}

/// Owned arrays of [`Element`]s to lend with
/// [`Buffer::lend_elements`]: `Vec<T>` and `Box<[T]>`. Sealed.
pub trait Elements: sealed::SealedElements + Send + 'static {
    type Element: Element;
    #[doc(hidden)]
    fn elements(&self) -> &[Self::Element];
    #[doc(hidden)]
    fn elements_mut(&mut self) -> &mut [Self::Element];
}

impl<T: Element> sealed::SealedElements for Vec<T> {}
impl<T: Element> Elements for Vec<T> {
    type Element = T;
    fn elements(&self) -> &[T] {
        self
    }
    fn elements_mut(&mut self) -> &mut [T] {
        self
    }
}

impl<T: Element> sealed::SealedElements for Box<[T]> {}
impl<T: Element> Elements for Box<[T]> {
    type Element = T;
    fn elements(&self) -> &[T] {
        self
    }
    fn elements_mut(&mut self) -> &mut [T] {
        self
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::mpsc;

    use super::*;
    use crate::{ContextOptions, Runtime, RuntimeOptions, Value};

    fn scoped_i32<R>(latch: &Arc<Latch>, data: &[i32], f: impl FnOnce(&Buffer) -> R) -> Result<R> {
        let (ptr, len) = (data.as_ptr() as *mut c_void, std::mem::size_of_val(data));
        Buffer::scoped_latched(Arc::clone(latch), ptr, len, false, i32::FORMAT, f)
    }

    #[test]
    fn scoped_returns_once_the_finalizer_ran_exactly_once() {
        let rt = Runtime::get_or_init(&RuntimeOptions::new()).unwrap();
        let ctx = rt.context(&ContextOptions::new()).unwrap();
        let data = [5i32, -7, 100];
        let latch = Arc::new(Latch::default());
        let (sum, runs_inside) = scoped_i32(&latch, &data, |b| {
            let sum = ctx.call_with("builtins", "sum").arg(Value::Buffer(0)).attach(b).run().unwrap();
            (sum, latch.runs.load(Ordering::SeqCst))
        })
        .unwrap();
        assert_eq!(sum, Value::Int(98));
        assert_eq!(runs_inside, 0, "the handle still held the loan");
        assert_eq!(latch.runs.load(Ordering::SeqCst), 1);

        // A view Python keeps holds `scoped` until it dies (here: deleted
        // by another thread once `f` has returned).
        ctx.exec("def keep(v):\n    global kept\n    kept = v\n    return v.format").unwrap();
        let latch = Arc::new(Latch::default());
        let (returned_tx, returned_rx) = mpsc::channel::<()>();
        let deleter = {
            let ctx = ctx.clone();
            let latch = Arc::clone(&latch);
            std::thread::spawn(move || {
                returned_rx.recv().unwrap();
                let before = latch.runs.load(Ordering::SeqCst);
                ctx.exec("del kept").unwrap();
                before
            })
        };
        let format = scoped_i32(&latch, &data, |b| {
            let format = ctx.call_with("__main__", "keep").arg(Value::Buffer(0)).attach(b).run().unwrap();
            returned_tx.send(()).unwrap();
            format
        })
        .unwrap();
        assert_eq!(format, Value::from("i"));
        assert_eq!(latch.runs.load(Ordering::SeqCst), 1);
        assert_eq!(deleter.join().unwrap(), 0, "the finalizer waited for Python's view");
        assert_eq!(ctx.buffer_stats().unwrap().lent_views, 0);
    }

    #[test]
    fn scoped_waits_also_when_f_panics() {
        let rt = Runtime::get_or_init(&RuntimeOptions::new()).unwrap();
        let ctx = rt.context(&ContextOptions::new()).unwrap();
        let data = [1i32, 2];
        let latch = Arc::new(Latch::default());
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            scoped_i32(&latch, &data, |b| {
                ctx.call_with("builtins", "len").arg(Value::Buffer(0)).attach(b).run().unwrap();
                panic!("test panic inside scoped");
            })
        }));
        assert!(outcome.is_err());
        assert_eq!(latch.runs.load(Ordering::SeqCst), 1);
    }
}
