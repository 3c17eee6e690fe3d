//! The mandatory ranges and the IPv6 forms that embed an IPv4 address.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::{EmbedForm, Embedding};

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    // Evaluated at compile time only: an invalid prefix fails the build, never a request.
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// The mandatory IPv4 ranges. A range contained in a later one comes first, so a match reports
/// the most specific reason.
pub(crate) const MANDATORY_V4: [Ipv4Net; 13] = [
    v4(0, 0, 0, 0, 8),
    v4(10, 0, 0, 0, 8),
    v4(100, 64, 0, 0, 10),
    v4(127, 0, 0, 0, 8),
    v4(169, 254, 0, 0, 16),
    v4(172, 16, 0, 0, 12),
    v4(192, 0, 0, 0, 24),
    v4(192, 168, 0, 0, 16),
    v4(198, 18, 0, 0, 15),
    v4(224, 0, 0, 0, 4),
    v4(255, 255, 255, 255, 32),
    v4(240, 0, 0, 0, 4),
    // Azure's wire server (platform DNS, metadata agent).
    v4(168, 63, 129, 16, 32),
];

/// The mandatory IPv6 ranges (the embedded-IPv4 forms are checked by [`embeddings`]).
pub(crate) const MANDATORY_V6: [Ipv6Net; 9] = [
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128),
    // AWS's IPv6 instance metadata service, inside fc00::/7.
    v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
    // The local-use NAT64 prefix (RFC 8215): translates to whatever the operator routes.
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),
    // IPv4-translated addresses (RFC 2765 SIIT).
    v6([0, 0, 0, 0, 0xffff, 0, 0, 0], 96),
];

const NAT64_PREFIX_96: u128 = 0x0064_ff9b_0000_0000_0000_0000;
const SIX_TO_FOUR_PREFIX_16: u128 = 0x2002;
const TEREDO_PREFIX_32: u128 = 0x2001_0000;

/// The IPv4 addresses embedded in `ip` (Teredo carries two), without allocating.
pub(crate) fn embeddings(ip: Ipv6Addr) -> [Option<Embedding>; 2] {
    let bits = u128::from(ip);
    let at = |shift: u32| low32(bits >> shift);
    let one = |form: EmbedForm, ipv4: u32| {
        [
            Some(Embedding {
                form,
                ipv4: Ipv4Addr::from(ipv4),
            }),
            None,
        ]
    };
    if bits >> 32 == 0xffff {
        one(EmbedForm::Mapped, at(0))
    } else if bits >> 32 == 0 {
        one(EmbedForm::Compatible, at(0))
    } else if bits >> 32 == NAT64_PREFIX_96 {
        one(EmbedForm::Nat64, at(0))
    } else if bits >> 112 == SIX_TO_FOUR_PREFIX_16 {
        one(EmbedForm::SixToFour, at(80))
    } else if bits >> 96 == TEREDO_PREFIX_32 {
        [
            Some(Embedding {
                form: EmbedForm::TeredoServer,
                ipv4: Ipv4Addr::from(at(64)),
            }),
            Some(Embedding {
                form: EmbedForm::TeredoClient,
                ipv4: Ipv4Addr::from(!at(0)),
            }),
        ]
    } else {
        [None, None]
    }
}

/// The low 32 bits of `bits`.
fn low32(bits: u128) -> u32 {
    u32::try_from(bits & 0xffff_ffff).unwrap_or(0)
}
