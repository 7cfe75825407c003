//! Durations to the C API's `timeout_ms`.

use std::time::Duration;

use crate::ffi;

/// `None` is no deadline. A deadline rounds up to whole milliseconds and is
/// at least 1 ms (0 means "no deadline" in C, which a zero Duration must not
/// become); beyond `u32::MAX` ms (~49 days) it is clamped.
pub(crate) fn to_ms(timeout: Option<Duration>) -> u32 {
    match timeout {
        None => ffi::PYCTX_NO_TIMEOUT,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000);
            u32::try_from(ms).unwrap_or(u32::MAX).max(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_and_never_means_no_deadline() {
        assert_eq!(to_ms(None), 0);
        assert_eq!(to_ms(Some(Duration::ZERO)), 1);
        assert_eq!(to_ms(Some(Duration::from_micros(1500))), 2);
        assert_eq!(to_ms(Some(Duration::from_millis(250))), 250);
        assert_eq!(to_ms(Some(Duration::from_secs(u64::MAX))), u32::MAX);
    }
}
