//! Memory of a server while it runs, sampled from /proc: the summed VmRSS (and, if asked,
//! Pss) of a process or of a master and every process below it.

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::process::Processes;

/// A `kB` field of a /proc file (`VmRSS:` of `status`, `Pss:` of `smaps_rollup`), in KiB.
pub fn proc_kib(pid: u32, file: &str, key: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix(key))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

/// VmRSS of a process in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    proc_kib(pid, "status", "VmRSS:")
}

/// What a [`Sampler`] saw: one value per sample in which at least one process was alive.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MemorySamples {
    /// Sum of VmRSS over the processes, KiB.
    pub rss: Vec<u64>,
    /// Sum of Pss (shared pages divided among their users), KiB; empty unless asked for.
    pub pss: Vec<u64>,
    /// Most processes seen alive in one sample.
    pub max_processes: usize,
}

impl MemorySamples {
    /// Takes one sample of `processes` now.
    pub fn sample(&mut self, processes: Processes, pss: bool) {
        let (mut rss_total, mut pss_total, mut alive) = (0, 0, 0);
        for pid in processes.pids() {
            if let Some(kib) = rss_kib(pid) {
                rss_total += kib;
                alive += 1;
                if pss {
                    pss_total += proc_kib(pid, "smaps_rollup", "Pss:").unwrap_or(0);
                }
            }
        }
        if alive > 0 {
            self.rss.push(rss_total);
            if pss {
                self.pss.push(pss_total);
            }
            self.max_processes = self.max_processes.max(alive);
        }
    }

    /// The largest RSS sample, KiB (0 without samples).
    pub fn peak_rss(&self) -> u64 {
        self.rss.iter().copied().max().unwrap_or(0)
    }

    /// The mean of the RSS samples, KiB (0 without samples).
    pub fn mean_rss(&self) -> u64 {
        if self.rss.is_empty() {
            0
        } else {
            self.rss.iter().sum::<u64>() / self.rss.len() as u64
        }
    }

    /// The largest PSS sample, KiB (0 without samples).
    pub fn peak_pss(&self) -> u64 {
        self.pss.iter().copied().max().unwrap_or(0)
    }
}

/// How a [`Sampler`] samples.
#[derive(Debug, Clone, Copy)]
pub struct SamplerOptions {
    /// The interval between samples (kept on a fixed schedule).
    pub every: Duration,
    /// The sampler stops by itself after this long, if set.
    pub limit: Option<Duration>,
    /// Also sum `Pss:` of /proc/PID/smaps_rollup (costs a walk of each process's mappings).
    pub pss: bool,
}

impl Default for SamplerOptions {
    /// Every 200 ms, no limit, RSS only.
    fn default() -> Self {
        SamplerOptions {
            every: Duration::from_millis(200),
            limit: None,
            pss: false,
        }
    }
}

/// Samples the memory of some processes on its own thread until [`Sampler::finish`].
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: thread::JoinHandle<MemorySamples>,
}

impl Sampler {
    /// Starts sampling `processes` (the tree is re-read at every sample).
    pub fn start(processes: Processes, options: SamplerOptions) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::spawn(move || {
            let mut samples = MemorySamples::default();
            let started = Instant::now();
            let mut next = started;
            while !flag.load(Ordering::Relaxed)
                && options.limit.is_none_or(|limit| started.elapsed() < limit)
            {
                samples.sample(processes, options.pss);
                next += options.every;
                let now = Instant::now();
                if next > now {
                    thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            samples
        });
        Sampler { stop, handle }
    }

    /// Stops sampling and returns the samples.
    pub fn finish(self) -> MemorySamples {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_our_own_process() {
        assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
        let sampler = Sampler::start(
            Processes::Tree(std::process::id()),
            SamplerOptions {
                every: Duration::from_millis(10),
                limit: None,
                pss: true,
            },
        );
        thread::sleep(Duration::from_millis(100));
        let samples = sampler.finish();
        assert!(!samples.rss.is_empty());
        assert_eq!(samples.rss.len(), samples.pss.len());
        assert!(samples.peak_rss() >= samples.mean_rss() && samples.mean_rss() > 0);
        assert!(samples.max_processes >= 1);
    }
}
