//! Sharding by target: which of `n` replicas (a `watch` or `collect` replica, a `train --shard` feature
//! extraction job) owns a target, by a stable hash of its name — the same on every machine and release,
//! so that replicas started separately agree without talking to each other.

/// Stable shard of a target among `n` replicas (FNV-1a 64, identical on every machine and release).
pub fn shard_of(target: &str, n: u32) -> u32 {
    (stable_hash(target) % u64::from(n.max(1))) as u32
}

/// FNV-1a 64 of a string: the same on every machine and release.
pub fn stable_hash(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// `--shard i/n`: this replica's index and the replica count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This replica, 0-based.
    pub index: u32,
    /// Replicas.
    pub count: u32,
}

impl Shard {
    /// Every target (one replica).
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// True when this replica owns `target`.
    pub fn owns(&self, target: &str) -> bool {
        self.count <= 1 || shard_of(target, self.count) == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("shard {s:?} must be i/n, e.g. 0/3"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("shard index {i:?} is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("shard count {n:?} is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("shard {s:?}: need 0 ≤ i < n"));
        }
        Ok(Shard { index, count })
    }
}
