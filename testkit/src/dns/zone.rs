//! The server's mutable table of names and how it answers one query.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

/// How many CNAME hops one answer follows before giving up with SERVFAIL.
const MAX_CNAME_HOPS: usize = 8;
/// The UDP payload size the server advertises with EDNS.
const EDNS_PAYLOAD: u16 = 1232;

/// The records of one name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Entry {
    pub(crate) a: Option<(Vec<Ipv4Addr>, u32)>,
    pub(crate) aaaa: Option<(Vec<Ipv6Addr>, u32)>,
    pub(crate) cname: Option<(String, u32)>,
}

/// Every name the server knows, and how often each was asked for.
#[derive(Debug, Default)]
pub(crate) struct Zone {
    pub(crate) names: HashMap<String, Entry>,
    pub(crate) counts: HashMap<String, usize>,
    /// TTL of the SOA sent with NXDOMAIN answers (how long resolvers may cache them).
    pub(crate) negative_ttl: u32,
}

/// The table key for `name`: lowercase, without the trailing dot.
pub(crate) fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Entry {
    /// The shortest TTL among the records of this name (used for NODATA answers).
    fn ttl(&self) -> u32 {
        [
            self.a.as_ref().map(|(_, ttl)| *ttl),
            self.aaaa.as_ref().map(|(_, ttl)| *ttl),
            self.cname.as_ref().map(|(_, ttl)| *ttl),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(0)
    }
}

impl Zone {
    /// Builds the answer to `request` (the encoded-size limit is the caller's business).
    pub(crate) fn answer(&mut self, request: &Message) -> Message {
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.recursion_available = true;
        response.metadata.authoritative = true;
        response.queries = request.queries.clone();
        if request.edns.is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(EDNS_PAYLOAD);
            response.set_edns(edns);
        }
        let query = match request.queries.as_slice() {
            [query] if request.metadata.op_code == OpCode::Query => query.clone(),
            _ => {
                response.metadata.response_code = ResponseCode::FormErr;
                return response;
            }
        };
        *self
            .counts
            .entry(key(&query.name().to_ascii()))
            .or_default() += 1;
        if query.query_class() != DNSClass::IN {
            response.metadata.response_code = ResponseCode::Refused;
            return response;
        }

        let mut owner = query.name().clone();
        for _ in 0..MAX_CNAME_HOPS {
            let Some(entry) = self.names.get(&key(&owner.to_ascii())).cloned() else {
                // unknown name: NXDOMAIN, after whatever CNAMEs led here
                response.metadata.response_code = ResponseCode::NXDomain;
                response.add_authority(soa(self.negative_ttl));
                return response;
            };
            if let Some((target, ttl)) = &entry.cname
                && query.query_type() != RecordType::CNAME
            {
                let target = Name::from_ascii(format!("{}.", key(target))).unwrap();
                response.add_answer(Record::from_rdata(
                    owner.clone(),
                    *ttl,
                    RData::CNAME(CNAME(target.clone())),
                ));
                owner = target;
                continue;
            }
            let records = records(&entry, &owner, query.query_type());
            if records.is_empty() {
                // NODATA: the name exists, without records of this type
                response.add_authority(soa(entry.ttl()));
            }
            response.add_answers(records);
            return response;
        }
        response.answers.clear();
        response.metadata.response_code = ResponseCode::ServFail;
        response
    }
}

/// The records of `entry` of type `rtype`, owned by `owner`.
fn records(entry: &Entry, owner: &Name, rtype: RecordType) -> Vec<Record> {
    let record = |ttl: u32, data: RData| Record::from_rdata(owner.clone(), ttl, data);
    match rtype {
        RecordType::A => entry
            .a
            .iter()
            .flat_map(|(ips, ttl)| ips.iter().map(|ip| record(*ttl, RData::A(A(*ip)))))
            .collect(),
        RecordType::AAAA => entry
            .aaaa
            .iter()
            .flat_map(|(ips, ttl)| ips.iter().map(|ip| record(*ttl, RData::AAAA(AAAA(*ip)))))
            .collect(),
        RecordType::CNAME => entry
            .cname
            .iter()
            .map(|(target, ttl)| {
                let target = Name::from_ascii(format!("{}.", key(target))).unwrap();
                record(*ttl, RData::CNAME(CNAME(target)))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The SOA record of the root zone the server pretends to serve; `ttl` is also its minimum, so
/// a resolver caches the negative answer for exactly `ttl` seconds.
fn soa(ttl: u32) -> Record {
    let mname = Name::from_ascii("ns.testkit.").unwrap();
    let rname = Name::from_ascii("hostmaster.testkit.").unwrap();
    Record::from_rdata(
        Name::root(),
        ttl,
        RData::SOA(SOA::new(mname, rname, 1, 3600, 600, 86400, ttl)),
    )
}
