//! The small parsers: keys and routes. (The store's replies and INFO are
//! decoded by `kvs_api::ops`, and tested there.)

use alloc::vec;

use crate::route::{KeyError, Route, percent_decode};

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
