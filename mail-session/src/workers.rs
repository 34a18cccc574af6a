//! Not part of the public API: used by the servers of `pop3-proto` and `smtp-submit`, hidden
//! from the documentation, and free to change in any release.
//!
//! A small pool of dedicated threads for CPU-heavy blocking work, password hashing above all.
//!
//! An argon2 check takes tens of milliseconds and 19 MiB of memory. Run on tokio's blocking
//! pool, a burst of logins spreads over dozens of threads: they crowd out the async threads,
//! and the allocator keeps a 19 MiB arena per thread. A [`WorkerPool`] of about one thread per
//! core queues the checks instead, which bounds both the CPU they take and the memory they
//! keep.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs from one queue. Dropping the pool lets the threads end
/// once the queue is empty.
#[derive(Debug)]
pub struct WorkerPool {
    sender: Mutex<mpsc::Sender<Job>>,
    threads: usize,
}

impl WorkerPool {
    /// A pool of `threads` threads (at least one) named `name`.
    pub fn new(threads: usize, name: &str) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || loop {
                    let job = {
                        let queue = receiver.lock().unwrap_or_else(|p| p.into_inner());
                        queue.recv()
                    };
                    match job {
                        // A panicking job loses its result, not the thread.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                })?;
        }
        Ok(WorkerPool {
            sender: Mutex::new(sender),
            threads,
        })
    }

    /// A pool with one thread per available core.
    pub fn per_core(name: &str) -> std::io::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores, name)
    }

    /// How many threads the pool has.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `work` on a pool thread and waits for its result without blocking the runtime.
    /// `None` if the work panicked or the pool is gone.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = sender.send(work());
        });
        self.sender
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .ok()?;
        receiver.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn no_more_jobs_run_at_once_than_the_pool_has_threads() {
        let pool = Arc::new(WorkerPool::new(2, "test").unwrap());
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 2
                })
                .await
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap().unwrap());
        }
        assert_eq!(results, (0..8).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_panicking_job_gives_none_and_the_pool_goes_on() {
        let pool = WorkerPool::new(1, "test").unwrap();
        assert_eq!(pool.run(|| -> u8 { panic!("boom") }).await, None);
        assert_eq!(
            pool.run(|| 7u8).await,
            Some(7),
            "the only thread survived the panic"
        );
    }
}
