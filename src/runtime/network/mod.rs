//! Containers on networks: the runtime side of berth's user-mode
//! networking (`slirp` is the engine; this wires it to containers).
//!
//! - [`records`]: networks as the user manages them (`network create`,
//!   `rm`, `prune`), the default `bridge` made on first use, and a
//!   container's network flags resolved at `create`;
//! - [`plan`]: a run's addresses, leased under the store lock;
//! - [`etc`]: /etc/hosts and /etc/resolv.conf per network mode;
//! - [`init_side`]: what the container's init does (namespace, TAPs);
//! - [`monitor_side`]: what the monitor owns (ports, memberships);
//! - [`ops`]: `network connect`/`disconnect` on containers, for the CLI
//!   and compose;
//! - [`oneshot`]: the network of a process run without a monitor (a
//!   build's RUN step).
//!
//! The API for compose and build is in ARCHITECTURE.md ("Networks").

pub(crate) mod etc;
pub(crate) mod init_side;
pub(crate) mod monitor_side;
pub(crate) mod oneshot;
pub(crate) mod ops;
pub(crate) mod plan;
pub(crate) mod records;

pub(crate) use init_side::InitNetwork;
pub(crate) use monitor_side::{ContainerNetwork, Launch};
