//! `Text`, the string of a decoded `Value::Str`: up to `INLINE` bytes (every IPv4 address, most
//! labels) live inside the value itself, longer text in one heap box. A 10,000-IP `status`
//! reply then decodes without 10,000 heap strings: their malloc and free were a quarter of the
//! decoder's instructions, and the heap they touched was trimmed back to the OS and faulted in
//! again on every decode. It reads as a `&str` (`Deref`), so users of `Value` see a string.

use std::fmt;
use std::ops::Deref;

/// Bytes of text held without a heap allocation: the most that keeps `Text` at 24 bytes (the
/// size of the `String` it replaces, so `Value` stays 32).
const INLINE: usize = 22;

/// An immutable string, inline up to `INLINE` bytes.
#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    /// `bytes[..len]` is UTF-8: every constructor takes it from a `&str` or from a string the
    /// decoder validated when it read it. (`as_str` checks again, as it must without `unsafe`:
    /// a broken promise would read as "", never as anything unsound.)
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    Heap(Box<str>),
}

impl Text {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Without `unsafe`, a `&str` over bytes is had only by checking them again: ASCII of
            // at most `INLINE` bytes, a few instructions, and no allocation.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Heap(s) => s,
        }
    }

    /// Text of `buf[range]`, which the decoder found to be UTF-8 when it read it (`None` if a
    /// long one is not, after all). A short one is copied as the fixed `INLINE` bytes from its
    /// start when `buf` has them: a copy of fixed size is two wide moves, where a copy of the
    /// string's own length is a byte loop whose narrow stores stall the wide loads that move
    /// the `Value` next (that stall was an eighth of the decode). The bytes past the text are
    /// never read.
    #[inline(always)]
    pub(super) fn from_checked_in(buf: &[u8], range: std::ops::Range<usize>) -> Option<Text> {
        let len = range.len();
        match buf.get(range.start..range.start + INLINE) {
            Some(window) if len <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes.copy_from_slice(window);
                Some(Text(Repr::Inline {
                    len: len as u8,
                    bytes,
                }))
            }
            _ => Text::from_utf8(buf.get(range)?),
        }
    }

    /// Text of `b`, `None` if it is not UTF-8.
    fn from_utf8(b: &[u8]) -> Option<Text> {
        std::str::from_utf8(b).ok().map(Text::from)
    }

    /// `b`, UTF-8 of at most `INLINE` bytes, held inline.
    fn inline(b: &[u8]) -> Text {
        let mut bytes = [0; INLINE];
        bytes[..b.len()].copy_from_slice(b);
        Text(Repr::Inline {
            len: b.len() as u8,
            bytes,
        })
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        if s.len() <= INLINE {
            Text::inline(s.as_bytes())
        } else {
            Text(Repr::Heap(s.into()))
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_inline_and_long_text_is_boxed() {
        assert_eq!(std::mem::size_of::<Text>(), 24);
        for s in ["", "198.18.39.250", &"x".repeat(INLINE), "é€😀"] {
            let t = Text::from(s);
            assert!(matches!(t.0, Repr::Inline { .. }), "{s:?}");
            assert_eq!(t.as_str(), s);
        }
        for s in [&"x".repeat(INLINE + 1), "2001:db8:85a3::8a2e:370:7334"] {
            let t = Text::from(s);
            assert!(matches!(t.0, Repr::Heap(_)), "{s:?}");
            assert_eq!(&*t, s);
        }
    }

    #[test]
    fn text_is_read_from_its_range_of_the_input_and_nothing_else() {
        let buf = b"x10.0.0.1......................";
        assert_eq!(
            Text::from_checked_in(buf, 1..9).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            Text::from_checked_in(&buf[..9], 1..9).as_deref(),
            Some("10.0.0.1")
        );
        let n = INLINE + 1;
        assert_eq!(Text::from_checked_in(&vec![0xff; n], 0..n), None);
        // A broken promise is an empty string, not undefined behaviour.
        assert_eq!(
            Text::from_checked_in(&[0xff; INLINE], 0..4).as_deref(),
            Some("")
        );
        // Short text at the very end of the input has no window: it is checked as it is copied.
        assert_eq!(Text::from_checked_in(&[0xff; 4], 0..4), None);
    }
}
