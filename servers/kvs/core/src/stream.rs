//! The stream type: entries ordered by ID, each a list of field-value
//! pairs, with the counters Redis 7.0 keeps (the last ID, the most
//! recent deleted ID, the entries ever added) and the shape of Redis's
//! storage that approximate trimming (`MAXLEN ~`, `MINID ~`) depends on:
//! entries go into nodes (Redis's listpacks) of at most
//! `stream-node-max-entries` appended entries and, counted as Redis
//! encodes them, fewer bytes than `stream-node-max-bytes`; a node goes
//! when its last live entry does, and approximate trimming removes only
//! whole nodes.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

use crate::num;
use crate::rdb::listpack::{EMPTY_SIZE, entry_size, int_entry_size as int_size};

/// An entry ID: milliseconds and a sequence number, ordered as a pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StreamId {
    pub(crate) ms: u64,
    pub(crate) seq: u64,
}

impl StreamId {
    pub(crate) const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub(crate) const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// `ms-seq`, or `ms` with `missing_seq` (0 for a range's start,
    /// `u64::MAX` for its end); `-` and `+` when `specials`.
    pub(crate) fn parse(arg: &[u8], missing_seq: u64, specials: bool) -> Option<StreamId> {
        if specials && arg == b"-" {
            return Some(StreamId::MIN);
        }
        if specials && arg == b"+" {
            return Some(StreamId::MAX);
        }
        match arg.iter().position(|&b| b == b'-') {
            None => Some(StreamId {
                ms: num::parse_cursor(arg)?,
                seq: missing_seq,
            }),
            Some(dash) => Some(StreamId {
                ms: num::parse_cursor(&arg[..dash])?,
                seq: num::parse_cursor(&arg[dash + 1..])?,
            }),
        }
    }

    /// The next ID, if there is one.
    pub(crate) fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => Some(StreamId {
                ms: self.ms.checked_add(1)?,
                seq: 0,
            }),
        }
    }

    /// The previous ID, if there is one.
    pub(crate) fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { ms: self.ms, seq }),
            None => Some(StreamId {
                ms: self.ms.checked_sub(1)?,
                seq: u64::MAX,
            }),
        }
    }

    /// `ms-seq`.
    pub(crate) fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        num::push_u64(&mut out, self.ms);
        out.push(b'-');
        num::push_u64(&mut out, self.seq);
        out
    }
}

/// A node of Redis's storage (a listpack), as far as trimming and its
/// size limits see it.
#[derive(Clone, Debug)]
struct Node {
    /// The ID of the last entry appended to it.
    last: StreamId,
    /// Entries appended to it (deleted ones included).
    appended: usize,
    /// Entries of it still there.
    live: usize,
    /// The master entry's field names: those of the entry that made the
    /// node (an entry with the same ones stores only its values).
    master: Vec<Vec<u8>>,
    /// The listpack's bytes but for its two counters (live and deleted
    /// entries), which Redis rewrites in place and which grow as they do.
    fixed: usize,
}

impl Node {
    /// A node made by entry `id` with `fields` (field, value, …): its
    /// master entry (the field count, the names, a zero) and the entry.
    fn new(id: StreamId, fields: &[Vec<u8>]) -> Node {
        let master: Vec<Vec<u8>> = fields.iter().step_by(2).cloned().collect();
        let mut node = Node::empty(id, master);
        node.push(id, id, fields);
        node
    }

    /// A node with master fields `master` and no entry yet.
    fn empty(first: StreamId, master: Vec<Vec<u8>>) -> Node {
        let head = int_size(master.len() as i64)
            + master.iter().map(|f| entry_size(f)).sum::<usize>()
            + int_size(0);
        Node {
            last: first,
            appended: 0,
            live: 0,
            master,
            fixed: EMPTY_SIZE + head,
        }
    }

    /// Whether `fields` (field, value, …) name the master's fields, in
    /// order: such an entry stores only its values.
    fn same_fields(&self, fields: &[Vec<u8>]) -> bool {
        fields.len() / 2 == self.master.len()
            && fields
                .iter()
                .step_by(2)
                .zip(&self.master)
                .all(|(f, m)| f == m)
    }

    /// The listpack's bytes (Redis's `lpBytes`).
    fn bytes(&self) -> usize {
        self.fixed
            + int_size(self.live as i64)
            + int_size(self.appended.saturating_sub(self.live) as i64)
    }

    /// Appends entry `id` of the node made by `first`: its flags, its ID
    /// as differences from `first`'s, its field count and names unless
    /// they are the master's, its values, and its element count.
    fn push(&mut self, first: StreamId, id: StreamId, fields: &[Vec<u8>]) {
        let pairs = fields.len() / 2;
        let same = self.same_fields(fields);
        let values: usize = fields
            .iter()
            .skip(1)
            .step_by(2)
            .map(|v| entry_size(v))
            .sum();
        let mut size = int_size(0)
            + int_size(id.ms.wrapping_sub(first.ms) as i64)
            + int_size(id.seq.wrapping_sub(first.seq) as i64)
            + values;
        let mut elements = pairs + 3;
        if !same {
            size += int_size(pairs as i64)
                + fields
                    .iter()
                    .step_by(2)
                    .map(|f| entry_size(f))
                    .sum::<usize>();
            elements += pairs + 1;
        }
        self.fixed += size + int_size(elements as i64);
        self.appended += 1;
        self.live += 1;
        self.last = id;
    }
}

/// Where Redis's stream nodes end: `stream-node-max-entries` (0: no
/// limit) and `stream-node-max-bytes` (0: Redis's largest listpack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeLimits {
    pub(crate) entries: usize,
    pub(crate) bytes: usize,
}

/// Redis's largest stream listpack (`STREAM_LISTPACK_MAX_SIZE`).
const LISTPACK_MAX: usize = 1 << 30;

/// A node as DUMP writes it ([`Stream::dump_nodes`]).
pub(crate) struct DumpNode<'a> {
    /// Its master entry's ID.
    pub(crate) first: StreamId,
    /// Its master entry's field names.
    pub(crate) master: &'a [Vec<u8>],
    /// Its live entries: ID, fields and values, and whether the fields
    /// are the master's.
    pub(crate) entries: Vec<(StreamId, &'a Vec<Vec<u8>>, bool)>,
}

/// How to trim: to a length, or below an ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Trim {
    MaxLen(usize),
    MinId(StreamId),
}

/// A delivered entry not yet acknowledged: when, how often, to whom.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub(crate) delivered_ms: u64,
    pub(crate) deliveries: u64,
    pub(crate) consumer: Vec<u8>,
}

/// A consumer of a group: when it was last seen, what it holds.
#[derive(Clone, Debug, Default)]
pub(crate) struct Consumer {
    pub(crate) seen_ms: u64,
    pub(crate) pending: BTreeSet<StreamId>,
}

/// A consumer group: the last ID it delivered, how many entries it read
/// (`None`: unknown), its pending entries and its consumers.
#[derive(Clone, Debug, Default)]
pub(crate) struct Group {
    pub(crate) last_id: StreamId,
    pub(crate) entries_read: Option<u64>,
    pub(crate) pending: BTreeMap<StreamId, Pending>,
    pub(crate) consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    /// Consumer `name`, made if new (seen at `now_ms` either way);
    /// whether it was made.
    pub(crate) fn consumer(&mut self, name: &[u8], now_ms: u64) -> (&mut Consumer, bool) {
        let made = !self.consumers.contains_key(name);
        let c = self.consumers.entry(name.to_vec()).or_default();
        c.seen_ms = now_ms;
        (c, made)
    }

    /// Takes `id` out of the pending entries (and its consumer's);
    /// whether it was pending.
    pub(crate) fn ack(&mut self, id: StreamId) -> bool {
        let Some(p) = self.pending.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&p.consumer) {
            c.pending.remove(&id);
        }
        true
    }

    /// Makes `id` pending for `consumer`, delivered at `now_ms`
    /// `deliveries` times (taking it from another consumer if needed).
    pub(crate) fn assign(&mut self, id: StreamId, consumer: &[u8], now_ms: u64, deliveries: u64) {
        self.ack(id);
        self.pending.insert(
            id,
            Pending {
                delivered_ms: now_ms,
                deliveries,
                consumer: consumer.to_vec(),
            },
        );
        self.consumers
            .entry(consumer.to_vec())
            .or_default()
            .pending
            .insert(id);
    }
}

/// A stream.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stream {
    entries: BTreeMap<StreamId, Vec<Vec<u8>>>,
    /// The nodes, oldest first, each with the ID of its first entry.
    nodes: VecDeque<(StreamId, Node)>,
    pub(crate) last_id: StreamId,
    pub(crate) max_deleted: StreamId,
    pub(crate) entries_added: u64,
    /// Its consumer groups, by name.
    pub(crate) groups: BTreeMap<Vec<u8>, Group>,
}

impl Stream {
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The last entry's ID, if it has entries.
    pub(crate) fn last_entry(&self) -> Option<StreamId> {
        self.entries.keys().next_back().copied()
    }

    /// Appends `fields` (field, value, …) as entry `id`, greater than
    /// [`last_id`](Self::last_id): to the last node, unless that is full
    /// by `limits` as Redis finds it (its bytes and the entry's strings
    /// reach the byte limit, or it was given the most entries).
    pub(crate) fn append(&mut self, id: StreamId, fields: Vec<Vec<u8>>, limits: NodeLimits) {
        let max_bytes = match limits.bytes {
            0 => LISTPACK_MAX,
            n => n.min(LISTPACK_MAX),
        };
        let strings: usize = fields.iter().map(Vec::len).sum();
        match self.nodes.back_mut() {
            Some((first, n))
                if n.bytes() + strings < max_bytes
                    && (limits.entries == 0 || n.appended < limits.entries) =>
            {
                n.push(*first, id, &fields);
            }
            _ => self.nodes.push_back((id, Node::new(id, &fields))),
        }
        self.entries.insert(id, fields);
        self.last_id = id;
        self.entries_added += 1;
    }

    /// The node holding `id`.
    fn node_of(&self, id: StreamId) -> Option<usize> {
        let at = self.nodes.partition_point(|(first, _)| *first <= id);
        at.checked_sub(1)
    }

    /// Takes entry `id` out (XDEL: the node goes with its last live
    /// entry); whether it was there.
    pub(crate) fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        if let Some(i) = self.node_of(id) {
            self.nodes[i].1.live -= 1;
            if self.nodes[i].1.live == 0 {
                self.nodes.remove(i);
            }
        }
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        true
    }

    /// Trims from the oldest entries as Redis 7.0 does: whole nodes while
    /// they are all in excess, then (unless `approx`) entries of the node
    /// that is not; never past `limit` entries (0: no limit). How many
    /// went.
    pub(crate) fn trim(&mut self, how: Trim, approx: bool, limit: usize) -> usize {
        let mut deleted = 0;
        while let Some((first, node)) = self.nodes.front().map(|(f, n)| (*f, n.clone())) {
            if let Trim::MaxLen(max) = how
                && self.len() <= max
            {
                break;
            }
            if limit != 0 && deleted + node.live > limit {
                break;
            }
            let whole = match how {
                Trim::MaxLen(max) => self.len() - node.live >= max,
                Trim::MinId(min) => node.last < min,
            };
            let ids: Vec<StreamId> = self
                .entries
                .range(first..=node.last)
                .map(|(id, _)| *id)
                .collect();
            if whole {
                for id in ids {
                    self.entries.remove(&id);
                }
                deleted += node.live;
                self.nodes.pop_front();
                continue;
            }
            if approx {
                break;
            }
            for id in ids {
                let stop = match how {
                    Trim::MaxLen(max) => self.len() <= max,
                    Trim::MinId(min) => id >= min,
                };
                if stop {
                    break;
                }
                self.entries.remove(&id);
                self.nodes[0].1.live -= 1;
                deleted += 1;
            }
            break;
        }
        deleted
    }

    /// The entries with IDs in `lo..=hi`, from the oldest or (`rev`) the
    /// newest, at most `count` (0: all).
    pub(crate) fn range(
        &self,
        lo: StreamId,
        hi: StreamId,
        rev: bool,
        count: usize,
    ) -> Vec<(StreamId, &Vec<Vec<u8>>)> {
        if lo > hi {
            return Vec::new();
        }
        let it = self.entries.range(lo..=hi).map(|(id, f)| (*id, f));
        let take = if count == 0 { usize::MAX } else { count };
        if rev {
            it.rev().take(take).collect()
        } else {
            it.take(take).collect()
        }
    }

    /// Entry `id`'s fields, if it is there.
    pub(crate) fn get(&self, id: StreamId) -> Option<&Vec<Vec<u8>>> {
        self.entries.get(&id)
    }

    /// Every entry, oldest first.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (StreamId, &Vec<Vec<u8>>)> {
        self.entries.iter().map(|(id, f)| (*id, f))
    }

    /// The first entry's ID, 0-0 when it has none: Redis's `first_id`
    /// (XINFO's `recorded-first-entry-id`).
    pub(crate) fn first_id(&self) -> StreamId {
        self.entries.keys().next().copied().unwrap_or_default()
    }

    /// Whether a deleted entry may lie at `start` or after it (Redis's
    /// `streamRangeHasTombstones` to the end): only the latest deletion
    /// is known, and none before the first entry counts.
    pub(crate) fn tombstones_from(&self, start: StreamId) -> bool {
        self.len() > 0
            && self.max_deleted != StreamId::default()
            && self.max_deleted >= self.first_id()
            && start <= self.max_deleted
    }

    /// How many entries were added up to and including `id`, where that
    /// can be told (Redis's `streamEstimateDistanceFromFirstEverEntry`):
    /// exactly at the last entry and, with no deletion past the first
    /// entry, at the first entry or before it.
    pub(crate) fn entries_up_to(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.len() == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            core::cmp::Ordering::Equal => return Some(self.entries_added),
            core::cmp::Ordering::Greater => return None,
            core::cmp::Ordering::Less => {}
        }
        let first = self.first_id();
        if self.max_deleted == StreamId::default() || self.max_deleted < first {
            let before = self.entries_added.wrapping_sub(self.len() as u64);
            match id.cmp(&first) {
                core::cmp::Ordering::Less => return Some(before),
                core::cmp::Ordering::Equal => return Some(before.wrapping_add(1)),
                core::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// Entries not yet delivered to group `g` (XINFO's `lag`), where
    /// that can be told: from its count of entries read while no
    /// deletion lies ahead of it, else from where its last delivered ID
    /// stands. Negative when `ENTRIESREAD` said more than were added.
    pub(crate) fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let read = match g.entries_read {
            Some(read) if !self.tombstones_from(g.last_id) => read,
            _ => self.entries_up_to(g.last_id)?,
        };
        Some((self.entries_added as i64).wrapping_sub(read as i64))
    }

    /// A group that had read `read` entries delivers `id`, after its
    /// last delivered ID: its count of entries read then, as Redis 7.0
    /// keeps it (counted on while no deletion lies ahead, else estimated
    /// again).
    pub(crate) fn read_after(&self, read: Option<u64>, id: StreamId) -> Option<u64> {
        match read {
            Some(n) if !self.tombstones_from(id) => Some(n + 1),
            _ if self.entries_added > 0 => self.entries_up_to(id),
            _ => read,
        }
    }

    /// The nodes of Redis's storage: keys of its radix tree (XINFO's
    /// `radix-tree-keys`).
    pub(crate) fn rax_keys(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes of that radix tree (`radix-tree-nodes`), each node's
    /// first ID a 16-byte big-endian key, as a radix tree that compresses
    /// every run without a branch holds them: a compressed node for each
    /// shared run, a branching node where keys part, a node at each key.
    pub(crate) fn rax_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self
            .nodes
            .iter()
            .map(|(id, _)| {
                let mut k = [0u8; 16];
                k[..8].copy_from_slice(&id.ms.to_be_bytes());
                k[8..].copy_from_slice(&id.seq.to_be_bytes());
                k
            })
            .collect();
        if keys.is_empty() {
            1
        } else {
            rax_subtree(&keys, 0)
        }
    }

    /// The nodes as DUMP writes them: each one's first ID (its master
    /// entry's), its master fields, and its live entries, each with
    /// whether it names the master's fields.
    pub(crate) fn dump_nodes(&self) -> Vec<DumpNode<'_>> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(i, (first, node))| {
                let end = self.nodes.get(i + 1).map(|(next, _)| *next);
                let entries = self
                    .entries
                    .range(*first..)
                    .take_while(|(id, _)| end.is_none_or(|e| **id < e))
                    .map(|(id, f)| (*id, f, node.same_fields(f)))
                    .collect();
                DumpNode {
                    first: *first,
                    master: &node.master,
                    entries,
                }
            })
            .collect()
    }

    /// RESTORE: appends a node made by `first`, with master fields
    /// `master`, holding `entries` in order (those `deleted` are counted
    /// in the node, as Redis's listpack keeps them, but are gone). False
    /// if an entry is not after the one before it.
    pub(crate) fn restore_node(
        &mut self,
        first: StreamId,
        master: Vec<Vec<u8>>,
        entries: Vec<(StreamId, Vec<Vec<u8>>, bool)>,
    ) -> bool {
        let mut node = Node::empty(first, master);
        let mut last = self.nodes.back().map(|(_, n)| n.last);
        for (id, fields, deleted) in entries {
            if last.is_some_and(|l| id <= l) {
                return false;
            }
            last = Some(id);
            node.push(first, id, &fields);
            if deleted {
                node.live -= 1;
            } else {
                self.entries.insert(id, fields);
            }
        }
        if node.live > 0 {
            self.nodes.push_back((first, node));
        }
        true
    }

    /// About the bytes it holds.
    pub(crate) fn footprint(&self) -> usize {
        self.entries
            .values()
            .map(|f| f.iter().map(|x| x.len() + 16).sum::<usize>() + 48)
            .sum()
    }
}

/// The nodes of the radix tree under the node where `keys` (sorted,
/// distinct, sharing their first `depth` bytes) go on at byte `depth`,
/// that node included.
fn rax_subtree(keys: &[[u8; 16]], depth: usize) -> usize {
    if depth == 16 {
        return 1;
    }
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    let shared = (depth..16).take_while(|&i| first[i] == last[i]).count();
    if shared > 0 {
        // One compressed node for the run they share.
        return 1 + rax_subtree(keys, depth + shared);
    }
    // A branching node, a child for each byte they part on.
    let mut nodes = 1;
    let mut rest = keys;
    while let Some(k) = rest.first() {
        let n = rest.iter().take_while(|o| o[depth] == k[depth]).count();
        nodes += rax_subtree(&rest[..n], depth + 1);
        rest = &rest[n..];
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream whose nodes start at `firsts` (one entry each).
    fn with_nodes(firsts: &[(u64, u64)]) -> Stream {
        let mut s = Stream::default();
        for &(ms, seq) in firsts {
            s.append(
                StreamId { ms, seq },
                Vec::new(),
                NodeLimits {
                    entries: 1,
                    bytes: 0,
                },
            );
        }
        s
    }

    #[test]
    fn radix_tree_nodes_of_compressed_runs_and_branches() {
        // Empty: the root alone; one key: a compressed root and the key.
        assert_eq!(with_nodes(&[]).rax_nodes(), 1);
        assert_eq!(with_nodes(&[(5, 0)]).rax_nodes(), 2);
        // Parting at the last byte: the shared run, a branch, two keys.
        assert_eq!(with_nodes(&[(5, 0), (5, 1)]).rax_nodes(), 4);
        // Parting at the first byte: a branching root, then for each a
        // compressed run and the key.
        assert_eq!(with_nodes(&[(1, 0), (1 << 56, 0)]).rax_nodes(), 5);
        // Three, two of them parting late (8, as Redis 7.0 counts them).
        assert_eq!(with_nodes(&[(1, 0), (1, 1), (2, 0)]).rax_nodes(), 8);
        assert_eq!(with_nodes(&[(1, 0), (1, 1), (2, 0)]).rax_keys(), 3);
    }

    #[test]
    fn entries_read_is_estimated_where_it_can_be() {
        let id = |ms| StreamId { ms, seq: 0 };
        let mut s = with_nodes(&[(1, 0), (2, 0), (3, 0)]);
        assert_eq!(s.entries_up_to(id(3)), Some(3));
        assert_eq!(s.entries_up_to(id(1)), Some(1));
        assert_eq!(s.entries_up_to(id(0)), Some(0));
        assert_eq!(s.entries_up_to(id(2)), None, "in the middle");
        assert_eq!(s.entries_up_to(id(4)), None, "in the future");
        // A deletion ahead of a group stops its count.
        s.delete(id(2));
        assert!(s.tombstones_from(id(1)) && !s.tombstones_from(id(3)));
        assert_eq!(s.read_after(Some(1), id(2)), None);
        assert_eq!(s.read_after(Some(2), id(3)), Some(3));
        // A deletion before the first entry does not count.
        s.delete(id(1));
        assert!(!s.tombstones_from(id(0)));
        assert_eq!(s.entries_up_to(id(3)), Some(3));
    }
}
