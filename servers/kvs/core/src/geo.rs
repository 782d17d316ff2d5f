//! The geohash arithmetic of the geo commands ([`crate::cmd::geo`]), done
//! the way Redis 7.0 does it, so that a search finds the same points, in
//! the same order, at the same distances.
//!
//! A point is a sorted-set member whose score is its geohash: longitude
//! and latitude each cut into 2^26 steps over Web Mercator's range
//! (latitude ±85.05112878, longitude ±180) and their bits interleaved, the
//! latitude's in the even places. A search covers its circle or box with
//! nine cells (the centre's and its eight neighbours) of a size estimated
//! from the radius; each cell is a range of scores, and the points in it
//! are checked against the exact shape. Distances are haversine, on a
//! sphere of Redis's radius, with `libm`'s sine, cosine and arcsine
//! (which can differ from glibc's in the last bit: see `docs/kvs.md`).

use libm::{asin, cos, fabs, sin, sqrt};

/// Bits per coordinate in a stored point's score (52 in all).
pub(crate) const STEP_MAX: u8 = 26;
/// Web Mercator's latitude limits, which stop short of the poles.
pub(crate) const LAT_MIN: f64 = -85.05112878;
/// See [`LAT_MIN`].
pub(crate) const LAT_MAX: f64 = 85.05112878;
/// The longitude limits.
pub(crate) const LON_MIN: f64 = -180.0;
/// See [`LON_MIN`].
pub(crate) const LON_MAX: f64 = 180.0;
/// Redis's Earth radius in meters (WGS-84's quadratic mean).
const EARTH_RADIUS: f64 = 6372797.560856;
/// Half the Mercator projection's width in meters: the step estimate
/// doubles a radius until it gets there.
const MERCATOR_MAX: f64 = 20037726.37;
/// Degrees to radians, as C's `M_PI / 180.0`.
const DEG: f64 = core::f64::consts::PI / 180.0;

/// The bit places of a hash's latitude.
const EVEN: u64 = 0x5555_5555_5555_5555;
/// The bit places of a hash's longitude.
const ODD: u64 = 0xaaaa_aaaa_aaaa_aaaa;

/// An interval of degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Range {
    pub(crate) min: f64,
    pub(crate) max: f64,
}

const LON: Range = Range {
    min: LON_MIN,
    max: LON_MAX,
};
/// The latitudes stored points span.
pub(crate) const LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};
/// The latitudes of the standard geohash, which GEOHASH's strings use.
pub(crate) const LAT_STANDARD: Range = Range {
    min: -90.0,
    max: 90.0,
};

/// A cell: `step` bits of each coordinate, interleaved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hash {
    pub(crate) bits: u64,
    pub(crate) step: u8,
}

/// The degrees a cell covers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Cell {
    pub(crate) lon: Range,
    pub(crate) lat: Range,
}

/// Whether a point is one Redis accepts (GEOADD, FROMLONLAT).
pub(crate) fn valid(lon: f64, lat: f64) -> bool {
    (LON_MIN..=LON_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// Spreads the bits of `v` to the even places.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & EVEN
}

/// Gathers the bits in the even places (the inverse of [`spread`]).
fn gather(x: u64) -> u32 {
    let mut x = x & EVEN;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0f0f_0f0f_0f0f_0f0f;
    x = (x | (x >> 4)) & 0x00ff_00ff_00ff_00ff;
    x = (x | (x >> 8)) & 0x0000_ffff_0000_ffff;
    x = (x | (x >> 16)) & 0x0000_0000_ffff_ffff;
    x as u32
}

/// The cell of `step` bits per coordinate holding a point that is
/// [`valid`] and inside `lat`. A coordinate at its range's maximum gets
/// the step count itself, one bit above the others, as in Redis (such a
/// point's score is past every search's range).
pub(crate) fn encode(lon: f64, lat: f64, step: u8, lats: Range) -> Hash {
    let cells = (1u64 << step) as f64;
    let lat_offset = (lat - lats.min) / (lats.max - lats.min) * cells;
    let lon_offset = (lon - LON.min) / (LON.max - LON.min) * cells;
    // The offsets are within 0..=2^26: the conversions keep them whole.
    Hash {
        bits: spread(lat_offset as u32) | (spread(lon_offset as u32) << 1),
        step,
    }
}

/// The score of a stored point (a [`valid`] one).
pub(crate) fn score_of(lon: f64, lat: f64) -> u64 {
    encode(lon, lat, STEP_MAX, LAT).bits
}

/// The degrees a cell covers. Bits above the step (a score that is no
/// geohash) make coordinates out of range, as in Redis.
pub(crate) fn decode(hash: Hash) -> Cell {
    let cells = (1u64 << hash.step) as f64;
    let edge = |r: Range, i: u32| r.min + (f64::from(i) / cells) * (r.max - r.min);
    let (lat, lon) = (gather(hash.bits), gather(hash.bits >> 1));
    // C's `unsigned` sum wraps at 2^32.
    Cell {
        lon: Range {
            min: edge(LON, lon),
            max: edge(LON, lon.wrapping_add(1)),
        },
        lat: Range {
            min: edge(LAT, lat),
            max: edge(LAT, lat.wrapping_add(1)),
        },
    }
}

/// A cell's centre, held to the valid ranges.
pub(crate) fn centre(cell: Cell) -> (f64, f64) {
    let lon = ((cell.lon.min + cell.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((cell.lat.min + cell.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The point a sorted-set score stands for: the centre of the cell of
/// the score's bits, read as C's `(uint64_t)` conversion reads a double
/// on x86-64 (so any score, even a negative or infinite one, is some
/// point, as in Redis).
pub(crate) fn point(score: f64) -> (f64, f64) {
    centre(decode(Hash {
        bits: c_to_u64(score),
        step: STEP_MAX,
    }))
}

/// C's `(uint64_t)x` as GCC compiles it for x86-64: below 2^63 the
/// processor's truncation to a signed integer (which gives 2^63 for what
/// does not fit, and wraps a negative value), from 2^63 on that of
/// `x - 2^63` with the top bit flipped.
fn c_to_u64(x: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let truncate = |v: f64| {
        if (-TWO_63..TWO_63).contains(&v) {
            v as i64 as u64
        } else {
            1 << 63
        }
    };
    if x >= TWO_63 {
        truncate(x - TWO_63) ^ (1 << 63)
    } else {
        truncate(x)
    }
}

/// The 11 characters of the standard geohash of a point (GEOHASH): its
/// 52 bits over the standard latitude range, five to a character, and a
/// last `0` (there are only 52 bits).
pub(crate) fn standard_hash(lon: f64, lat: f64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let bits = encode(lon, lat, STEP_MAX, LAT_STANDARD).bits;
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((bits >> (47 - 5 * i)) & 0x1f) as usize];
    }
    out
}

/// `bits` with the coordinate in the places `mine` moved one cell up
/// (`up`) or down, wrapping around within `step` bits; the other
/// coordinate's bits stay. Ones in the other's places within the step
/// carry (or borrow) across them.
fn shift(bits: u64, step: u8, mine: u64, up: bool) -> u64 {
    let width = 64 - 2 * u32::from(step);
    let gaps = !mine >> width;
    let (own, other) = (bits & mine, bits & !mine);
    let own = if up {
        own.wrapping_add(gaps + 1)
    } else {
        (own | gaps).wrapping_sub(gaps + 1)
    };
    (own & (mine >> width)) | other
}

/// The cell `dlon` cells east and `dlat` north (each -1, 0 or 1).
fn moved(hash: Hash, dlon: i8, dlat: i8) -> Hash {
    let mut bits = hash.bits;
    if dlon != 0 {
        bits = shift(bits, hash.step, ODD, dlon > 0);
    }
    if dlat != 0 {
        bits = shift(bits, hash.step, EVEN, dlat > 0);
    }
    Hash { bits, ..hash }
}

/// Where the eight neighbours are, in the order a search visits them
/// after the centre: north, south, east, west, north-east, north-west,
/// south-east, south-west (east and north as `1`).
const AROUND: [(i8, i8); 8] = [
    (0, 1),
    (0, -1),
    (1, 0),
    (-1, 0),
    (1, 1),
    (-1, 1),
    (1, -1),
    (-1, -1),
];

/// The bits per coordinate of the cells that cover a search of `meters`
/// around latitude `lat`: Redis's estimate, which doubles the radius until
/// it passes half the projection's width, and takes one or two off near
/// the poles, where the cells narrow.
pub(crate) fn estimate_step(meters: f64, lat: f64) -> u8 {
    if meters == 0.0 {
        return STEP_MAX;
    }
    let (mut m, mut step) = (meters, 1i32);
    // At most about 1,100 doublings, from the smallest double.
    while m < MERCATOR_MAX {
        m *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

/// The distance along a meridian between two latitudes, meters.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * fabs(lat2 * DEG - lat1 * DEG)
}

/// The haversine distance between two points, meters. Where rounding
/// makes the haversine pass 1 (nearly antipodal points), it is held to 1:
/// Redis's arcsine gives NaN there.
pub(crate) fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = sin((lon2 * DEG - lon1 * DEG) / 2.0);
    // On one meridian the formula comes down to the latitudes' difference.
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1, lat2) = (lat1 * DEG, lat2 * DEG);
    let u = sin((lat2 - lat1) / 2.0);
    let a = u * u + cos(lat1) * cos(lat2) * v * v;
    2.0 * EARTH_RADIUS * asin(sqrt(a).min(1.0))
}

/// A search's extent, in its unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Extent {
    /// Within `radius` of the centre.
    Radius(f64),
    /// Within a box centred on the centre, its sides along a meridian and
    /// a parallel.
    Box { width: f64, height: f64 },
}

/// The bounding box of a search, degrees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bounds {
    pub(crate) min_lon: f64,
    pub(crate) min_lat: f64,
    pub(crate) max_lon: f64,
    pub(crate) max_lat: f64,
}

/// What a search covers: a centre, an extent and its unit (meters per
/// unit).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Shape {
    pub(crate) lon: f64,
    pub(crate) lat: f64,
    pub(crate) unit: f64,
    pub(crate) extent: Extent,
}

impl Shape {
    /// Redis's bounding box: the latitudes of the radius (or half the
    /// height) along the meridian, and the longitudes of the radius (or
    /// half the width) at the box's edge nearer the pole, where degrees
    /// of longitude are shortest.
    pub(crate) fn bounds(&self) -> Bounds {
        let (height, width) = match self.extent {
            Extent::Radius(r) => (r, r),
            Extent::Box { width, height } => (height / 2.0, width / 2.0),
        };
        let (height, width) = (self.unit * height, self.unit * width);
        let lat_delta = height / EARTH_RADIUS / DEG;
        let lon_delta = |lat: f64| width / EARTH_RADIUS / cos(lat * DEG) / DEG;
        let lon_delta = if self.lat < 0.0 {
            lon_delta(self.lat - lat_delta)
        } else {
            lon_delta(self.lat + lat_delta)
        };
        Bounds {
            min_lon: self.lon - lon_delta,
            min_lat: self.lat - lat_delta,
            max_lon: self.lon + lon_delta,
            max_lat: self.lat + lat_delta,
        }
    }

    /// The cells a search visits, in its order: the centre's, then its
    /// neighbours as [`AROUND`] lists them; `None` for a neighbour that
    /// lies wholly outside the bounding box. The estimated step is taken
    /// one down when a neighbour does not reach the box's edge, and the
    /// neighbours are only dropped with two or more bits per coordinate,
    /// as in Redis.
    pub(crate) fn cells(&self) -> [Option<Hash>; 9] {
        let b = self.bounds();
        let meters = match self.extent {
            Extent::Radius(r) => r,
            Extent::Box { width, height } => {
                sqrt((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0))
            }
        } * self.unit;
        let mut step = estimate_step(meters, self.lat);
        let mut hash = encode(self.lon, self.lat, step, LAT);
        let reach = |hash: Hash, (dlon, dlat): (i8, i8)| decode(moved(hash, dlon, dlat));
        let short = reach(hash, AROUND[0]).lat.max < b.max_lat
            || reach(hash, AROUND[1]).lat.min > b.min_lat
            || reach(hash, AROUND[2]).lon.max < b.max_lon
            || reach(hash, AROUND[3]).lon.min > b.min_lon;
        if step > 1 && short {
            step -= 1;
            hash = encode(self.lon, self.lat, step, LAT);
        }
        let cell = decode(hash);
        let mut out = [Some(hash); 9];
        for (slot, &(dlon, dlat)) in out[1..].iter_mut().zip(&AROUND) {
            let outside = step >= 2
                && ((dlat < 0 && cell.lat.min < b.min_lat)
                    || (dlat > 0 && cell.lat.max > b.max_lat)
                    || (dlon < 0 && cell.lon.min < b.min_lon)
                    || (dlon > 0 && cell.lon.max > b.max_lon));
            *slot = (!outside).then(|| moved(hash, dlon, dlat));
        }
        out
    }

    /// The distance in meters from the centre to a point the shape
    /// covers; `None` outside. A box is checked along the meridian, then
    /// along the point's parallel.
    pub(crate) fn reach(&self, lon: f64, lat: f64) -> Option<f64> {
        match self.extent {
            Extent::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                (d <= r * self.unit).then_some(d)
            }
            Extent::Box { width, height } => {
                if lat_distance(lat, self.lat) > height * self.unit / 2.0
                    || distance(lon, lat, self.lon, lat) > width * self.unit / 2.0
                {
                    return None;
                }
                Some(distance(self.lon, self.lat, lon, lat))
            }
        }
    }
}

/// The scores `[min, max)` of the points in a cell.
pub(crate) fn score_range(hash: Hash) -> (f64, f64) {
    let shift = 52 - 2 * u32::from(hash.step);
    (
        (hash.bits << shift) as f64,
        ((hash.bits + 1) << shift) as f64,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_round_trips() {
        for v in [0u32, 1, 0x5555_5555, 0xffff_ffff, 0x0400_0000, 12_345_678] {
            assert_eq!(gather(spread(v)), v);
            assert_eq!(gather(spread(v) << 1 >> 1), v);
        }
        assert_eq!(spread(0b1011), 0b100_0101);
        assert_eq!(gather(0b1100_0101), 0b1011);
    }

    #[test]
    fn scores_are_redis_s() {
        // GEOADD Sicily 13.361389 38.115556 Palermo: the score Redis stores.
        assert_eq!(score_of(13.361389, 38.115556), 3_479_099_956_230_698);
        assert_eq!(score_of(15.087269, 37.502669), 3_479_447_370_796_909);
        assert_eq!(score_of(-180.0, LAT_MIN), 0);
        // The maxima get a bit above the 52: no search's range has them.
        assert_eq!(score_of(180.0, LAT_MAX), 3 << 52);
    }

    #[test]
    fn points_decode_to_cell_centres() {
        let (lon, lat) = point(3_479_099_956_230_698.0);
        assert_eq!((lon, lat), (13.361_389_338_970_184, 38.115_556_395_496_3));
        // Scores that are no geohash are still points, as Redis reads
        // them (checked against redis-server 7.0.15).
        assert_eq!(point(-1.0), (180.0, LAT_MAX));
        assert_eq!(point(f64::INFINITY), point(0.0));
        assert_eq!(point(1e300), point(0.0));
        assert_eq!(point(f64::NEG_INFINITY).0, 180.0);
        assert_eq!(point(1.5), point(1.0));
        assert_eq!(c_to_u64(-1.0), u64::MAX);
        assert_eq!(c_to_u64(9.3e18), 9_300_000_000_000_000_000);
        assert_eq!(c_to_u64(-9.3e18), 1 << 63);
        assert_eq!(c_to_u64(2e19), 0);
    }

    #[test]
    fn standard_geohash_strings() {
        let (lon, lat) = point(3_479_099_956_230_698.0);
        assert_eq!(&standard_hash(lon, lat), b"sqc8b49rny0");
        let (lon, lat) = point(0.0);
        assert_eq!(&standard_hash(lon, lat), b"00bh0hbj200");
    }

    #[test]
    fn neighbours_wrap_around() {
        let h = encode(0.1, 0.1, 2, LAT);
        // Two bits each: longitude cell 2, latitude cell 2.
        assert_eq!(h.bits, 0b1100);
        assert_eq!(moved(h, 1, 0).bits, 0b1110);
        assert_eq!(moved(moved(h, 1, 0), 1, 0).bits, 0b0100, "east wraps");
        assert_eq!(moved(h, 0, -1).bits, 0b1001);
        assert_eq!(moved(moved(h, -1, -1), 1, 1), h);
        // One bit each: north and south are the same cell.
        let h = encode(10.0, 10.0, 1, LAT);
        assert_eq!(moved(h, 0, 1), moved(h, 0, -1));
        assert_ne!(moved(h, 0, 1), h);
    }

    #[test]
    fn steps_as_redis_estimates() {
        assert_eq!(estimate_step(0.0, 0.0), 26);
        assert_eq!(estimate_step(1000.0, 0.0), 14);
        assert_eq!(estimate_step(1000.0, 70.0), 13);
        assert_eq!(estimate_step(1000.0, -81.0), 12);
        assert_eq!(estimate_step(5e6, 0.0), 2);
        assert_eq!(estimate_step(1e7, 0.0), 1);
        assert_eq!(estimate_step(f64::INFINITY, 0.0), 1);
        assert_eq!(estimate_step(f64::MIN_POSITIVE / 4.0, 0.0), 26);
    }

    #[test]
    fn distances() {
        // GEODIST Sicily Palermo Catania: 166274.1516 m in Redis.
        let (a, b) = (
            point(3_479_099_956_230_698.0),
            point(3_479_447_370_796_909.0),
        );
        let d = distance(a.0, a.1, b.0, b.1);
        assert!((d - 166_274.151_6).abs() < 5e-5, "{d}");
        assert_eq!(distance(1.0, 2.0, 1.0, 3.0), lat_distance(2.0, 3.0));
        let half = distance(0.0, 0.0, 180.0, 0.0);
        assert!((half - EARTH_RADIUS * core::f64::consts::PI).abs() < 1e-6);
        assert!(!distance(10.0, 45.0, -170.0, -45.0).is_nan());
    }

    #[test]
    fn search_cells() {
        let shape = Shape {
            lon: 15.0,
            lat: 37.0,
            unit: 1000.0,
            extent: Extent::Radius(200.0),
        };
        let cells = shape.cells();
        let centre = cells[0].unwrap();
        assert_eq!(centre, encode(15.0, 37.0, centre.step, LAT));
        // Every point within the radius lies in one of the cells.
        for (dlon, dlat) in [(1.5, 0.0), (-1.5, 0.0), (0.0, 1.7), (-1.1, -1.1)] {
            let (lon, lat) = (15.0 + dlon, 37.0 + dlat);
            let d = shape.reach(lon, lat);
            assert!(d.is_some(), "{lon} {lat}");
            let score = score_of(lon, lat) as f64;
            assert!(cells.iter().flatten().any(|&h| {
                let (min, max) = score_range(h);
                (min..max).contains(&score)
            }));
        }
        assert_eq!(shape.reach(18.0, 37.0), None);
        let boxed = Shape {
            extent: Extent::Box {
                width: 400.0,
                height: 100.0,
            },
            ..shape
        };
        assert!(boxed.reach(16.5, 37.0).is_some());
        assert_eq!(boxed.reach(15.0, 38.0), None);
        // An infinite radius covers the world with the four cells of one
        // bit each (the neighbours repeat).
        let all = Shape {
            extent: Extent::Radius(f64::INFINITY),
            ..shape
        };
        let cells = all.cells();
        assert!(cells.iter().all(|c| c.is_some_and(|h| h.step == 1)));
        assert!(all.reach(-179.0, -80.0).is_some());
    }
}
