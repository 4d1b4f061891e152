//! berth's user-mode networking: private networks for containers without
//! root, no daemon and no kernel bridge (DESIGN.md "Networking").
//!
//! A container on a network gets its own network namespace with `lo` and
//! a TAP device `eth0` (MTU [`tap::MTU`]) made by its init ([`tap`]). The
//! TAP's descriptor goes to the container's monitor, which joins the
//! network's helper process with it ([`client::Membership`]). The helper
//! (`berth __berth-netd`, [`netd`]) switches frames between members, is the
//! gateway (outbound NAT through a userspace TCP/IP stack, DNS, the host
//! address) and exits when its last member leaves.
//!
//! Published ports do not go through the helper: the monitor listens on
//! the host and joins each connection to a socket made inside the
//! container's namespace ([`portfwd`]).
//!
//! Addresses: [`addr`] has the subnet and address allocation helpers the
//! caller runs under the store lock.
//!
//! Layering: slirp uses util only; runtime and cli call it.

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
