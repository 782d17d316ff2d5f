//! Wall-clock time from the CMOS real-time clock's registers: decoding
//! them (BCD or binary, 12- or 24-hour) and turning a calendar date into
//! Unix time. The port reads are in `arch::x86_64::rtc`.

/// The RTC's date and time registers as read (before decoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcRegisters {
    pub second: u8,
    pub minute: u8,
    pub hour: u8,
    pub day: u8,
    pub month: u8,
    /// The year within its century (the RTC keeps two digits).
    pub year: u8,
    /// Status register B: bit 2 set means binary (else BCD), bit 1 set
    /// means 24-hour (else 12-hour, with the PM flag in the hour's bit 7).
    pub status_b: u8,
}

/// Decodes the registers into Unix time in seconds, taking years 00-99 as
/// 2000-2099 (the RTC's century register is not standard); `None` if a
/// field is out of range (no RTC, or a torn read).
///
/// ```
/// use kernel::time::{RtcRegisters, unix_seconds};
/// // 2026-11-27 18:30:49, BCD, 24-hour.
/// let r = RtcRegisters { second: 0x49, minute: 0x30, hour: 0x18, day: 0x27, month: 0x11, year: 0x26, status_b: 0x02 };
/// assert_eq!(unix_seconds(r), Some(1_795_804_249));
/// ```
pub fn unix_seconds(r: RtcRegisters) -> Option<u64> {
    let binary = r.status_b & 0x04 != 0;
    let decode = |v: u8| -> Option<u64> {
        if binary {
            Some(u64::from(v))
        } else if v & 0x0f < 10 && v >> 4 < 10 {
            Some(u64::from((v >> 4) * 10 + (v & 0x0f)))
        } else {
            None
        }
    };
    let pm = r.status_b & 0x02 == 0 && r.hour & 0x80 != 0;
    let mut hour = decode(r.hour & 0x7f)?;
    if r.status_b & 0x02 == 0 {
        // 12-hour: 12 AM is 0, 12 PM is 12.
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let (second, minute) = (decode(r.second)?, decode(r.minute)?);
    let (day, month, year) = (decode(r.day)?, decode(r.month)?, 2000 + decode(r.year)?);
    if second > 59 || minute > 59 || hour > 23 || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the date (proleptic Gregorian, year ≥ 1970).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    // Count from March, so the leap day ends a year.
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let year_of_era = y % 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bcd(v: u8) -> u8 {
        ((v / 10) << 4) | (v % 10)
    }

    fn regs(y: u8, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> RtcRegisters {
        RtcRegisters {
            second: bcd(s),
            minute: bcd(mi),
            hour: bcd(h),
            day: bcd(d),
            month: bcd(mo),
            year: bcd(y),
            status_b: 0x02,
        }
    }

    #[test]
    fn known_dates() {
        assert_eq!(unix_seconds(regs(0, 1, 1, 0, 0, 0)), Some(946_684_800));
        assert_eq!(unix_seconds(regs(0, 2, 29, 12, 0, 0)), Some(951_825_600));
        assert_eq!(
            unix_seconds(regs(24, 12, 31, 23, 59, 59)),
            Some(1_735_689_599)
        );
        assert_eq!(unix_seconds(regs(99, 3, 1, 0, 0, 0)), Some(4_076_006_400));
    }

    #[test]
    fn every_day_follows_the_one_before() {
        let mut last = None;
        for y in 0..100u8 {
            for mo in 1..=12 {
                for d in 1..=days_in_month(2000 + u64::from(y), u64::from(mo)) as u8 {
                    let t = unix_seconds(regs(y, mo, d, 0, 0, 0)).unwrap();
                    if let Some(l) = last {
                        assert_eq!(t, l + 86_400, "{y}-{mo}-{d}");
                    }
                    last = Some(t);
                }
            }
        }
    }

    #[test]
    fn binary_and_twelve_hour_modes() {
        let mut r = regs(26, 11, 27, 18, 30, 49);
        let want = unix_seconds(r);
        r = RtcRegisters {
            second: 49,
            minute: 30,
            hour: 18,
            day: 27,
            month: 11,
            year: 26,
            status_b: 0x06,
        };
        assert_eq!(unix_seconds(r), want);
        // 6 PM in 12-hour BCD; 12 AM is midnight.
        r = regs(26, 11, 27, 6, 30, 49);
        r.status_b = 0;
        r.hour |= 0x80;
        assert_eq!(unix_seconds(r), want);
        let midnight = regs(26, 11, 27, 0, 0, 0);
        let mut twelve_am = regs(26, 11, 27, 12, 0, 0);
        twelve_am.status_b = 0;
        assert_eq!(unix_seconds(twelve_am), unix_seconds(midnight));
    }

    #[test]
    fn nonsense_is_refused() {
        assert_eq!(unix_seconds(regs(26, 2, 29, 0, 0, 0)), None);
        assert_eq!(unix_seconds(regs(26, 13, 1, 0, 0, 0)), None);
        assert_eq!(unix_seconds(regs(26, 1, 1, 24, 0, 0)), None);
        let mut r = regs(26, 1, 1, 0, 0, 0);
        r.second = 0xff;
        assert_eq!(unix_seconds(r), None);
        let mut twelve = regs(26, 1, 1, 0, 0, 0);
        twelve.status_b = 0;
        assert_eq!(unix_seconds(twelve), None);
    }
}
