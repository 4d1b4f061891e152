//! The container's network as its monitor owns it: the published ports'
//! listeners and forwarder (bound once, kept across restarts), the
//! addresses leased for each run, the TAP devices the init hands over, and
//! the membership of each network's helper.
//!
//! Order of a start, and why:
//! 1. [`ContainerNetwork::new`] when the monitor starts: host ports are
//!    bound before the container is started, so a port in use fails the
//!    start with nothing running;
//! 2. [`ContainerNetwork::prepare`] before each launch: addresses leased
//!    under the store lock, /etc/hosts and resolv.conf contents, what the
//!    init must make ([`InitNetwork`]);
//! 3. [`ContainerNetwork::launched`] once the program runs: the TAP devices
//!    are received and the forwarder points into the new namespace;
//!    The helper was connected to in step 2 (started then, without
//!    waiting, when none ran: it comes up while the container is set up),
//!    and the join is sent at once; its answer is read when it comes
//!    ([`ContainerNetwork::ready`]): nothing on the launch path waits for
//!    a helper, and frames wait in the TAP meanwhile.
//! 4. [`ContainerNetwork::join`] from the event loop: joins that could not
//!    be made that way (retries, a helper that died).
//! 5. [`ContainerNetwork::stopped`] when the container exits: memberships
//!    dropped (the helper forgets it), addresses given back.

use super::etc;
use super::init_side::InitNetwork;
use super::plan::{self, Attachment};
use crate::model::net_state::{EndpointState, NetworkState};
use crate::model::network::EndpointConfig;
use crate::model::ports::{PortBinding, PortMapping};
use crate::model::{ContainerRecord, NetworkMode};
use crate::slirp::client::{Connecting, Launcher, Membership, PendingJoin};
use crate::slirp::netns::NetnsSockets;
use crate::slirp::portfwd::{bind_all, Forwarder};
use crate::slirp::proto::{recv_fd, MemberSpec};
use crate::slirp::tap;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long to wait before trying again to join a network whose helper
/// could not be reached.
const RETRY: Duration = Duration::from_secs(2);

/// What a launch needs: the init's part and the files it mounts.
pub(crate) struct Launch {
    pub(crate) init: InitNetwork,
    pub(crate) hosts: String,
    pub(crate) resolv: String,
    /// The monitor's end of the socket the init sends TAP devices on.
    from_init: Option<OwnedFd>,
}

struct Live {
    att: Attachment,
    member: MemberSpec,
    /// The TAP device until the helper has it (then the membership holds it).
    tap: Option<OwnedFd>,
    /// Connected to the helper before the launch, the join not sent yet.
    early: Option<Connecting>,
    /// The join sent, its answer not read yet.
    pending: Option<PendingJoin>,
    membership: Option<Membership>,
}

impl Live {
    /// Leaves the network without waiting for the device to go.
    fn leave(self) {
        if let Some(m) = self.membership {
            m.leave();
        }
        if let Some(p) = self.pending {
            p.abandon();
        }
        crate::slirp::tap::close_detached(self.tap.into_iter().collect());
    }
}

/// The network side of one container's monitor.
pub(crate) struct ContainerNetwork {
    container_id: String,
    forwarder: Option<Forwarder>,
    /// When the forwarder asked to be run again without readiness.
    forwarder_due: Option<Instant>,
    live: Vec<Live>,
    /// The container's init, while it runs (its namespace is where
    /// forwarded connections and new TAP devices are made).
    init_pid: Option<i32>,
    join_at: Option<Instant>,
    /// The last problem with a network helper, cleared when all is well.
    problem: Option<String>,
    /// The forwarder had connections at its last run.
    forwarding: bool,
}

impl ContainerNetwork {
    /// Binds the container's published ports. Errors are the ones the
    /// user sees (Docker's "address already in use", the privileged-port
    /// sysctl).
    pub(crate) fn new(record: &ContainerRecord) -> Result<ContainerNetwork> {
        let mappings = published(record);
        let forwarder = if mappings.is_empty() || !record.host.network.mode.is_user_mode() {
            None
        } else {
            let listeners = bind_all(&mappings)?;
            Some(Forwarder::new(
                listeners,
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                None,
            )?)
        };
        Ok(ContainerNetwork {
            container_id: record.id.clone(),
            forwarder,
            forwarder_due: None,
            live: Vec::new(),
            init_pid: None,
            join_at: None,
            problem: None,
            forwarding: false,
        })
    }

    /// Before a launch: addresses, files, and the init's instructions.
    pub(crate) fn prepare(&mut self, store: &Store, record: &ContainerRecord) -> Result<Launch> {
        let cfg = &record.host.network;
        let hostname = &record.config.hostname;
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        match &cfg.mode {
            NetworkMode::Host => Ok(Launch {
                init: InitNetwork::Host,
                hosts: etc::hosts(hostname, cfg, host_address(), None, false),
                resolv: etc::resolv_conf(&host_resolv, cfg, None),
                from_init: None,
            }),
            NetworkMode::None => Ok(Launch {
                init: InitNetwork::Loopback,
                hosts: etc::hosts(hostname, cfg, None, None, false),
                resolv: etc::resolv_conf(&host_resolv, cfg, None),
                from_init: None,
            }),
            NetworkMode::Container(other) => join_other(store, other),
            NetworkMode::Bridge | NetworkMode::Named(_) => {
                let attachments = plan::allocate(store, record, &cfg.user_networks(), 0)?;
                crate::util::trace::step("network: addresses leased");
                let first = attachments.first();
                let hosts = etc::hosts(
                    hostname,
                    cfg,
                    first.and_then(Attachment::host_gateway),
                    first.map(|a| a.ip),
                    true,
                );
                let resolv = etc::resolv_conf(&host_resolv, cfg, first);
                let (ours, theirs) = socketpair(
                    AddressFamily::Unix,
                    SockType::SeqPacket,
                    None,
                    SockFlag::SOCK_CLOEXEC,
                )
                .context("creating a socket pair for the container's network devices")?;
                let taps = attachments
                    .iter()
                    .enumerate()
                    .map(|(i, a)| a.tap_config(i == 0))
                    .collect();
                let run_dir = store.run_dir().ok().map(|d| d.to_path_buf());
                self.live = attachments
                    .into_iter()
                    .map(|att| {
                        // The helper starts now (if none runs) and comes
                        // up while the container is set up. A failure
                        // here is met again, and reported, by the join.
                        let early = run_dir.as_deref().and_then(|dir| {
                            Connecting::start(dir, &att.network_spec(), &Launcher::default()).ok()
                        });
                        Live {
                            member: att.member_spec(record),
                            att,
                            tap: None,
                            early,
                            pending: None,
                            membership: None,
                        }
                    })
                    .collect();
                crate::util::trace::step("network: helper connected (started if none ran)");
                Ok(Launch {
                    init: InitNetwork::Taps {
                        taps,
                        to_monitor: theirs,
                    },
                    hosts,
                    resolv,
                    from_init: Some(ours),
                })
            }
        }
    }

    /// The container's program runs (its init made and sent the TAP
    /// devices before exec): take the devices, point the forwarder at the
    /// new namespace. Joining the helpers waits for [`Self::join`].
    pub(crate) fn launched(&mut self, pid: i32, launch: Launch) {
        let Launch {
            init, from_init, ..
        } = launch;
        // The init's end closes, so a missing device is an error, not a hang.
        drop(init);
        self.init_pid = Some(pid);
        if let Some(sock) = from_init {
            for live in &mut self.live {
                match recv_fd(sock.as_fd()) {
                    Ok(fd) => {
                        // The join goes at once; the helper answers when
                        // it is up. Ours keeps the device if it fails.
                        if let (Some(early), Ok(copy)) = (live.early.take(), fd.try_clone()) {
                            live.pending = early.send_join(&live.member, copy).ok();
                        }
                        live.tap = Some(fd);
                    }
                    Err(e) => {
                        self.problem = Some(format!(
                            "receiving the network device of {}: {e:#}",
                            live.att.record.name
                        ));
                        break;
                    }
                }
            }
            if self
                .live
                .iter()
                .any(|l| l.pending.is_none() && l.membership.is_none())
            {
                self.join_at = Some(Instant::now());
            }
        }
        if let (Some(fwd), Some(first)) = (self.forwarder.as_mut(), self.live.first()) {
            match NetnsSockets::of_pid(pid) {
                Ok(ns) => fwd.set_netns(Some(ns), IpAddr::V4(first.att.ip)),
                Err(e) => self.problem = Some(format!("{e:#}")),
            }
        }
    }

    /// Whether the event loop should call [`Self::join`] now.
    pub(crate) fn join_due(&self) -> bool {
        self.join_at.is_some_and(|t| t <= Instant::now())
    }

    /// Joins the networks not joined yet (starting their helpers when
    /// none runs). A failure is kept for `inspect` and retried.
    pub(crate) fn join(&mut self, store: &Store, _record: &ContainerRecord) {
        self.join_at = None;
        if self.init_pid.is_none() {
            return;
        }
        let run_dir = match store.run_dir() {
            Ok(d) => d.to_path_buf(),
            Err(e) => {
                self.problem = Some(format!("{e:#}"));
                self.join_at = Some(Instant::now() + RETRY);
                return;
            }
        };
        let mut problem = None;
        for live in &mut self.live {
            if live.membership.is_some() || live.pending.is_some() {
                continue;
            }
            let Some(tap) = &live.tap else {
                continue;
            };
            // The helper gets a copy: ours keeps the device alive if the
            // join fails.
            let copy = match tap.try_clone() {
                Ok(c) => c,
                Err(e) => {
                    problem = Some(format!("duplicating the network device: {e}"));
                    continue;
                }
            };
            let spec = live.att.network_spec();
            match Membership::attach(&run_dir, &spec, &live.member, copy, &Launcher::default()) {
                Ok(m) => {
                    live.membership = Some(m);
                    live.tap = None;
                }
                Err(e) => problem = Some(format!("{e:#}")),
            }
        }
        if problem.is_some() {
            self.join_at = Some(Instant::now() + RETRY);
        }
        self.problem = problem;
    }

    /// Descriptors the event loop polls for input: the forwarder's, then
    /// each membership's (readable only when its helper died).
    pub(crate) fn poll_fds(&self) -> Vec<BorrowedFd<'_>> {
        let mut out = Vec::new();
        if let Some(f) = &self.forwarder {
            out.push(f.as_fd());
        }
        for live in &self.live {
            if let Some(m) = &live.membership {
                out.push(m.connection());
            } else if let Some(p) = &live.pending {
                out.push(p.connection());
            }
        }
        out
    }

    /// Reads the answers of the joins sent at the launch, waiting for
    /// them (a process without an event loop: a build step).
    pub(crate) fn settle(&mut self) {
        for i in 0..self.live.len() {
            if self.live[i].pending.is_some() {
                self.answered(i);
            }
        }
    }

    /// The helper answered the join of `live[i]` (or went away).
    fn answered(&mut self, i: usize) {
        let live = &mut self.live[i];
        let Some(pending) = live.pending.take() else {
            return;
        };
        match pending.finish() {
            Ok(m) => {
                live.membership = Some(m);
                // The membership's copy keeps the device.
                drop(live.tap.take());
            }
            Err(e) => {
                self.problem = Some(format!("{e:#}"));
                self.join_at = Some(Instant::now() + RETRY);
            }
        }
    }

    /// The poll found these of [`Self::poll_fds`] ready (by index).
    pub(crate) fn ready(&mut self, ready: &[bool]) {
        let mut i = 0;
        if self.forwarder.is_some() {
            if ready.first().copied().unwrap_or(false) {
                self.run_forwarder();
            }
            i = 1;
        }
        let mut gone = false;
        let mut answered = Vec::new();
        for (index, live) in self.live.iter_mut().enumerate() {
            if live.membership.is_none() {
                if live.pending.is_some() {
                    if ready.get(i).copied().unwrap_or(false) {
                        answered.push(index);
                    }
                    i += 1;
                }
                continue;
            }
            if ready.get(i).copied().unwrap_or(false) {
                gone = true;
                let m = live.membership.as_mut().expect("checked");
                if let Err(e) = m.reconnect() {
                    // Keep the device, drop the dead connection: the next
                    // join starts a helper again.
                    let tap = m.tap().try_clone_to_owned().ok();
                    live.membership = None;
                    live.tap = tap;
                    self.problem = Some(format!(
                        "the helper of network {} died and could not be restarted: {e:#}",
                        live.att.record.name
                    ));
                }
            }
            i += 1;
        }
        if gone && self.live.iter().any(|l| l.membership.is_none()) {
            self.join_at = Some(Instant::now() + RETRY);
        }
        for index in answered {
            self.answered(index);
        }
    }

    fn run_forwarder(&mut self) {
        if let Some(f) = self.forwarder.as_mut() {
            if let Err(e) = f.run_once() {
                self.problem = Some(format!("{e:#}"));
            }
            self.forwarder_due = f.timeout().map(|t| Instant::now() + t);
        }
    }

    /// True once each time the forwarder's last connection closed: the
    /// monitor then drops the code pages the data path faulted in, once
    /// the ports stayed idle a while.
    pub(crate) fn went_idle(&mut self) -> bool {
        let now = self.busy_forwarding();
        let idle = self.forwarding && !now;
        self.forwarding = now;
        idle
    }

    /// The forwarder has connections open.
    pub(crate) fn busy_forwarding(&self) -> bool {
        self.forwarder.as_ref().is_some_and(|f| f.connections() > 0)
    }

    /// Work that is due without readiness (forwarder rounds, retries).
    pub(crate) fn tick(&mut self) {
        if self.forwarder_due.is_some_and(|t| t <= Instant::now()) {
            self.run_forwarder();
        }
    }

    /// How long the event loop may sleep before [`Self::tick`] or
    /// [`Self::join`] have work.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        [self.forwarder_due, self.join_at]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.saturating_duration_since(now))
    }

    /// The container exited: leave the networks, give the addresses back;
    /// published ports stay bound (connections are refused until a
    /// restart).
    pub(crate) fn stopped(&mut self, store: &Store) {
        let atts: Vec<Attachment> = self
            .live
            .drain(..)
            .map(|l| {
                let att = l.att.clone();
                l.leave();
                att
            })
            .collect();
        plan::release(store, &self.container_id, &atts);
        self.init_pid = None;
        self.join_at = None;
        if let Some(f) = self.forwarder.as_mut() {
            f.set_netns(None, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        }
    }

    /// What `state.json` records while the container runs.
    pub(crate) fn state(&self) -> NetworkState {
        if self.init_pid.is_none() {
            return NetworkState::default();
        }
        let endpoints = self
            .live
            .iter()
            .map(|l| EndpointState {
                network: l.att.record.name.clone(),
                network_id: l.att.record.id.clone(),
                interface: l.att.interface.clone(),
                ip: l.att.ip,
                prefix: l.att.record.subnet.prefix(),
                gateway: l.att.record.gateway,
                mac: l.att.mac(),
                aliases: l.att.endpoint.aliases.clone(),
            })
            .collect();
        let mut ports = Vec::new();
        if let Some(f) = &self.forwarder {
            for (m, addrs) in f.ports() {
                for a in addrs {
                    ports.push(PortBinding {
                        container_port: m.container_port,
                        proto: m.proto,
                        host_ip: a.ip(),
                        host_port: a.port(),
                    });
                }
            }
        }
        NetworkState { endpoints, ports }
    }

    /// The problem to show in `inspect` (State.Error), if any.
    pub(crate) fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// `network connect` on the running container: an address, a TAP
    /// device made in the container's namespace (by a short thread), and
    /// the network's helper.
    pub(crate) fn connect(
        &mut self,
        store: &Store,
        record: &ContainerRecord,
        ep: &EndpointConfig,
    ) -> Result<()> {
        let Some(pid) = self.init_pid else {
            bail!("container {} is not running", record.id);
        };
        if self.live.iter().any(|l| l.att.record.id == ep.network_id) {
            bail!(
                "endpoint with name {} already exists in network {}",
                record.name,
                ep.network
            );
        }
        let index = (0..)
            .find(|i| {
                !self
                    .live
                    .iter()
                    .any(|l| l.att.interface == format!("eth{i}"))
            })
            .expect("a free interface number");
        let mut atts = plan::allocate(store, record, std::slice::from_ref(ep), index)?;
        let att = atts.remove(0);
        let cfg = att.tap_config(self.live.is_empty());
        let made = NetnsSockets::of_pid(pid).and_then(|ns| ns.run(move || tap::create_tap(&cfg)));
        let dev = match made {
            Ok(d) => d,
            Err(e) => {
                plan::release(store, &record.id, std::slice::from_ref(&att));
                return Err(e);
            }
        };
        self.live.push(Live {
            member: att.member_spec(record),
            att,
            tap: Some(dev),
            early: None,
            pending: None,
            membership: None,
        });
        self.join(store, record);
        if let Some(p) = &self.problem {
            bail!("{p}");
        }
        Ok(())
    }

    /// `network disconnect`: the device goes (its last descriptors close),
    /// the helper forgets the member, the address is given back.
    pub(crate) fn disconnect(&mut self, store: &Store, network_id: &str) -> Result<()> {
        let Some(i) = self.live.iter().position(|l| l.att.record.id == network_id) else {
            bail!(
                "container {} is not connected to the network",
                self.container_id
            );
        };
        let live = self.live.remove(i);
        plan::release(store, &self.container_id, std::slice::from_ref(&live.att));
        live.leave();
        Ok(())
    }
}

/// The ports to bind: `-p` as asked, then with `-P` every exposed port
/// not published already, on a random port of every address.
pub(crate) fn published(record: &ContainerRecord) -> Vec<PortMapping> {
    let cfg = &record.host.network;
    let mut out = cfg.publish.clone();
    if cfg.publish_all {
        for e in &cfg.exposed {
            let Some((port, proto)) = crate::model::ports::parse_exposed(e) else {
                continue;
            };
            if !out
                .iter()
                .any(|m| m.container_port == port && m.proto == proto)
            {
                out.push(PortMapping {
                    host_ip: None,
                    host_ports: (0, 0),
                    container_port: port,
                    proto,
                });
            }
        }
    }
    out
}

/// `--network container:X`: X must run; its namespace and its files.
fn join_other(store: &Store, other: &str) -> Result<Launch> {
    let c = store.container(other)?;
    let state = store.observed_state(&c.id)?;
    if !state.status.is_running() || state.pid == 0 {
        bail!("cannot join network of a non running container: {}", c.id);
    }
    let ns = std::fs::File::open(format!("/proc/{}/ns/net", state.pid)).with_context(|| {
        format!(
            "opening the network namespace of container {} (--network container:)",
            c.name
        )
    })?;
    let dir = store.container_dir(&c.id);
    Ok(Launch {
        init: InitNetwork::Join(ns.into()),
        hosts: std::fs::read_to_string(dir.join("hosts")).unwrap_or_default(),
        resolv: std::fs::read_to_string(dir.join("resolv.conf")).unwrap_or_default(),
        from_init: None,
    })
}

/// The host's own address: `host-gateway` where the container shares the
/// host's network.
fn host_address() -> Option<Ipv4Addr> {
    crate::slirp::netd::host_address()
}
