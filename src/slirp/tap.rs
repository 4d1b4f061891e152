//! The container's side of a user-mode network: a TAP device made inside
//! the container's network namespace and configured with plain ioctls
//! (what slirp4netns does; netlink would only be needed for IPv6).
//!
//! Runs in the container's init, which has CAP_NET_ADMIN over its network
//! namespace (it is root in berth's user namespace). It allocates nothing
//! on the heap beyond error messages and starts no thread, so it is safe
//! between clone and exec. `/dev/net/tun` must be opened before
//! `pivot_root` (or through a descriptor opened earlier).

use super::addr::{Ipv4Net, Mac};
use anyhow::{bail, Context, Result};
use std::ffi::CStr;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;

/// The clone device through which TAP devices are made.
pub const TUN_PATH: &str = "/dev/net/tun";

/// The MTU of a member's interface: slirp4netns' 65520, the largest that
/// leaves room for the Ethernet header in a 64 KiB frame. Large frames are
/// what makes a userspace gateway fast: one system call moves 64 KiB.
pub const MTU: u32 = 65520;

/// The largest frame a member's TAP device delivers: MTU + Ethernet header.
pub const MAX_FRAME: usize = MTU as usize + 14;

/// Every frame read from or written to a member's TAP device starts with a
/// `virtio_net_hdr` of this size (IFF_VNET_HDR). With checksum offload on
/// (TUN_F_CSUM) the member's kernel leaves TCP/UDP checksums to "the
/// device" and says so in that header, and a frame written with such a
/// header is taken as checksummed: between two members the switch passes
/// the header along, so neither kernel makes a pass over the data to
/// checksum it (as over a veth pair). Frames the helper makes itself carry
/// a zero header (checksums complete); the gateway does not verify
/// checksums of frames from members.
pub const VNET_HDR_LEN: usize = 10;

/// How the container's interface is set up.
#[derive(Clone, Debug)]
pub struct TapConfig {
    /// The interface name inside the container (`eth0`, `eth1`, ...).
    pub name: String,
    pub mac: Mac,
    pub ip: Ipv4Addr,
    pub subnet: Ipv4Net,
    /// The default route's gateway; `None` for a second network, whose
    /// interface only reaches its own subnet.
    pub default_gateway: Option<Ipv4Addr>,
    pub mtu: u32,
}

/// Opens `/dev/net/tun`, explaining what an administrator must change when
/// that is not possible (the device is 0600 on some machines).
pub fn open_tun() -> Result<OwnedFd> {
    let path = c"/dev/net/tun";
    // SAFETY: a plain open(2) of a NUL-terminated path; the result is checked.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd >= 0 {
        // SAFETY: open just returned this descriptor and nothing else owns it.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    let err = std::io::Error::last_os_error();
    Err(tun_error(err))
}

fn tun_error(err: std::io::Error) -> anyhow::Error {
    match err.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO) => anyhow::anyhow!(
            "cannot open {TUN_PATH} ({err}): the kernel's TUN/TAP driver is not available, which \
             private container networks need; an administrator can load it (`modprobe tun`); \
             meanwhile use --network host or --network none"
        ),
        Some(libc::EACCES) | Some(libc::EPERM) => {
            let mode = std::fs::metadata(TUN_PATH)
                .map(|m| format!("{:04o}", m.mode() & 0o7777))
                .unwrap_or_else(|_| "unknown".into());
            anyhow::anyhow!(
                "cannot open {TUN_PATH} ({err}): its mode is {mode}, so only root may create the \
                 TAP devices that private container networks need; an administrator can allow \
                 it as most distributions do: `chmod 0666 {TUN_PATH}` (a udev rule such as \
                 KERNEL==\"tun\", MODE=\"0666\" keeps it across reboots); meanwhile use \
                 --network host or --network none"
            )
        }
        _ => anyhow::anyhow!("cannot open {TUN_PATH}: {err}"),
    }
}

/// Creates the TAP device `cfg.name` in the current network namespace,
/// configures it (MAC, MTU, address, up, default route) and brings `lo`
/// up. Returns the device's descriptor: hand it to the monitor
/// ([`super::proto::send_fd`]); the device lives as long as a descriptor
/// of it is open.
pub fn create_tap(cfg: &TapConfig) -> Result<OwnedFd> {
    let tun = open_tun()?;
    create_tap_on(tun, cfg)
}

/// [`create_tap`] with `/dev/net/tun` already open (opened before
/// `pivot_root`).
pub fn create_tap_on(tun: OwnedFd, cfg: &TapConfig) -> Result<OwnedFd> {
    let mut req = ifreq(&cfg.name)?;
    req.ifr_ifru.ifru_flags =
        (libc::IFF_TAP | libc::IFF_NO_PI | libc::IFF_VNET_HDR) as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes the ifreq we own.
    if unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF, &mut req) } < 0 {
        let err = std::io::Error::last_os_error();
        bail!(
            "creating the network device {} (TUNSETIFF on {TUN_PATH}): {err}{}",
            cfg.name,
            if err.raw_os_error() == Some(libc::EPERM) {
                ": the process lacks CAP_NET_ADMIN in its network namespace"
            } else {
                ""
            }
        );
    }
    // Best effort: without offload, frames still carry the (zero) header
    // and the kernels checksum as before.
    // SAFETY: TUNSETOFFLOAD takes its flags by value.
    unsafe {
        libc::ioctl(
            tun.as_raw_fd(),
            libc::TUNSETOFFLOAD,
            libc::TUN_F_CSUM as libc::c_ulong,
        );
    }
    configure(cfg).with_context(|| format!("configuring the network device {}", cfg.name))?;
    Ok(tun)
}

/// Closes TAP devices off the caller's path. Closing the last descriptor
/// of a TAP device unregisters it, and the kernel waits for RCU grace
/// periods there (10-40 ms measured on a loaded 2-core machine): a
/// monitor doing that between reaping its container and telling the
/// client would add it to every `run`, a helper would stall its switch.
/// A short thread takes the wait; a process that exits meanwhile still
/// completes the close (the exit waits for it, nobody waits for the exit).
pub fn close_detached(fds: Vec<OwnedFd>) {
    if fds.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("tap-close".into())
        .stack_size(64 * 1024)
        .spawn(move || drop(fds));
    // Without a thread (limits) the close happens here, slower but done.
    drop(spawned);
}

/// Brings the loopback interface up (a fresh network namespace has it down).
pub fn loopback_up() -> Result<()> {
    let sock = ctl_socket()?;
    set_up(&sock, "lo").context("bringing up the loopback interface lo")
}

fn configure(cfg: &TapConfig) -> Result<()> {
    let sock = ctl_socket()?;
    let fd = sock.as_raw_fd();

    let mut req = ifreq(&cfg.name)?;
    // SAFETY: writing the sockaddr member of the union we own.
    unsafe {
        req.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (d, s) in req.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(cfg.mac.0) {
            *d = s as libc::c_char;
        }
    }
    ioctl(fd, libc::SIOCSIFHWADDR, &mut req, "setting the MAC address")?;

    let mut req = ifreq(&cfg.name)?;
    req.ifr_ifru.ifru_mtu = cfg.mtu as libc::c_int;
    ioctl(fd, libc::SIOCSIFMTU, &mut req, "setting the MTU")?;

    let mut req = ifreq(&cfg.name)?;
    req.ifr_ifru.ifru_addr = sockaddr_in(cfg.ip);
    ioctl(fd, libc::SIOCSIFADDR, &mut req, "setting the address")?;

    let mut req = ifreq(&cfg.name)?;
    req.ifr_ifru.ifru_netmask = sockaddr_in(cfg.subnet.netmask());
    ioctl(fd, libc::SIOCSIFNETMASK, &mut req, "setting the netmask")?;

    set_up(&sock, &cfg.name)?;
    set_up(&sock, "lo").context("bringing up the loopback interface lo")?;

    if let Some(gw) = cfg.default_gateway {
        let mut rt = RtEntry {
            rt_pad1: 0,
            rt_dst: sockaddr_in(Ipv4Addr::UNSPECIFIED),
            rt_gateway: sockaddr_in(gw),
            rt_genmask: sockaddr_in(Ipv4Addr::UNSPECIFIED),
            rt_flags: libc::RTF_UP | libc::RTF_GATEWAY,
            rt_pad2: 0,
            rt_pad3: 0,
            rt_pad4: std::ptr::null_mut(),
            rt_metric: 0,
            rt_dev: std::ptr::null_mut(),
            rt_mtu: 0,
            rt_window: 0,
            rt_irtt: 0,
        };
        // SAFETY: SIOCADDRT reads the rtentry we own; rt_dev is null, so the
        // kernel picks the interface from the gateway's subnet.
        if unsafe { libc::ioctl(fd, libc::SIOCADDRT, &mut rt) } < 0 {
            bail!(
                "adding the default route via {gw}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    Ok(())
}

/// glibc's `struct rtentry` (net/route.h), which the libc crate only has
/// for musl.
#[repr(C)]
struct RtEntry {
    rt_pad1: libc::c_ulong,
    rt_dst: libc::sockaddr,
    rt_gateway: libc::sockaddr,
    rt_genmask: libc::sockaddr,
    rt_flags: libc::c_ushort,
    rt_pad2: libc::c_short,
    rt_pad3: libc::c_ulong,
    rt_pad4: *mut libc::c_void,
    rt_metric: libc::c_short,
    rt_dev: *mut libc::c_char,
    rt_mtu: libc::c_ulong,
    rt_window: libc::c_ulong,
    rt_irtt: libc::c_ushort,
}

fn ctl_socket() -> Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        bail!(
            "creating a socket to configure the network: {}",
            std::io::Error::last_os_error()
        );
    }
    // SAFETY: socket just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_up(sock: &OwnedFd, name: &str) -> Result<()> {
    let mut req = ifreq(name)?;
    ioctl(
        sock.as_raw_fd(),
        libc::SIOCGIFFLAGS,
        &mut req,
        "reading the flags",
    )?;
    // SAFETY: SIOCGIFFLAGS filled the flags member.
    unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    ioctl(
        sock.as_raw_fd(),
        libc::SIOCSIFFLAGS,
        &mut req,
        "bringing it up",
    )
}

fn ioctl(fd: RawFd, op: libc::Ioctl, req: &mut libc::ifreq, what: &str) -> Result<()> {
    // SAFETY: every interface ioctl used here reads or writes one ifreq,
    // which the caller owns.
    if unsafe { libc::ioctl(fd, op, req as *mut libc::ifreq) } < 0 {
        // SAFETY: ifr_name is NUL-terminated (ifreq() guarantees it).
        let name = unsafe { CStr::from_ptr(req.ifr_name.as_ptr()) };
        bail!(
            "{what} of {}: {}",
            name.to_string_lossy(),
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn ifreq(name: &str) -> Result<libc::ifreq> {
    if name.is_empty() || name.len() >= libc::IFNAMSIZ || name.contains(['/', ' ', '\0']) {
        bail!("invalid interface name {name:?}: 1 to 15 characters, no '/' or spaces");
    }
    // SAFETY: ifreq is plain data for which all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *d = s as libc::c_char;
    }
    Ok(req)
}

fn sockaddr_in(ip: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip.octets()),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size (16 bytes) and
    // the kernel reads this one as a sockaddr_in by its family.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked() {
        assert!(ifreq("eth0").is_ok());
        assert!(ifreq("").is_err());
        assert!(ifreq("a-very-long-name0").is_err());
        assert!(ifreq("a/b").is_err());
    }

    #[test]
    fn tun_errors_name_the_device_and_fix() {
        let e = tun_error(std::io::Error::from_raw_os_error(libc::EACCES)).to_string();
        assert!(
            e.contains("/dev/net/tun") && e.contains("chmod 0666") && e.contains("its mode is"),
            "{e}"
        );
        let e = tun_error(std::io::Error::from_raw_os_error(libc::ENOENT)).to_string();
        assert!(e.contains("modprobe tun"), "{e}");
    }

    #[test]
    fn rtentry_has_glibc_layout() {
        // x86_64 and aarch64 glibc: 120 bytes.
        if cfg!(target_pointer_width = "64") {
            assert_eq!(std::mem::size_of::<RtEntry>(), 120);
        }
    }
}
