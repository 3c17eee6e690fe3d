//! A test host in its own network namespace, reached over a veth pair at a TEST-NET-2 address
//! (198.51.100.0/24): outside the mandatory deny-set, unlike loopback, so an edge may dial it.
//! Needs root and iproute2 (`scripts/test.sh` installs it). Everything is removed on drop.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// An HTTP server (Python's `http.server`) in a namespace of its own.
pub struct NetnsHost {
    name: String,
    host_if: String,
    addr: SocketAddr,
    server: Child,
}

fn ip(args: &[&str]) {
    let status = Command::new("ip")
        .args(args)
        .status()
        .expect("iproute2 is installed");
    assert!(status.success(), "ip {}", args.join(" "));
}

impl NetnsHost {
    /// Creates the namespace and veth pair, and starts the server on port 8080.
    pub fn start() -> NetnsHost {
        let n = (std::process::id() % 16) * 4 + NEXT.fetch_add(1, Ordering::SeqCst) % 4;
        let name = format!("te{}-{n}", std::process::id() % 100_000);
        let (host_if, ns_if) = (format!("{name}h"), format!("{name}n"));
        let base = (n % 64) * 4;
        let host_ip = Ipv4Addr::new(198, 51, 100, (base + 1) as u8);
        let ns_ip = Ipv4Addr::new(198, 51, 100, (base + 2) as u8);
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &host_if])
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", &name]);
        ip(&[
            "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if,
        ]);
        ip(&["link", "set", &ns_if, "netns", &name]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&[
            "netns",
            "exec",
            &name,
            "ip",
            "addr",
            "add",
            &format!("{ns_ip}/30"),
            "dev",
            &ns_if,
        ]);
        ip(&["netns", "exec", &name, "ip", "link", "set", &ns_if, "up"]);
        ip(&["netns", "exec", &name, "ip", "link", "set", "lo", "up"]);
        let dir = std::env::temp_dir();
        let server = Command::new("ip")
            .args([
                "netns",
                "exec",
                &name,
                "python3",
                "-m",
                "http.server",
                "8080",
                "--bind",
                &ns_ip.to_string(),
            ])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs");
        let addr = SocketAddr::from((ns_ip, 8080));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the namespace host did not come up"
            );
            std::thread::sleep(Duration::from_millis(50)); // poll interval
        }
        NetnsHost {
            name,
            host_if,
            addr,
            server,
        }
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for NetnsHost {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_if])
            .stderr(Stdio::null())
            .status();
    }
}
