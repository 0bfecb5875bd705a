//! The tamper-evident audit chain (R-SYS-03).
//!
//! Each audit entry carries a sequence number, the hash of the previous entry and its own
//! hash over (previous hash, every field). Editing a row changes its hash; deleting or
//! reordering rows breaks the sequence or the link to the previous hash; truncating the
//! tail is caught against the head record that stores the last sequence and hash.

use sha2::{Digest, Sha256};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hashed content of one audit entry, exactly as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContent<'a> {
    pub seq: i64,
    pub occurred_at: &'a str,
    pub event_type: &'a str,
    pub user_id: Option<i64>,
    pub username: &'a str,
    pub unit_id: Option<i64>,
    pub ip: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub params: &'a str,
    pub outcome: &'a str,
    pub status: i64,
}

/// The hash of an entry given the previous entry's hash.
pub fn chain_hash(prev_hash: &str, c: &AuditContent<'_>) -> String {
    let mut h = Sha256::new();
    let opt = |v: Option<i64>| v.map(|x| x.to_string()).unwrap_or_default();
    let fields = [
        prev_hash.to_string(),
        c.seq.to_string(),
        c.occurred_at.to_string(),
        c.event_type.to_string(),
        opt(c.user_id),
        c.username.to_string(),
        opt(c.unit_id),
        c.ip.to_string(),
        c.method.to_string(),
        c.path.to_string(),
        c.params.to_string(),
        c.outcome.to_string(),
        c.status.to_string(),
    ];
    for f in fields {
        // Length-prefix each field so that no two different tuples hash the same bytes.
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

/// A problem found while verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The entry's stored hash does not match its content (edited).
    HashMismatch { seq: i64 },
    /// The entry does not link to the previous one (deleted or reordered).
    BrokenLink { seq: i64 },
    /// A sequence number is missing or out of order (deleted or reordered).
    SequenceGap { expected: i64, found: i64 },
    /// The head says the chain is longer or ends elsewhere (tail truncated).
    HeadMismatch { head_seq: i64, last_seq: i64 },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainProblem::HashMismatch { seq } => write!(f, "entry {seq}: content does not match its hash (edited)"),
            ChainProblem::BrokenLink { seq } => {
                write!(f, "entry {seq}: does not link to the previous entry (deleted or reordered)")
            }
            ChainProblem::SequenceGap { expected, found } => {
                write!(f, "expected entry {expected}, found {found} (deleted or reordered)")
            }
            ChainProblem::HeadMismatch { head_seq, last_seq } => {
                write!(f, "head records {head_seq} entries but the log ends at {last_seq} (truncated)")
            }
        }
    }
}

/// Incremental verifier: feed entries in stored order (by sequence), then `finish`.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
    problems: Vec<ChainProblem>,
    checked: i64,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier { expected_seq: 1, prev_hash: GENESIS.to_string(), problems: Vec::new(), checked: 0 }
    }
}

impl ChainVerifier {
    /// Checks one entry with its stored `prev_hash` and `hash`.
    pub fn push(&mut self, c: &AuditContent<'_>, stored_prev: &str, stored_hash: &str) {
        self.checked += 1;
        if c.seq != self.expected_seq {
            self.problems.push(ChainProblem::SequenceGap { expected: self.expected_seq, found: c.seq });
        }
        if stored_prev != self.prev_hash {
            self.problems.push(ChainProblem::BrokenLink { seq: c.seq });
        }
        if chain_hash(stored_prev, c) != stored_hash {
            self.problems.push(ChainProblem::HashMismatch { seq: c.seq });
        }
        self.expected_seq = c.seq + 1;
        self.prev_hash = stored_hash.to_string();
    }

    /// Compares with the head record and returns (entries checked, problems).
    pub fn finish(mut self, head_seq: i64, head_hash: &str) -> (i64, Vec<ChainProblem>) {
        let last_seq = self.expected_seq - 1;
        if head_seq != last_seq || (head_seq > 0 && head_hash != self.prev_hash) {
            self.problems.push(ChainProblem::HeadMismatch { head_seq, last_seq });
        }
        (self.checked, self.problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: i64, path: &str) -> AuditContent<'_> {
        AuditContent {
            seq,
            occurred_at: "2026-11-21T00:00:00.000000Z",
            event_type: "http.write",
            user_id: Some(1),
            username: "admin",
            unit_id: None,
            ip: "127.0.0.1",
            method: "POST",
            path,
            params: "{}",
            outcome: "ok",
            status: 200,
        }
    }

    fn chain(n: i64) -> Vec<(AuditContent<'static>, String, String)> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|i| {
                let c = entry(i, "/api/v1/x");
                let h = chain_hash(&prev, &c);
                let r = (c, prev.clone(), h.clone());
                prev = h;
                r
            })
            .collect()
    }

    fn verify(rows: &[(AuditContent<'_>, String, String)], head: (i64, &str)) -> Vec<ChainProblem> {
        let mut v = ChainVerifier::default();
        for (c, p, h) in rows {
            v.push(c, p, h);
        }
        v.finish(head.0, head.1).1
    }

    #[test]
    fn intact_chain_verifies() {
        let rows = chain(5);
        let head = rows.last().unwrap().2.clone();
        assert!(verify(&rows, (5, &head)).is_empty());
        assert!(verify(&[], (0, GENESIS)).is_empty());
    }

    #[test]
    fn edit_delete_swap_truncate_are_detected() {
        let rows = chain(5);
        let head = rows.last().unwrap().2.clone();

        let mut edited = rows.clone();
        edited[2].0.path = "/api/v1/other";
        assert!(verify(&edited, (5, &head)).contains(&ChainProblem::HashMismatch { seq: 3 }));

        let mut deleted = rows.clone();
        deleted.remove(2);
        assert!(!verify(&deleted, (5, &head)).is_empty());

        let mut swapped = rows.clone();
        swapped.swap(1, 2);
        assert!(!verify(&swapped, (5, &head)).is_empty());

        let truncated = rows[..4].to_vec();
        assert!(verify(&truncated, (5, &head)).iter().any(|p| matches!(p, ChainProblem::HeadMismatch { .. })));
    }

    #[test]
    fn field_boundaries_matter() {
        let a = AuditContent { username: "ab", ip: "c", ..entry(1, "/") };
        let b = AuditContent { username: "a", ip: "bc", ..entry(1, "/") };
        assert_ne!(chain_hash(GENESIS, &a), chain_hash(GENESIS, &b));
    }
}
