//! The codec against payloads Redis 7.0.15's DUMP wrote (the bytes only,
//! captured from a private server).

use super::*;
use crate::hash::SeededState;

/// A fixture.
const STR_INT: &[u8] = b"\x00\xc190\x0a\x00\x9d\x94\xea'\x93\xfc\x08\xb9";
/// A fixture.
const STR_BIG_INT: &[u8] = b"\x00\x0b12345678901\x0a\x000NR\xd7'\x17e\x10";
/// A fixture.
const STR_WORD: &[u8] = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
/// A fixture.
const STR_LZF: &[u8] = b"\x00\xc3\x0c-\x03abca\xe0\x1d\x02\x02xyz\x0a\x00_\xd6\x13T\xbef{\xae";
/// A fixture.
const STR_INCOMPRESSIBLE: &[u8] = b"\x00(\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f !\x22#$%&'\x0a\x00\xf1\xb7\xcf\x84J\xb9|\xa9";
/// A fixture.
const LIST: &[u8] = b"\x12\x01\x02\xc3\x1d5\x155\x00\x00\x00\x06\x00\x81a\x02\x81b\x02\x01\x01\xdf\xfb\x02\xc3\xe8\x02\x9ex\xe0\x14\x00\x01\x1f\xff\x0a\x00\x04\xba\x02\x01\xa4\xcc\xab7";
/// A fixture.
const LIST_NODES: &[u8] = b"\x12\x02\x02\xc3@\xec_\x97\x0b\x97\x1f\x00\x00\x14\x00\xe1\x90e000\xe0\xff\x03\xe1{\x07\x01\x03\x92a\x93\x001 \x8b\xe0\xff\x03\xe1x\x07\xa1\x93\x002!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x003!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x004!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x005!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x006!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x007!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x008!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x009!\x93\xe0\xff\x03\xe1x\x07\x81\x93\x001.\xbf\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\x02\x03\x92\xff\x02\xc3@\xec_\x97\x0b\x97\x1f\x00\x00\x14\x00\xe1\x90e020\xe0\xff\x03\xe1{\x07\x01\x03\x92a\x93\x001 \x8b\xe0\xff\x03\xe1x\x07\xa1\x93\x002!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x003!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x004!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x005!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x006!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x007!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x008!\x93\xe0\xff\x03\xe1x\x07\xa1\x93\x009!\x93\xe0\xff\x03\xe1x\x07\x81\x93\x003.\xbf\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\xa1\x93.\xbb\xe0\xff\x03\xe1y\x07\x02\x03\x92\xff\x0a\x00\x0b\x82\xad\xfb\xab\x7fk\x91";
/// A fixture.
const INTSET: &[u8] = b"\x0b\x18\x04\x00\x00\x00\x04\x00\x00\x00\xfd\xff\xff\xff\x01\x00\x00\x00\x02\x00\x00\x00p\x11\x01\x00\x0a\x00\x15\xefc{\x14\x0f\xcdd";
/// A fixture.
const SET_HT: &[u8] = b"\x02\x01\x01a\x0a\x00b\x96\xe9~D\xd2\x1am";
/// A fixture.
const HASH_LP: &[u8] =
    b"\x10\x0d\x0d\x00\x00\x00\x02\x00\x81f\x02\x81v\x02\xff\x0a\x00 \xf1=D#T\x08\x9d";
/// A fixture.
const HASH_HT: &[u8] = b"\x04\x01\x01f\xc3\x09@A\x01vv\xe04\x00\x01vv\x0a\x00=q\xbeR7\x86\xcfE";
/// A fixture.
const ZSET_LP: &[u8] = b"\x11\xc3@E@N\x1bN\x00\x00\x00\x0e\x00\x81f\x02\x84-inf\x05\x81c\x02\x00\x01\x81d\x02\x930.10\xe0\x05\x00\x1e1\x14\x81a\x02\x01\x01\x81b\x02\x832.5\x04\x81g\x02\xf3\x15\xcd[\x07\x05\x81e\x02\x861e+ .\x01\x07\xff\x0a\x00\xaa\x18\xf9,\xfa\xb0\x9d\x91";
/// A fixture.
const ZSET_SKIP: &[u8] = b"\x05\x03\xc3\x09@F\x01xx\xe09\x00\x01xx\x00\x00\x00\x00\x00\x00\x08@\x01b\x00\x00\x00\x00\x00\x00\x04@\x01a\x00\x00\x00\x00\x00\x00\xf0?\x0a\x00\x95\x82\x1a\xaaX\xb3\xf7\xa5";

/// A fixture: a stream of three entries in one node (two with the
/// master's fields, one with others).
const STREAM: &[u8] = b"\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01==\x00\x00\x00\x19\x00\x03\x01\x00\x01\x02\x01\x81a\x02\x81b\x02\x00\x01\x02\x01\x00\x01\x00\x01\x01\x01\x02\x01\x05\x01\x02\x01\x00\x01\x01\x01\x03\x01\x04\x01\x05\x01\x00\x01\x01\x01\xdf\xff\x02\x01\x01\x81c\x02\x05\x01\x06\x01\xff\x03\x02\x00\x01\x01\x00\x00\x03\x00\x0a\x00\xf0\"\x94.\x09qC\x05";
/// A fixture: the same with a group that delivered two entries to a
/// consumer.
const STREAM_GROUP: &[u8] = b"\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01==\x00\x00\x00\x19\x00\x03\x01\x00\x01\x02\x01\x81a\x02\x81b\x02\x00\x01\x02\x01\x00\x01\x00\x01\x01\x01\x02\x01\x05\x01\x02\x01\x00\x01\x01\x01\x03\x01\x04\x01\x05\x01\x00\x01\x01\x01\xdf\xff\x02\x01\x01\x81c\x02\x05\x01\x06\x01\xff\x03\x02\x00\x01\x01\x00\x00\x03\x01\x01g\x01\x02\x02\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01u\xc9%P\xa2\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02u\xc9%P\xa2\x01\x00\x00\x01\x01\x05aliceu\xc9%P\xa2\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x02\x0a\x00\x86\x15\x17\xb7\xfb2\xb1\xeb";
/// A fixture: a stream of three entries whose second was XDEL'd (Redis
/// keeps it in the listpack, flagged).
const STREAM_DELETED: &[u8] = b"\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x0100\x00\x00\x00\x14\x00\x02\x01\x01\x01\x01\x01\x81a\x02\x00\x01\x02\x01\x00\x01\x00\x01\x01\x01\x04\x01\x03\x01\x00\x01\x01\x01\x02\x01\x04\x01\x02\x01\x00\x01\x02\x01\x03\x01\x04\x01\xff\x02\x01\x03\x01\x01\x01\x02\x03\x00\x0a\x00\x04\xb6\xc1JJ^\x00\\";

/// Every fixture, the encoding RESTORE gives it and OBJECT ENCODING's
/// name for that.
const ALL: &[(&[u8], &str)] = &[
    (STR_INT, "int"),
    (STR_BIG_INT, "int"),
    (STR_WORD, "embstr"),
    (STR_LZF, "raw"),
    (STR_INCOMPRESSIBLE, "embstr"),
    (LIST, "quicklist"),
    (LIST_NODES, "quicklist"),
    (INTSET, "intset"),
    (SET_HT, "hashtable"),
    (HASH_LP, "listpack"),
    (HASH_HT, "hashtable"),
    (ZSET_LP, "listpack"),
    (ZSET_SKIP, "skiplist"),
    (STREAM, "stream"),
    (STREAM_GROUP, "stream"),
];

fn restore(payload: &[u8]) -> Result<(Value, Encoding), PayloadError> {
    verify(payload)?;
    load(
        payload,
        &Thresholds::default(),
        SeededState::new(1),
        Room::default(),
    )
}

#[test]
fn redis_payloads_restore_and_dump_back_byte_for_byte() {
    for &(payload, name) in ALL {
        let (value, enc) = restore(payload).unwrap();
        assert_eq!(enc.name(), name, "{payload:?}");
        assert_eq!(dump(&value, enc, &Thresholds::default()), payload, "{name}");
    }
}

/// Redis's deleted entries are read and counted, but not written back:
/// the payload differs, and means the same.
#[test]
fn deleted_stream_entries_are_read_and_dropped() {
    let (value, enc) = restore(STREAM_DELETED).unwrap();
    let Value::Stream(s) = &value else {
        panic!("a stream")
    };
    let ids: Vec<String> = s
        .iter()
        .map(|(id, _)| String::from_utf8(id.to_bytes()).unwrap())
        .collect();
    assert_eq!(ids, ["1-1", "1-3"]);
    assert_eq!((s.max_deleted.seq, s.entries_added), (2, 3));
    let again = dump(&value, enc, &Thresholds::default());
    assert_ne!(again, STREAM_DELETED);
    let (back, _) = restore(&again).unwrap();
    let Value::Stream(b) = &back else {
        panic!("a stream")
    };
    assert!(b.iter().eq(s.iter()));
}

#[test]
fn values_read_back() {
    let (Value::List(l), _) = restore(LIST_NODES).unwrap() else {
        panic!("a list")
    };
    assert_eq!(l.len(), 40);
    assert_eq!(l[39], b"e039".repeat(100));
    let (Value::ZSet(z), _) = restore(ZSET_LP).unwrap() else {
        panic!("a sorted set")
    };
    assert_eq!(z.score(b"d"), Some(0.1));
    assert_eq!(z.score(b"e"), Some(1e100));
    assert_eq!(z.score(b"f"), Some(f64::NEG_INFINITY));
    assert_eq!(z.score(b"g"), Some(123456789.0));
    let (Value::Set(s), enc) = restore(INTSET).unwrap() else {
        panic!("a set")
    };
    assert_eq!(enc, Encoding::Intset { width: 4 });
    assert!(s.contains(&b"-3"[..]) && s.contains(&b"70000"[..]));
}

#[test]
fn thresholds_decide_restored_encodings() {
    let t = Thresholds {
        set_entries: 3,
        zset_entries: 3,
        hash_value: 0,
        ..Thresholds::default()
    };
    let load_with = |p: &[u8]| load(p, &t, SeededState::new(1), Room::default()).unwrap().1;
    assert_eq!(load_with(INTSET), Encoding::Hashtable);
    assert_eq!(load_with(ZSET_LP), Encoding::Skiplist);
    // A listpack hash stays one whatever its values' lengths.
    assert_eq!(load_with(HASH_LP), Encoding::Listpack);
}

#[test]
fn footers_are_checked() {
    assert_eq!(verify(b"short"), Err(PayloadError::Footer));
    let mut newer = STR_WORD.to_vec();
    let at = newer.len() - 10;
    newer[at] = 11;
    assert_eq!(verify(&newer), Err(PayloadError::Footer));
    let mut flipped = STR_WORD.to_vec();
    flipped[2] ^= 1;
    assert_eq!(verify(&flipped), Err(PayloadError::Footer));
}

/// `body` with a correct footer.
fn sealed(body: &[u8]) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc64::crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

#[test]
fn bad_values_are_refused() {
    let format = |body: &[u8]| match restore(&sealed(body)) {
        Err(PayloadError::Format(e)) => e,
        other => panic!("{body:?}: {other:?}"),
    };
    assert_eq!(format(b"\x07"), FormatError::UnknownType(7));
    assert_eq!(format(b"\x02\x00"), FormatError::Empty);
    assert_eq!(format(b"\x02\x02\x01a\x01a"), FormatError::Duplicate);
    assert_eq!(format(b"\x00\xc4"), FormatError::BadStringEncoding);
    assert_eq!(format(b"\x00\xbf"), FormatError::BadLength);
    // A length past the payload allocates nothing.
    assert_eq!(
        format(b"\x00\x81\xff\xff\xff\xff\xff\xff\xff\xff\x00"),
        FormatError::Truncated
    );
    assert_eq!(
        format(b"\x00\xc3\x02\x81\xff\xff\xff\xff\xff\xff\xff\xff\x00a"),
        FormatError::Lzf(LzfError::TooLong)
    );
    // A NaN score.
    assert_eq!(
        format(b"\x05\x01\x01a\x00\x00\x00\x00\x00\x00\xf8\x7f"),
        FormatError::BadScore
    );
    assert_eq!(format(b"\x12\x01\x03\x01a"), FormatError::BadNode);
    // A count larger than the elements (billions) stops at the end.
    assert_eq!(
        format(b"\x01\x80\xff\xff\xff\xff\x01a"),
        FormatError::Truncated
    );
}

#[test]
fn a_value_past_the_ceiling_is_refused() {
    fn gauge() -> u64 {
        1000
    }
    let room = Room {
        gauge: Some(gauge),
        ceiling: 1030,
        uncounted: 0,
    };
    let t = Thresholds::default();
    assert_eq!(
        load(LIST_NODES, &t, SeededState::new(1), room).map(|_| ()),
        Err(PayloadError::Memory)
    );
    assert!(load(STR_WORD, &t, SeededState::new(1), room).is_ok());
}

#[test]
fn hostile_bytes_never_panic() {
    let t = Thresholds::default();
    for &(payload, _) in ALL {
        let body = &payload[..payload.len() - 10];
        for cut in 0..body.len() {
            let _ = load(
                &sealed(&body[..cut]),
                &t,
                SeededState::new(1),
                Room::default(),
            );
        }
        for i in 0..body.len() {
            for bit in 0..8 {
                let mut b = body.to_vec();
                b[i] ^= 1 << bit;
                let _ = load(&sealed(&b), &t, SeededState::new(1), Room::default());
            }
        }
    }
}

#[test]
fn scores_print_as_percent_17g() {
    for (score, text) in [
        (0.1, "0.10000000000000001"),
        (2.5, "2.5"),
        (-1.5e-07, "-1.4999999999999999e-07"),
        (1e+100, "1e+100"),
        (0.0001, "0.0001"),
        (123456.789, "123456.789"),
        (1e+17, "1e+17"),
        (5e-324, "4.9406564584124654e-324"),
        (1.7976931348623157e+308, "1.7976931348623157e+308"),
        (0.3, "0.29999999999999999"),
        (12345678.9, "12345678.9"),
    ] {
        assert_eq!(score_text(score), text, "{score}");
    }
    assert_eq!(score_text(f64::INFINITY), "inf");
    assert_eq!(score_text(f64::NEG_INFINITY), "-inf");
    assert_eq!(integral(-0.0), Some(0));
    assert_eq!(integral(1e16), Some(10_000_000_000_000_000));
    assert_eq!(integral(4.7e18), None);
}
