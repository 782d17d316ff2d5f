//! An order-statistic tree: an AVL tree whose nodes count their subtrees,
//! so that a key's rank, the key at a rank and a range of ranks take
//! O(log n) (a range: O(log n + its length)), as Redis's skiplist gives
//! ZRANK and ZRANGE. Balanced by heights, not by chance: a client that
//! chooses the keys cannot make it deep (a depth of at most 1.44 log2 n
//! bounds the recursion of insert and remove).
//!
//! Nodes live in a vector and name each other by index; a removed node's
//! slot is reused.

use alloc::vec::Vec;
use core::cmp::Ordering;

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node<K> {
    key: K,
    left: u32,
    right: u32,
    height: u8,
    /// Nodes in the subtree, this one included.
    size: u32,
}

/// Keys in order, each once, with ranks.
#[derive(Clone, Debug)]
pub(crate) struct OsTree<K> {
    slots: Vec<Option<Node<K>>>,
    free: Vec<u32>,
    root: u32,
}

impl<K: Ord> Default for OsTree<K> {
    fn default() -> Self {
        OsTree {
            slots: Vec::new(),
            free: Vec::new(),
            root: NIL,
        }
    }
}

impl<K: Ord> OsTree<K> {
    fn node(&self, i: u32) -> &Node<K> {
        self.slots[i as usize].as_ref().expect("a live node")
    }

    fn node_mut(&mut self, i: u32) -> &mut Node<K> {
        self.slots[i as usize].as_mut().expect("a live node")
    }

    fn size(&self, i: u32) -> u32 {
        if i == NIL { 0 } else { self.node(i).size }
    }

    fn height(&self, i: u32) -> u8 {
        if i == NIL { 0 } else { self.node(i).height }
    }

    /// The number of keys.
    pub(crate) fn len(&self) -> usize {
        self.size(self.root) as usize
    }

    /// Adds `key` (the caller knows it is not there).
    pub(crate) fn insert(&mut self, key: K) {
        self.root = self.insert_at(self.root, key);
    }

    /// Removes `key`; whether it was there.
    pub(crate) fn remove(&mut self, key: &K) -> bool {
        let (root, removed) = self.remove_at(self.root, key);
        self.root = root;
        if removed {
            self.shrink();
        }
        removed
    }

    /// How many keys come first for which `before` holds: `before` must
    /// hold for a prefix of the keys in order and for none after it.
    pub(crate) fn count_while(&self, before: impl Fn(&K) -> bool) -> usize {
        let (mut n, mut t) = (0, self.root);
        while t != NIL {
            let node = self.node(t);
            if before(&node.key) {
                n += self.size(node.left) as usize + 1;
                t = node.right;
            } else {
                t = node.left;
            }
        }
        n
    }

    /// The key at rank `rank` (0: the least).
    pub(crate) fn get(&self, mut rank: usize) -> Option<&K> {
        let mut t = self.root;
        while t != NIL {
            let node = self.node(t);
            let left = self.size(node.left) as usize;
            match rank.cmp(&left) {
                Ordering::Less => t = node.left,
                Ordering::Equal => return Some(&node.key),
                Ordering::Greater => {
                    rank -= left + 1;
                    t = node.right;
                }
            }
        }
        None
    }

    /// The keys of ranks `start..end`, in order (either way).
    pub(crate) fn range(&self, start: usize, end: usize) -> Iter<'_, K> {
        let end = end.min(self.len());
        let start = start.min(end);
        let mut iter = Iter {
            tree: self,
            front: Vec::new(),
            back: Vec::new(),
            left: end - start,
        };
        if start < end {
            // The front: the path to `start`, keeping the nodes it passes
            // on their left (they come after it).
            let (mut t, mut r) = (self.root, start);
            while t != NIL {
                let node = self.node(t);
                let left = self.size(node.left) as usize;
                match r.cmp(&left) {
                    Ordering::Less => {
                        iter.front.push(t);
                        t = node.left;
                    }
                    Ordering::Equal => {
                        iter.front.push(t);
                        break;
                    }
                    Ordering::Greater => {
                        r -= left + 1;
                        t = node.right;
                    }
                }
            }
            // The back: the path to `end - 1`, keeping the nodes it passes
            // on their right (they come before it).
            let (mut t, mut r) = (self.root, end - 1);
            while t != NIL {
                let node = self.node(t);
                let left = self.size(node.left) as usize;
                match r.cmp(&left) {
                    Ordering::Less => t = node.left,
                    Ordering::Equal => {
                        iter.back.push(t);
                        break;
                    }
                    Ordering::Greater => {
                        iter.back.push(t);
                        r -= left + 1;
                        t = node.right;
                    }
                }
            }
        }
        iter
    }

    fn alloc(&mut self, key: K) -> u32 {
        let node = Node {
            key,
            left: NIL,
            right: NIL,
            height: 1,
            size: 1,
        };
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(node);
                i
            }
            None => {
                self.slots.push(Some(node));
                (self.slots.len() - 1) as u32
            }
        }
    }

    /// Frees node `i`'s slot (its subtree is the caller's to relink).
    fn release(&mut self, i: u32) -> K {
        let node = self.slots[i as usize].take().expect("a live node");
        self.free.push(i);
        node.key
    }

    /// Gives memory back once most slots are free (a set that shrank):
    /// the keys move to a new, packed tree, balanced from their order.
    /// O(n), at most once per n/2 removals.
    fn shrink(&mut self) {
        if self.free.len() * 2 <= self.slots.len() || self.slots.len() < 64 {
            return;
        }
        let mut keys = Vec::with_capacity(self.len());
        let mut stack = Vec::new();
        let mut t = self.root;
        // In order, each slot emptied as its key is taken.
        loop {
            while t != NIL {
                stack.push(t);
                t = self.node(t).left;
            }
            let Some(n) = stack.pop() else {
                break;
            };
            let node = self.slots[n as usize].take().expect("a live node");
            keys.push(node.key);
            t = node.right;
        }
        *self = OsTree::default();
        self.slots.reserve_exact(keys.len());
        self.root = self.build(&mut keys.into_iter().map(Some).collect::<Vec<_>>());
    }

    /// A balanced tree of `keys` (in order, each taken).
    fn build(&mut self, keys: &mut [Option<K>]) -> u32 {
        if keys.is_empty() {
            return NIL;
        }
        let mid = keys.len() / 2;
        let (left, rest) = keys.split_at_mut(mid);
        let (here, right) = rest.split_first_mut().expect("not empty");
        let l = self.build(left);
        let i = self.alloc(here.take().expect("each key once"));
        let r = self.build(right);
        let n = self.node_mut(i);
        n.left = l;
        n.right = r;
        self.update(i);
        i
    }

    fn insert_at(&mut self, t: u32, key: K) -> u32 {
        if t == NIL {
            return self.alloc(key);
        }
        match key.cmp(&self.node(t).key) {
            Ordering::Less => {
                let l = self.insert_at(self.node(t).left, key);
                self.node_mut(t).left = l;
            }
            Ordering::Greater => {
                let r = self.insert_at(self.node(t).right, key);
                self.node_mut(t).right = r;
            }
            Ordering::Equal => return t,
        }
        self.balance(t)
    }

    fn remove_at(&mut self, t: u32, key: &K) -> (u32, bool) {
        if t == NIL {
            return (NIL, false);
        }
        match key.cmp(&self.node(t).key) {
            Ordering::Less => {
                let (l, removed) = self.remove_at(self.node(t).left, key);
                self.node_mut(t).left = l;
                (self.balance(t), removed)
            }
            Ordering::Greater => {
                let (r, removed) = self.remove_at(self.node(t).right, key);
                self.node_mut(t).right = r;
                (self.balance(t), removed)
            }
            Ordering::Equal => {
                let (left, right) = (self.node(t).left, self.node(t).right);
                self.release(t);
                if left == NIL {
                    return (right, true);
                }
                if right == NIL {
                    return (left, true);
                }
                // The least of the right subtree takes its place.
                let (rest, least) = self.detach_least(right);
                let n = self.node_mut(least);
                n.left = left;
                n.right = rest;
                (self.balance(least), true)
            }
        }
    }

    /// Takes the least node out of subtree `t`: the subtree left, and it.
    fn detach_least(&mut self, t: u32) -> (u32, u32) {
        let left = self.node(t).left;
        if left == NIL {
            return (self.node(t).right, t);
        }
        let (rest, least) = self.detach_least(left);
        self.node_mut(t).left = rest;
        (self.balance(t), least)
    }

    fn update(&mut self, t: u32) {
        let (l, r) = (self.node(t).left, self.node(t).right);
        let height = 1 + self.height(l).max(self.height(r));
        let size = 1 + self.size(l) + self.size(r);
        let n = self.node_mut(t);
        n.height = height;
        n.size = size;
    }

    /// Restores the balance at `t` after a change below it; the
    /// subtree's new root.
    fn balance(&mut self, t: u32) -> u32 {
        self.update(t);
        let (l, r) = (self.node(t).left, self.node(t).right);
        let tilt = i16::from(self.height(l)) - i16::from(self.height(r));
        if tilt > 1 {
            let (ll, lr) = (self.node(l).left, self.node(l).right);
            if self.height(ll) < self.height(lr) {
                let new_l = self.rotate_left(l);
                self.node_mut(t).left = new_l;
            }
            return self.rotate_right(t);
        }
        if tilt < -1 {
            let (rl, rr) = (self.node(r).left, self.node(r).right);
            if self.height(rr) < self.height(rl) {
                let new_r = self.rotate_right(r);
                self.node_mut(t).right = new_r;
            }
            return self.rotate_left(t);
        }
        t
    }

    fn rotate_right(&mut self, y: u32) -> u32 {
        let x = self.node(y).left;
        let moved = self.node(x).right;
        self.node_mut(y).left = moved;
        self.node_mut(x).right = y;
        self.update(y);
        self.update(x);
        x
    }

    fn rotate_left(&mut self, x: u32) -> u32 {
        let y = self.node(x).right;
        let moved = self.node(y).left;
        self.node_mut(x).right = moved;
        self.node_mut(y).left = x;
        self.update(x);
        self.update(y);
        y
    }
}

/// Keys of a range of ranks, in order from the front or the back.
pub(crate) struct Iter<'a, K> {
    tree: &'a OsTree<K>,
    /// The next keys from the front: the top is the next.
    front: Vec<u32>,
    /// The same from the back.
    back: Vec<u32>,
    /// Keys still to give.
    left: usize,
}

impl<'a, K: Ord> Iterator for Iter<'a, K> {
    type Item = &'a K;

    fn next(&mut self) -> Option<&'a K> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let tree = self.tree;
        let t = self.front.pop()?;
        let node = tree.node(t);
        let mut c = node.right;
        while c != NIL {
            self.front.push(c);
            c = tree.node(c).left;
        }
        Some(&node.key)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<'a, K: Ord> DoubleEndedIterator for Iter<'a, K> {
    fn next_back(&mut self) -> Option<&'a K> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let tree = self.tree;
        let t = self.back.pop()?;
        let node = tree.node(t);
        let mut c = node.left;
        while c != NIL {
            self.back.push(c);
            c = tree.node(c).right;
        }
        Some(&node.key)
    }
}

impl<K: Ord> ExactSizeIterator for Iter<'_, K> {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;
    use proptest::prelude::*;

    /// Every node's height, size and order, and the tree's balance.
    fn check(t: &OsTree<u16>) {
        fn walk(t: &OsTree<u16>, i: u32, lo: Option<u16>, hi: Option<u16>) -> (u8, u32) {
            if i == NIL {
                return (0, 0);
            }
            let n = t.node(i);
            assert!(lo.is_none_or(|lo| n.key > lo) && hi.is_none_or(|hi| n.key < hi));
            let (lh, ls) = walk(t, n.left, lo, Some(n.key));
            let (rh, rs) = walk(t, n.right, Some(n.key), hi);
            assert!(lh.abs_diff(rh) <= 1, "unbalanced at {}", n.key);
            assert_eq!((n.height, n.size), (1 + lh.max(rh), 1 + ls + rs));
            (n.height, n.size)
        }
        walk(t, t.root, None, None);
    }

    proptest! {
        /// Against a BTreeSet: after every insert and remove, the ranks,
        /// the keys at ranks and ranges both ways.
        #[test]
        fn matches_an_ordered_set(ops in proptest::collection::vec((any::<bool>(), 0u16..300), 1..400)) {
            let mut tree = OsTree::default();
            let mut model = BTreeSet::new();
            for (add, k) in ops {
                if add {
                    if model.insert(k) {
                        tree.insert(k);
                    }
                } else {
                    prop_assert_eq!(tree.remove(&k), model.remove(&k));
                }
                check(&tree);
                prop_assert_eq!(tree.len(), model.len());
                let keys: Vec<u16> = model.iter().copied().collect();
                prop_assert_eq!(tree.count_while(|x| *x < k), model.range(..k).count());
                if let Some(&first) = keys.get(k as usize % (keys.len() + 1)) {
                    prop_assert_eq!(tree.get(k as usize % (keys.len() + 1)), Some(&first));
                }
                let (a, b) = (k as usize % 7, k as usize % 7 + k as usize % 11);
                let want: Vec<u16> = keys.iter().skip(a).take(b.saturating_sub(a)).copied().collect();
                prop_assert_eq!(tree.range(a, b).copied().collect::<Vec<_>>(), want.clone());
                let back: Vec<u16> = tree.range(a, b).rev().copied().collect();
                prop_assert_eq!(back, want.iter().rev().copied().collect::<Vec<_>>());
                // Both ends at once meet in the middle.
                let mut both = tree.range(0, keys.len());
                let mut seen = Vec::new();
                while let (Some(x), y) = (both.next(), both.next_back()) {
                    seen.push(*x);
                    seen.extend(y.copied());
                }
                seen.sort();
                prop_assert_eq!(seen, keys);
            }
        }
    }

    #[test]
    fn keys_in_order_stay_shallow() {
        // Ascending inserts, the case a tree without balance fails.
        let mut tree = OsTree::default();
        for k in 0..4096u16 {
            tree.insert(k);
        }
        check(&tree);
        assert!(tree.height(tree.root) <= 13, "{}", tree.height(tree.root));
        assert_eq!(tree.get(4095), Some(&4095));
        assert_eq!(tree.count_while(|k| *k < 1000), 1000);
        for k in 0..4000u16 {
            assert!(tree.remove(&k));
            if k % 500 == 0 {
                check(&tree);
            }
        }
        check(&tree);
        assert_eq!(tree.len(), 96);
        assert!(
            tree.slots.len() < 200,
            "memory given back: {} slots",
            tree.slots.len()
        );
        assert_eq!(
            tree.range(0, 96).copied().collect::<Vec<_>>(),
            (4000..4096).collect::<Vec<u16>>()
        );
    }
}
