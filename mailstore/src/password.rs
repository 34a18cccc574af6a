//! Password hashes: argon2 PHC strings, made and checked.
//!
//! An argon2 check needs its whole memory cost at once (19 MiB with the default parameters).
//! Allocated afresh for each check, those blocks defeat the allocator: glibc raises its mmap
//! threshold after the first free, later blocks come from per-thread arenas, and a server that
//! checks passwords on a few threads ends up keeping several times the memory cost per thread.
//! Here the working memory is kept in a small shared stock instead while checks are under
//! way, one block set per concurrent check up to [`spare_limit`], and reused; once no check
//! is running, the stock is given back, so an idle server holds none of it.

use std::sync::Mutex;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Working memory larger than this (in 1 KiB blocks, so 64 MiB) is used once and given back
/// to the allocator rather than kept.
const LARGEST_KEPT_BLOCKS: usize = 64 * 1024;

/// Block sets kept between checks, shared by every thread.
static SPARE_MEMORY: MemoryStock = MemoryStock::new();

/// A stock of argon2 block sets: taken for one check, then given back.
struct MemoryStock {
    spare: Mutex<Vec<Vec<Block>>>,
    /// Checks holding a block set now.
    in_use: std::sync::atomic::AtomicUsize,
}

impl MemoryStock {
    const fn new() -> Self {
        MemoryStock {
            spare: Mutex::new(Vec::new()),
            in_use: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn spare(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
        self.spare
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A set of at least `blocks` blocks: a kept one, grown if needed, or a new one.
    fn take(&self, blocks: usize) -> Vec<Block> {
        self.in_use
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let kept = self.spare().pop();
        match kept {
            Some(mut memory) => {
                if memory.len() < blocks {
                    memory.resize(blocks, Block::default());
                }
                memory
            }
            None => vec![Block::default(); blocks],
        }
    }

    /// Keeps `memory` for the next check while other checks are running, unless `limit`
    /// sets are kept already or it is larger than [`LARGEST_KEPT_BLOCKS`]; the last check
    /// to finish frees the whole stock.
    fn give_back(&self, memory: Vec<Block>, limit: usize) {
        let mut spare = self.spare();
        let others = self
            .in_use
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            .saturating_sub(1);
        if others == 0 {
            spare.clear();
            return;
        }
        if memory.len() <= LARGEST_KEPT_BLOCKS && spare.len() < limit {
            spare.push(memory);
        }
    }
}

/// How many block sets are kept between checks: one per core, the most checks that run at
/// once on a worker pool sized to the machine.
fn spare_limit() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A new argon2id hash of `password` with a random salt and the default parameters, as a PHC
/// string.
pub(crate) fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

/// Whether `password` matches the PHC string `hash`. The digests are compared in constant
/// time; a malformed hash matches nothing.
pub(crate) fn verify(hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_octets = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_octets) else {
        return false;
    };
    let blocks = params.block_count();
    let hasher = Argon2::new(algorithm, version, params);
    let mut computed = vec![0u8; expected.len()];
    let mut memory = SPARE_MEMORY.take(blocks);
    let hashed = hasher.hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut computed,
        &mut memory,
    );
    SPARE_MEMORY.give_back(memory, spare_limit());
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&computed).is_ok_and(|computed| computed == expected)
}

/// A fresh random password of 20 letters and digits (about 119 bits), for demo accounts and
/// `user add` without a given password.
pub fn generate_password() -> String {
    use argon2::password_hash::rand_core::RngCore;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut password = String::with_capacity(20);
    while password.len() < 20 {
        let byte = (OsRng.next_u32() & 0xff) as usize;
        // Rejection sampling keeps every letter equally likely.
        if byte < 256 - 256 % ALPHABET.len() {
            password.push(ALPHABET[byte % ALPHABET.len()] as char);
        }
    }
    password
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[test]
    fn our_check_agrees_with_the_argon2_crate() {
        let stored = hash("correct horse").unwrap();
        let parsed = PasswordHash::new(&stored).unwrap();
        for candidate in ["correct horse", "correct hors", "", "correct horse "] {
            let reference = Argon2::default()
                .verify_password(candidate.as_bytes(), &parsed)
                .is_ok();
            assert_eq!(verify(&stored, candidate), reference, "{candidate:?}");
        }
        assert!(verify(&stored, "correct horse"));
    }

    #[test]
    fn other_parameters_and_variants_are_checked_with_their_own_cost() {
        // argon2i, v=16, a smaller memory cost, a 16-octet output: all read from the string.
        let params = Params::new(256, 3, 1, Some(16)).unwrap();
        let hasher = Argon2::new(Algorithm::Argon2i, Version::V0x10, params);
        let salt = SaltString::generate(&mut OsRng);
        let stored = hasher.hash_password(b"s3cret", &salt).unwrap().to_string();
        assert!(
            stored.starts_with("$argon2i$v=16$m=256,t=3,p=1$"),
            "{stored}"
        );
        assert!(verify(&stored, "s3cret"));
        assert!(!verify(&stored, "s3cret!"));
        // Reused memory larger than needed gives the same answers.
        let big = hash("another").unwrap();
        assert!(verify(&big, "another"));
        assert!(verify(&stored, "s3cret"));
    }

    #[test]
    fn malformed_hashes_match_nothing() {
        for stored in ["", "plain", "$argon2id$v=19$m=19456,t=2,p=1$", "$md5$x$y"] {
            assert!(!verify(stored, ""), "{stored}");
            assert!(!verify(stored, "plain"), "{stored}");
        }
    }

    #[test]
    fn the_stock_keeps_at_most_its_limit_and_reuses_what_it_kept() {
        let stock = MemoryStock::new();
        let first = stock.take(8);
        let second = stock.take(16);
        let third = stock.take(4);
        assert_eq!((first.len(), second.len()), (8, 16));
        stock.give_back(first, 1);
        stock.give_back(second, 1);
        assert_eq!(
            stock.spare().len(),
            1,
            "kept while a check runs, up to the limit"
        );
        // The kept set (8 blocks) is grown to what the next check needs.
        let fourth = stock.take(12);
        assert_eq!(fourth.len(), 12);
        assert!(stock.spare().is_empty());
        // (Given back in place of `fourth`, as if that check had needed more than is kept.)
        drop(fourth);
        stock.give_back(vec![Block::default(); LARGEST_KEPT_BLOCKS + 1], 4);
        assert!(stock.spare().is_empty(), "very large sets are not kept");
        stock.give_back(third, 4);
        assert!(stock.spare().is_empty(), "the last check frees the stock");
    }
}
