//! The edge host's own interface addresses, for the deny-set.

use std::io;
use std::net::IpAddr;

/// Every address of every interface of this host, sorted and without duplicates.
///
/// The edge calls this periodically and swaps the result into its deny-set
/// (`DenySet::with_host_addresses`).
///
/// # Errors
/// The operating system's error when the interfaces cannot be listed; the caller keeps the
/// addresses it had (failing closed), rather than an empty list.
pub fn host_addresses() -> io::Result<Vec<IpAddr>> {
    let mut addrs: Vec<IpAddr> = if_addrs::get_if_addrs()?
        .iter()
        .map(|interface| interface.ip())
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    Ok(addrs)
}
