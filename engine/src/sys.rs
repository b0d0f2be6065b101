//! What the engine asks of the kernel beyond sockets' reads and writes: whether io_uring may be
//! used, TCP acknowledgement control, and a receive that never arms a wake-up.

/// Checks that this process may create an io_uring: `Err` says why not, in a few words.
pub fn uring_available() -> Result<(), String> {
    if let Ok(v) = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled") {
        if v.trim() == "2" {
            return Err("io_uring is disabled (kernel.io_uring_disabled = 2)".into());
        }
    }
    // The reactor's own ring (Linux 5.18 or later), made and dropped.
    crate::runtime::ring::build(8).map(drop).map_err(|e| {
        format!(
            "io_uring with what the shard reactor needs (Linux 5.18 or later) is unavailable: {e}"
        )
    })
}

/// `TCP_QUICKACK`: 0 delays ACKs; 1 sends a pending ACK now and goes back to quick ACKs; 2
/// sends a pending ACK now and keeps delaying (tcp(7); `__tcp_sock_set_quickack`). See
/// `Transport::ack_now` and `Transport::delay_acks`.
pub fn quickack(fd: std::os::fd::RawFd, value: libc::c_int) {
    // A failure (not a TCP socket) only means there was nothing to change.
    let _ = set_option(fd, libc::IPPROTO_TCP, libc::TCP_QUICKACK, value);
}

/// `setsockopt(2)` of `value` (a C `int`, `linger`, ... passed by value) at `level`/`name`.
pub(crate) fn set_option<T: Copy>(
    fd: std::os::fd::RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> std::io::Result<()> {
    // SAFETY: `value` is a plain C value of the size given; a bad descriptor or option only
    // makes the call fail.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `recv(2)` with `MSG_DONTWAIT` on `fd`: `Ok(None)` when nothing is there.
pub fn recv_dontwait(fd: std::os::fd::RawFd, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for writes of its length; a bad `fd` only makes the call fail.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    if n >= 0 {
        return Ok(Some(n as usize));
    }
    crate::pump::nonblocking(Err(std::io::Error::last_os_error()))
}

/// The open-files limit: (soft, hard).
pub fn open_files_limit() -> std::io::Result<(u64, u64)> {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `l` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((l.rlim_cur, l.rlim_max))
}

/// Raises the soft open-files limit to the hard one (the usual soft 1,024 is far below what a
/// load generator opens); returns the limit now in force.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    let (soft, hard) = open_files_limit()?;
    if soft >= hard {
        return Ok(soft);
    }
    let l = libc::rlimit {
        rlim_cur: hard,
        rlim_max: hard,
    };
    // SAFETY: a valid rlimit; raising the soft limit up to the hard one needs no privilege.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) } != 0 {
        return Ok(soft);
    }
    Ok(hard)
}

/// Descriptors a run of `connections` connections on `shards` shards needs at most: one per
/// connection, a few per shard (its ring or poll, timers, channels) and the process's own.
pub fn descriptors_needed(connections: u64, shards: u64) -> u64 {
    connections + 16 * shards + 64
}

/// A non-blocking TCP connection begun from `local` (any port) to `addr`: the connect is in
/// progress when this returns; its end shows as writability, its error in `SO_ERROR`.
pub fn connect_from(
    local: std::net::IpAddr,
    addr: std::net::SocketAddr,
) -> std::io::Result<std::net::TcpStream> {
    use std::os::fd::FromRawFd;
    let last = std::io::Error::last_os_error;
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain syscall; the descriptor is owned from here on.
    let fd = unsafe {
        libc::socket(
            domain,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(last());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    // ip(7) IP_BIND_ADDRESS_NO_PORT: the port is chosen at connect time, per destination, so
    // each local address serves a whole ephemeral range to every broker port.
    // Failing only loses that economy.
    let _ = set_option(
        fd,
        libc::IPPROTO_IP,
        libc::IP_BIND_ADDRESS_NO_PORT,
        1 as libc::c_int,
    );
    let (from, from_len) = sockaddr(std::net::SocketAddr::new(local, 0));
    // SAFETY: `from` holds a sockaddr of `from_len` bytes.
    if unsafe {
        libc::bind(
            fd,
            (&from as *const libc::sockaddr_storage).cast(),
            from_len,
        )
    } != 0
    {
        let e = last();
        return Err(std::io::Error::new(
            e.kind(),
            format!("cannot connect from {local}: {e}"),
        ));
    }
    let (to, to_len) = sockaddr(addr);
    // SAFETY: `to` holds a sockaddr of `to_len` bytes.
    if unsafe { libc::connect(fd, (&to as *const libc::sockaddr_storage).cast(), to_len) } != 0 {
        let e = last();
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    Ok(stream)
}

/// A socket address as the kernel takes it.
fn sockaddr(a: std::net::SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid; it is filled as one of its variants below.
    let mut s: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match a {
        std::net::SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in and suitably aligned.
            unsafe { std::ptr::write((&mut s as *mut libc::sockaddr_storage).cast(), sin) };
            (
                s,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        std::net::SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than sockaddr_in6 and suitably aligned.
            unsafe { std::ptr::write((&mut s as *mut libc::sockaddr_storage).cast(), sin6) };
            (
                s,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}
