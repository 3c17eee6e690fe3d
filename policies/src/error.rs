//! The crate's errors: a positioned policy-load error and the authority parser's refusals.

use std::fmt;

/// One problem found while loading policy files, with where it is.
///
/// `line` and `column` are 1-based. A problem with a whole file (it cannot be read, is not
/// UTF-8, is too large) or with the directory itself has `line == 0` and `column == 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The file name, relative to the policy directory.
    pub file: String,
    /// 1-based line (0 when the problem is the whole file).
    pub line: usize,
    /// 1-based column in characters (0 when the problem is the whole file).
    pub column: usize,
    /// A plain sentence: what is wrong and, where possible, how to fix it.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for PolicyError {}

/// Why a CONNECT target or absolute-URI authority was refused as malformed.
///
/// The variants carry no part of the input: an authority can hold userinfo (a password), and
/// these errors end up in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    /// The authority or its host is empty.
    #[error("the authority has an empty host")]
    EmptyHost,
    /// The authority is longer than any valid one.
    #[error("the authority is too long")]
    TooLong,
    /// The authority carries userinfo (`user@host`).
    #[error("the authority carries userinfo")]
    Userinfo,
    /// The authority holds a space, a control character, a percent-escape or another character
    /// that no authority may contain.
    #[error("the authority holds a character that is not allowed")]
    InvalidCharacter,
    /// The port is empty, zero, above 65535, signed or not all digits.
    #[error("the port is not a number from 1 to 65535")]
    InvalidPort,
    /// No port was given and there is no default for this kind of request.
    #[error("the authority has no port")]
    MissingPort,
    /// More than one `:` outside brackets (an unbracketed IPv6 address, or junk).
    #[error("the authority has more than one colon outside brackets")]
    TooManyColons,
    /// A bracketed literal that is not a valid IPv6 address, or stray brackets.
    #[error("the bracketed address is not a valid IPv6 address")]
    InvalidIpv6,
    /// An IPv6 literal with a zone id (`[fe80::1%25eth0]`).
    #[error("the IPv6 address carries a zone id")]
    ZoneId,
    /// The host ends in a number but is not a valid IPv4 address in any spelling.
    #[error("the host looks numeric but is not a valid IPv4 address")]
    InvalidIpv4,
    /// The host name is not a valid DNS name (IDNA failure, bad label, too long).
    #[error("the host name is not a valid DNS name")]
    InvalidHost,
}
