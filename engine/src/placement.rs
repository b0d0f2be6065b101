//! Where shards run: a CPU list resolved once at start from `/sys/devices/system/{cpu,node}`.
//!
//! The sysfs root is a parameter so tests point it at a synthetic tree (load hosts have several
//! NUMA nodes and dozens of cores; these machines have one node and two).

use std::fmt;
use std::path::{Path, PathBuf};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Policy {
    /// Every online CPU.
    #[default]
    AllCores,
    /// These CPUs, in this order.
    Cores(Vec<usize>),
    /// Every online CPU of this NUMA node.
    Node(usize),
}

/// The resolved placement: one shard per listed CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub cpus: Vec<usize>,
    /// NUMA node of each CPU (same order), 0 where the machine has no node directory.
    pub nodes: Vec<usize>,
}

/// Why a placement could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementError {
    BadList(String),
    Offline(usize, String),
    NoSuchNode(usize),
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
            PlacementError::NoSuchNode(n) => write!(f, "NUMA node {n} does not exist"),
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

fn read_list(path: &Path) -> Result<Vec<usize>, PlacementError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PlacementError::Sysfs(path.to_owned(), e.to_string()))?;
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    parse_cpu_list(&text)
}

/// Resolves `policy` against the sysfs tree under `root` (`/` on a real machine).
pub fn resolve(policy: &Policy, root: &Path) -> Result<Placement, PlacementError> {
    let sys = root.join("sys/devices/system");
    let online = read_list(&sys.join("cpu/online"))?;
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
        Policy::AllCores => online.clone(),
        Policy::Cores(list) => {
            let shown = || {
                online
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            };
            if let Some(c) = list.iter().find(|c| !online.contains(c)) {
                return Err(PlacementError::Offline(*c, shown()));
            }
            list.clone()
        }
        Policy::Node(n) => {
            let cpus: Vec<usize> = online
                .iter()
                .copied()
                .filter(|c| node_of.get(c) == Some(n) || (node_of.is_empty() && *n == 0))
                .collect();
            if cpus.is_empty() {
                return Err(PlacementError::NoSuchNode(*n));
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
        let all = resolve(&Policy::AllCores, &t.0).unwrap();
        assert_eq!(all.cpus, (0..8).collect::<Vec<_>>());
        assert_eq!(all.nodes, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        let n1 = resolve(&Policy::Node(1), &t.0).unwrap();
        assert_eq!(n1.cpus, vec![4, 5, 6, 7]);
        let some = resolve(&Policy::Cores(vec![5, 2]), &t.0).unwrap();
        assert_eq!((some.cpus, some.nodes), (vec![5, 2], vec![1, 0]));
        assert_eq!(
            resolve(&Policy::Node(2), &t.0),
            Err(PlacementError::NoSuchNode(2))
        );
        assert!(matches!(
            resolve(&Policy::Cores(vec![9]), &t.0),
            Err(PlacementError::Offline(9, _))
        ));
    }

    #[test]
    fn no_node_directory_and_real_machine() {
        let t = tree("0-1", &[]);
        let p = resolve(&Policy::Node(0), &t.0).unwrap();
        assert_eq!((p.cpus, p.nodes), (vec![0, 1], vec![0, 0]));
        let real = resolve(&Policy::AllCores, Path::new("/")).unwrap();
        assert!(!real.cpus.is_empty());
    }
}
