//! The dict against a reference model (a vector of entries in insertion
//! order), its invariants checked after every step, and the scan's
//! guarantee under changes.

use super::*;
use crate::hash::Rng;
use alloc::vec;
use proptest::prelude::*;

/// The model: live entries in insertion order.
#[derive(Default)]
struct Model(Vec<(u8, u32)>);

impl Model {
    fn insert(&mut self, k: u8, v: u32) -> Option<u32> {
        match self.0.iter_mut().find(|(mk, _)| *mk == k) {
            Some((_, mv)) => Some(core::mem::replace(mv, v)),
            None => {
                self.0.push((k, v));
                None
            }
        }
    }

    fn remove(&mut self, k: u8) -> Option<u32> {
        let at = self.0.iter().position(|(mk, _)| *mk == k)?;
        Some(self.0.remove(at).1)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u8, u32),
    Remove(u8),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u8>(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k % 64, v)),
        5 => any::<u8>().prop_map(|k| Op::Remove(k % 64)),
        1 => Just(Op::Clear),
    ]
}

/// Everything the dict must agree with the model on, and its own
/// invariants: stamps grow along the slots, holes stay bounded, every
/// entry is found at its position.
fn check(d: &Dict<u8, u32>, m: &Model) {
    assert_eq!(d.len(), m.0.len());
    assert_eq!(d.is_empty(), m.0.is_empty());
    let listed: Vec<(u8, u32)> = d.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(listed, m.0, "insertion order");
    for k in 0..64u8 {
        let want = m.0.iter().find(|(mk, _)| *mk == k).map(|(_, v)| v);
        assert_eq!(d.get(&k), want, "key {k}");
        assert_eq!(d.contains_key(&k), want.is_some());
    }
    assert!(d.slots.windows(2).all(|w| w[0].stamp < w[1].stamp));
    let holes = d.slots.len() - d.live;
    assert!(holes <= d.live.max(SLACK), "{holes} holes, {} live", d.live);
    assert_eq!(d.index.len(), d.live);
    for (at, slot) in d.slots.iter().enumerate() {
        if let Some((k, _)) = &slot.item {
            assert_eq!(d.position(k), Some(at));
            assert_eq!(slot.hash, d.state.hash_one(k));
        }
    }
}

proptest! {
    #[test]
    fn agrees_with_the_model(ops in proptest::collection::vec(op(), 1..400)) {
        let mut d = Dict::with_hasher(SeededState::new(7));
        let mut m = Model::default();
        for op in ops {
            match op {
                Op::Insert(k, v) => assert_eq!(d.insert(k, v), m.insert(k, v)),
                Op::Remove(k) => assert_eq!(d.remove(&k), m.remove(k)),
                Op::Clear => {
                    d.clear();
                    m.0.clear();
                }
            }
            check(&d, &m);
        }
    }

    /// A scan interleaved with changes returns every entry present for
    /// all of it exactly once, never an entry that was absent all along,
    /// and each call visits no more than ten slots per entry asked for.
    #[test]
    fn scans_keep_the_guarantee(
        start in proptest::collection::vec(any::<u8>(), 0..120),
        ops in proptest::collection::vec(op(), 0..300),
        count in 1usize..12,
    ) {
        let mut d = Dict::with_hasher(SeededState::new(3));
        for k in &start {
            d.insert(*k % 64, 0);
        }
        let mut ever: Vec<u8> = d.keys().copied().collect();
        let mut always: Vec<u8> = ever.clone();
        let mut seen: Vec<u8> = Vec::new();
        let mut ops = ops.into_iter();
        let mut cursor = 0;
        loop {
            let (batch, next) = d.scan(cursor, count);
            assert!(batch.len() <= count);
            seen.extend(batch.iter().map(|(k, _)| **k));
            if next == 0 {
                break;
            }
            assert!(next > cursor, "the cursor moves on");
            cursor = next;
            // A change between calls.
            match ops.next() {
                Some(Op::Insert(k, v)) => {
                    d.insert(k, v);
                    ever.push(k);
                }
                Some(Op::Remove(k)) => {
                    d.remove(&k);
                    always.retain(|&a| a != k);
                }
                Some(Op::Clear) => {
                    d.clear();
                    always.clear();
                }
                None => {}
            }
        }
        for k in &always {
            assert_eq!(seen.iter().filter(|s| *s == k).count(), 1, "key {k}");
        }
        for k in &seen {
            assert!(ever.contains(k), "{k} was never in it");
        }
    }
}

#[test]
fn random_picks_live_entries_evenly() {
    let mut d = Dict::with_hasher(SeededState::new(1));
    for k in 0..200u32 {
        d.insert(k, ());
    }
    // Holes among them: the picks must skip them.
    for k in (0..200u32).filter(|k| k % 3 != 0) {
        d.remove(&k);
    }
    let mut rng = Rng::new(5);
    let mut hits = vec![0u32; 200];
    for _ in 0..67_000 {
        let (k, ()) = d.random(&mut rng).expect("not empty");
        hits[*k as usize] += 1;
    }
    for (k, &n) in hits.iter().enumerate() {
        if k % 3 == 0 {
            // 67 live keys, 1000 picks each expected.
            assert!((800..1200).contains(&n), "key {k}: {n}");
        } else {
            assert_eq!(n, 0, "key {k} was removed");
        }
    }
    assert!(
        Dict::<u8, ()>::with_hasher(SeededState::new(1))
            .random(&mut rng)
            .is_none()
    );
}

#[test]
fn a_scan_is_bounded_by_its_count_over_holes() {
    let mut d = Dict::with_hasher(SeededState::new(2));
    for k in 0..1000u32 {
        d.insert(k, ());
    }
    // 990 holes in a row would not be packed away yet if live entries
    // outnumbered them; here they do not, so leave 600 live after 400
    // holes.
    for k in 0..400u32 {
        d.remove(&k);
    }
    assert_eq!(d.slots.len(), 1000, "holes not yet packed");
    let (batch, next) = d.scan(0, 2);
    assert!(batch.is_empty(), "twenty visits, all holes");
    assert_eq!(next, 21, "the next slot's stamp");
    let (batch, _) = d.scan(0, 100);
    assert_eq!(batch.len(), 100);
    assert_eq!(*batch[0].0, 400);
}

#[test]
fn sets_count_their_members() {
    let mut s = DictSet::with_hasher(SeededState::new(4));
    assert!(s.insert(b"a".to_vec()) && !s.insert(b"a".to_vec()));
    assert!(s.insert(b"b".to_vec()));
    assert!(s.contains(b"a".as_slice()) && s.remove(b"a".as_slice()));
    assert!(!s.remove(b"a".as_slice()));
    assert_eq!(s.iter().collect::<Vec<_>>(), [&b"b".to_vec()]);
    let mut rng = Rng::new(1);
    assert_eq!(s.random(&mut rng), Some(&b"b".to_vec()));
    assert_eq!(s.scan(0, 10), (vec![&b"b".to_vec()], 0));
    assert!(s.remove(b"b".as_slice()));
    assert!(s.is_empty());
    assert_eq!(s.len(), 0);
    s.insert(b"c".to_vec());
    assert_eq!(s.drain().collect::<Vec<_>>(), [b"c".to_vec()]);
    assert!(s.is_empty());
}

#[test]
fn samples_are_distinct_and_cover_both_ways() {
    let mut d = Dict::with_hasher(SeededState::new(6));
    for k in 0..100u32 {
        d.insert(k, ());
    }
    for k in (0..100u32).step_by(2) {
        d.remove(&k);
    }
    let mut rng = Rng::new(9);
    // Few (random picks), many (a shuffle), all.
    for count in [3, 40, 50, 80] {
        let picked: Vec<u32> = d
            .sample(count, &mut rng)
            .into_iter()
            .map(|(k, ())| *k)
            .collect();
        assert_eq!(picked.len(), count.min(50));
        let mut sorted = picked.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), picked.len(), "distinct");
        assert!(picked.iter().all(|k| k % 2 == 1), "live only");
    }
    // Every member comes up over many small samples.
    let mut hit = [false; 100];
    for _ in 0..200 {
        for (k, ()) in d.sample(2, &mut rng) {
            hit[*k as usize] = true;
        }
    }
    assert!((1..100).step_by(2).all(|k| hit[k]));
}
