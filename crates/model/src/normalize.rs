//! Normalisation rules shared by every reader: dates, coordinates, US states,
//! make names, yes/no flags and NTSB numbers.
//!
//! Each function takes the raw text exactly as a source wrote it and returns the
//! normalised value, or `None` when the text is empty or cannot mean anything
//! valid. Readers keep the raw text beside the normalised value where it matters.

use chrono::{NaiveDate, NaiveDateTime};

/// Parses a date in any format NTSB sources use and returns it as ISO `YYYY-MM-DD`.
///
/// Accepted: `2017-03-20`, `2023-12-30T16:00:00Z`, `2017-03-20 00:00:00`,
/// Access's `03/20/17 00:00:00` and `03/20/2017`, and `11/16/2023 18:00`.
/// Two-digit years follow NTSB's data: `YY` above the current two-digit year
/// belongs to the 1900s (the database starts in 1948).
pub fn iso_date(raw: &str) -> Option<String> {
    parse_date(raw).map(|d| d.format("%Y-%m-%d").to_string())
}

/// Like [`iso_date`] but returns the parsed date.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if s.as_bytes().get(4) == Some(&b'-') {
        return NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok();
    }
    let date_part = s.split([' ', 'T']).next()?;
    let mut parts = date_part.split('/');
    let (m, d, y) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let month: u32 = m.parse().ok()?;
    let day: u32 = d.parse().ok()?;
    let year: i32 = match y.len() {
        2 => {
            let yy: i32 = y.parse().ok()?;
            let this_century_max = (chrono::Utc::now().format("%y").to_string().parse::<i32>()).unwrap_or(99);
            if yy <= this_century_max { 2000 + yy } else { 1900 + yy }
        }
        4 => y.parse().ok()?,
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

/// Extracts the time of day (`HH:MM`) from an ISO timestamp such as
/// `2023-12-30T16:00:00Z`; `None` for plain dates or a midnight placeholder.
pub fn time_of_day(raw: &str) -> Option<String> {
    let s = raw.trim();
    let t = s.split_once('T').map(|(_, t)| t)?;
    let t =
        NaiveDateTime::parse_from_str(&format!("2000-01-01T{}", t.trim_end_matches('Z')), "%Y-%m-%dT%H:%M:%S").ok()?;
    Some(t.format("%H:%M").to_string())
}

/// Parses a latitude: decimal degrees (`43.614444`) or NTSB's
/// degrees-minutes-seconds (`433652N`, `0413500N`). Out-of-range values give `None`.
pub fn latitude(raw: &str) -> Option<f64> {
    coordinate(raw, 90.0, ['N', 'S'])
}

/// Parses a longitude: decimal degrees or DMS (`1161322W`, `0801500W`).
pub fn longitude(raw: &str) -> Option<f64> {
    coordinate(raw, 180.0, ['E', 'W'])
}

fn coordinate(raw: &str, limit: f64, hemispheres: [char; 2]) -> Option<f64> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let last = s.chars().last()?.to_ascii_uppercase();
    let value = if hemispheres.contains(&last) {
        let digits = &s[..s.len() - 1].trim();
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() < 5 {
            return None;
        }
        let n = digits.len();
        let secs: f64 = digits[n - 2..].parse().ok()?;
        let mins: f64 = digits[n - 4..n - 2].parse().ok()?;
        let degs: f64 = digits[..n - 4].parse().ok()?;
        if mins >= 60.0 || secs >= 60.0 {
            return None;
        }
        let v = degs + mins / 60.0 + secs / 3600.0;
        if last == hemispheres[1] { -v } else { v }
    } else {
        s.parse::<f64>().ok()?
    };
    (value.is_finite() && value.abs() <= limit).then_some(value)
}

/// A coordinate pair is kept only when both halves are valid and it is not the
/// `0, 0` placeholder some exports write for "unknown".
pub fn coordinate_pair(lat: Option<f64>, lon: Option<f64>) -> (Option<f64>, Option<f64>) {
    match (lat, lon) {
        (Some(a), Some(b)) if !(a == 0.0 && b == 0.0) => (Some(a), Some(b)),
        _ => (None, None),
    }
}

/// US state and territory codes NTSB uses, with their names.
pub const US_STATES: &[(&str, &str)] = &[
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
    ("PR", "Puerto Rico"),
    ("GU", "Guam"),
    ("VI", "Virgin Islands"),
    ("AS", "American Samoa"),
    ("MP", "Northern Mariana Islands"),
    ("GM", "Gulf of Mexico"),
    ("AO", "Atlantic Ocean"),
    ("PO", "Pacific Ocean"),
];

/// Normalises a US state given as a code (`id`, `ID`) or a name (`Idaho`,
/// `IDAHO`) to its two-letter code.
pub fn state_code(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if s.len() == 2 {
        let up = s.to_ascii_uppercase();
        return US_STATES.iter().any(|(c, _)| *c == up).then_some(up);
    }
    US_STATES.iter().find(|(_, name)| name.eq_ignore_ascii_case(s)).map(|(c, _)| (*c).to_string())
}

/// Takes the state from a `"City, ST"` location such as AviationData's
/// `Location` column.
pub fn state_from_location(location: &str) -> Option<String> {
    let (_, tail) = location.rsplit_once(',')?;
    state_code(tail)
}

/// Takes the city from a `"City, ST"` location, in the source's spelling.
pub fn city_from_location(location: &str) -> Option<String> {
    let city = match location.rsplit_once(',') {
        Some((city, _)) => city,
        None => location,
    };
    non_empty(city)
}

/// Whether a country name or code means the United States.
pub fn is_united_states(country: &str) -> bool {
    matches!(country.trim().to_ascii_uppercase().as_str(), "USA" | "US" | "UNITED STATES" | "UNITED STATES OF AMERICA")
}

/// Corporate words dropped from make names so `CESSNA AIRCRAFT CO` and `Cessna`
/// group together.
const MAKE_NOISE: &[&str] = &[
    "AIRCRAFT",
    "AIRPLANE",
    "AIRPLANES",
    "CO",
    "CO.",
    "COMPANY",
    "CORP",
    "CORP.",
    "CORPORATION",
    "INC",
    "INC.",
    "INCORPORATED",
    "LLC",
    "LTD",
    "LTD.",
    "MFG",
    "MANUFACTURING",
    "INDUSTRIES",
    "INDUSTRIE",
    "THE",
    "&",
];

/// Normalises an aircraft make for grouping: upper case, single spaces, trailing
/// corporate words removed (`Cessna Aircraft Co` → `CESSNA`). The raw make is
/// kept separately by every reader.
pub fn make_name(raw: &str) -> Option<String> {
    let up = raw.trim().to_uppercase().replace(',', " ");
    let mut words: Vec<&str> = up.split_whitespace().collect();
    while words.len() > 1 && MAKE_NOISE.contains(words.last()?) {
        words.pop();
    }
    let joined = words.join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// Parses yes/no flags: `Y`/`N`, `Yes`/`No`, `true`/`false`, `1`/`0`; `U` and
/// `Unknown` give `None`.
pub fn yes_no(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "true" | "t" | "1" => Some(true),
        "n" | "no" | "false" | "f" | "0" => Some(false),
        _ => None,
    }
}

/// Trims text and turns empty strings into `None`.
pub fn non_empty(raw: &str) -> Option<String> {
    let s = raw.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// Text that should have been a number and is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotANumber;

impl std::fmt::Display for NotANumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a number")
    }
}

impl std::error::Error for NotANumber {}

/// Parses an integer written as `3`, `3.0` or ` 3 `; empty gives `Ok(None)`,
/// text that is not a whole number gives `Err`.
pub fn integer(raw: &str) -> Result<Option<i64>, NotANumber> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(n) = s.parse::<i64>() {
        return Ok(Some(n));
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        _ => Err(NotANumber),
    }
}

/// Parses a decimal number; empty gives `Ok(None)`.
pub fn real(raw: &str) -> Result<Option<f64>, NotANumber> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Some(f)),
        _ => Err(NotANumber),
    }
}

/// Whether text has the shape of an NTSB event id: 14 characters, the date as
/// 8 digits, then a letter and 5 digits (`20080124X00101`, the shape until late
/// 2020) or 6 more digits (`20200928102039`, the shape since).
pub fn is_ev_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 14
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8].is_ascii_alphanumeric()
        && b[9..].iter().all(u8::is_ascii_digit)
}

/// The case number without the per-aircraft suffix AviationData adds to
/// multi-aircraft events (`LAX99LA086A` → `LAX99LA086`).
pub fn base_ntsb_no(ntsb_no: &str) -> String {
    let s = ntsb_no.trim().to_ascii_uppercase();
    let b = s.as_bytes();
    if b.len() > 4 && b[b.len() - 1].is_ascii_alphabetic() && b[b.len() - 2].is_ascii_digit() {
        s[..s.len() - 1].to_string()
    } else {
        s
    }
}

/// The aircraft number a case number's letter suffix stands for (`…063A` is
/// aircraft 1, `…063B` aircraft 2), as NTSB numbers the aircraft of a
/// multi-aircraft event; `None` without a suffix.
pub fn aircraft_number_of(ntsb_no: &str) -> Option<i64> {
    let s = ntsb_no.trim();
    let b = s.as_bytes();
    if b.len() > 4 && b[b.len() - 1].is_ascii_alphabetic() && b[b.len() - 2].is_ascii_digit() {
        Some(i64::from(b[b.len() - 1].to_ascii_uppercase() - b'A') + 1)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aircraft_numbers_from_case_number_suffixes() {
        assert_eq!(aircraft_number_of("CEN17FA063A"), Some(1));
        assert_eq!(aircraft_number_of(" cen17fa063b "), Some(2));
        assert_eq!(aircraft_number_of("CEN17FA063"), None);
        assert_eq!(aircraft_number_of("B"), None);
    }

    #[test]
    fn dates_in_every_source_format() {
        assert_eq!(iso_date("2017-03-20").as_deref(), Some("2017-03-20"));
        assert_eq!(iso_date("2023-12-30T16:00:00Z").as_deref(), Some("2023-12-30"));
        assert_eq!(iso_date("02/11/08 00:00:00").as_deref(), Some("2008-02-11"));
        assert_eq!(iso_date("10/24/48 00:00:00").as_deref(), Some("1948-10-24"));
        assert_eq!(iso_date("11/16/2023 18:00").as_deref(), Some("2023-11-16"));
        assert_eq!(iso_date("13/45/08").as_deref(), None);
        assert_eq!(iso_date("").as_deref(), None);
        assert_eq!(iso_date("yesterday").as_deref(), None);
        assert_eq!(iso_date("2019-02-0é2").as_deref(), None);
        assert_eq!(iso_date("é/é/é").as_deref(), None);
    }

    #[test]
    fn time_of_day_from_iso_timestamps() {
        assert_eq!(time_of_day("2023-12-30T16:05:00Z").as_deref(), Some("16:05"));
        assert_eq!(time_of_day("2023-12-30").as_deref(), None);
    }

    #[test]
    fn coordinates_decimal_and_dms() {
        assert_eq!(latitude("43.614444"), Some(43.614444));
        let lat = latitude("0413500N").unwrap();
        assert!((lat - (41.0 + 35.0 / 60.0)).abs() < 1e-9);
        let lon = longitude("1161322W").unwrap();
        assert!((lon + (116.0 + 13.0 / 60.0 + 22.0 / 3600.0)).abs() < 1e-9);
        assert_eq!(latitude("95.0"), None);
        assert_eq!(latitude("0416500N"), None, "65 minutes is invalid");
        assert_eq!(longitude("abcW"), None);
        assert_eq!(coordinate_pair(Some(0.0), Some(0.0)), (None, None));
    }

    #[test]
    fn states_from_codes_names_and_locations() {
        assert_eq!(state_code("id").as_deref(), Some("ID"));
        assert_eq!(state_code("Missouri").as_deref(), Some("MO"));
        assert_eq!(state_code("XX"), None);
        assert_eq!(state_from_location("Boise, ID").as_deref(), Some("ID"));
        assert_eq!(state_from_location("Winston-Salem, North Carolina").as_deref(), Some("NC"));
        assert_eq!(state_from_location("Toronto, Canada"), None);
        assert_eq!(city_from_location("Boise, ID").as_deref(), Some("Boise"));
    }

    #[test]
    fn make_names_group_case_and_corporate_suffixes() {
        assert_eq!(make_name("CESSNA").as_deref(), Some("CESSNA"));
        assert_eq!(make_name("Cessna").as_deref(), Some("CESSNA"));
        assert_eq!(make_name(" Cessna Aircraft Co ").as_deref(), Some("CESSNA"));
        assert_eq!(make_name("Piper Aircraft, Inc.").as_deref(), Some("PIPER"));
        assert_eq!(make_name("The Boeing Company").as_deref(), Some("THE BOEING"));
        assert_eq!(make_name("   "), None);
    }

    #[test]
    fn numbers_flags_and_ids() {
        assert_eq!(integer("3.0"), Ok(Some(3)));
        assert_eq!(integer(""), Ok(None));
        assert!(integer("three").is_err());
        assert_eq!(yes_no("Y"), Some(true));
        assert_eq!(yes_no("FALSE"), Some(false));
        assert_eq!(yes_no("U"), None);
        assert!(is_ev_id("20080124X00101"));
        assert!(is_ev_id("20200928102039"));
        assert!(!is_ev_id("2008012XX00101"));
        assert!(!is_ev_id("NYC08CA068"));
        assert_eq!(base_ntsb_no("LAX99LA086A"), "LAX99LA086");
        assert_eq!(base_ntsb_no("LAX99LA086"), "LAX99LA086");
    }
}
