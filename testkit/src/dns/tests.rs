use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::DnsServer;

fn query(name: &str, rtype: RecordType) -> Message {
    let mut message = Message::query();
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    message.metadata.recursion_desired = true;
    message
}

async fn ask_udp(server: &DnsServer, name: &str, rtype: RecordType) -> Message {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let request = query(name, rtype);
    socket
        .send_to(&request.to_vec().unwrap(), server.addr())
        .await
        .unwrap();
    let mut buf = vec![0_u8; 4096];
    let (len, _) = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.recv_from(&mut buf),
    )
    .await
    .unwrap()
    .unwrap();
    let response = Message::from_vec(&buf[..len]).unwrap();
    assert_eq!(response.metadata.id, request.metadata.id);
    response
}

fn ips(message: &Message) -> Vec<IpAddr> {
    message
        .answers
        .iter()
        .filter_map(|r| r.data.ip_addr())
        .collect()
}

#[tokio::test]
async fn answers_a_and_aaaa_over_udp_and_counts_queries() {
    let dns = DnsServer::start().await;
    dns.set_a("Example.Test.", &[Ipv4Addr::new(93, 184, 216, 34)], 60);
    dns.set_aaaa(
        "example.test",
        &["2606:4700::1111".parse::<Ipv6Addr>().unwrap()],
        60,
    );

    let a = ask_udp(&dns, "example.test.", RecordType::A).await;
    assert_eq!(a.metadata.response_code, ResponseCode::NoError);
    assert_eq!(ips(&a), vec![IpAddr::from([93, 184, 216, 34])]);
    assert_eq!(a.answers[0].ttl, 60);
    let aaaa = ask_udp(&dns, "EXAMPLE.test.", RecordType::AAAA).await;
    assert_eq!(
        ips(&aaaa),
        vec!["2606:4700::1111".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(dns.query_count("example.test"), 2);
    assert_eq!(dns.query_count("other.test"), 0);
    dns.stop().await;
}

#[tokio::test]
async fn unknown_names_get_nxdomain_and_known_names_nodata() {
    let dns = DnsServer::start().await;
    dns.set_negative_ttl(7);
    dns.set_a("v4only.test", &[Ipv4Addr::new(1, 1, 1, 1)], 30);

    let missing = ask_udp(&dns, "missing.test.", RecordType::A).await;
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    assert!(missing.answers.is_empty());
    assert_eq!(missing.authorities[0].ttl, 7);

    let nodata = ask_udp(&dns, "v4only.test.", RecordType::AAAA).await;
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty());
    assert_eq!(nodata.authorities[0].ttl, 30);

    dns.remove("v4only.test");
    let removed = ask_udp(&dns, "v4only.test.", RecordType::A).await;
    assert_eq!(removed.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(dns.query_count("missing.test"), 1);
    assert_eq!(dns.query_count("v4only.test"), 2);
}

#[tokio::test]
async fn cname_answers_carry_the_chain_and_the_target_records() {
    let dns = DnsServer::start().await;
    dns.set_cname("alias.test", "hop.test", 300);
    dns.set_cname("hop.test", "internal.test", 300);
    dns.set_a("internal.test", &[Ipv4Addr::new(10, 0, 0, 1)], 5);

    let answer = ask_udp(&dns, "alias.test.", RecordType::A).await;
    let kinds: Vec<RecordType> = answer.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(
        kinds,
        vec![RecordType::CNAME, RecordType::CNAME, RecordType::A]
    );
    match &answer.answers[0].data {
        RData::CNAME(target) => assert_eq!(target.0.to_ascii(), "hop.test."),
        other => panic!("expected a CNAME, got {other:?}"),
    }
    assert_eq!(ips(&answer), vec![IpAddr::from([10, 0, 0, 1])]);
    assert_eq!(dns.query_count("alias.test"), 1);
    assert_eq!(dns.query_count("internal.test"), 0);

    dns.set_cname("loop.test", "loop.test", 1);
    let looped = ask_udp(&dns, "loop.test.", RecordType::A).await;
    assert_eq!(looped.metadata.response_code, ResponseCode::ServFail);
}

#[tokio::test]
async fn answers_over_tcp_on_the_same_port_and_sees_table_changes() {
    let dns = DnsServer::start().await;
    dns.set_a("flip.test", &[Ipv4Addr::new(93, 184, 216, 34)], 0);
    let mut stream = TcpStream::connect(dns.addr()).await.unwrap();
    for expected in [[93, 184, 216, 34], [10, 0, 0, 1]] {
        let request = query("flip.test.", RecordType::A).to_vec().unwrap();
        stream.write_u16(request.len() as u16).await.unwrap();
        stream.write_all(&request).await.unwrap();
        let len = stream.read_u16().await.unwrap();
        let mut buf = vec![0_u8; usize::from(len)];
        stream.read_exact(&mut buf).await.unwrap();
        let response = Message::from_vec(&buf).unwrap();
        assert_eq!(ips(&response), vec![IpAddr::from(expected)]);
        dns.set_a("flip.test", &[Ipv4Addr::new(10, 0, 0, 1)], 0);
    }
    assert_eq!(dns.query_count("flip.test"), 2);
    drop(stream);
    dns.stop().await;
}
