use super::*;

#[test]
fn the_nginx_config_wraps_the_server_block_in_the_shared_skeleton() {
    let expected = "worker_processes 1;\n\
         daemon off;\n\
         master_process off;\n\
         pid /run/up/nginx.pid;\n\
         error_log /run/up/nginx-error.log warn;\n\
         events { worker_connections 8192; }\n\
         http {\n\
         \x20 access_log off;\n\
         \x20 client_body_temp_path /run/up/body;\n\
         \x20 proxy_temp_path /run/up/proxy;\n\
         \x20 fastcgi_temp_path /run/up/fastcgi;\n\
         \x20 uwsgi_temp_path /run/up/uwsgi;\n\
         \x20 scgi_temp_path /run/up/scgi;\n\
         \x20 keepalive_requests 1000000000;\n\
         \x20 keepalive_timeout 300s;\n\
         \x20 server {\n\
         \x20   listen 127.0.0.1:8080;\n\
         \x20   location / { default_type text/plain; return 200 \"xxx\"; }\n\
         \x20 }\n\
         }\n";
    assert_eq!(nginx_config(Path::new("/run/up"), 8080, 3), expected);
}

#[test]
fn large_bodies_are_served_from_a_file_under_the_dir() {
    let config = nginx_config(Path::new("/run/up"), 8080, INLINE_BODY_MAX + 1);
    assert!(config.contains(
        "\x20   location / { default_type text/plain; root /run/up/www; try_files /body =404; }\n"
    ));
}

/// Serves `answer_requests` on one end of an in-memory pipe, answering `a` to `GET /a` and
/// `other` to anything else; returns the client end.
fn serve_pipe(close: bool) -> tokio::io::DuplexStream {
    let (client, server) = tokio::io::duplex(1 << 20);
    tokio::spawn(answer_requests(server, close, |request| {
        if request.path == Some("/a") {
            &b"a"[..]
        } else {
            &b"other"[..]
        }
    }));
    client
}

#[tokio::test]
async fn pipelined_heads_are_answered_in_order() {
    let mut client = serve_pipe(false);
    client
        .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut got = [0u8; 6];
    client.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"aother");
}

#[tokio::test]
async fn with_close_only_the_first_head_is_answered() {
    let mut client = serve_pipe(true);
    client
        .write_all(b"GET /a HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"a");
}

#[tokio::test]
async fn an_endless_head_is_dropped_past_the_limit() {
    let mut client = serve_pipe(false);
    let mut head = b"GET /a HTTP/1.1\r\nX-Pad: ".to_vec();
    head.resize(MAX_HEAD_BYTES + 2, b'p');
    client.write_all(&head).await.unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"");
}

#[tokio::test]
async fn a_malformed_head_is_dropped_unanswered() {
    let mut client = serve_pipe(false);
    client
        .write_all(b"\x00\x01 nonsense\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"");
}
