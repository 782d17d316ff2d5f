//! The geo commands: GEOADD, GEODIST, GEOHASH, GEOPOS, GEOSEARCH,
//! GEOSEARCHSTORE and the GEORADIUS family, over sorted sets whose scores
//! are geohashes ([`crate::geo`]), with Redis 7.0's replies, errors and
//! order of checks.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::cmd::{is, scan, zsets};
use crate::db::{Value, tri, typed};
use crate::geo::{self, Extent, Shape};
use crate::memory::OOM;
use crate::num::{self, int_bytes};
use crate::reply::{NOT_FLOAT, NOT_INTEGER, Reply, SYNTAX};
use crate::store::Ctx;
use crate::zset::ZSet;

/// Why a geo command refuses its arguments.
#[derive(Debug, PartialEq)]
enum GeoError {
    /// A coordinate is no float.
    NotFloat,
    /// A point outside the valid ranges (Redis prints it with `%f`).
    InvalidPair(f64, f64),
    /// A radius, width or height (the word) is no float.
    NotNumeric(&'static str),
    NegativeRadius,
    NegativeBox,
    /// A unit other than M, KM, FT and MI.
    Unit,
    /// The member a search starts from is not in the set.
    NoMember,
    Syntax,
    /// COUNT's argument is no integer.
    NotInteger,
    CountNotPositive,
    /// A STORE form asked for WITHDIST, WITHHASH or WITHCOORD too.
    StoreWith {
        searchstore: bool,
    },
    /// GEOSEARCH without FROMMEMBER or FROMLONLAT: the command's name as
    /// the client spelt it.
    NoCentre(String),
    /// GEOSEARCH without BYRADIUS or BYBOX.
    NoExtent(String),
    AnyWithoutCount,
}

impl From<GeoError> for Reply {
    fn from(e: GeoError) -> Reply {
        match e {
            GeoError::NotFloat => Reply::error(NOT_FLOAT),
            GeoError::InvalidPair(lon, lat) => Reply::Error(format!(
                "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
            )),
            GeoError::NotNumeric(what) => Reply::Error(format!("ERR need numeric {what}")),
            GeoError::NegativeRadius => Reply::error("ERR radius cannot be negative"),
            GeoError::NegativeBox => Reply::error("ERR height or width cannot be negative"),
            GeoError::Unit => {
                Reply::error("ERR unsupported unit provided. please use M, KM, FT, MI")
            }
            GeoError::NoMember => Reply::error("ERR could not decode requested zset member"),
            GeoError::Syntax => Reply::error(SYNTAX),
            GeoError::NotInteger => Reply::error(NOT_INTEGER),
            GeoError::CountNotPositive => Reply::error("ERR COUNT must be > 0"),
            GeoError::StoreWith { searchstore } => Reply::Error(format!(
                "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
                if searchstore {
                    "GEOSEARCHSTORE"
                } else {
                    "STORE option in GEORADIUS"
                }
            )),
            GeoError::NoCentre(name) => Reply::Error(format!(
                "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
            )),
            GeoError::NoExtent(name) => Reply::Error(format!(
                "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
            )),
            GeoError::AnyWithoutCount => {
                Reply::error("ERR the ANY argument requires COUNT argument")
            }
        }
    }
}

/// Unwraps a `Result<T, GeoError>`, returning the error's reply.
macro_rules! geo_tri {
    ($e:expr) => {
        tri!($e.map_err(Reply::from))
    };
}

fn read<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a ZSet>, Reply> {
    let now = cx.now;
    typed!(cx.db(), key, now, ZSet)
}

/// A longitude and a latitude argument.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), GeoError> {
    let lon = num::parse_f64(lon).ok_or(GeoError::NotFloat)?;
    let lat = num::parse_f64(lat).ok_or(GeoError::NotFloat)?;
    if geo::valid(lon, lat) {
        Ok((lon, lat))
    } else {
        Err(GeoError::InvalidPair(lon, lat))
    }
}

/// A unit argument: meters per unit.
fn unit(arg: &[u8]) -> Result<f64, GeoError> {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)]
        .into_iter()
        .find(|(word, _)| is(arg, word))
        .map(|(_, meters)| meters)
        .ok_or(GeoError::Unit)
}

/// A `radius unit` pair: the radius and meters per unit.
fn radius(r: &[u8], u: &[u8]) -> Result<(f64, f64), GeoError> {
    let r = num::parse_f64(r).ok_or(GeoError::NotNumeric("radius"))?;
    if r < 0.0 {
        return Err(GeoError::NegativeRadius);
    }
    Ok((r, unit(u)?))
}

/// A `width height unit` triple: the box and meters per unit.
fn boxed(w: &[u8], h: &[u8], u: &[u8]) -> Result<(Extent, f64), GeoError> {
    let width = num::parse_f64(w).ok_or(GeoError::NotNumeric("width"))?;
    let height = num::parse_f64(h).ok_or(GeoError::NotNumeric("height"))?;
    if width < 0.0 || height < 0.0 {
        return Err(GeoError::NegativeBox);
    }
    Ok((Extent::Box { width, height }, unit(u)?))
}

/// Where a member of `z` is.
fn member_point(z: &ZSet, member: &[u8]) -> Result<(f64, f64), GeoError> {
    z.score(member).map(geo::point).ok_or(GeoError::NoMember)
}

/// A distance as Redis prints one: rounded (half to even) to four
/// decimals. A value that does not fit 64 bits once scaled prints as C's
/// `llrint` leaves it on x86-64 (-2^63); no distance on Earth comes near.
fn fmt_distance(d: f64) -> Vec<u8> {
    if d == 0.0 {
        return b"0.0000".to_vec();
    }
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let scaled = d * 10000.0;
    let n = if (-TWO_63..TWO_63).contains(&scaled) {
        libm::rint(scaled) as i64
    } else {
        i64::MIN
    };
    let sign = if n < 0 { "-" } else { "" };
    let n = n.unsigned_abs();
    format!("{sign}{}.{:04}", n / 10000, n % 10000).into_bytes()
}

/// A coordinate as Redis prints one (`%.17Lf` of the double, trailing
/// zeros and point cut, `-0` as `0`).
fn fmt_coord(v: f64) -> String {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let kept = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(kept);
    }
    if s == "-0" {
        s.remove(0);
    }
    s
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]
///
/// As in Redis, the points become scores and ZADD does the rest (its
/// options, its reply, the key's type).
pub(crate) fn geoadd(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (mut nx, mut xx) = (false, false);
    let mut first = 2;
    while first < a.len() {
        let opt = a[first];
        if is(opt, "nx") {
            nx = true;
        } else if is(opt, "xx") {
            xx = true;
        } else if !is(opt, "ch") {
            break;
        }
        first += 1;
    }
    let points = &a[first..];
    if !points.len().is_multiple_of(3) || (nx && xx) {
        return Reply::error(SYNTAX);
    }
    let mut scores = Vec::with_capacity(points.len() / 3);
    for p in points.chunks_exact(3) {
        let (lon, lat) = geo_tri!(lon_lat(p[0], p[1]));
        scores.push(int_bytes(geo::score_of(lon, lat) as i64));
    }
    let mut zadd: Vec<&[u8]> = Vec::with_capacity(first + 2 * scores.len());
    zadd.extend_from_slice(&a[..first]);
    for (score, p) in scores.iter().zip(points.chunks_exact(3)) {
        zadd.push(score);
        zadd.push(p[2]);
    }
    zsets::zadd(cx, &zadd)
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
pub(crate) fn geodist(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let meters = match a.len() {
        5 => geo_tri!(unit(a[4])),
        n if n > 5 => return Reply::error(SYNTAX),
        _ => 1.0,
    };
    let Some(z) = tri!(read(cx, a[1])) else {
        return Reply::nil();
    };
    match (z.score(a[2]), z.score(a[3])) {
        (Some(s1), Some(s2)) => {
            let ((lon1, lat1), (lon2, lat2)) = (geo::point(s1), geo::point(s2));
            let d = geo::distance(lon1, lat1, lon2, lat2) / meters;
            Reply::Bulk(Some(fmt_distance(d)))
        }
        _ => Reply::nil(),
    }
}

/// GEOHASH key [member ...]
pub(crate) fn geohash(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let z = tri!(read(cx, a[1]));
    Reply::array(
        a[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(score) => {
                    let (lon, lat) = geo::point(score);
                    Reply::bulk(&geo::standard_hash(lon, lat))
                }
                None => Reply::nil(),
            })
            .collect(),
    )
}

/// GEOPOS key [member ...]
pub(crate) fn geopos(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let z = tri!(read(cx, a[1]));
    Reply::array(
        a[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(score) => {
                    let (lon, lat) = geo::point(score);
                    Reply::array(alloc::vec![
                        Reply::Double(fmt_coord(lon)),
                        Reply::Double(fmt_coord(lat)),
                    ])
                }
                None => Reply::nil_array(),
            })
            .collect(),
    )
}

/// Which search command, which fixes where its arguments are and which
/// options it takes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// GEORADIUS (`store`: STORE and STOREDIST taken) and GEORADIUS_RO.
    Radius {
        store: bool,
    },
    /// GEORADIUSBYMEMBER and GEORADIUSBYMEMBER_RO.
    ByMember {
        store: bool,
    },
    Search,
    SearchStore,
}

impl Form {
    /// Where the source key is.
    fn source(self) -> usize {
        if self == Form::SearchStore { 2 } else { 1 }
    }

    /// Whether FROM* and BY* give the centre and the extent.
    fn searching(self) -> bool {
        matches!(self, Form::Search | Form::SearchStore)
    }

    /// Whether STORE and STOREDIST name a destination.
    fn stores(self) -> bool {
        matches!(
            self,
            Form::Radius { store: true } | Form::ByMember { store: true }
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// The order of the cells searched and of the scores in each.
    Found,
    Asc,
    Desc,
}

/// A search's arguments.
struct Query<'a> {
    /// The centre and the extent: `None` when the source key is missing
    /// and the centre was to be a member of it.
    shape: Option<Shape>,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    order: Order,
    /// COUNT (0: none).
    count: u64,
    any: bool,
    /// The destination of a STORE form, and whether it gets distances
    /// (STOREDIST) rather than the points' scores.
    dest: Option<&'a [u8]>,
    storedist: bool,
}

/// Reads a search's arguments as Redis's `georadiusGeneric` does: the
/// fixed ones of the form, then the options in order (an option's
/// argument is taken only when there is one, else the word is a syntax
/// error), then the checks across options. `z` is the source, whose
/// members FROMMEMBER and GEORADIUSBYMEMBER look up while parsing (a
/// missing source skips them, and GEORADIUSBYMEMBER's radius).
fn parse<'a>(a: &[&'a [u8]], form: Form, z: Option<&ZSet>) -> Result<Query<'a>, GeoError> {
    let mut q = Query {
        shape: None,
        withdist: false,
        withhash: false,
        withcoord: false,
        order: Order::Found,
        count: 0,
        any: false,
        dest: None,
        storedist: false,
    };
    let (mut centre, mut extent, mut meters) = (None, None, 1.0);
    let base = match form {
        Form::Radius { .. } => {
            centre = Some(lon_lat(a[2], a[3])?);
            let (r, m) = radius(a[4], a[5])?;
            (extent, meters) = (Some(Extent::Radius(r)), m);
            6
        }
        Form::ByMember { .. } => {
            if let Some(z) = z {
                centre = Some(member_point(z, a[2])?);
                let (r, m) = radius(a[3], a[4])?;
                (extent, meters) = (Some(Extent::Radius(r)), m);
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => {
            q.dest = Some(a[1]);
            3
        }
    };
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) =
        (false, false, false, false);
    let opts = &a[base..];
    let mut i = 0;
    while i < opts.len() {
        let (word, after) = (opts[i], opts.len() - i - 1);
        if is(word, "withdist") {
            q.withdist = true;
        } else if is(word, "withhash") {
            q.withhash = true;
        } else if is(word, "withcoord") {
            q.withcoord = true;
        } else if is(word, "any") {
            q.any = true;
        } else if is(word, "asc") {
            q.order = Order::Asc;
        } else if is(word, "desc") {
            q.order = Order::Desc;
        } else if is(word, "count") && after >= 1 {
            let n = num::parse_i64(opts[i + 1]).ok_or(GeoError::NotInteger)?;
            q.count = u64::try_from(n)
                .ok()
                .filter(|&n| n > 0)
                .ok_or(GeoError::CountNotPositive)?;
            i += 1;
        } else if form.stores() && (is(word, "store") || is(word, "storedist")) && after >= 1 {
            q.dest = Some(opts[i + 1]);
            q.storedist = is(word, "storedist");
            i += 1;
        } else if form == Form::SearchStore && is(word, "storedist") {
            q.storedist = true;
        } else if form.searching() && is(word, "frommember") && after >= 1 && !from_lonlat {
            if let Some(z) = z {
                centre = Some(member_point(z, opts[i + 1])?);
            }
            from_member = true;
            i += 1;
        } else if form.searching() && is(word, "fromlonlat") && after >= 2 && !from_member {
            centre = Some(lon_lat(opts[i + 1], opts[i + 2])?);
            from_lonlat = true;
            i += 2;
        } else if form.searching() && is(word, "byradius") && after >= 2 && !by_box {
            let (r, m) = radius(opts[i + 1], opts[i + 2])?;
            (extent, meters) = (Some(Extent::Radius(r)), m);
            by_radius = true;
            i += 2;
        } else if form.searching() && is(word, "bybox") && after >= 3 && !by_radius {
            let (b, m) = boxed(opts[i + 1], opts[i + 2], opts[i + 3])?;
            (extent, meters) = (Some(b), m);
            by_box = true;
            i += 3;
        } else {
            return Err(GeoError::Syntax);
        }
        i += 1;
    }
    if q.dest.is_some() && (q.withdist || q.withhash || q.withcoord) {
        return Err(GeoError::StoreWith {
            searchstore: form == Form::SearchStore,
        });
    }
    let name = || String::from_utf8_lossy(a[0]).into_owned();
    if form.searching() && !(from_member || from_lonlat) {
        return Err(GeoError::NoCentre(name()));
    }
    if form.searching() && !(by_radius || by_box) {
        return Err(GeoError::NoExtent(name()));
    }
    if q.any && q.count == 0 {
        return Err(GeoError::AnyWithoutCount);
    }
    // COUNT without ANY means the nearest: sorted, ascending unless told.
    if q.count != 0 && q.order == Order::Found && !q.any {
        q.order = Order::Asc;
    }
    q.shape = centre.zip(extent).map(|((lon, lat), extent)| Shape {
        lon,
        lat,
        unit: meters,
        extent,
    });
    Ok(q)
}

/// A point a search found.
struct Found<'z> {
    member: &'z [u8],
    score: f64,
    lon: f64,
    lat: f64,
    /// From the centre, meters.
    dist: f64,
}

/// The points of `z` that `shape` covers, cell by cell in the search's
/// order and by score within a cell; with `limit` (ANY), the first
/// `limit` found.
fn search<'z>(z: &'z ZSet, shape: &Shape, limit: usize) -> Vec<Found<'z>> {
    let mut found = Vec::new();
    let full = |found: &Vec<Found<'_>>| limit != 0 && found.len() >= limit;
    // Huge extents make neighbours repeat: a cell equal to the one searched
    // last is skipped, though never by comparison with the centre's (as
    // in Redis).
    let mut last = None;
    for (i, cell) in shape.cells().into_iter().enumerate() {
        let Some(hash) = cell else { continue };
        if last == Some(hash) {
            continue;
        }
        if full(&found) {
            break;
        }
        let (min, max) = geo::score_range(hash);
        for (member, score) in z.iter_from(min) {
            if score >= max {
                break;
            }
            let (lon, lat) = geo::point(score);
            if let Some(dist) = shape.reach(lon, lat) {
                found.push(Found {
                    member,
                    score,
                    lon,
                    lat,
                    dist,
                });
            }
            if full(&found) {
                break;
            }
        }
        last = (i > 0).then_some(hash);
    }
    found
}

/// GEORADIUS, GEORADIUSBYMEMBER, their read-only forms, GEOSEARCH and
/// GEOSEARCHSTORE.
fn search_command(cx: &mut Ctx<'_>, a: &[&[u8]], form: Form) -> Reply {
    let (room, budget) = (cx.room, cx.reply);
    let z = tri!(read(cx, a[form.source()]));
    let q = geo_tri!(parse(a, form, z));
    let (Some(z), Some(shape)) = (z, q.shape) else {
        // A missing source: nothing found, and a destination deleted.
        return match q.dest {
            Some(dest) => {
                cx.db().delete(dest);
                Reply::Integer(0)
            }
            None => Reply::array(Vec::new()),
        };
    };
    tri!(scan::working_room(room, z.len()));
    let limit = if q.any {
        usize::try_from(q.count).unwrap_or(usize::MAX)
    } else {
        0
    };
    let mut found = search(z, &shape, limit);
    // A stable sort: equal distances stay in the order found, as glibc's
    // `qsort` (a merge sort) leaves them.
    match q.order {
        Order::Found => {}
        Order::Asc => found.sort_by(|x, y| x.dist.total_cmp(&y.dist)),
        Order::Desc => found.sort_by(|x, y| y.dist.total_cmp(&x.dist)),
    }
    if q.count != 0 {
        found.truncate(usize::try_from(q.count).unwrap_or(usize::MAX));
    }
    let Some(dest) = q.dest else {
        return tri!(search_reply(&found, &q, &shape, budget));
    };
    // The copy is data: each member twice (map and index) and a few words.
    let bytes = found
        .iter()
        .fold(0usize, |b, f| b.saturating_add(2 * f.member.len() + 96));
    if !room.fits(bytes) {
        return Reply::error(OOM);
    }
    let items: Vec<(Vec<u8>, f64)> = found
        .iter()
        .map(|f| {
            let score = if q.storedist {
                f.dist / shape.unit
            } else {
                f.score
            };
            (f.member.to_vec(), score)
        })
        .collect();
    let db = cx.db();
    if items.is_empty() {
        db.delete(dest);
    } else {
        let mut stored = ZSet::new(db.state);
        for (member, score) in &items {
            stored.insert(member, *score);
        }
        db.set(dest, Value::ZSet(stored), false);
    }
    Reply::Integer(items.len() as i64)
}

/// The reply of a search that stores nothing: each point's member, or an
/// array of the member and what WITHDIST (in the search's unit),
/// WITHHASH and WITHCOORD ask for, in that order.
fn search_reply(
    found: &[Found<'_>],
    q: &Query<'_>,
    shape: &Shape,
    budget: &crate::memory::ReplyBudget,
) -> Result<Reply, Reply> {
    let extras = usize::from(q.withdist) + usize::from(q.withhash) + usize::from(q.withcoord);
    // Per point: a distance's or a score's digits (under 24 bytes each),
    // and the elements: the member, the extras (three for the
    // coordinates) and the array holding them.
    let text =
        24 * (usize::from(q.withdist) + usize::from(q.withhash)) + 48 * usize::from(q.withcoord);
    let elements = 1 + extras + 2 * usize::from(q.withcoord) + usize::from(extras > 0);
    let bytes = found.iter().fold(0usize, |b, f| {
        b.saturating_add(f.member.len()).saturating_add(text)
    });
    budget.take(bytes, found.len().saturating_mul(elements))?;
    let items = found
        .iter()
        .map(|f| {
            if extras == 0 {
                return Reply::bulk(f.member);
            }
            let mut item = Vec::with_capacity(1 + extras);
            item.push(Reply::bulk(f.member));
            if q.withdist {
                item.push(Reply::Bulk(Some(fmt_distance(f.dist / shape.unit))));
            }
            if q.withhash {
                // C's conversion of the score to a `long long`.
                item.push(Reply::Integer(f.score as i64));
            }
            if q.withcoord {
                item.push(Reply::array(alloc::vec![
                    Reply::Double(fmt_coord(f.lon)),
                    Reply::Double(fmt_coord(f.lat)),
                ]));
            }
            Reply::array(item)
        })
        .collect();
    Ok(Reply::array(items))
}

/// GEORADIUS key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key|STOREDIST key]
pub(crate) fn georadius(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    search_command(cx, a, Form::Radius { store: true })
}

/// GEORADIUS_RO key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]
pub(crate) fn georadius_ro(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    search_command(cx, a, Form::Radius { store: false })
}

/// GEORADIUSBYMEMBER key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC] [STORE key|STOREDIST key]
pub(crate) fn georadiusbymember(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    search_command(cx, a, Form::ByMember { store: true })
}

/// GEORADIUSBYMEMBER_RO key member radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH] [COUNT count [ANY]] [ASC|DESC]
pub(crate) fn georadiusbymember_ro(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    search_command(cx, a, Form::ByMember { store: false })
}

/// GEOSEARCH key FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius unit|BYBOX width height unit [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
pub(crate) fn geosearch(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    search_command(cx, a, Form::Search)
}

/// GEOSEARCHSTORE destination source FROMMEMBER member|FROMLONLAT longitude latitude BYRADIUS radius unit|BYBOX width height unit [ASC|DESC] [COUNT count [ANY]] [STOREDIST]
pub(crate) fn geosearchstore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    search_command(cx, a, Form::SearchStore)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testutil::*;
    use crate::reply::WRONGTYPE;
    use alloc::vec;

    fn sicily(t: &mut T) {
        assert_eq!(
            t.run("GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania"),
            int(2)
        );
    }

    fn nested(items: Vec<Reply>) -> Reply {
        Reply::array(items)
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_distance(0.0), b"0.0000");
        assert_eq!(fmt_distance(0.00005), b"0.0000");
        assert_eq!(fmt_distance(0.00016), b"0.0002");
        assert_eq!(fmt_distance(166274.15156960033), b"166274.1516");
        assert_eq!(fmt_distance(f64::NAN), b"-922337203685477.5808");
        assert_eq!(fmt_coord(13.361389338970184), "13.36138933897018433");
        assert_eq!(fmt_coord(180.0), "180");
        assert_eq!(fmt_coord(-0.000000000000000001), "0");
        assert_eq!(fmt_coord(85.05112878), "85.0511287799999991");
    }

    #[test]
    fn add_pos_hash_dist() {
        let mut t = T::new();
        sicily(&mut t);
        assert_eq!(t.run("ZSCORE Sicily Palermo"), bulk("3479099956230698"));
        assert_eq!(
            t.run("GEOPOS Sicily Palermo nope"),
            nested(vec![
                arr(&["13.36138933897018433", "38.11555639549629859"]),
                Reply::nil_array(),
            ])
        );
        assert_eq!(
            t.run("GEOHASH Sicily Palermo nope"),
            nested(vec![bulk("sqc8b49rny0"), nil()])
        );
        assert_eq!(t.run("GEOHASH nokey a"), nested(vec![nil()]));
        assert_eq!(t.run("GEODIST Sicily Palermo Catania"), bulk("166274.1516"));
        assert_eq!(t.run("GEODIST Sicily Palermo Catania KM"), bulk("166.2742"));
        assert_eq!(t.run("GEODIST Sicily Palermo Catania mi"), bulk("103.3182"));
        assert_eq!(
            t.run("GEODIST Sicily Palermo Catania ft"),
            bulk("545518.8700")
        );
        assert_eq!(t.run("GEODIST Sicily Palermo nope"), nil());
        assert_eq!(t.run("GEODIST nokey a b"), nil());
        // NX, XX and CH go to ZADD.
        assert_eq!(t.run("GEOADD Sicily NX 13 38 Palermo"), int(0));
        assert_eq!(t.run("GEOADD Sicily XX CH 13 38 Palermo 1 1 x"), int(1));
        assert_eq!(t.run("ZCARD Sicily"), int(2));
        assert_eq!(t.run("GEOADD Sicily CH 13 38 Palermo"), int(0));
    }

    #[test]
    fn errors() {
        let mut t = T::new();
        sicily(&mut t);
        t.run("SET str x");
        for (line, e) in [
            (
                "GEOADD k 200 0 m",
                "ERR invalid longitude,latitude pair 200.000000,0.000000",
            ),
            (
                "GEOADD k 0 -85.06 m",
                "ERR invalid longitude,latitude pair 0.000000,-85.060000",
            ),
            ("GEOADD k x 0 m", "ERR value is not a valid float"),
            ("GEOADD k NX XX 1 1 m", "ERR syntax error"),
            ("GEOADD k 1 1 m 2", "ERR syntax error"),
            ("GEOADD k CH CH CH", "ERR syntax error"),
            (
                "GEOADD str 200 0 m",
                "ERR invalid longitude,latitude pair 200.000000,0.000000",
            ),
            ("GEOADD str 1 1 m", WRONGTYPE),
            (
                "GEODIST Sicily a b parsec",
                "ERR unsupported unit provided. please use M, KM, FT, MI",
            ),
            (
                "GEODIST str a b parsec",
                "ERR unsupported unit provided. please use M, KM, FT, MI",
            ),
            ("GEODIST str a b km x", "ERR syntax error"),
            ("GEODIST str a b", WRONGTYPE),
            ("GEOPOS str a", WRONGTYPE),
            ("GEOSEARCH str FROMLONLAT 200 0 BYRADIUS 1", WRONGTYPE),
            (
                "GEOSEARCH Sicily BYRADIUS 1 km WITHDIST WITHHASH",
                "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH",
            ),
            (
                "geosearch Sicily FROMLONLAT 1 1 asc desc",
                "ERR exactly one of BYRADIUS and BYBOX can be specified for geosearch",
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER Palermo FROMLONLAT 1 1 BYRADIUS 1 m",
                "ERR syntax error",
            ),
            (
                "GEOSEARCH Sicily FROMMEMBER nope BYRADIUS -1 m",
                "ERR could not decode requested zset member",
            ),
            (
                "GEOSEARCH Sicily BYRADIUS -1 m FROMMEMBER nope",
                "ERR radius cannot be negative",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 1 1 BYRADIUS x m",
                "ERR need numeric radius",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 1 1 BYBOX 1 x m",
                "ERR need numeric height",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 1 1 BYBOX 1 -1 m",
                "ERR height or width cannot be negative",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 1 1 BYRADIUS 1 m BYBOX 1 1 m",
                "ERR syntax error",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 1 1 BYRADIUS 1 m COUNT 0",
                "ERR COUNT must be > 0",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 1 1 BYRADIUS 1 m COUNT x",
                "ERR value is not an integer or out of range",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 1 1 BYRADIUS 1 m ANY",
                "ERR the ANY argument requires COUNT argument",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 1 1 BYRADIUS 1 m COUNT",
                "ERR syntax error",
            ),
            (
                "GEOSEARCH Sicily FROMLONLAT 1 1 BYRADIUS 1 m STOREDIST",
                "ERR syntax error",
            ),
            (
                "GEOSEARCHSTORE d Sicily FROMLONLAT 1 1 BYRADIUS 1 m WITHDIST",
                "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            ),
            (
                "GEORADIUS Sicily 15 37 1 km STORE d WITHHASH",
                "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            ),
            ("GEORADIUS_RO Sicily 15 37 1 km STORE d", "ERR syntax error"),
            (
                "GEORADIUS Sicily 15 37 1 parsec",
                "ERR unsupported unit provided. please use M, KM, FT, MI",
            ),
            (
                "GEORADIUSBYMEMBER Sicily nope 1 km",
                "ERR could not decode requested zset member",
            ),
            (
                "GEORADIUSBYMEMBER Sicily Palermo 1 km FROMMEMBER Palermo",
                "ERR syntax error",
            ),
        ] {
            assert_eq!(t.run(line), err(e), "{line}");
        }
        // A missing source: GEORADIUSBYMEMBER reads no radius.
        assert_eq!(t.run("GEORADIUSBYMEMBER nokey m -1 parsec"), arr(&[]));
        assert_eq!(t.run("GEOSEARCH nokey FROMMEMBER m BYBOX 1 1 km"), arr(&[]));
    }

    #[test]
    fn searches() {
        let mut t = T::new();
        sicily(&mut t);
        t.run("GEOADD Sicily 13.583333 37.316667 Agrigento");
        assert_eq!(
            t.run("GEORADIUS Sicily 15 37 200 km ASC"),
            arr(&["Catania", "Agrigento", "Palermo"])
        );
        assert_eq!(
            t.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 200 km DESC"),
            arr(&["Palermo", "Agrigento", "Catania"])
        );
        assert_eq!(
            t.run("GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC COUNT 1 WITHDIST WITHHASH WITHCOORD"),
            nested(vec![nested(vec![
                bulk("Catania"),
                bulk("56.4413"),
                int(3479447370796909),
                arr(&["15.08726745843887329", "37.50266842333162032"]),
            ])])
        );
        assert_eq!(
            t.run("GEORADIUSBYMEMBER Sicily Agrigento 100 km WITHDIST"),
            nested(vec![
                nested(vec![bulk("Agrigento"), bulk("0.0000")]),
                nested(vec![bulk("Palermo"), bulk("90.9778")]),
            ])
        );
        assert_eq!(
            t.run("GEOSEARCH Sicily FROMLONLAT 0 0 BYRADIUS 1 m"),
            arr(&[])
        );
        // STORE keeps the scores, STOREDIST the distances in the unit.
        assert_eq!(t.run("GEORADIUS Sicily 15 37 200 km STORE d"), int(3));
        assert_eq!(t.run("ZSCORE d Catania"), bulk("3479447370796909"));
        assert_eq!(
            t.run("GEOSEARCHSTORE d Sicily FROMMEMBER Palermo BYRADIUS 100 km STOREDIST"),
            int(2)
        );
        assert_eq!(
            t.run("ZRANGE d 0 -1 WITHSCORES"),
            arr(&["Palermo", "0", "Agrigento", "90.97775353799604"])
        );
        assert_eq!(t.run("GEORADIUS Sicily 0 0 1 m STOREDIST d"), int(0));
        assert_eq!(t.run("EXISTS d"), int(0));
        t.run("SET d x");
        assert_eq!(
            t.run("GEOSEARCHSTORE d nokey FROMMEMBER m BYRADIUS 1 m"),
            int(0)
        );
        assert_eq!(t.run("EXISTS d"), int(0));
        // Huge counts and radii.
        assert_eq!(
            t.run("GEOSEARCH Sicily FROMLONLAT 0 0 BYRADIUS inf m COUNT 9223372036854775807 ANY"),
            arr(&["Agrigento", "Palermo", "Catania"])
        );
        assert_eq!(
            t.run("GEOSEARCH Sicily FROMLONLAT 0 0 BYBOX inf 1e308 ft COUNT 2"),
            arr(&["Agrigento", "Catania"])
        );
    }
}
