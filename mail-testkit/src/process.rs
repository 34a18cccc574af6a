//! Processes: signals, stopping a child we started, and a process tree read from /proc.

use std::collections::HashMap;
use std::fs;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Sends signal `name` (`"TERM"`, `"KILL"`, ...) to `pid` with `kill(1)`; errors are ignored
/// (the process may be gone already).
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Stops `child`: SIGTERM (a clean shutdown) to its pid, a wait of up to `timeout`, then
/// SIGKILL. Returns whether it exited on SIGTERM within `timeout`; either way it has been
/// waited for (reaped) on return.
pub fn stop(child: &mut Child, timeout: Duration) -> bool {
    signal(child.id(), "TERM");
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// What /proc/PID/stat says of a process's parent and CPU use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// The parent's pid.
    pub ppid: u32,
    /// CPU clock ticks used: user and system time, its own and that of its reaped children.
    pub ticks: u64,
}

/// /proc/PID/stat of `pid`, or `None` when it is gone.
pub fn proc_stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields follow the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..=17.
    let number = |index: usize| fields.get(index).and_then(|f| f.parse::<u64>().ok());
    Some(ProcStat {
        ppid: number(1)? as u32,
        ticks: number(11)? + number(12)? + number(13)? + number(14)?,
    })
}

/// Every process whose parent chain leads to `root` (not `root` itself).
pub fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = HashMap::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(stat) = proc_stat(pid) {
                parent_of.insert(pid, stat.ppid);
            }
        }
    }
    let mut found = Vec::new();
    for &pid in parent_of.keys() {
        let mut current = pid;
        // Bounded walk: a parent chain is never longer than the process table.
        for _ in 0..parent_of.len() {
            match parent_of.get(&current) {
                Some(&parent) if parent == root => {
                    found.push(pid);
                    break;
                }
                Some(&parent) if parent > 1 => current = parent,
                _ => break,
            }
        }
    }
    found
}

/// Which processes make up a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Processes {
    /// One process (all its threads share one RSS).
    Single(u32),
    /// A master and every process below it (Dovecot, Postfix).
    Tree(u32),
}

impl Processes {
    /// The pids now: the one process, or the master and its descendants.
    pub fn pids(self) -> Vec<u32> {
        match self {
            Processes::Single(pid) => vec![pid],
            Processes::Tree(master) => {
                let mut pids = vec![master];
                pids.extend(descendants(master));
                pids
            }
        }
    }

    /// CPU ticks used so far, reaped children included (short-lived service processes land in
    /// their master's cutime/cstime when they exit).
    pub fn cpu_ticks(self) -> u64 {
        self.pids()
            .into_iter()
            .filter_map(proc_stat)
            .map(|stat| stat.ticks)
            .sum()
    }
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 when that fails), the unit of
/// [`ProcStat::ticks`].
pub fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_reads_our_own_process() {
        let stat = proc_stat(std::process::id()).expect("own stat");
        assert!(stat.ppid > 0);
    }

    #[test]
    fn a_child_is_a_descendant_and_stops_on_sigterm() {
        let mut child = Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("spawn sleep");
        assert!(descendants(std::process::id()).contains(&child.id()));
        assert!(stop(&mut child, Duration::from_secs(10)));
    }
}
