//! The small parsers: keys, routes, RESP replies, INFO.

use alloc::vec;

use crate::route::{KeyError, Route, percent_decode};
use crate::store::{Resp, read_info};
use crate::{StoreError, StoreStats};

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode(b"a%20b%2fc%2F"), Ok(b"a b/c/".to_vec()));
    assert_eq!(percent_decode(b"%00%ff%FF+"), Ok(vec![0, 255, 255, b'+']));
    for bad in [&b"%"[..], b"%2", b"%zz", b"a%g0", b"%%41", b"%-1"] {
        assert_eq!(percent_decode(bad), Err(KeyError::BadEscape), "{bad:?}");
    }
}

#[test]
fn routes() {
    assert_eq!(
        Route::resolve(b"/kv/a%2Fb?x"),
        Some(Route::Kv(b"a/b".to_vec()))
    );
    assert_eq!(Route::resolve(b"/kv/a?b/c"), Some(Route::Kv(b"a".to_vec())));
    assert_eq!(
        Route::resolve(b"/kv/?a"),
        Some(Route::BadKey(KeyError::Empty))
    );
    assert_eq!(
        Route::resolve(b"/kv/%"),
        Some(Route::BadKey(KeyError::BadEscape))
    );
    assert_eq!(Route::resolve(b"/health"), Some(Route::Health));
    assert_eq!(Route::resolve(b"/health/"), Some(Route::NotFound));
    assert_eq!(Route::resolve(b"/metrics?name[]=x"), Some(Route::Metrics));
    assert_eq!(Route::resolve(b"/KV/a"), Some(Route::NotFound));
    assert_eq!(Route::resolve(b"http://h:1/metrics"), Some(Route::Metrics));
    assert_eq!(Route::resolve(b"https://h"), Some(Route::NotFound));
    assert_eq!(Route::resolve(b"http:/h/kv/a"), None);
    assert_eq!(Route::resolve(b"kv/a"), None);
}

#[test]
fn resp_replies() {
    assert_eq!(Resp::parse(b"+OK\r\n"), Ok(Resp::Simple(b"OK")));
    assert_eq!(Resp::parse(b"-ERR x\r\n"), Ok(Resp::Error(b"ERR x")));
    assert_eq!(Resp::parse(b":-12\r\n"), Ok(Resp::Integer(-12)));
    assert_eq!(Resp::parse(b"$-1\r\n"), Ok(Resp::Bulk(None)));
    assert_eq!(
        Resp::parse(b"$3\r\na\r\n\r\n"),
        Ok(Resp::Bulk(Some((4, 7))))
    );
    assert_eq!(Resp::parse(b"$0\r\n\r\n"), Ok(Resp::Bulk(Some((4, 4)))));
    for bad in [
        &b""[..],
        b"+OK",
        b"+OK\r\nx",
        b"$3\r\nab\r\n",
        b"$3\r\nabcd\r\n",
        b"$3\r\nabcXY",
        b"$-2\r\n",
        b"$99999999999999999999\r\n",
        b"*1\r\n$1\r\na\r\n",
        b":x\r\n",
        b"\r\n",
    ] {
        assert_eq!(Resp::parse(bad), Err(StoreError::BadReply), "{bad:?}");
    }
}

#[test]
fn info_fields() {
    let mut stats = StoreStats::default();
    read_info(
        b"# Server\r\nbasalt_restarts:2\r\nbasalt_last_exit:page fault\r\n\r\n# Memory\r\nused_memory:1024\r\nused_memory_human:1K\r\nmaxmemory:4096\r\n\r\n# Persistence\r\naof_enabled:1\r\naof_last_write_status:err\r\naof_current_size:77\r\nbad line\r\n\r\n# Stats\r\nevicted_keys:9\r\n",
        &mut stats,
    );
    assert_eq!(
        stats,
        StoreStats {
            up: false,
            keys: None,
            used_memory: Some(1024),
            aof_enabled: Some(true),
            aof_size: Some(77),
            aof_last_write_ok: Some(false),
            maxmemory: Some(4096),
            evicted_keys: Some(9),
            restarts: Some(2),
            last_exit: Some("page fault".into()),
        }
    );
    read_info(
        b"aof_enabled:0\naof_last_write_status:ok\nused_memory:x\n",
        &mut stats,
    );
    assert_eq!(stats.aof_enabled, Some(false));
    assert_eq!(stats.aof_last_write_ok, Some(true));
    assert_eq!(stats.used_memory, None);
}
