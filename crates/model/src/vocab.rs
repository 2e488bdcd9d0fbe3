//! Normalised vocabularies: one spelling per meaning, whatever the source said.
//!
//! NTSB has used three eras of codes (pre-1982 legacy, 1982–2007 `seq_of_events`,
//! 2008+ CICTT `Events_Sequence`), and its exports spell the same thing as `FATL`,
//! `Fatal`, `Fatal(2)` or `FATAL`. Each enum here has one `parse` that accepts every
//! spelling seen in NTSB sources and an `as_str` that gives the one canonical form.

use serde::{Deserialize, Serialize};

/// Folds case and surrounding white space so parsers can match on one spelling.
fn fold(raw: &str) -> String {
    raw.trim().to_ascii_lowercase()
}

/// A closed set of values with one canonical spelling each: what an API
/// parameter of that kind accepts and what its documentation lists.
pub trait Vocabulary: Copy + 'static {
    /// Every value, in order.
    const ALL: &'static [Self];

    /// The canonical spelling.
    fn canonical(self) -> &'static str;
}

macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),* }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The canonical lower-case spelling used in the store and the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            /// Parses the canonical spelling only (for API parameters).
            pub fn from_canonical(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl Vocabulary for $name {
            const ALL: &'static [$name] = $name::ALL;

            fn canonical(self) -> &'static str {
                self.as_str()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// The worst injury suffered by anyone in an event (or by one person).
    InjuryLevel {
        /// At least one fatality.
        Fatal => "fatal",
        /// At least one serious injury, no fatality.
        Serious => "serious",
        /// Minor injuries only.
        Minor => "minor",
        /// Nobody injured.
        None => "none",
        /// Not reported.
        Unknown => "unknown",
    }
}

impl InjuryLevel {
    /// Accepts `FATL`/`SERS`/`MINR`/`NONE`/`UNK`, `Fatal`, `Fatal(2)`, `Serious`, …
    /// `Non-Fatal` and `Incident` say only "not fatal" and so return `None`: callers
    /// derive the level from the injury counts instead ([`InjuryLevel::from_counts`]).
    pub fn parse(raw: &str) -> Option<Self> {
        let s = fold(raw);
        let head = s.split('(').next().unwrap_or("").trim();
        Some(match head {
            "fatl" | "fatal" => InjuryLevel::Fatal,
            "sers" | "serious" => InjuryLevel::Serious,
            "minr" | "minor" => InjuryLevel::Minor,
            "none" | "no injury" | "no injuries" => InjuryLevel::None,
            "unk" | "unknown" | "unavailable" => InjuryLevel::Unknown,
            _ => return Option::None,
        })
    }

    /// The highest level implied by injury counts; `None` when no count is known.
    pub fn from_counts(
        fatal: Option<i64>,
        serious: Option<i64>,
        minor: Option<i64>,
        uninjured: Option<i64>,
    ) -> Option<Self> {
        let pos = |c: Option<i64>| c.is_some_and(|n| n > 0);
        if pos(fatal) {
            Some(InjuryLevel::Fatal)
        } else if pos(serious) {
            Some(InjuryLevel::Serious)
        } else if pos(minor) {
            Some(InjuryLevel::Minor)
        } else if fatal.is_some() || serious.is_some() || minor.is_some() || uninjured.is_some() {
            Some(InjuryLevel::None)
        } else {
            Option::None
        }
    }

    /// Severity rank, higher is worse; unknown ranks lowest.
    pub fn rank(self) -> u8 {
        match self {
            InjuryLevel::Fatal => 4,
            InjuryLevel::Serious => 3,
            InjuryLevel::Minor => 2,
            InjuryLevel::None => 1,
            InjuryLevel::Unknown => 0,
        }
    }
}

vocabulary! {
    /// Damage to an aircraft.
    Damage {
        /// Destroyed.
        Destroyed => "destroyed",
        /// Substantial damage.
        Substantial => "substantial",
        /// Minor damage.
        Minor => "minor",
        /// No damage.
        None => "none",
        /// Not reported.
        Unknown => "unknown",
    }
}

impl Damage {
    /// Accepts `DEST`/`SUBS`/`MINR`/`NONE`/`UNK` and the words in any case.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match fold(raw).as_str() {
            "dest" | "destroyed" => Damage::Destroyed,
            "subs" | "substantial" => Damage::Substantial,
            "minr" | "minor" => Damage::Minor,
            "none" => Damage::None,
            "unk" | "unknown" => Damage::Unknown,
            _ => return Option::None,
        })
    }
}

vocabulary! {
    /// Basic weather conditions.
    Weather {
        /// Visual meteorological conditions.
        Vmc => "VMC",
        /// Instrument meteorological conditions.
        Imc => "IMC",
        /// Not reported.
        Unknown => "unknown",
    }
}

impl Weather {
    /// Accepts `VMC`, `IMC`, `UNK`, `Unk` and the long names.
    pub fn parse(raw: &str) -> Option<Self> {
        let s = fold(raw);
        Some(match s.as_str() {
            "vmc" | "visual meteorological cond" | "visual meteorological conditions" => Weather::Vmc,
            "imc" | "instrument meteorological cond" | "instrument meteorological conditions" => Weather::Imc,
            "unk" | "unknown" => Weather::Unknown,
            _ => return Option::None,
        })
    }
}

vocabulary! {
    /// Whether NTSB classified the event as an accident or an incident.
    EventType {
        /// An accident (death, serious injury or substantial damage).
        Accident => "accident",
        /// An incident.
        Incident => "incident",
        /// An occurrence (CAROL `OCC`), neither accident nor incident.
        Occurrence => "occurrence",
        /// Not reported.
        Unknown => "unknown",
    }
}

impl EventType {
    /// Accepts `ACC`/`INC`/`OCC`/`UNK` and `Accident`/`Incident`.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match fold(raw).as_str() {
            "acc" | "accident" => EventType::Accident,
            "inc" | "incident" => EventType::Incident,
            "occ" | "occurrence" => EventType::Occurrence,
            "unk" | "unknown" | "unknown event type" => EventType::Unknown,
            _ => return Option::None,
        })
    }
}

vocabulary! {
    /// Broad phase of flight, the common denominator of NTSB's three code eras.
    Phase {
        /// Standing, engines running or not.
        Standing => "standing",
        /// Taxi.
        Taxi => "taxi",
        /// Takeoff, including the takeoff roll and rejected takeoffs.
        Takeoff => "takeoff",
        /// Climb (initial or en route).
        Climb => "climb",
        /// Cruise / en route.
        Cruise => "cruise",
        /// Descent.
        Descent => "descent",
        /// Approach.
        Approach => "approach",
        /// Go-around or missed approach.
        GoAround => "go_around",
        /// Landing.
        Landing => "landing",
        /// Maneuvering (including aerial application and holding).
        Maneuvering => "maneuvering",
        /// Hover (rotorcraft).
        Hover => "hover",
        /// Another phase (post-impact, ground handling, …).
        Other => "other",
        /// Not reported.
        Unknown => "unknown",
    }
}

impl Phase {
    /// Accepts AviationData's `Broad.Phase.of.Flight` words in any case, CAROL's
    /// `BroadPhaseofFlight`, the `phase_flt_spec` numeric codes (500–610) and
    /// the CICTT `phase_meaning` texts (`Landing-Flare/Touchdown`, `Enroute-Cruise`).
    pub fn parse(raw: &str) -> Option<Self> {
        let s = fold(raw);
        if s.is_empty() {
            return Option::None;
        }
        if let Ok(code) = s.parse::<u32>() {
            return Self::from_code(code);
        }
        // Exact words first, then the leading word of compound texts.
        let phase = match s.as_str() {
            "go-around" | "go around" | "goaround" | "missed approach" => Phase::GoAround,
            "emergency descent" | "uncontrolled descent" => Phase::Descent,
            "post-impact" | "post impact" | "postimpact" => Phase::Other,
            "unk" | "unknown" | "not reported" => Phase::Unknown,
            _ => {
                let lead = s.split(['-', '/', '(', ' ']).next().unwrap_or("");
                match lead {
                    "standing" | "pushback" | "preflight" | "parked" => Phase::Standing,
                    "taxi" => Phase::Taxi,
                    "takeoff" | "take" | "rejected" => Phase::Takeoff,
                    "initial" | "climb" => Phase::Climb,
                    "enroute" | "en" | "cruise" => {
                        if s.contains("climb") {
                            Phase::Climb
                        } else if s.contains("descent") {
                            Phase::Descent
                        } else {
                            Phase::Cruise
                        }
                    }
                    "descent" => Phase::Descent,
                    "approach" => Phase::Approach,
                    "landing" | "emergency" => Phase::Landing,
                    "maneuvering" | "manoeuvring" | "aerial" => Phase::Maneuvering,
                    "hover" => Phase::Hover,
                    "other" | "post" | "after" => Phase::Other,
                    _ => return Option::None,
                }
            }
        };
        Some(phase)
    }

    /// Maps the `ct_phase_flt_spec` codes used by NTSB 1982–2007.
    pub fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            500..=509 => Phase::Standing,
            510..=519 => Phase::Taxi,
            520..=529 => Phase::Takeoff,
            530..=539 => Phase::Climb,
            540 | 541 => Phase::Cruise,
            542 => Phase::Maneuvering,
            543..=549 => Phase::Cruise,
            550..=559 => Phase::Descent,
            565 | 569 => Phase::GoAround,
            560..=569 => Phase::Approach,
            570..=579 => Phase::Landing,
            580..=589 => Phase::Maneuvering,
            590..=599 => Phase::Hover,
            600 => Phase::Other,
            610 => Phase::Unknown,
            _ => return Option::None,
        })
    }
}

/// Normalises a FAR part to NTSB's `ct_fars` code: `091`, `121`, `135`, `091K`,
/// `NUSC`, `PUBU`, … Accepts `Part 91: General Aviation`, `91`, `091`,
/// `Non-U.S., Commercial`, `Public Use`, `Armed Forces`.
pub fn far_part(raw: &str) -> Option<String> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let named = match lower.as_str() {
        l if l.starts_with("non-u.s., commercial") || l == "nusc" => Some("NUSC"),
        l if l.starts_with("non-u.s., non-commercial") || l == "nusn" => Some("NUSN"),
        l if l.starts_with("public use - federal") || l == "pubf" => Some("PUBF"),
        l if l.starts_with("public use - local") || l == "publ" => Some("PUBL"),
        l if l.starts_with("public use - state") || l == "pubs" => Some("PUBS"),
        l if l.starts_with("public use") || l.starts_with("public aircraft") || l == "pubu" => Some("PUBU"),
        l if l.starts_with("armed forces") || l == "armf" => Some("ARMF"),
        "unk" | "unknown" => Some("UNK"),
        _ => None,
    };
    if let Some(code) = named {
        return Some(code.to_string());
    }
    let rest = lower.strip_prefix("part").unwrap_or(&lower).trim_start();
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    if digits.is_empty() || digits.len() > 3 {
        return None;
    }
    let number: u32 = digits.parse().ok()?;
    let after = rest[digits.len()..].trim_start();
    let suffix = if after.starts_with("subpart k") || after.starts_with('k') {
        "K"
    } else if after.starts_with('f') {
        "F"
    } else {
        ""
    };
    Some(format!("{number:03}{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injury_levels_from_every_era() {
        assert_eq!(InjuryLevel::parse("FATL"), Some(InjuryLevel::Fatal));
        assert_eq!(InjuryLevel::parse("Fatal(12)"), Some(InjuryLevel::Fatal));
        assert_eq!(InjuryLevel::parse(" sers "), Some(InjuryLevel::Serious));
        assert_eq!(InjuryLevel::parse("MINR"), Some(InjuryLevel::Minor));
        assert_eq!(InjuryLevel::parse("Non-Fatal"), None);
        assert_eq!(InjuryLevel::parse("Incident"), None);
    }

    #[test]
    fn injury_level_from_counts_picks_the_worst() {
        assert_eq!(InjuryLevel::from_counts(Some(0), Some(1), Some(3), None), Some(InjuryLevel::Serious));
        assert_eq!(InjuryLevel::from_counts(None, None, None, Some(2)), Some(InjuryLevel::None));
        assert_eq!(InjuryLevel::from_counts(None, None, None, None), None);
    }

    #[test]
    fn damage_weather_event_type() {
        assert_eq!(Damage::parse("SUBS"), Some(Damage::Substantial));
        assert_eq!(Damage::parse("Destroyed"), Some(Damage::Destroyed));
        assert_eq!(Weather::parse("Unk"), Some(Weather::Unknown));
        assert_eq!(Weather::parse("imc"), Some(Weather::Imc));
        assert_eq!(EventType::parse("ACC"), Some(EventType::Accident));
        assert_eq!(EventType::parse("Incident"), Some(EventType::Incident));
        assert_eq!(EventType::parse("bogus"), None);
    }

    #[test]
    fn phases_from_words_codes_and_cictt_texts() {
        assert_eq!(Phase::parse("TAKEOFF"), Some(Phase::Takeoff));
        assert_eq!(Phase::parse("Maneuvering"), Some(Phase::Maneuvering));
        assert_eq!(Phase::parse("Landing-Flare/Touchdown"), Some(Phase::Landing));
        assert_eq!(Phase::parse("Initial Climb"), Some(Phase::Climb));
        assert_eq!(Phase::parse("Enroute-Cruise"), Some(Phase::Cruise));
        assert_eq!(Phase::parse("Go-around"), Some(Phase::GoAround));
        assert_eq!(Phase::parse("571"), Some(Phase::Landing));
        assert_eq!(Phase::parse("565"), Some(Phase::GoAround));
        assert_eq!(Phase::parse("UNKNOWN"), Some(Phase::Unknown));
        assert_eq!(Phase::parse(""), None);
    }

    #[test]
    fn far_parts_normalise_to_ct_fars_codes() {
        assert_eq!(far_part("Part 91: General Aviation").as_deref(), Some("091"));
        assert_eq!(far_part("91").as_deref(), Some("091"));
        assert_eq!(far_part("091").as_deref(), Some("091"));
        assert_eq!(far_part("Part 91 Subpart K: Fractional").as_deref(), Some("091K"));
        assert_eq!(far_part("Part 135: Air Taxi & Commuter").as_deref(), Some("135"));
        assert_eq!(far_part("Non-U.S., Commercial").as_deref(), Some("NUSC"));
        assert_eq!(far_part("NUSC").as_deref(), Some("NUSC"));
        assert_eq!(far_part("Public Use").as_deref(), Some("PUBU"));
        assert_eq!(far_part("").as_deref(), None);
        assert_eq!(far_part("garbage").as_deref(), None);
    }
}
