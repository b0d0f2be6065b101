//! Where shards run: a CPU list resolved once at start from `/sys/devices/system/{cpu,node}`.
//!
//! The sysfs root is a parameter so tests point it at a synthetic tree (load hosts have several
//! NUMA nodes and dozens of cores; these machines have one node and two). So is the process's own
//! CPU set (`sched_getaffinity(2)`: `taskset`, a cgroup cpuset, a container's `--cpuset-cpus`):
//! shards run only where the process may run.

use std::fmt;
use std::path::{Path, PathBuf};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Policy {
    /// Every online CPU the process may run on.
    #[default]
    AllCores,
    /// These CPUs, in this order.
    Cores(Vec<usize>),
    /// Every online CPU of this NUMA node the process may run on.
    Node(usize),
}

/// The resolved placement: one shard per listed CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub cpus: Vec<usize>,
    /// NUMA node of each CPU (same order), 0 where the machine has no node directory.
    pub nodes: Vec<usize>,
}

/// Messages per second a shard is given to send on a paced run whose CPUs were not chosen
/// (about 60% of a core at the io_uring reactor's 5–6 µs of CPU per message on loopback).
pub const PACED_PER_SHARD: u64 = 100_000;

impl Placement {
    /// The default placement cut to what a paced load of `rate` messages per second in all
    /// needs: one shard per [`PACED_PER_SHARD`], at least one. A shard paced below its means
    /// pays a sleep and a wake-up per tick all the same, so fewer shards carry the same load on
    /// less CPU. Rate 0 (unbounded) keeps every CPU.
    pub fn fitted(mut self, rate: u64) -> Placement {
        if rate > 0 {
            let n = usize::try_from(rate.div_ceil(PACED_PER_SHARD)).unwrap_or(usize::MAX);
            self.cpus.truncate(n.max(1));
            self.nodes.truncate(n.max(1));
        }
        self
    }
}

/// Why a placement could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementError {
    BadList(String),
    Offline(usize, String),
    /// The CPU is online but outside the process's CPU set (listed).
    NotAllowed(usize, String),
    NoSuchNode(usize),
    /// The process's CPU set and the node (or the online CPUs) have no CPU in common.
    NoneAllowed(String),
    Sysfs(PathBuf, String),
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlacementError::BadList(s) => {
                write!(f, "bad CPU list '{s}' (expected e.g. 0-3 or 1,3 or 0-1,4)")
            }
            PlacementError::Offline(c, online) => {
                write!(f, "CPU {c} is not online (online: {online})")
            }
            PlacementError::NotAllowed(c, allowed) => write!(
                f,
                "CPU {c} is outside this process's CPU set (allowed: {allowed}; set by taskset, \
                 a cgroup cpuset or a container's --cpuset-cpus)"
            ),
            PlacementError::NoSuchNode(n) => write!(f, "NUMA node {n} does not exist"),
            PlacementError::NoneAllowed(what) => {
                write!(f, "no CPU of {what} is in this process's CPU set")
            }
            PlacementError::Sysfs(p, e) => write!(f, "cannot read {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for PlacementError {}

/// Parses a kernel-style CPU list: `0-3`, `1,3`, `0-1,4-5`. Duplicates are dropped.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, PlacementError> {
    let bad = || PlacementError::BadList(s.to_owned());
    let mut out = Vec::new();
    for part in s.trim().split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part.trim(), part.trim()),
        };
        let a: usize = a.parse().map_err(|_| bad())?;
        let b: usize = b.parse().map_err(|_| bad())?;
        if a > b || b - a > 4096 {
            return Err(bad());
        }
        for c in a..=b {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// A CPU list in the kernel's form: `0-3,6`.
pub fn cpu_list(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            cpus[i].to_string()
        } else {
            format!("{}-{}", cpus[i], cpus[j])
        });
        i = j + 1;
    }
    out.join(",")
}

fn read_list(path: &Path) -> Result<Vec<usize>, PlacementError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PlacementError::Sysfs(path.to_owned(), e.to_string()))?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    parse_cpu_list(&text)
}

/// Resolves `policy` against the sysfs tree under `root` (`/` on a real machine) and the CPUs
/// the process may run on (`allowed`, from [`allowed_cpus`]; `None`: every online CPU).
pub fn resolve(
    policy: &Policy,
    root: &Path,
    allowed: Option<&[usize]>,
) -> Result<Placement, PlacementError> {
    let sys = root.join("sys/devices/system");
    let online = read_list(&sys.join("cpu/online"))?;
    let may = |c: &usize| allowed.is_none_or(|a| a.contains(c));
    let usable: Vec<usize> = online.iter().copied().filter(may).collect();
    let shown = |l: &[usize]| l.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
    // Node of each CPU; a machine without node directories is one node 0.
    let mut node_of = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir(sys.join("node")) {
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(n) = name.to_str().and_then(|s| s.strip_prefix("node")) else {
                continue;
            };
            let Ok(n) = n.parse::<usize>() else { continue };
            for c in read_list(&entry.path().join("cpulist"))? {
                node_of.insert(c, n);
            }
        }
    }
    let cpus = match policy {
        Policy::AllCores if usable.is_empty() => {
            return Err(PlacementError::NoneAllowed("the online CPUs".into()))
        }
        Policy::AllCores => usable,
        Policy::Cores(list) => {
            if let Some(c) = list.iter().find(|c| !online.contains(c)) {
                return Err(PlacementError::Offline(*c, shown(&online)));
            }
            if let Some(c) = list.iter().find(|c| !may(c)) {
                return Err(PlacementError::NotAllowed(*c, shown(&usable)));
            }
            list.clone()
        }
        Policy::Node(n) => {
            let on_node = |c: &usize| node_of.get(c) == Some(n) || (node_of.is_empty() && *n == 0);
            if !online.iter().any(on_node) {
                return Err(PlacementError::NoSuchNode(*n));
            }
            let cpus: Vec<usize> = usable.iter().copied().filter(on_node).collect();
            if cpus.is_empty() {
                return Err(PlacementError::NoneAllowed(format!("NUMA node {n}")));
            }
            cpus
        }
    };
    let nodes = cpus
        .iter()
        .map(|c| node_of.get(c).copied().unwrap_or(0))
        .collect();
    Ok(Placement { cpus, nodes })
}

/// The CPUs the calling thread may run on (`sched_getaffinity(2)`), ascending. Read it before
/// any thread pins itself: a pinned thread's set is its one CPU.
pub fn allowed_cpus() -> std::io::Result<Vec<usize>> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set that sched_getaffinity fills in; CPU_ISSET
    // reads inside it for every index below CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect())
    }
}

/// Pins the calling thread to one CPU.
pub fn pin_current_thread(cpu: usize) -> std::io::Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it for cpu < 1024
    // (checked), and sched_setaffinity only reads the set.
    unsafe {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_paced_load_gets_the_shards_it_needs() {
        let p = Placement {
            cpus: vec![2, 3, 4, 5],
            nodes: vec![0, 0, 1, 1],
        };
        assert_eq!(p.clone().fitted(10_000).cpus, [2]);
        assert_eq!(p.clone().fitted(PACED_PER_SHARD).cpus, [2]);
        let two = p.clone().fitted(PACED_PER_SHARD + 1);
        assert_eq!((two.cpus, two.nodes), (vec![2, 3], vec![0, 0]));
        assert_eq!(p.clone().fitted(u64::MAX).cpus, p.cpus);
        assert_eq!(p.clone().fitted(0), p, "unbounded: every CPU");
    }

    use super::*;

    fn tree(online: &str, nodes: &[(usize, &str)]) -> tempdir::Dir {
        let d = tempdir::Dir::new();
        let sys = d.0.join("sys/devices/system");
        std::fs::create_dir_all(sys.join("cpu")).unwrap();
        std::fs::write(sys.join("cpu/online"), format!("{online}\n")).unwrap();
        for (n, list) in nodes {
            let p = sys.join(format!("node/node{n}"));
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("cpulist"), format!("{list}\n")).unwrap();
        }
        d
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "allegro-placement-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn cpu_lists_in_the_kernel_form() {
        assert_eq!(cpu_list(&[0, 1, 2, 3, 6]), "0-3,6");
        assert_eq!(cpu_list(&[1]), "1");
        assert_eq!(cpu_list(&[]), "");
        assert_eq!(
            parse_cpu_list(&cpu_list(&[1, 3, 4, 5])).unwrap(),
            vec![1, 3, 4, 5]
        );
    }

    #[test]
    fn lists() {
        assert_eq!(parse_cpu_list("0-3").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_cpu_list("1,3").unwrap(), vec![1, 3]);
        assert_eq!(parse_cpu_list("0-1,4-5,1").unwrap(), vec![0, 1, 4, 5]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("").is_err());
    }

    #[test]
    fn two_node_host() {
        let t = tree("0-7", &[(0, "0-3"), (1, "4-7")]);
        let all = resolve(&Policy::AllCores, &t.0, None).unwrap();
        assert_eq!(all.cpus, (0..8).collect::<Vec<_>>());
        assert_eq!(all.nodes, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        let n1 = resolve(&Policy::Node(1), &t.0, None).unwrap();
        assert_eq!(n1.cpus, vec![4, 5, 6, 7]);
        let some = resolve(&Policy::Cores(vec![5, 2]), &t.0, None).unwrap();
        assert_eq!((some.cpus, some.nodes), (vec![5, 2], vec![1, 0]));
        assert_eq!(
            resolve(&Policy::Node(2), &t.0, None),
            Err(PlacementError::NoSuchNode(2))
        );
        assert!(matches!(
            resolve(&Policy::Cores(vec![9]), &t.0, None),
            Err(PlacementError::Offline(9, _))
        ));
    }

    #[test]
    fn no_node_directory_and_real_machine() {
        let t = tree("0-1", &[]);
        let p = resolve(&Policy::Node(0), &t.0, None).unwrap();
        assert_eq!((p.cpus, p.nodes), (vec![0, 1], vec![0, 0]));
        let allowed = allowed_cpus().unwrap();
        let real = resolve(&Policy::AllCores, Path::new("/"), Some(&allowed)).unwrap();
        assert!(!real.cpus.is_empty());
        assert!(real.cpus.iter().all(|c| allowed.contains(c)));
    }

    /// A cpuset (`taskset`, a container's `--cpuset-cpus`) narrows every policy.
    #[test]
    fn the_process_cpu_set_bounds_every_policy() {
        let t = tree("0-7", &[(0, "0-3"), (1, "4-7")]);
        let set = [1, 2, 5];
        let all = resolve(&Policy::AllCores, &t.0, Some(&set)).unwrap();
        assert_eq!((all.cpus, all.nodes), (vec![1, 2, 5], vec![0, 0, 1]));
        let n1 = resolve(&Policy::Node(1), &t.0, Some(&set)).unwrap();
        assert_eq!(n1.cpus, vec![5]);
        assert_eq!(
            resolve(&Policy::Cores(vec![2, 3]), &t.0, Some(&set)),
            Err(PlacementError::NotAllowed(3, "1,2,5".into()))
        );
        let e = resolve(&Policy::Node(1), &t.0, Some(&[0, 1])).unwrap_err();
        assert_eq!(e, PlacementError::NoneAllowed("NUMA node 1".into()));
        assert!(e.to_string().contains("CPU set"), "{e}");
        assert_eq!(
            resolve(&Policy::Node(3), &t.0, Some(&set)),
            Err(PlacementError::NoSuchNode(3))
        );
        let msg = PlacementError::NotAllowed(3, "1".into()).to_string();
        assert!(msg.contains("--cpuset-cpus"), "{msg}");
    }
}
