//! What a run's results say about the machine it ran on: its name and kernel, the CPUs online,
//! whether it ran in a container, and the network path to the broker (the local address and
//! interface the kernel routes through, and inside a container, whether that is the host's
//! network or a bridge).

use std::net::{IpAddr, SocketAddr, UdpSocket};

/// Facts about this host, for the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub hostname: String,
    pub kernel: String,
    pub cpus_online: String,
    /// The CPUs this process may run on (`sched_getaffinity(2)`: a cpuset, `taskset`, a
    /// container's `--cpuset-cpus`), as a kernel CPU list.
    pub cpus_allowed: String,
    /// The container runtime this process runs under (`docker`, `podman`, `kubernetes`,
    /// `containerd`, `lxc`, or what `$container` says), `None` on bare metal or a VM.
    pub container: Option<String>,
    pub network: Network,
}

/// The way to the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// The local address the kernel picks to reach the broker (`None`: no route).
    pub local_addr: Option<IpAddr>,
    /// The interface holding that address.
    pub interface: Option<String>,
    pub loopback: bool,
    /// In a container: `host` when the host's interfaces are visible (a bridge such as Docker's
    /// `docker0` or `br-…`, a `veth` end, or more than two interfaces besides `lo`), `bridge`
    /// otherwise (a container on bridges sees only its own end of each).
    pub container_mode: Option<&'static str>,
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

/// The file system type of `/` (`overlay` in a Docker or Podman container).
fn root_fs_type() -> Option<String> {
    // mountinfo: ID parent major:minor root mount-point options ... - fstype source options
    let info = read("/proc/self/mountinfo")?;
    let line = info
        .lines()
        .rfind(|l| l.split_whitespace().nth(4) == Some("/"))?;
    let (_, after) = line.split_once(" - ")?;
    after.split_whitespace().next().map(str::to_owned)
}

/// The container runtime, from the marks each leaves. A mark file alone is not enough (a
/// virtual machine built from a container image keeps its `/.dockerenv`): the root must be a
/// container's layered file system too.
fn container() -> Option<String> {
    if let Some(c) = std::env::var("container").ok().filter(|c| !c.is_empty()) {
        return Some(c);
    }
    let layered = root_fs_type().is_some_and(|t| {
        matches!(
            t.as_str(),
            "overlay" | "aufs" | "fuse-overlayfs" | "fuse.fuse-overlayfs"
        )
    });
    if !layered {
        return None;
    }
    if std::path::Path::new("/.dockerenv").exists() {
        return Some("docker".into());
    }
    if std::path::Path::new("/run/.containerenv").exists() {
        return Some("podman".into());
    }
    let cgroup = read("/proc/1/cgroup").unwrap_or_default();
    for (mark, name) in [
        ("kubepods", "kubernetes"),
        ("docker", "docker"),
        ("containerd", "containerd"),
        ("lxc", "lxc"),
    ] {
        if cgroup.contains(mark) {
            return Some(name.into());
        }
    }
    // A layered root without a runtime's mark: a container all the same.
    Some("unknown".into())
}

/// Interface names and their addresses (`getifaddrs(3)`).
fn interfaces() -> Vec<(String, Option<IpAddr>)> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list freed below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, valid until freeifaddrs.
        let ifa = unsafe { &*cur };
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        let addr = if ifa.ifa_addr.is_null() {
            None
        } else {
            // SAFETY: ifa_addr points at a sockaddr whose family says its real type.
            match i32::from(unsafe { (*ifa.ifa_addr).sa_family }) {
                libc::AF_INET => {
                    // SAFETY: an AF_INET address is a sockaddr_in.
                    let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                    Some(IpAddr::from(
                        u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                    ))
                }
                libc::AF_INET6 => {
                    // SAFETY: an AF_INET6 address is a sockaddr_in6.
                    let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                    Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                }
                _ => None,
            }
        };
        out.push((name, addr));
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// The path to `broker`: the address a datagram socket connected to it gets (no packet is
/// sent) and the interface that holds it.
fn network(broker: SocketAddr, in_container: bool) -> Network {
    let any: SocketAddr = if broker.is_ipv4() {
        "0.0.0.0:0".parse().expect("a valid address")
    } else {
        "[::]:0".parse().expect("a valid address")
    };
    let local_addr = UdpSocket::bind(any)
        .and_then(|s| s.connect(broker).and_then(|()| s.local_addr()))
        .ok()
        .map(|a| a.ip());
    let all = interfaces();
    let interface = local_addr.and_then(|ip| {
        all.iter()
            .find(|(_, a)| *a == Some(ip))
            .map(|(n, _)| n.clone())
    });
    let container_mode = in_container.then(|| {
        let mut names: Vec<&str> = all
            .iter()
            .filter(|(n, _)| n != "lo")
            .map(|(n, _)| n.as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        let host_side =
            |n: &&str| n.starts_with("docker") || n.starts_with("br-") || n.starts_with("veth");
        if names.iter().any(host_side) || names.len() > 2 {
            "host"
        } else {
            "bridge"
        }
    });
    Network {
        local_addr,
        interface,
        loopback: local_addr.is_some_and(|a| a.is_loopback()),
        container_mode,
    }
}

/// This host, and its way to `broker`.
pub fn host(broker: SocketAddr) -> Host {
    let container = container();
    Host {
        hostname: read("/proc/sys/kernel/hostname").unwrap_or_default(),
        kernel: read("/proc/sys/kernel/osrelease").unwrap_or_default(),
        cpus_online: read("/sys/devices/system/cpu/online").unwrap_or_default(),
        cpus_allowed: crate::placement::allowed_cpus()
            .map(|c| crate::placement::cpu_list(&c))
            .unwrap_or_default(),
        network: network(broker, container.is_some()),
        container,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_way_to_a_loopback_broker_is_the_loopback_interface() {
        let h = host("127.0.0.1:1883".parse().unwrap());
        assert!(!h.kernel.is_empty());
        assert!(h.network.loopback);
        assert_eq!(h.network.local_addr, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(h.network.interface.as_deref(), Some("lo"));
        let allowed = crate::placement::allowed_cpus().unwrap();
        assert_eq!(h.cpus_allowed, crate::placement::cpu_list(&allowed));
    }
}
