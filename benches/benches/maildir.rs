//! Maildir delivery and ranged reads against what the disk and the kernel allow.
//!
//! - `maildir_deliver_4KiB`, `maildir_deliver_1MiB`: [`MaildirStore::deliver`] (written to
//!   `tmp/`, fsynced, renamed into `cur/`, `cur/` fsynced, UID record appended and fsynced)
//!   beside the ceiling, a plain loop doing the least a durable Maildir delivery must: create a
//!   file in `tmp/`, `write_all`, fsync, rename into `cur/`, fsync `cur/`. Before the group,
//!   the two are also run in alternation and their median latencies printed (see `paired`).
//! - `maildir_range_read_10MiB`: a 10 MiB message read as 64 KiB byte ranges, each through
//!   [`MailStore::open_message`] and [`MessageContent::range`] (what an IMAP
//!   `FETCH BODY[]<offset.length>` does), beside a plain `pread` loop on the same file.
//!
//! Everything runs on one temporary directory under `/var/tmp`, a disk-backed directory on
//! most systems (where `/tmp` may be a tmpfs, on which fsync costs nothing). On the machine these
//! figures were first taken on, `df /tmp` and `df /var/tmp` both showed the root ext4 file system
//! on `/dev/vda`, so either would have measured the same disk.

use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mailstore::{AccountName, MailStore, MailboxName, MaildirStore};

const RANGE: usize = 64 * 1024;

/// A temporary directory on a real disk (see the module doc).
fn bench_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("mail-benches-")
        .tempdir_in("/var/tmp")
        .expect("temporary directory in /var/tmp")
}

/// A message of exactly `size` octets: a header, then 76-octet CRLF lines of text.
fn message(size: usize) -> Vec<u8> {
    let mut out = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: bench\r\n\r\n".to_vec();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    while out.len() < size {
        for _ in 0..76 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            out.push(b"abcdefghijklmnopqrstuvwxyz     "[(seed % 31) as usize]);
        }
        out.extend_from_slice(b"\r\n");
    }
    out.truncate(size);
    out
}

/// The ceiling of a durable Maildir delivery: `tmp/` file, write, fsync, rename into `cur/`,
/// fsync of `cur/`.
struct PlainMaildir {
    tmp: PathBuf,
    cur: PathBuf,
    counter: u64,
}

impl PlainMaildir {
    fn new(dir: &Path) -> PlainMaildir {
        let (tmp, cur) = (dir.join("tmp"), dir.join("cur"));
        fs::create_dir_all(&tmp).unwrap();
        fs::create_dir_all(&cur).unwrap();
        PlainMaildir {
            tmp,
            cur,
            counter: 0,
        }
    }

    fn deliver(&mut self, message: &[u8]) {
        self.counter += 1;
        let name = format!("{}.bench", self.counter);
        let temporary = self.tmp.join(&name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .unwrap();
        file.write_all(message).unwrap();
        file.sync_all().unwrap();
        fs::rename(&temporary, self.cur.join(format!("{name}:2,"))).unwrap();
        File::open(&self.cur).unwrap().sync_all().unwrap();
    }
}

fn deliver(c: &mut Criterion, label: &str, size: usize) {
    let dir = bench_dir();
    let store = MaildirStore::open(dir.path().join("store")).unwrap();
    let account = AccountName::try_from("bench").unwrap();
    let mut plain = PlainMaildir::new(&dir.path().join("plain"));
    let message = message(size);
    let store_deliver = || {
        black_box(store.deliver(&account, &mut &message[..]).unwrap());
    };
    // The first delivery makes the account's Maildir and loads its index: not measured.
    store_deliver();
    paired(label, 100, store_deliver, || plain.deliver(&message));
    let mut group = c.benchmark_group(format!("maildir_deliver_{label}"));
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function("deliver", |b| b.iter(store_deliver));
    group.bench_function("ceiling", |b| b.iter(|| plain.deliver(&message)));
    group.finish();
}

/// Prints the median latencies of `ours` and `ceiling` run alternately, `pairs` times each.
///
/// A virtual disk's fsync latency can drift by several times from one second to the next, so
/// the two criterion functions, run one after the other, may measure different disks. Run in
/// alternation, both see the same one; the medians ignore the disk's stalls.
fn paired(label: &str, pairs: usize, ours: impl Fn(), mut ceiling: impl FnMut()) {
    let (mut ours_times, mut ceiling_times) = (Vec::new(), Vec::new());
    for _ in 0..pairs {
        let start = Instant::now();
        ours();
        ours_times.push(start.elapsed());
        let start = Instant::now();
        ceiling();
        ceiling_times.push(start.elapsed());
    }
    ours_times.sort();
    ceiling_times.sort();
    let (ours, ceiling) = (ours_times[pairs / 2], ceiling_times[pairs / 2]);
    eprintln!(
        "maildir_deliver_{label} paired medians over {pairs} alternating runs: deliver {ours:?}, \
         ceiling {ceiling:?}, ours/ceiling throughput {:.2}",
        ceiling.as_secs_f64() / ours.as_secs_f64()
    );
}

fn deliver_4k(c: &mut Criterion) {
    deliver(c, "4KiB", 4 * 1024);
}

fn deliver_1m(c: &mut Criterion) {
    deliver(c, "1MiB", 1024 * 1024);
}

/// Reads all of `reader` through `buffer`; returns the octets read.
fn drain(mut reader: impl Read, buffer: &mut [u8]) -> usize {
    let mut total = 0;
    loop {
        match reader.read(buffer).unwrap() {
            0 => return total,
            read => total += read,
        }
    }
}

fn range_read(c: &mut Criterion) {
    let size = 10 * 1024 * 1024;
    let dir = bench_dir();
    let store = MaildirStore::open(dir.path().join("store")).unwrap();
    let account = AccountName::try_from("reader").unwrap();
    let inbox = MailboxName::inbox();
    let uid = store
        .deliver(&account, &mut &message(size)[..])
        .unwrap()
        .uid;
    // The one message of the account (a delivery, so in new/): the same file the store reads.
    let path = fs::read_dir(store.account_dir(&account).join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let file = File::open(&path).unwrap();
    assert_eq!(file.metadata().unwrap().len(), size as u64);
    let mut buffer = vec![0u8; RANGE];

    let mut group = c.benchmark_group("maildir_range_read_10MiB");
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function("open_message_range", |b| {
        b.iter(|| {
            let mut total = 0;
            for offset in (0..size).step_by(RANGE) {
                let content = store.open_message(&account, &inbox, uid).unwrap();
                let range = content.range(offset as u64, RANGE as u64).unwrap();
                total += drain(range, &mut buffer);
            }
            assert_eq!(total, size);
            black_box(&buffer);
        })
    });
    // Not a ceiling: one open, the whole message as one range, to tell the per-range cost of
    // `open_message` from the cost of reading.
    group.bench_function("open_message_once", |b| {
        b.iter(|| {
            let content = store.open_message(&account, &inbox, uid).unwrap();
            let total = drain(content.range(0, size as u64).unwrap(), &mut buffer);
            assert_eq!(total, size);
            black_box(&buffer);
        })
    });
    group.bench_function("ceiling_pread", |b| {
        b.iter(|| {
            let mut total = 0;
            for offset in (0..size).step_by(RANGE) {
                let want = RANGE.min(size - offset);
                let mut filled = 0;
                while filled < want {
                    match file
                        .read_at(&mut buffer[filled..want], (offset + filled) as u64)
                        .unwrap()
                    {
                        0 => break,
                        read => filled += read,
                    }
                }
                total += filled;
            }
            assert_eq!(total, size);
            black_box(&buffer);
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = deliver_4k, deliver_1m, range_read
}
criterion_main!(benches);
