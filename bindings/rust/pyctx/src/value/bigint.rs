//! `BigInt`: integers beyond `i128`, as Python's `int` can hold them.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// An integer of any size: a sign and a big-endian magnitude.
///
/// [`Value::Int`](crate::Value::Int) holds everything that fits `i128`; the
/// decoder uses [`Value::BigInt`](crate::Value::BigInt) only beyond that.
///
/// ```
/// use pyctx::BigInt;
/// let n: BigInt = "-340282366920938463463374607431768211456".parse().unwrap();
/// assert!(n.is_negative());
/// assert_eq!(n.to_i128(), None);
/// assert_eq!(n.to_string(), "-340282366920938463463374607431768211456");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BigInt {
    negative: bool,
    /// Big-endian, no leading zero bytes; empty for zero.
    magnitude: Vec<u8>,
}

impl BigInt {
    /// The integer `(-1 if negative else 1) * magnitude`, the magnitude in
    /// big-endian bytes (leading zeros allowed).
    pub fn from_sign_magnitude(negative: bool, magnitude: &[u8]) -> BigInt {
        let start = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
        let magnitude = magnitude[start..].to_vec();
        BigInt { negative: negative && !magnitude.is_empty(), magnitude }
    }

    /// True below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The absolute value, big-endian, without leading zero bytes.
    pub fn magnitude(&self) -> &[u8] {
        &self.magnitude
    }

    /// The value as `i128` when it fits.
    pub fn to_i128(&self) -> Option<i128> {
        if self.magnitude.len() > 16 {
            return None;
        }
        let abs = self.magnitude.iter().fold(0u128, |acc, &b| (acc << 8) | u128::from(b));
        if self.negative {
            if abs <= i128::MAX as u128 + 1 { Some((abs as i128).wrapping_neg()) } else { None }
        } else {
            i128::try_from(abs).ok()
        }
    }

    /// Divides the magnitude in place by `divisor`, returning the remainder.
    fn div_rem_small(magnitude: &mut Vec<u8>, divisor: u32) -> u32 {
        let mut rem: u64 = 0;
        for byte in magnitude.iter_mut() {
            let cur = (rem << 8) | u64::from(*byte);
            *byte = (cur / u64::from(divisor)) as u8;
            rem = cur % u64::from(divisor);
        }
        let start = magnitude.iter().position(|&b| b != 0).unwrap_or(magnitude.len());
        magnitude.drain(..start);
        rem as u32
    }

    /// magnitude = magnitude * mul + add.
    fn mul_add_small(magnitude: &mut Vec<u8>, mul: u32, add: u32) {
        let mut carry = u64::from(add);
        for byte in magnitude.iter_mut().rev() {
            let cur = u64::from(*byte) * u64::from(mul) + carry;
            *byte = cur as u8;
            carry = cur >> 8;
        }
        while carry > 0 {
            magnitude.insert(0, carry as u8);
            carry >>= 8;
        }
    }
}

impl From<i128> for BigInt {
    fn from(v: i128) -> BigInt {
        BigInt::from_sign_magnitude(v < 0, &v.unsigned_abs().to_be_bytes())
    }
}

impl From<u128> for BigInt {
    fn from(v: u128) -> BigInt {
        BigInt::from_sign_magnitude(false, &v.to_be_bytes())
    }
}

impl From<i64> for BigInt {
    fn from(v: i64) -> BigInt {
        BigInt::from(i128::from(v))
    }
}

impl From<u64> for BigInt {
    fn from(v: u64) -> BigInt {
        BigInt::from(u128::from(v))
    }
}

impl Ord for BigInt {
    fn cmp(&self, other: &BigInt) -> Ordering {
        let by_magnitude = self
            .magnitude
            .len()
            .cmp(&other.magnitude.len())
            .then_with(|| self.magnitude.cmp(&other.magnitude));
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => by_magnitude,
            (true, true) => by_magnitude.reverse(),
        }
    }
}

impl PartialOrd for BigInt {
    fn partial_cmp(&self, other: &BigInt) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Peel off 9 decimal digits at a time.
        const CHUNK: u32 = 1_000_000_000;
        let mut rest = self.magnitude.clone();
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            chunks.push(BigInt::div_rem_small(&mut rest, CHUNK));
        }
        let mut text = String::new();
        if self.negative {
            text.push('-');
        }
        match chunks.split_last() {
            None => text.push('0'),
            Some((first, lower)) => {
                text.push_str(&first.to_string());
                for chunk in lower.iter().rev() {
                    text.push_str(&format!("{chunk:09}"));
                }
            }
        }
        f.pad_integral(!self.negative, "", text.trim_start_matches('-'))
    }
}

impl fmt::Debug for BigInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BigInt({self})")
    }
}

impl FromStr for BigInt {
    type Err = Error;

    /// Parses a decimal integer with an optional sign.
    fn from_str(s: &str) -> Result<BigInt, Error> {
        let (negative, digits) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid_argument(format!("not a decimal integer: {s:?}")));
        }
        let mut magnitude = Vec::new();
        for d in digits.bytes() {
            BigInt::mul_add_small(&mut magnitude, 10, u32::from(d - b'0'));
        }
        Ok(BigInt::from_sign_magnitude(negative, &magnitude))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i128_round_trips_at_the_edges() {
        for v in [0i128, 1, -1, 255, -256, i128::MAX, i128::MIN, i64::MIN as i128 - 1] {
            assert_eq!(BigInt::from(v).to_i128(), Some(v), "{v}");
            assert_eq!(BigInt::from(v).to_string(), v.to_string());
            assert_eq!(v.to_string().parse::<BigInt>().unwrap(), BigInt::from(v));
        }
    }

    #[test]
    fn beyond_i128_does_not_fit() {
        let big = BigInt::from(u128::MAX);
        assert_eq!(big.to_i128(), None);
        assert_eq!(big.to_string(), u128::MAX.to_string());
        let below_min: BigInt = "-170141183460469231731687303715884105729".parse().unwrap();
        assert_eq!(below_min.to_i128(), None);
    }

    #[test]
    fn zero_has_no_sign_and_ordering_is_numeric() {
        assert_eq!(BigInt::from_sign_magnitude(true, &[0, 0]), BigInt::from(0i128));
        let a: BigInt = "-100000000000000000000000000000000000000000".parse().unwrap();
        let b = BigInt::from(-5i128);
        let c: BigInt = "100000000000000000000000000000000000000000".parse().unwrap();
        assert!(a < b && b < c && a < c);
    }

    #[test]
    fn bad_text_is_rejected() {
        for bad in ["", "-", "12a", "1.5", " 1"] {
            assert!(bad.parse::<BigInt>().is_err(), "{bad:?}");
        }
    }
}
