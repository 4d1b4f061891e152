//! Networks of containers end to end, through `run` (issue 10): the
//! default network, published ports, user-defined networks and their
//! names, host access and its loopback boundary, the helper's lifecycle,
//! and the errors where the machine forbids it. As both test users.

mod common;

use common::{each_user, main_user, stderr, stdout, Berth};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// The test that closes /dev/net/tun takes this for writing; every other
/// test holds it for reading while it runs containers.
static TUN: RwLock<()> = RwLock::new(());

/// busybox httpd serving `text` on port 8080 of the container.
fn httpd(text: &str) -> String {
    format!("mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 8080 -h /www")
}

/// The host's own (non-loopback) IPv4 address: the source address of its
/// default route.
fn host_address() -> Ipv4Addr {
    let s = UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("203.0.113.1:9").unwrap();
    match s.local_addr().unwrap() {
        SocketAddr::V4(a) => *a.ip(),
        other => panic!("no IPv4 host address: {other}"),
    }
}

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Two consecutive ports that were free a moment ago.
fn free_pair() -> u16 {
    loop {
        let p = free_port();
        if p < u16::MAX && TcpListener::bind(("0.0.0.0", p + 1)).is_ok() {
            return p;
        }
    }
}

/// `curl -s --max-time 5 URL`: the body, or None when it failed.
fn curl(url: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-s", "-g", "--max-time", "5", url])
        .output()
        .expect("running curl (scripts/test.sh installs it)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Retries `curl` while the container's server starts.
fn curl_until(url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(body) = curl(url) {
            return body;
        }
        assert!(Instant::now() < deadline, "{url} never answered");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tiny HTTP server on the host: answers every request with `tag`.
struct HostServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl HostServer {
    fn start(bind: &str, tag: &str) -> HostServer {
        let l = TcpListener::bind(bind).unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (tag, flag) = (tag.to_string(), stop.clone());
        std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 1024];
                        let _ = s.read(&mut buf);
                        let body = format!("{tag}\n");
                        let _ = write!(
                            s,
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        HostServer { port, stop }
    }
}

impl Drop for HostServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn inspect(b: &Berth, what: &[&str]) -> serde_json::Value {
    let mut argv = vec!["inspect"];
    argv.extend_from_slice(what);
    common::inspect_json(&b.ok(&argv)).remove(0)
}

#[test]
fn default_network_published_ports_and_conflicts() {
    let _tun = TUN.read().unwrap();
    let host = host_address();
    each_user(|b| {
        b.load_busybox();
        // The default network: eth0 with an address, a default route, MTU 65520.
        let out = b.run_rm("busybox", &["sh", "-c", "ip -o addr show eth0; ip route; cat /sys/class/net/eth0/mtu; cat /etc/resolv.conf /etc/hosts"]);
        assert!(out.contains("inet 172."), "{out}");
        assert!(out.contains("default via 172."), "{out}");
        assert!(out.contains("\n65520\n"), "{out}");
        assert!(
            out.contains("host.docker.internal host.containers.internal"),
            "{out}"
        );
        let gw = out
            .lines()
            .find_map(|l| l.strip_prefix("default via "))
            .and_then(|l| l.split_whitespace().next())
            .unwrap()
            .to_string();
        assert!(out.contains(&format!("nameserver {gw}\n")), "{out}");

        let p1 = free_port();
        let id = b.ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "-p",
            &format!("{p1}:8080"),
            "-p",
            "127.0.0.1::8080",
            "--expose",
            "7000",
            "busybox",
            "sh",
            "-c",
            &httpd("hello"),
        ]);
        let id = id.trim();
        // From the host, on loopback and on the host's own address.
        assert_eq!(curl_until(&format!("http://127.0.0.1:{p1}/")), "hello\n");
        assert_eq!(
            curl(&format!("http://{host}:{p1}/")).as_deref(),
            Some("hello\n")
        );
        assert_eq!(
            curl(&format!("http://[::1]:{p1}/")).as_deref(),
            Some("hello\n")
        );
        // `port`, the random port bound on 127.0.0.1 only.
        let ports = b.ok(&["port", "web"]);
        assert!(
            ports.contains(&format!("8080/tcp -> 0.0.0.0:{p1}\n")),
            "{ports}"
        );
        assert!(
            ports.contains(&format!("8080/tcp -> [::]:{p1}\n")),
            "{ports}"
        );
        let local = ports
            .lines()
            .find_map(|l| l.strip_prefix("8080/tcp -> 127.0.0.1:"))
            .expect("the 127.0.0.1 binding")
            .to_string();
        assert_eq!(
            curl(&format!("http://127.0.0.1:{local}/")).as_deref(),
            Some("hello\n")
        );
        assert_eq!(
            curl(&format!("http://{host}:{local}/")),
            None,
            "127.0.0.1 only"
        );
        assert_eq!(b.ok(&["port", "web", "8080/tcp"]).lines().count(), 3);
        let out = b.status(&["port", "web", "9999"], 1);
        assert!(
            stderr(&out).contains("No public port '9999' published for web"),
            "{}",
            stderr(&out)
        );
        // ps: Docker's PORTS column; the publish= and network= filters.
        let ps = b.ok(&["ps", "--format", "{{.Ports}}|{{.Networks}}"]);
        assert_eq!(
            ps.trim(),
            format!("7000/tcp, 0.0.0.0:{p1}->8080/tcp, 127.0.0.1:{local}->8080/tcp, [::]:{p1}->8080/tcp|bridge")
        );
        assert_eq!(
            b.ok(&["ps", "-q", "-f", &format!("publish={p1}")]).trim(),
            &id[..12]
        );
        assert_eq!(b.ok(&["ps", "-q", "-f", "publish=1/udp"]).trim(), "");
        assert_eq!(
            b.ok(&["ps", "-q", "-f", "network=bridge"]).trim(),
            &id[..12]
        );
        // inspect: NetworkSettings.Ports and HostConfig.PortBindings.
        let j = inspect(b, &["web"]);
        assert_eq!(
            j["HostConfig"]["PortBindings"]["8080/tcp"][0]["HostPort"],
            p1.to_string()
        );
        assert_eq!(
            j["HostConfig"]["PortBindings"]["8080/tcp"][1]["HostIp"],
            "127.0.0.1"
        );
        assert_eq!(
            j["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostIp"],
            "0.0.0.0"
        );
        assert!(j["NetworkSettings"]["Ports"]["7000/tcp"].is_null());
        assert!(j["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
            .as_str()
            .unwrap()
            .starts_with("172."));
        assert_eq!(
            j["NetworkSettings"]["IPAddress"],
            j["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        );

        // A host port in use fails `run` with Docker's words, leaving nothing.
        let before = b.container_ids().len();
        let out = b.status(
            &["run", "-d", "-p", &format!("{p1}:80"), "busybox", "true"],
            125,
        );
        assert!(
            stderr(&out).contains(&format!(
                "listen tcp4 0.0.0.0:{p1}: bind: address already in use"
            )),
            "{}",
            stderr(&out)
        );
        assert_eq!(b.container_ids().len(), before, "nothing left behind");
        // A privileged port names the sysctl.
        let start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if start > 80 && !b.user.is_root() {
            let out = b.status(&["run", "--rm", "-p", "80:80", "busybox", "true"], 125);
            let e = stderr(&out);
            assert!(
                e.contains("net.ipv4.ip_unprivileged_port_start")
                    && e.contains(&format!("is {start}")),
                "{e}"
            );
        }
        // Ports come back after restart (also with an immediate kill: the
        // old monitor lets go of them first), and after stop and start.
        b.ok(&["restart", "-t", "1", "web"]);
        assert_eq!(curl_until(&format!("http://127.0.0.1:{p1}/")), "hello\n");
        b.ok(&["restart", "-t", "0", "web"]);
        assert_eq!(curl_until(&format!("http://127.0.0.1:{p1}/")), "hello\n");
        b.ok(&["stop", "-t", "1", "web"]);
        assert_eq!(b.ok(&["ps", "-a", "--format", "{{.Ports}}"]).trim(), "");
        assert_eq!(b.ok(&["port", "web"]), "");
        b.ok(&["start", "web"]);
        assert_eq!(curl_until(&format!("http://127.0.0.1:{p1}/")), "hello\n");
        b.ok(&["rm", "-f", "web"]);
        assert_eq!(
            curl(&format!("http://127.0.0.1:{p1}/")),
            None,
            "the port is closed"
        );

        // Ranges, and -P for --expose (a random host port each).
        let r = free_pair();
        b.ok(&[
            "run",
            "-d",
            "--name",
            "ranges",
            "-p",
            &format!("127.0.0.1:{r}-{}:8000-8001", r + 1),
            "-P",
            "--expose",
            "9000/udp",
            "busybox",
            "sleep",
            "600",
        ]);
        let ports = b.ok(&["port", "ranges"]);
        assert!(
            ports.contains(&format!("8000/tcp -> 127.0.0.1:{r}\n"))
                && ports.contains(&format!("8001/tcp -> 127.0.0.1:{}\n", r + 1))
                && ports.contains("9000/udp -> 0.0.0.0:"),
            "{ports}"
        );
        b.ok(&["rm", "-f", "ranges"]);

        // `--network host` and `--network none` keep working.
        let out = b.ok(&[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "ls /sys/class/net",
        ]);
        assert_eq!(out, "lo\n");
        let hs = HostServer::start("127.0.0.1:0", "from-host-loopback");
        let out = b.ok(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "wget",
            "-q",
            "-O-",
            &format!("http://127.0.0.1:{}/", hs.port),
        ]);
        assert_eq!(out, "from-host-loopback\n");
    });
}

#[test]
fn user_networks_names_and_lifecycle() {
    let _tun = TUN.read().unwrap();
    each_user(|b| {
        b.load_busybox();
        let front = b.ok(&["network", "create", "--label", "tier=front", "front"]);
        assert_eq!(front.trim().len(), 64);
        b.ok(&[
            "network",
            "create",
            "--subnet",
            "10.231.0.0/24",
            "--gateway",
            "10.231.0.10",
            "back",
        ]);
        let out = b.fails(&["network", "create", "front"]);
        assert!(
            stderr(&out).contains("network with name front already exists"),
            "{}",
            stderr(&out)
        );
        let out = b.fails(&["network", "create", "--subnet", "10.231.0.128/25", "other"]);
        assert!(stderr(&out).contains("Pool overlaps"), "{}", stderr(&out));

        // ls: Docker's columns, sorted by name, the predefined networks too.
        let ls = b.ok(&["network", "ls"]);
        let rows = common::table(&ls);
        assert_eq!(rows[0], ["NETWORK ID", "NAME", "DRIVER", "SCOPE"]);
        let names: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
        assert_eq!(names, ["back", "bridge", "front", "host", "none"]);
        assert_eq!(
            b.ok(&["network", "ls", "-q", "-f", "label=tier=front"])
                .trim(),
            &front.trim()[..12]
        );
        assert_eq!(
            b.ok(&[
                "network",
                "ls",
                "--format",
                "{{.Name}}",
                "-f",
                "type=custom"
            ]),
            "back\nfront\n"
        );
        assert_eq!(
            b.ok(&[
                "network",
                "ls",
                "--format",
                "{{.Name}} {{.Driver}}",
                "-f",
                "driver=null"
            ]),
            "none null\n"
        );
        assert_eq!(
            b.ok(&["network", "ls", "--format", "{{.Name}}", "-f", "name=fro"]),
            "front\n"
        );
        assert_eq!(
            b.fails(&["network", "ls", "-f", "bogus=1"]).status.code(),
            Some(1)
        );

        // Names on the same user network only.
        b.ok(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "front",
            "--network-alias",
            "www",
            "busybox",
            "sh",
            "-c",
            &httpd("front-web"),
        ]);
        let fetch = |net: &str, url: &str| {
            b.cmd(&["run", "--rm", "--network", net, "busybox", "sh", "-c", &format!("for i in 1 2 3 4 5 6 7 8 9 10; do timeout 5 wget -q -O- {url} && exit 0; sleep 0.3; done; exit 1")])
        };
        let out = fetch("front", "http://web:8080/");
        assert_eq!(stdout(&out), "front-web\n", "{}", stderr(&out));
        assert_eq!(stdout(&fetch("front", "http://www:8080/")), "front-web\n");
        let out = b.cmd(&[
            "run",
            "--rm",
            "--network",
            "back",
            "busybox",
            "timeout",
            "5",
            "wget",
            "-q",
            "-O-",
            "http://web:8080/",
        ]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("bad address 'web:8080'"),
            "{}",
            stderr(&out)
        );
        // The default bridge resolves no names (Docker's behaviour).
        let out = b.cmd(&[
            "run",
            "--rm",
            "busybox",
            "timeout",
            "5",
            "wget",
            "-q",
            "-O-",
            "http://web:8080/",
        ]);
        assert!(!out.status.success());
        // --network container:web shares its namespace.
        let out = b.ok(&[
            "run",
            "--rm",
            "--network",
            "container:web",
            "busybox",
            "wget",
            "-q",
            "-O-",
            "http://127.0.0.1:8080/",
        ]);
        assert_eq!(out, "front-web\n");

        // A fixed address (on a network with a user subnet), and concurrent
        // runs never sharing one.
        b.ok(&[
            "run",
            "-d",
            "--name",
            "fixed",
            "--network",
            "back",
            "--ip",
            "10.231.0.77",
            "busybox",
            "sleep",
            "600",
        ]);
        let out = b.fails(&[
            "run",
            "--rm",
            "--network",
            "front",
            "--ip",
            "172.30.0.9",
            "busybox",
            "true",
        ]);
        assert!(
            stderr(&out).contains("user configured subnets"),
            "{}",
            stderr(&out)
        );
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let cmd = b.command(&[
                    "run",
                    "-d",
                    "--name",
                    &format!("c{i}"),
                    "--network",
                    "back",
                    "busybox",
                    "sleep",
                    "600",
                ]);
                std::thread::spawn(move || common::run(cmd))
            })
            .collect();
        for h in handles {
            let out = h.join().unwrap();
            common::assert_success(&out, "a concurrent run");
        }
        let mut ips: Vec<String> = ["fixed", "c0", "c1", "c2", "c3"]
            .iter()
            .map(|c| {
                b.ok(&[
                    "inspect",
                    "--format",
                    "{{.NetworkSettings.Networks.back.IPAddress}}",
                    c,
                ])
                .trim()
                .to_string()
            })
            .collect();
        assert_eq!(ips[0], "10.231.0.77");
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), 5, "distinct addresses: {ips:?}");

        // inspect: Docker's fields.
        let n = common::inspect_json(&b.ok(&["network", "inspect", "back"])).remove(0);
        for key in [
            "Name",
            "Id",
            "Created",
            "Scope",
            "Driver",
            "EnableIPv6",
            "IPAM",
            "Internal",
            "Attachable",
            "Ingress",
            "ConfigFrom",
            "ConfigOnly",
            "Containers",
            "Options",
            "Labels",
        ] {
            assert!(n.get(key).is_some(), "network inspect has no {key}: {n}");
        }
        assert_eq!(n["IPAM"]["Config"][0]["Subnet"], "10.231.0.0/24");
        assert_eq!(n["IPAM"]["Config"][0]["Gateway"], "10.231.0.10");
        assert_eq!(n["Containers"].as_object().unwrap().len(), 5);
        let fixed_id = b.ok(&["inspect", "--format", "{{.Id}}", "fixed"]);
        assert_eq!(
            n["Containers"][fixed_id.trim()]["IPv4Address"],
            "10.231.0.77/24"
        );
        assert_eq!(n["Containers"][fixed_id.trim()]["Name"], "fixed");
        let f = common::inspect_json(&b.ok(&["network", "inspect", "front"])).remove(0);
        assert_eq!(f["Labels"]["tier"], "front");
        assert_eq!(f["Driver"], "bridge");
        assert_eq!(b.ok(&["ps", "-q", "-f", "network=back"]).lines().count(), 5);

        // connect and disconnect a running container.
        b.ok(&["network", "connect", "--alias", "webby", "back", "web"]);
        let out = b.ok(&["exec", "web", "ip", "-o", "-4", "addr", "show", "eth1"]);
        assert!(out.contains("10.231.0."), "{out}");
        assert_eq!(stdout(&fetch("back", "http://webby:8080/")), "front-web\n");
        let out = b.fails(&["network", "connect", "back", "web"]);
        assert!(
            stderr(&out).contains("already exists in network back"),
            "{}",
            stderr(&out)
        );
        assert_eq!(
            b.ok(&["ps", "--format", "{{.Networks}}", "-f", "name=web"])
                .trim(),
            "front,back"
        );
        b.ok(&["network", "disconnect", "back", "web"]);
        let out = b.cmd(&["exec", "web", "ip", "link", "show", "eth1"]);
        assert!(!out.status.success(), "eth1 is gone");
        let out = b.fails(&["network", "disconnect", "back", "web"]);
        assert!(
            stderr(&out).contains("is not connected to network back"),
            "{}",
            stderr(&out)
        );

        // rm is refused while a container runs on it; prune keeps those in use.
        let out = b.fails(&["network", "rm", "back"]);
        assert!(
            stderr(&out).contains("has active endpoints"),
            "{}",
            stderr(&out)
        );
        b.ok(&["rm", "-f", "fixed", "c0", "c1", "c2", "c3"]);
        b.ok(&["network", "create", "unused"]);
        let out = b.ok(&["network", "prune", "-f"]);
        assert_eq!(out, "Deleted Networks:\nback\nunused\n\n");
        assert!(b.fails(&["network", "rm", "bridge"]).status.code() == Some(1));
        b.ok(&["rm", "-f", "web"]);
        assert_eq!(b.ok(&["network", "rm", "front"]), "front\n");
        let out = b.status(&["network", "inspect", "front"], 1);
        assert!(
            stderr(&out).contains("network front not found"),
            "{}",
            stderr(&out)
        );
        let out = b.status(
            &["run", "--rm", "--network", "front", "busybox", "true"],
            125,
        );
        assert!(
            stderr(&out).contains("network front not found"),
            "{}",
            stderr(&out)
        );
    });
}

#[test]
fn host_access_dns_and_the_loopback_boundary() {
    let _tun = TUN.read().unwrap();
    let host = host_address();
    let public = HostServer::start("0.0.0.0:0", "host-public");
    let private = HostServer::start("127.0.0.1:0", "host-loopback-only");
    let host_names: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs("deb.debian.org:80")
        .map(|a| a.collect())
        .unwrap_or_default();
    each_user(|b| {
        b.load_busybox();
        let get = |extra: &[&str], url: &str| {
            let mut argv = vec!["run", "--rm"];
            argv.extend_from_slice(extra);
            // (busybox's wget -T crashes on a refused connection: timeout instead)
            argv.extend_from_slice(&["busybox", "timeout", "5", "wget", "-q", "-O-", url]);
            b.cmd(&argv)
        };
        // A server on the host's address: through host.docker.internal,
        // host.containers.internal, host-gateway and the address itself.
        for url in [
            format!("http://host.docker.internal:{}/", public.port),
            format!("http://host.containers.internal:{}/", public.port),
            format!("http://{host}:{}/", public.port),
        ] {
            let out = get(&[], &url);
            assert_eq!(stdout(&out), "host-public\n", "{url}: {}", stderr(&out));
        }
        let out = get(
            &["--add-host", "laptop:host-gateway"],
            &format!("http://laptop:{}/", public.port),
        );
        assert_eq!(stdout(&out), "host-public\n", "{}", stderr(&out));
        // Escape probe: a service bound to the host's loopback only is out of
        // reach by default (also through the address 127.0.0.1 and 0.0.0.0)...
        for url in [
            format!("http://host.docker.internal:{}/", private.port),
            format!("http://127.0.0.1:{}/", private.port),
            format!("http://{host}:{}/", private.port),
        ] {
            let out = get(&[], &url);
            assert!(
                !out.status.success() && stdout(&out).is_empty(),
                "{url} reached the host's loopback: {}",
                stdout(&out)
            );
        }
        // ...and reachable with the documented option.
        let out = get(
            &["--network", "bridge:allow_host_loopback=true"],
            &format!("http://host.docker.internal:{}/", private.port),
        );
        assert_eq!(stdout(&out), "host-loopback-only\n", "{}", stderr(&out));
        // An internal network has no way out.
        b.ok(&["network", "create", "--internal", "sealed"]);
        let out = get(
            &["--network", "sealed"],
            &format!("http://{host}:{}/", public.port),
        );
        assert!(
            !out.status.success(),
            "an internal network reached the host"
        );
        b.ok(&["network", "rm", "sealed"]);
        // DNS of a name from the host's resolver, through the gateway.
        if host_names.is_empty() {
            common::skip_or_fail("the host cannot resolve deb.debian.org: no DNS check");
        } else {
            let out = b.ok(&["run", "--rm", "busybox", "nslookup", "deb.debian.org"]);
            assert!(
                host_names.iter().any(|a| out.contains(&a.ip().to_string())),
                "the container's answer {out} names none of the host's {host_names:?}"
            );
        }
        // --dns, --dns-search, --dns-option as Docker writes them on the bridge.
        let out = b.ok(&[
            "run",
            "--rm",
            "--dns",
            "192.0.2.53",
            "--dns-search",
            "example.org",
            "--dns-option",
            "ndots:2",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ]);
        assert_eq!(
            out,
            "search example.org\nnameserver 192.0.2.53\noptions ndots:2\n"
        );
        let out = b.ok(&[
            "run",
            "--rm",
            "--add-host",
            "db:10.1.2.3",
            "busybox",
            "grep",
            "-w",
            "db",
            "/etc/hosts",
        ]);
        assert_eq!(out, "10.1.2.3\tdb\n");
        let out = b.ok(&[
            "run",
            "--rm",
            "--mac-address",
            "92:d0:c6:0a:29:33",
            "busybox",
            "cat",
            "/sys/class/net/eth0/address",
        ]);
        assert_eq!(out, "92:d0:c6:0a:29:33\n");
        let e = b.status(
            &[
                "run",
                "--rm",
                "--mac-address",
                "01:00:5e:00:00:01",
                "busybox",
                "true",
            ],
            125,
        );
        assert!(
            stderr(&e).contains("not a unicast MAC address"),
            "{}",
            stderr(&e)
        );
        let e = b.status(&["run", "--rm", "--ip6", "fd00::2", "busybox", "true"], 125);
        assert!(stderr(&e).contains("IPv4 only"), "{}", stderr(&e));
    });
}

/// Monitor of container `id`: its pid, from the process table.
fn monitor_pid(id: &str) -> u32 {
    let out = Command::new("pgrep")
        .args(["-f", &format!("__berth-monitor {id}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_else(|| panic!("no monitor for {id}"))
        .parse()
        .unwrap()
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// `rm -f web && run -p P:80 --name web …`, as scripts do: when `rm -f`
/// returns, the killed container's monitor has let go of its ports (it
/// used to return once the container's init was dead, and the next `run`
/// now and then failed with "address already in use").
#[test]
fn force_removed_container_frees_its_ports_at_once() {
    let _tun = TUN.read().unwrap();
    let b = Berth::new(&main_user());
    b.load_busybox();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:8080");
    for round in 0..25 {
        let text = format!("round{round}");
        let out = b.cmd(&[
            "run",
            "-d",
            "--name",
            "rmf-web",
            "-p",
            &publish,
            "busybox",
            "sh",
            "-c",
            &httpd(&text),
        ]);
        assert!(
            out.status.success(),
            "round {round}: run right after rm -f failed: {}",
            stderr(&out)
        );
        assert_eq!(
            curl_until(&format!("http://127.0.0.1:{port}/")),
            format!("{text}\n")
        );
        b.ok(&["rm", "-f", "rmf-web"]);
        // Checked at once too: a bind comes sooner than the next `run`.
        if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
            panic!("round {round}: port {port} still taken after rm -f: {e}");
        }
    }
}

#[test]
fn two_hundred_connections_leak_no_descriptor() {
    let _tun = TUN.read().unwrap();
    let b = Berth::new(&main_user());
    b.load_busybox();
    let port = free_port();
    let id = b.ok(&[
        "run",
        "-d",
        // Should httpd's backlog overflow on a loaded machine, dropped SYNs
        // are retried; with SYN cookies (the default) a connection whose
        // final ACK was dropped can stall for minutes instead.
        "--sysctl",
        "net.ipv4.tcp_syncookies=0",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "busybox",
        "sh",
        "-c",
        &httpd("many"),
    ]);
    let id = id.trim().to_string();
    assert_eq!(curl_until(&format!("http://127.0.0.1:{port}/")), "many\n");
    let monitor = monitor_pid(&id);
    let before = fd_count(monitor);
    let before_targets = helper_fd_targets(monitor);
    // 200 connections open at once. They are opened a few milliseconds
    // apart: the monitor connects each into the container at once, and a
    // burst of 200 overflows httpd's backlog of 9, after which the kernel
    // retries the dropped SYNs in lockstep (1 s, 3 s, 7 s...).
    let mut streams = Vec::new();
    for _ in 0..200 {
        streams.push(TcpStream::connect(("127.0.0.1", port)).unwrap());
        std::thread::sleep(Duration::from_millis(5));
    }
    // Each is held by the monitor: the client, its socket in the
    // container's namespace and two pipes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while fd_count(monitor) < before + 400 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let peak = fd_count(monitor);
    assert!(peak >= before + 400, "{before} then {peak} descriptors");
    let threads: Vec<_> = streams
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
                let mut body = String::new();
                s.read_to_string(&mut body).unwrap();
                body
            })
        })
        .collect();
    for t in threads {
        let body = t.join().unwrap();
        assert!(body.ends_with("many\n"), "{body}");
    }
    // Settled means back to the count before, twice 100 ms apart: the
    // monitor opens /proc/self/smaps for a moment when its last connection
    // closes (it drops the data path's code pages then), and a single look
    // may land in that moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut settled = 0;
    while settled < 2 && Instant::now() < deadline {
        settled = if fd_count(monitor) == before {
            settled + 1
        } else {
            0
        };
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        settled,
        2,
        "descriptors leaked in the monitor: {before_targets:?} then {:?}",
        helper_fd_targets(monitor)
    );
    b.ok(&["rm", "-f", &id]);
}

/// Processes of `user` whose command line contains `needle`.
fn processes_with(uid: u32, needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(e.path()) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        if meta.uid() != uid {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(needle) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn helper_starts_on_demand_survives_sigkill_and_exits_with_the_last_member() {
    let _tun = TUN.read().unwrap();
    let b = Berth::new(&main_user());
    b.load_busybox();
    // A network name no other test uses: its helper's command line names it.
    let net = format!("life{}", std::process::id());
    b.ok(&["network", "create", &net]);
    let needle = format!("\"name\":\"{net}\"");
    assert!(
        processes_with(b.user.uid, &needle).is_empty(),
        "no helper before a member"
    );
    let id = b.ok(&[
        "run",
        "-d",
        "--name",
        "member",
        "--network",
        &net,
        "busybox",
        "sleep",
        "600",
    ]);
    let id = id.trim().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    let helper = loop {
        if let Some(p) = processes_with(b.user.uid, &needle).first() {
            break *p;
        }
        assert!(
            Instant::now() < deadline,
            "the first member started no helper"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    // SIGKILL the helper: ps stays truthful, the member reconnects.
    Command::new("kill")
        .args(["-9", &helper.to_string()])
        .status()
        .unwrap();
    assert_eq!(
        b.ok(&["ps", "--format", "{{.Names}} {{.State}}"]).trim(),
        "member running"
    );
    let gw = b.ok(&[
        "network",
        "inspect",
        "--format",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        &net,
    ]);
    let out = b.ok(&["exec", "member", "sh", "-c", &format!("for i in 1 2 3 4 5 6 7 8 9 10; do ping -c1 -W1 {} >/dev/null && echo back && exit 0; done; exit 1", gw.trim())]);
    assert_eq!(out, "back\n");
    let fresh = processes_with(b.user.uid, &needle);
    assert_eq!(fresh.len(), 1, "one new helper: {fresh:?}");
    assert_ne!(fresh[0], helper);
    // The helper holds the member's device and its sockets, nothing its
    // starter left open (a pipe: its ready pipe is closed once it runs).
    let fds = helper_fd_targets(fresh[0]);
    assert!(
        !fds.iter().any(|t| t.starts_with("pipe:")),
        "the helper inherited a pipe: {fds:?}"
    );
    // The last member leaves: the helper lingers a moment (back-to-back
    // runs find it; slirp::netd::LINGER, 2 s) and is reused by the next
    // member, then nothing of berth runs for the network any more.
    b.ok(&["rm", "-f", "member"]);
    let left = Instant::now();
    b.ok(&["run", "--rm", "--network", &net, "busybox", "true"]);
    if left.elapsed() < Duration::from_millis(1500) {
        assert_eq!(
            processes_with(b.user.uid, &needle),
            vec![fresh[0]],
            "a run right after the last member left reuses the lingering helper"
        );
    }
    let left = Instant::now();
    let deadline = left + Duration::from_secs(10);
    while !(processes_with(b.user.uid, &needle).is_empty()
        && processes_with(b.user.uid, &id).is_empty())
    {
        assert!(
            Instant::now() < deadline,
            "a helper or monitor outlived the last container"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        left.elapsed() >= Duration::from_millis(1500),
        "the helper left at once instead of lingering: {:?}",
        left.elapsed()
    );
}

/// What the descriptors of process `pid` point at (`pipe:[N]`, `socket:[N]`,
/// `/dev/net/tun`, ...).
fn helper_fd_targets(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn apt_get_update_on_the_default_network() {
    let _tun = TUN.read().unwrap();
    let Some(debian) = common::debian_fixture() else {
        return;
    };
    let b = Berth::new(&main_user());
    b.ok(&[
        std::ffi::OsStr::new("load"),
        std::ffi::OsStr::new("-i"),
        debian.as_os_str(),
    ]);
    let out = b.cmd(&["run", "--rm", "debian", "apt-get", "update"]);
    common::assert_success(&out, "apt-get update in the Debian fixture");
    assert!(
        stdout(&out).contains("Reading package lists"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn tun_device_closed_fails_run_clearly() {
    if !common::running_as_root() {
        common::skip_or_fail("changing /dev/net/tun's mode needs root");
        return;
    }
    let _tun = TUN.write().unwrap();
    let b = Berth::new(&main_user());
    b.load_busybox();
    use std::os::unix::fs::PermissionsExt;
    let tun = std::path::Path::new("/dev/net/tun");
    let mode = std::fs::metadata(tun).unwrap().permissions().mode() & 0o7777;
    std::fs::set_permissions(tun, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = b.cmd(&["run", "--rm", "busybox", "true"]);
    let host = b.cmd(&["run", "--rm", "--network", "host", "busybox", "true"]);
    let ids = b.container_ids();
    std::fs::set_permissions(tun, std::fs::Permissions::from_mode(mode)).unwrap();
    assert_eq!(out.status.code(), Some(125));
    let e = stderr(&out);
    assert!(
        e.contains("/dev/net/tun")
            && e.contains("its mode is 0600")
            && e.contains("chmod 0666")
            && e.contains("--network host"),
        "{e}"
    );
    assert!(ids.is_empty(), "nothing left behind: {ids:?}");
    common::assert_success(&host, "--network host while /dev/net/tun is closed");
}
