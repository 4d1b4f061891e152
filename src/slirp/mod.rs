//! berth's user-mode networking: private networks for containers without
//! root, no daemon and no kernel bridge (DESIGN.md "Networking").
//!
//! A container on a network gets its own network namespace with `lo` and
//! a TAP device `eth0` (MTU [`tap::MTU`], 65520 as slirp4netns) made by its
//! init ([`tap`]). The TAP's descriptor goes to the container's monitor,
//! which joins the network's helper process with it
//! ([`client::Membership`]). The helper (`berth __berth-netd`, [`netd`])
//! switches frames between members, is the gateway (outbound NAT through a
//! userspace TCP/IP stack, DNS, the host address) and exits
//! [`netd::LINGER`] (2 s) after its last member left, so back-to-back
//! runs find it running and nothing of berth stays for long once no
//! container runs. Published ports do not go through the helper: the
//! monitor listens on the host and joins each connection to a socket made
//! inside the container's namespace ([`portfwd`]).
//!
//! Layering: slirp uses util only; runtime and cli call it.
//!
//! # How `run` wires it (the API map)
//!
//! **Under the store lock** (network records, address allocation; pure
//! functions in [`addr`]):
//! - a new network's subnet: [`addr::pick_subnet`]`(taken, &`[`addr::host_routes_v4`]`())`
//!   (Docker's pools: 172.17/16 ... 172.31/16, then 192.168.x/20), or
//!   [`addr::check_subnet`] for `--subnet`; gateway [`Ipv4Net::gateway`]
//!   (first address) unless `--gateway`;
//! - a member's address: [`addr::allocate_ip`]`(subnet, gateway, used)` (from
//!   the second address, never the gateway or the host address) or
//!   [`addr::check_ip`] for `--ip`; its MAC: [`Mac::for_ip`] (Docker's
//!   02:42:...);
//! - `host-gateway` / `host.docker.internal` / `host.containers.internal`:
//!   [`NetworkSpec::host_gateway`] (the subnet's last host address);
//!   resolv.conf: `nameserver` = the gateway.
//!
//! **In the container's init** (in its new network namespace, before
//! `pivot_root`, no threads): [`tap::create_tap`]`(&TapConfig { name: "eth0",
//! mac, ip, subnet, default_gateway: Some(gateway), mtu: tap::MTU })` (for
//! a second network: `eth1`, `default_gateway: None`); then
//! [`proto::send_fd`] the TAP to the monitor over a socketpair and close it.
//! With `--network none`: [`tap::loopback_up`] only. An unopenable
//! `/dev/net/tun` is an error that names its mode and the fix.
//!
//! **In the monitor**:
//! - [`proto::recv_fd`] the TAP, then [`Membership::attach`]`(run_dir,
//!   &network_spec, &member_spec, tap, &Launcher::default())`: connects to
//!   `run_dir/net-<id12>.sock`, starting the helper under
//!   `net-<id12>.lock` if none runs. Keep the `Membership` for the
//!   container's life; dropping it (or [`Membership::leave`], which does
//!   not wait for the device to be unregistered) leaves the network.
//! - off the launch path (what the monitor does): [`client::Connecting::start`]
//!   before launching the container (a helper that must be started is
//!   forked then, on a socket the caller binds, and not waited for), then
//!   `send_join(member, tap)` once the TAP came, giving a
//!   [`client::PendingJoin`] whose `connection()` becomes readable with
//!   the answer; `finish()` reads it (waiting if it has not come).
//! - TAP descriptors that may be a device's last are closed with
//!   [`tap::close_detached`]: unregistering a device waits for RCU grace
//!   periods (10-40 ms).
//! - poll [`Membership::connection`] for POLLIN: it becomes readable only
//!   when the helper died; then [`Membership::reconnect`] (new helper, same
//!   TAP and address).
//! - published ports: [`portfwd::parse_publish`] (CLI), then
//!   [`portfwd::bind_all`] before the container starts (Docker's "address
//!   already in use"; privileged ports name the sysctl), then
//!   [`portfwd::Forwarder::new`]`(listeners, container_ip,
//!   Some(`[`netns::NetnsSockets::of_pid`]`(init_pid)?))`; poll
//!   `forwarder.as_fd()`, call `run_once()` when readable or when
//!   `timeout()` expires; after a restart `set_netns(...)`.
//!
//! **The helper's protocol** ([`proto`]): SOCK_SEQPACKET; the member sends
//! one JSON [`proto::Join`] with the TAP as SCM_RIGHTS, the helper answers
//! one [`proto::Reply`]; the connection then stays open and silent while
//! the member is a member. A rejoin with the same container id replaces the
//! old entry; another container's address or MAC is refused.

pub mod addr;
pub mod client;
pub mod netd;
pub mod netns;
pub mod portfwd;
pub mod proto;
pub mod sock;
pub mod tap;

pub use addr::{Ipv4Net, Mac};
pub use client::{Launcher, Membership};
pub use proto::{MemberSpec, NetworkSpec};
