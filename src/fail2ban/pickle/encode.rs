//! The request encoder: a fail2ban command as protocol 2 pickle bytes plus the terminator.

use std::fmt;

use super::*;

/// A request argument fail2ban would misread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    /// Index of the offending argument.
    pub index: usize,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "argument {} contains <F2B_END_COMMAND>, which would split the command",
            self.index + 1
        )
    }
}

impl std::error::Error for EncodeError {}

/// Encode a fail2ban request: protocol 2 `PROTO 2, EMPTY_LIST, MARK`, a `BINUNICODE` per
/// argument, `APPENDS, STOP`, then the terminator.
pub fn encode_command<S: AsRef<str>>(args: &[S]) -> Result<Vec<u8>, EncodeError> {
    let len: usize = args.iter().map(|a| a.as_ref().len() + 5).sum();
    let mut out = Vec::with_capacity(len + 6 + TERMINATOR.len());
    out.extend_from_slice(&[PROTO, 2, EMPTY_LIST, MARK]);
    for (index, arg) in args.iter().enumerate() {
        let arg = arg.as_ref().as_bytes();
        if arg.windows(TERMINATOR.len()).any(|w| w == TERMINATOR) {
            return Err(EncodeError { index });
        }
        out.push(BINUNICODE);
        out.extend_from_slice(&(arg.len() as u32).to_le_bytes());
        out.extend_from_slice(arg);
    }
    out.extend_from_slice(&[APPENDS, STOP]);
    out.extend_from_slice(TERMINATOR);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_protocol_2_requests_and_refuses_the_terminator() {
        let out = encode_command(&["ping"]).unwrap();
        assert_eq!(
            out,
            [&b"\x80\x02](X\x04\x00\x00\x00pinge."[..], TERMINATOR].concat()
        );
        assert_eq!(
            encode_command(&["set", "x<F2B_END_COMMAND>"]),
            Err(EncodeError { index: 1 })
        );
    }
}
