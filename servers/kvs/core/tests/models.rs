//! Randomized comparison of list, set and sorted-set commands against simple
//! reference models (proptest).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use kvs_core::{Reply, Session, Store};
use proptest::prelude::*;

/// Runs `args`; the reply as RESP2 types it.
fn run(store: &mut Store, s: &mut Session, args: &[String]) -> Reply {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    store.execute(s, &argv, 1_000).into_resp2()
}

fn bulk(s: &str) -> Reply {
    Reply::bulk(s.as_bytes())
}

fn bulks<'a>(items: impl IntoIterator<Item = &'a String>) -> Reply {
    Reply::array(items.into_iter().map(|s| bulk(s)).collect())
}

fn sorted_bulks(r: Reply) -> Vec<String> {
    let Reply::Array(Some(items)) = r else {
        panic!("not an array: {r:?}")
    };
    let mut v: Vec<String> = items
        .into_iter()
        .map(|i| match i {
            Reply::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
            other => panic!("{other:?}"),
        })
        .collect();
    v.sort();
    v
}

fn elem() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "d", "e"]).prop_map(String::from)
}

fn idx() -> impl Strategy<Value = i64> {
    -8i64..8
}

#[derive(Clone, Debug)]
enum ListOp {
    Push(bool, Vec<String>),
    Pop(bool, Option<i64>),
    Range(i64, i64),
    Index(i64),
    Set(i64, String),
    Insert(bool, String, String),
    Trim(i64, i64),
    Rem(i64, String),
    Pos(String),
    Len,
}

fn list_op() -> impl Strategy<Value = ListOp> {
    prop_oneof![
        (any::<bool>(), prop::collection::vec(elem(), 1..4)).prop_map(|(l, v)| ListOp::Push(l, v)),
        (any::<bool>(), prop::option::of(0i64..4)).prop_map(|(l, c)| ListOp::Pop(l, c)),
        (idx(), idx()).prop_map(|(a, b)| ListOp::Range(a, b)),
        idx().prop_map(ListOp::Index),
        (idx(), elem()).prop_map(|(i, e)| ListOp::Set(i, e)),
        (any::<bool>(), elem(), elem()).prop_map(|(a, p, e)| ListOp::Insert(a, p, e)),
        (idx(), idx()).prop_map(|(a, b)| ListOp::Trim(a, b)),
        (-3i64..3, elem()).prop_map(|(c, e)| ListOp::Rem(c, e)),
        elem().prop_map(ListOp::Pos),
        Just(ListOp::Len),
    ]
}

fn norm(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let s = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let e = if end < 0 { end + len } else { end };
    if s > e || s >= len {
        return None;
    }
    Some((s as usize, e.min(len - 1) as usize))
}

fn list_model(m: &mut VecDeque<String>, op: &ListOp) -> (Vec<String>, Reply) {
    let k = "l".to_string();
    let s = |x: &str| x.to_string();
    match op {
        ListOp::Push(left, vals) => {
            for v in vals {
                if *left {
                    m.push_front(v.clone());
                } else {
                    m.push_back(v.clone());
                }
            }
            let mut args = vec![s(if *left { "LPUSH" } else { "RPUSH" }), k];
            args.extend(vals.iter().cloned());
            (args, Reply::Integer(m.len() as i64))
        }
        ListOp::Pop(left, count) => {
            let name = s(if *left { "LPOP" } else { "RPOP" });
            let pop = |m: &mut VecDeque<String>| if *left { m.pop_front() } else { m.pop_back() };
            match count {
                None => {
                    let r = Reply::Bulk(pop(m).map(String::into_bytes));
                    (vec![name, k], r)
                }
                Some(c) => {
                    let r = if m.is_empty() {
                        Reply::nil_array()
                    } else {
                        let mut out = Vec::new();
                        for _ in 0..*c {
                            if let Some(v) = pop(m) {
                                out.push(v);
                            }
                        }
                        bulks(&out)
                    };
                    (vec![name, k, c.to_string()], r)
                }
            }
        }
        ListOp::Range(a, b) => {
            let r = match norm(*a, *b, m.len()) {
                None => Reply::array(vec![]),
                Some((x, y)) => bulks(m.range(x..=y)),
            };
            (vec![s("LRANGE"), k, a.to_string(), b.to_string()], r)
        }
        ListOp::Index(i) => {
            let pos = if *i < 0 { *i + m.len() as i64 } else { *i };
            let r = if pos >= 0 && (pos as usize) < m.len() {
                bulk(&m[pos as usize])
            } else {
                Reply::nil()
            };
            (vec![s("LINDEX"), k, i.to_string()], r)
        }
        ListOp::Set(i, e) => {
            let pos = if *i < 0 { *i + m.len() as i64 } else { *i };
            let r = if m.is_empty() {
                Reply::error("ERR no such key")
            } else if pos >= 0 && (pos as usize) < m.len() {
                m[pos as usize] = e.clone();
                Reply::ok()
            } else {
                Reply::error("ERR index out of range")
            };
            (vec![s("LSET"), k, i.to_string(), e.clone()], r)
        }
        ListOp::Insert(after, p, e) => {
            let r = if m.is_empty() {
                Reply::Integer(0)
            } else {
                match m.iter().position(|x| x == p) {
                    None => Reply::Integer(-1),
                    Some(i) => {
                        m.insert(if *after { i + 1 } else { i }, e.clone());
                        Reply::Integer(m.len() as i64)
                    }
                }
            };
            let w = s(if *after { "AFTER" } else { "BEFORE" });
            (vec![s("LINSERT"), k, w, p.clone(), e.clone()], r)
        }
        ListOp::Trim(a, b) => {
            let kept: VecDeque<String> = match norm(*a, *b, m.len()) {
                None => VecDeque::new(),
                Some((x, y)) => m.range(x..=y).cloned().collect(),
            };
            *m = kept;
            (
                vec![s("LTRIM"), k, a.to_string(), b.to_string()],
                Reply::ok(),
            )
        }
        ListOp::Rem(c, e) => {
            let limit = if *c == 0 {
                usize::MAX
            } else {
                c.unsigned_abs() as usize
            };
            let mut removed = 0;
            let items: Vec<String> = m.iter().cloned().collect();
            let mut keep = vec![true; items.len()];
            let order: Vec<usize> = if *c >= 0 {
                (0..items.len()).collect()
            } else {
                (0..items.len()).rev().collect()
            };
            for i in order {
                if removed < limit && items[i] == *e {
                    keep[i] = false;
                    removed += 1;
                }
            }
            *m = items
                .into_iter()
                .zip(keep)
                .filter(|(_, k)| *k)
                .map(|(v, _)| v)
                .collect();
            (
                vec![s("LREM"), k, c.to_string(), e.clone()],
                Reply::Integer(removed as i64),
            )
        }
        ListOp::Pos(e) => {
            let r = match m.iter().position(|x| x == e) {
                Some(i) => Reply::Integer(i as i64),
                None => Reply::nil(),
            };
            (vec![s("LPOS"), k, e.clone()], r)
        }
        ListOp::Len => (vec![s("LLEN"), k], Reply::Integer(m.len() as i64)),
    }
}

#[derive(Clone, Debug)]
enum SetOp {
    Add(bool, Vec<String>),
    Rem(bool, Vec<String>),
    IsMember(bool, String),
    Card(bool),
    Members(bool),
    Inter,
    Union,
    Diff,
    Pop(bool),
}

fn set_op() -> impl Strategy<Value = SetOp> {
    let v = || prop::collection::vec(elem(), 1..4);
    prop_oneof![
        (any::<bool>(), v()).prop_map(|(w, v)| SetOp::Add(w, v)),
        (any::<bool>(), v()).prop_map(|(w, v)| SetOp::Rem(w, v)),
        (any::<bool>(), elem()).prop_map(|(w, e)| SetOp::IsMember(w, e)),
        any::<bool>().prop_map(SetOp::Card),
        any::<bool>().prop_map(SetOp::Members),
        Just(SetOp::Inter),
        Just(SetOp::Union),
        Just(SetOp::Diff),
        any::<bool>().prop_map(SetOp::Pop),
    ]
}

#[derive(Clone, Debug)]
enum ZOp {
    Add(Vec<(i64, String)>),
    Rem(String),
    Incr(i64, String),
    Range(i64, i64, bool),
    ByScore(i64, i64, bool),
    Rank(String),
    Score(String),
    Card,
    PopMin,
    PopMax,
}

fn z_op() -> impl Strategy<Value = ZOp> {
    prop_oneof![
        prop::collection::vec((-4i64..4, elem()), 1..4).prop_map(ZOp::Add),
        elem().prop_map(ZOp::Rem),
        (-3i64..3, elem()).prop_map(|(i, e)| ZOp::Incr(i, e)),
        (idx(), idx(), any::<bool>()).prop_map(|(a, b, r)| ZOp::Range(a, b, r)),
        (-5i64..5, -5i64..5, any::<bool>()).prop_map(|(a, b, r)| ZOp::ByScore(a, b, r)),
        elem().prop_map(ZOp::Rank),
        elem().prop_map(ZOp::Score),
        Just(ZOp::Card),
        Just(ZOp::PopMin),
        Just(ZOp::PopMax),
    ]
}

fn z_sorted(m: &BTreeMap<String, i64>) -> Vec<(i64, String)> {
    let mut v: Vec<(i64, String)> = m.iter().map(|(k, s)| (*s, k.clone())).collect();
    v.sort();
    v
}

fn flat(items: &[(i64, String)]) -> Reply {
    let mut out = Vec::new();
    for (s, m) in items {
        out.push(bulk(m));
        out.push(bulk(&s.to_string()));
    }
    Reply::array(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lists_match_model(ops in prop::collection::vec(list_op(), 1..40)) {
        let mut store = Store::with_seed(5);
        let mut s = Session::new();
        let mut model = VecDeque::new();
        for op in &ops {
            let (args, want) = list_model(&mut model, op);
            let got = run(&mut store, &mut s, &args);
            prop_assert_eq!(got, want, "{:?}", args);
            let exists = run(&mut store, &mut s, &["EXISTS".into(), "l".into()]);
            prop_assert_eq!(exists, Reply::Integer(i64::from(!model.is_empty())));
        }
    }

    #[test]
    fn sets_match_model(ops in prop::collection::vec(set_op(), 1..40), seed in any::<u64>()) {
        let mut store = Store::with_seed(seed);
        let mut s = Session::new();
        let mut models = [BTreeSet::<String>::new(), BTreeSet::new()];
        let key = |w: bool| if w { "s1".to_string() } else { "s0".to_string() };
        for op in &ops {
            match op {
                SetOp::Add(w, vals) => {
                    let m = &mut models[usize::from(*w)];
                    let n = vals.iter().filter(|v| m.insert((*v).clone())).count();
                    let mut args = vec!["SADD".to_string(), key(*w)];
                    args.extend(vals.iter().cloned());
                    prop_assert_eq!(run(&mut store, &mut s, &args), Reply::Integer(n as i64));
                }
                SetOp::Rem(w, vals) => {
                    let m = &mut models[usize::from(*w)];
                    let n = vals.iter().filter(|v| m.remove(*v)).count();
                    let mut args = vec!["SREM".to_string(), key(*w)];
                    args.extend(vals.iter().cloned());
                    prop_assert_eq!(run(&mut store, &mut s, &args), Reply::Integer(n as i64));
                }
                SetOp::IsMember(w, e) => {
                    let want = i64::from(models[usize::from(*w)].contains(e));
                    let got = run(&mut store, &mut s, &["SISMEMBER".into(), key(*w), e.clone()]);
                    prop_assert_eq!(got, Reply::Integer(want));
                }
                SetOp::Card(w) => {
                    let want = models[usize::from(*w)].len() as i64;
                    prop_assert_eq!(run(&mut store, &mut s, &["SCARD".into(), key(*w)]), Reply::Integer(want));
                }
                SetOp::Members(w) => {
                    let want: Vec<String> = models[usize::from(*w)].iter().cloned().collect();
                    let got = sorted_bulks(run(&mut store, &mut s, &["SMEMBERS".into(), key(*w)]));
                    prop_assert_eq!(got, want);
                }
                SetOp::Inter | SetOp::Union | SetOp::Diff => {
                    let (name, want): (&str, Vec<String>) = match op {
                        SetOp::Inter => ("SINTER", models[0].intersection(&models[1]).cloned().collect()),
                        SetOp::Union => ("SUNION", models[0].union(&models[1]).cloned().collect()),
                        _ => ("SDIFF", models[0].difference(&models[1]).cloned().collect()),
                    };
                    let got = sorted_bulks(run(&mut store, &mut s, &[name.into(), key(false), key(true)]));
                    prop_assert_eq!(got, want);
                }
                SetOp::Pop(w) => {
                    let got = run(&mut store, &mut s, &["SPOP".into(), key(*w)]);
                    let m = &mut models[usize::from(*w)];
                    match got {
                        Reply::Bulk(None) => prop_assert!(m.is_empty()),
                        Reply::Bulk(Some(b)) => {
                            let v = String::from_utf8(b).unwrap();
                            prop_assert!(m.remove(&v), "popped a non-member {}", v);
                        }
                        other => prop_assert!(false, "{:?}", other),
                    }
                }
            }
        }
    }

    #[test]
    fn zsets_match_model(ops in prop::collection::vec(z_op(), 1..40)) {
        let mut store = Store::with_seed(11);
        let mut s = Session::new();
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        let k = || "z".to_string();
        for op in &ops {
            match op {
                ZOp::Add(pairs) => {
                    let mut args = vec!["ZADD".to_string(), k()];
                    let mut added = 0;
                    for (sc, e) in pairs {
                        if m.insert(e.clone(), *sc).is_none() {
                            added += 1;
                        }
                        args.push(sc.to_string());
                        args.push(e.clone());
                    }
                    prop_assert_eq!(run(&mut store, &mut s, &args), Reply::Integer(added));
                }
                ZOp::Rem(e) => {
                    let want = i64::from(m.remove(e).is_some());
                    prop_assert_eq!(run(&mut store, &mut s, &["ZREM".into(), k(), e.clone()]), Reply::Integer(want));
                }
                ZOp::Incr(by, e) => {
                    let v = m.entry(e.clone()).or_insert(0);
                    *v += by;
                    let want = bulk(&v.to_string());
                    prop_assert_eq!(run(&mut store, &mut s, &["ZINCRBY".into(), k(), by.to_string(), e.clone()]), want);
                }
                ZOp::Range(a, b, rev) => {
                    let mut all = z_sorted(&m);
                    if *rev {
                        all.reverse();
                    }
                    let want = match norm(*a, *b, all.len()) {
                        None => flat(&[]),
                        Some((x, y)) => flat(&all[x..=y]),
                    };
                    let mut args = vec!["ZRANGE".into(), k(), a.to_string(), b.to_string()];
                    if *rev {
                        args.push("REV".into());
                    }
                    args.push("WITHSCORES".into());
                    prop_assert_eq!(run(&mut store, &mut s, &args), want);
                }
                ZOp::ByScore(lo, hi, rev) => {
                    let mut sel: Vec<(i64, String)> =
                        z_sorted(&m).into_iter().filter(|(sc, _)| sc >= lo && sc <= hi).collect();
                    let args = if *rev {
                        sel.reverse();
                        vec!["ZREVRANGEBYSCORE".into(), k(), hi.to_string(), lo.to_string(), "WITHSCORES".into()]
                    } else {
                        vec!["ZRANGEBYSCORE".into(), k(), lo.to_string(), hi.to_string(), "WITHSCORES".into()]
                    };
                    prop_assert_eq!(run(&mut store, &mut s, &args), flat(&sel));
                    let count = run(&mut store, &mut s, &["ZCOUNT".into(), k(), lo.to_string(), hi.to_string()]);
                    prop_assert_eq!(count, Reply::Integer(sel.len() as i64));
                }
                ZOp::Rank(e) => {
                    let want = match z_sorted(&m).iter().position(|(_, x)| x == e) {
                        Some(i) => Reply::Integer(i as i64),
                        None => Reply::nil(),
                    };
                    prop_assert_eq!(run(&mut store, &mut s, &["ZRANK".into(), k(), e.clone()]), want);
                }
                ZOp::Score(e) => {
                    let want = match m.get(e) {
                        Some(v) => bulk(&v.to_string()),
                        None => Reply::nil(),
                    };
                    prop_assert_eq!(run(&mut store, &mut s, &["ZSCORE".into(), k(), e.clone()]), want);
                }
                ZOp::Card => {
                    prop_assert_eq!(run(&mut store, &mut s, &["ZCARD".into(), k()]), Reply::Integer(m.len() as i64));
                }
                ZOp::PopMin | ZOp::PopMax => {
                    let all = z_sorted(&m);
                    let (name, pick) = if matches!(op, ZOp::PopMin) {
                        ("ZPOPMIN", all.first().cloned())
                    } else {
                        ("ZPOPMAX", all.last().cloned())
                    };
                    let want = match pick {
                        Some((sc, e)) => {
                            m.remove(&e);
                            flat(&[(sc, e)])
                        }
                        None => flat(&[]),
                    };
                    prop_assert_eq!(run(&mut store, &mut s, &[name.into(), k()]), want);
                }
            }
            let exists = run(&mut store, &mut s, &["EXISTS".into(), k()]);
            prop_assert_eq!(exists, Reply::Integer(i64::from(!m.is_empty())));
        }
    }
}
