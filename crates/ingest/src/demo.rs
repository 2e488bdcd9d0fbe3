//! The deterministic synthetic demo sample behind `ntsb demo`.
//!
//! A newcomer without NTSB files should still see every feature work: maps,
//! statistics, full-text search. [`generate`] produces NTSB-shaped records from a
//! seed: events spread over 1990–2024 with summer-heavy seasonality, weighted US
//! states with coordinates inside each state, realistic injury proportions (about
//! one accident in five fatal) and counts consistent with the highest injury,
//! one aircraft (two in about 2% of events, always a collision), engines, a pilot,
//! findings, occurrences and a templated narrative and probable cause.
//!
//! Nothing here is real: every event has `synthetic: Some(true)`, its `ev_id` has
//! the letter `D` where NTSB has `X`/`A` (`20150314D00042`), its case number starts
//! with `DEM`, and every narrative starts with [`NARRATIVE_PREFIX`].
//!
//! The generator uses its own splitmix64 PRNG and only integer arithmetic and
//! exact float operations, so one seed gives byte-identical records everywhere.

use ntsb_model::records::{
    AircraftRecord, CrewRecord, EngineRecord, EventRecord, EventRef, FindingRecord, FlightTimeRecord, InjuryRecord,
    NarrativeRecord, OccurrenceRecord, Record, SourcedRecord,
};

/// Events `ntsb demo` generates unless told otherwise.
pub const DEFAULT_EVENTS: usize = 5_000;

/// Most events one sample can hold (benchmark stores go to a few million);
/// larger requests are capped. The first 99,999 events carry a five-digit
/// serial in their `ev_id`; later ones a letter and four base-36 digits, so
/// every `ev_id` stays 14 characters and unique (see [`serial`]).
pub const MAX_EVENTS: usize = 10_000_000;

/// Start of every synthetic narrative, so no excerpt can pass for a real one.
pub const NARRATIVE_PREFIX: &str = "[SYNTHETIC DEMO RECORD] ";

/// First and last year of the sample.
const FIRST_YEAR: i64 = 1990;
const LAST_YEAR: i64 = 2024;
const YEARS: usize = (LAST_YEAR - FIRST_YEAR + 1) as usize;

/// The synthetic sample for `seed`: `events` events (at most [`MAX_EVENTS`]),
/// each followed by its child records, numbered from line 1.
pub fn generate(seed: u64, events: usize) -> impl Iterator<Item = SourcedRecord> {
    let mut generator = Generator { rng: Rng::new(seed), year_serial: [0; YEARS] };
    (0..events.min(MAX_EVENTS))
        .flat_map(move |i| generator.event(i))
        .enumerate()
        .map(|(i, record)| SourcedRecord { line: i as u64 + 1, record })
}

/// The five characters after the `D` of the `n`th event's `ev_id` (`n` from 1):
/// `00001`…`99999`, then `A0000`, `A0001`, … (a letter, then four base-36
/// digits), which no all-digit serial equals.
fn serial(n: usize) -> String {
    if n < 100_000 {
        return format!("{n:05}");
    }
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let k = n - 100_000;
    let mut out = String::with_capacity(5);
    out.push(char::from(b'A' + u8::try_from((k / 36usize.pow(4)) % 26).unwrap_or(0)));
    for p in (0..4).rev() {
        out.push(char::from(DIGITS[(k / 36usize.pow(p)) % 36]));
    }
    out
}

// ---------------------------------------------------------------------------
// Pseudo-random numbers

/// splitmix64: tiny, fast, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed ^ 0x6E74_7362_2064_656D) // "ntsb dem"
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0), without modulo bias worth noticing.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1).max(1) as u64) as i64
    }

    /// True with probability `per_mille / 1000`.
    fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// One element, uniformly. `N > 0` is checked at compile time.
    fn pick<T: Copy, const N: usize>(&mut self, items: &[T; N]) -> T {
        const { assert!(N > 0) };
        items[self.below(N as u64) as usize]
    }

    /// Index of one weight, proportionally to the weights.
    fn weighted<const N: usize>(&mut self, weights: &[u32; N]) -> usize {
        const { assert!(N > 0) };
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut r = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if r < u64::from(w) {
                return i;
            }
            r -= u64::from(w);
        }
        N - 1
    }

    /// A uniform fraction with four decimals, exact in binary-decimal terms.
    fn fraction(&mut self) -> f64 {
        self.below(10_000) as f64 / 10_000.0
    }
}

// ---------------------------------------------------------------------------
// Catalogues

/// A state, its share of events, and a few towns in it.
#[derive(Clone, Copy)]
struct State {
    code: &'static str,
    weight: u32,
    towns: [Town; 3],
}

/// A town and where it is (degrees, to about a kilometre).
#[derive(Clone, Copy, Debug)]
struct Town {
    name: &'static str,
    latitude: f64,
    longitude: f64,
}

const fn town(name: &'static str, latitude: f64, longitude: f64) -> Town {
    Town { name, latitude, longitude }
}

/// How far from its town an event may lie, in degrees north-south and east-west
/// (at most about 11 km each way).
const NEAR_TOWN_DEGREES: f64 = 0.1;

const STATES: [State; 24] = [
    State {
        code: "CA",
        weight: 110,
        towns: [town("Fresno", 36.74, -119.79), town("Santa Rosa", 38.44, -122.71), town("Chino", 34.01, -117.69)],
    },
    State {
        code: "TX",
        weight: 85,
        towns: [town("Abilene", 32.45, -99.73), town("Conroe", 30.31, -95.46), town("Lubbock", 33.58, -101.86)],
    },
    State {
        code: "FL",
        weight: 80,
        towns: [town("Ocala", 29.19, -82.14), town("Sebring", 27.50, -81.44), town("Lakeland", 28.04, -81.95)],
    },
    State {
        code: "AK",
        weight: 60,
        towns: [town("Talkeetna", 62.32, -150.11), town("Bethel", 60.79, -161.76), town("Soldotna", 60.49, -151.06)],
    },
    State {
        code: "AZ",
        weight: 40,
        towns: [town("Prescott", 34.54, -112.47), town("Chandler", 33.31, -111.84), town("Kingman", 35.19, -114.05)],
    },
    State {
        code: "CO",
        weight: 35,
        towns: [town("Leadville", 39.25, -106.29), town("Longmont", 40.17, -105.10), town("Durango", 37.28, -107.88)],
    },
    State {
        code: "WA",
        weight: 30,
        towns: [town("Arlington", 48.20, -122.13), town("Yakima", 46.60, -120.51), town("Spokane", 47.66, -117.43)],
    },
    State {
        code: "GA",
        weight: 28,
        towns: [town("Peachtree City", 33.40, -84.60), town("Macon", 32.84, -83.63), town("Valdosta", 30.83, -83.28)],
    },
    State {
        code: "NC",
        weight: 25,
        towns: [town("Sanford", 35.48, -79.18), town("Hickory", 35.73, -81.34), town("Wilmington", 34.23, -77.94)],
    },
    State {
        code: "MI",
        weight: 25,
        towns: [town("Howell", 42.61, -83.93), town("Traverse City", 44.76, -85.62), town("Pontiac", 42.64, -83.29)],
    },
    State {
        code: "NY",
        weight: 24,
        towns: [
            town("Saratoga Springs", 43.08, -73.78),
            town("Elmira", 42.09, -76.81),
            town("Poughkeepsie", 41.70, -73.92),
        ],
    },
    State {
        code: "IL",
        weight: 20,
        towns: [
            town("Bloomington", 40.48, -88.99),
            town("Peoria", 40.69, -89.59),
            town("Lake in the Hills", 42.18, -88.33),
        ],
    },
    State {
        code: "OH",
        weight: 20,
        towns: [town("Wadsworth", 41.03, -81.73), town("Marion", 40.59, -83.13), town("Lebanon", 39.44, -84.21)],
    },
    State {
        code: "PA",
        weight: 20,
        towns: [town("Lancaster", 40.04, -76.31), town("Wellsboro", 41.75, -77.30), town("Butler", 40.86, -79.90)],
    },
    State {
        code: "OR",
        weight: 20,
        towns: [town("Bend", 44.06, -121.31), town("Aurora", 45.23, -122.76), town("Medford", 42.33, -122.87)],
    },
    State {
        code: "ID",
        weight: 18,
        towns: [town("Boise", 43.62, -116.20), town("McCall", 44.91, -116.10), town("Salmon", 45.18, -113.90)],
    },
    State {
        code: "MN",
        weight: 18,
        towns: [town("Brainerd", 46.36, -94.20), town("Anoka", 45.20, -93.39), town("Ely", 47.90, -91.87)],
    },
    State {
        code: "WI",
        weight: 17,
        towns: [town("Oshkosh", 44.02, -88.54), town("Wausau", 44.96, -89.63), town("Janesville", 42.68, -89.02)],
    },
    State {
        code: "UT",
        weight: 15,
        towns: [town("Ogden", 41.22, -111.97), town("Moab", 38.57, -109.55), town("Spanish Fork", 40.11, -111.65)],
    },
    State {
        code: "NV",
        weight: 14,
        towns: [town("Henderson", 36.04, -114.98), town("Minden", 38.95, -119.77), town("Elko", 40.83, -115.76)],
    },
    State {
        code: "MO",
        weight: 14,
        towns: [town("Sedalia", 38.70, -93.23), town("Joplin", 37.08, -94.51), town("Chesterfield", 38.66, -90.58)],
    },
    State {
        code: "OK",
        weight: 13,
        towns: [town("Stillwater", 36.12, -97.06), town("Ardmore", 34.17, -97.14), town("Guthrie", 35.88, -97.43)],
    },
    State {
        code: "MT",
        weight: 12,
        towns: [town("Kalispell", 48.20, -114.31), town("Bozeman", 45.68, -111.04), town("Lewistown", 47.06, -109.43)],
    },
    State {
        code: "NM",
        weight: 11,
        towns: [town("Santa Fe", 35.69, -105.94), town("Las Cruces", 32.32, -106.76), town("Taos", 36.41, -105.57)],
    },
];

/// An aircraft type with what NTSB records about it.
#[derive(Clone, Copy)]
struct AircraftType {
    make: &'static str,
    make_raw: &'static str,
    model: &'static str,
    weight: u32,
    helicopter: bool,
    amateur_built: bool,
    engines: i64,
    /// Engine type code (`REC`, `TP`, `TF`, `TS`).
    eng_type: &'static str,
    eng_mfgr: &'static str,
    eng_model: &'static str,
    power: i64,
    /// `HP` or `LBS`.
    power_unit: &'static str,
    carb: Option<&'static str>,
    /// FAR part code this type usually flies under.
    far: &'static str,
}

const fn ac(
    make: &'static str,
    make_raw: &'static str,
    model: &'static str,
    weight: u32,
    engines: i64,
    eng: (&'static str, &'static str, &'static str, i64, &'static str, Option<&'static str>),
    far: &'static str,
) -> AircraftType {
    AircraftType {
        make,
        make_raw,
        model,
        weight,
        helicopter: false,
        amateur_built: false,
        engines,
        eng_type: eng.0,
        eng_mfgr: eng.1,
        eng_model: eng.2,
        power: eng.3,
        power_unit: eng.4,
        carb: eng.5,
        far,
    }
}

const fn heli(mut t: AircraftType) -> AircraftType {
    t.helicopter = true;
    t
}

const fn homebuilt(mut t: AircraftType) -> AircraftType {
    t.amateur_built = true;
    t
}

const CARB: Option<&str> = Some("CARB");
const FINJ: Option<&str> = Some("FINJ");

const TYPES: [AircraftType; 16] = [
    ac("CESSNA", "Cessna", "172N", 140, 1, ("REC", "LYCOMING", "O-320-H2AD", 160, "HP", CARB), "091"),
    ac("CESSNA", "Cessna", "172S", 90, 1, ("REC", "LYCOMING", "IO-360-L2A", 180, "HP", FINJ), "091"),
    ac("CESSNA", "Cessna", "150M", 60, 1, ("REC", "CONTINENTAL", "O-200-A", 100, "HP", CARB), "091"),
    ac("CESSNA", "Cessna", "182P", 70, 1, ("REC", "CONTINENTAL", "O-470-S", 230, "HP", CARB), "091"),
    ac("PIPER", "Piper", "PA-28-181", 100, 1, ("REC", "LYCOMING", "O-360-A4M", 180, "HP", CARB), "091"),
    ac("PIPER", "Piper", "PA-18-150", 45, 1, ("REC", "LYCOMING", "O-320-A2B", 150, "HP", CARB), "091"),
    ac("PIPER", "Piper", "PA-34-200T", 20, 2, ("REC", "CONTINENTAL", "TSIO-360-EB", 200, "HP", FINJ), "091"),
    ac("BEECH", "Beech", "A36", 45, 1, ("REC", "CONTINENTAL", "IO-550-B", 300, "HP", FINJ), "091"),
    ac("BEECH", "Beech", "58", 20, 2, ("REC", "CONTINENTAL", "IO-550-C", 300, "HP", FINJ), "091"),
    ac(
        "CIRRUS DESIGN CORP",
        "Cirrus Design Corp",
        "SR22",
        40,
        1,
        ("REC", "CONTINENTAL", "IO-550-N", 310, "HP", FINJ),
        "091",
    ),
    ac("MOONEY", "Mooney", "M20J", 25, 1, ("REC", "LYCOMING", "IO-360-A3B6D", 200, "HP", FINJ), "091"),
    heli(ac(
        "ROBINSON",
        "Robinson Helicopter",
        "R44 II",
        40,
        1,
        ("REC", "LYCOMING", "IO-540-AE1A5", 245, "HP", FINJ),
        "091",
    )),
    heli(ac("BELL", "Bell", "206B", 20, 1, ("TS", "ROLLS-ROYCE", "250-C20B", 420, "HP", None), "135")),
    ac(
        "AIR TRACTOR",
        "Air Tractor Inc",
        "AT-502B",
        30,
        1,
        ("TP", "PRATT & WHITNEY CANADA", "PT6A-15AG", 680, "HP", None),
        "137",
    ),
    homebuilt(ac("VANS", "Vans", "RV-7", 50, 1, ("REC", "LYCOMING", "IO-360-M1B", 180, "HP", FINJ), "091")),
    ac("BOEING", "Boeing", "737-800", 5, 2, ("TF", "CFM INTL", "CFM56-7B26", 26_300, "LBS", None), "121"),
];

/// A kind of accident: where it happens, how NTSB codes it and how it is told.
#[derive(Clone, Copy)]
struct Scenario {
    weight: u32,
    /// Broad phase and its CICTT phase code.
    phase: (&'static str, i64, &'static str),
    /// CICTT event code and meaning of the defining occurrence.
    occurrence: (i64, &'static str),
    /// What happened, completing "… when it …".
    what: &'static str,
    /// Detail sentences of the narrative.
    details: [&'static str; 2],
    probable_cause: &'static str,
    /// Finding code and text cited as the cause.
    finding: (&'static str, &'static str),
    /// Only for reciprocating engines with a carburettor.
    needs_carb: bool,
}

const fn sc(
    weight: u32,
    phase: (&'static str, i64, &'static str),
    occurrence: (i64, &'static str),
    what: &'static str,
    details: [&'static str; 2],
    probable_cause: &'static str,
    finding: (&'static str, &'static str),
) -> Scenario {
    Scenario { weight, phase, occurrence, what, details, probable_cause, finding, needs_carb: false }
}

const LANDING: (&str, i64, &str) = ("landing", 570, "Landing");
const TAKEOFF: (&str, i64, &str) = ("takeoff", 520, "Takeoff");
const CRUISE: (&str, i64, &str) = ("cruise", 540, "Enroute-cruise");
const MANEUVERING: (&str, i64, &str) = ("maneuvering", 580, "Maneuvering");
const APPROACH: (&str, i64, &str) = ("approach", 560, "Approach");
const CLIMB: (&str, i64, &str) = ("climb", 530, "Initial climb");

const SCENARIOS: [Scenario; 12] = [
    sc(
        160,
        LANDING,
        (230, "Loss of control on ground"),
        "veered off the runway during the landing roll",
        [
            "The pilot reported that a gust of wind lifted the left wing during the landing roll and the airplane veered to the right.",
            "The pilot was unable to regain directional control and the airplane exited the runway into a ditch.",
        ],
        "The pilot's failure to maintain directional control during the landing roll in gusty crosswind conditions.",
        ("0405203001", "Aircraft control - Not attained/maintained (Pilot)"),
    ),
    sc(
        110,
        LANDING,
        (250, "Hard landing"),
        "landed hard and bounced",
        [
            "The pilot stated that the airplane floated in ground effect and then dropped onto the runway.",
            "A subsequent bounce and hard landing resulted in substantial damage to the firewall and the nose landing gear.",
        ],
        "The pilot's improper landing flare, which resulted in a hard landing.",
        ("0405101001", "Landing flare - Incorrect use/operation (Pilot)"),
    ),
    Scenario {
        weight: 70,
        phase: CRUISE,
        occurrence: (200, "Loss of engine power (partial)"),
        what: "lost engine power and made a forced landing in a field",
        details: [
            "The temperature and dew point were conducive to serious carburetor icing at cruise power.",
            "The pilot did not apply carburetor heat until the engine began to run rough; examination revealed no mechanical anomalies, consistent with carburetor icing.",
        ],
        probable_cause: "A partial loss of engine power due to carburetor icing as a result of the pilot's failure to use carburetor heat.",
        finding: ("0201201001", "Carburetor icing - Not used/operated (Pilot)"),
        needs_carb: true,
    },
    sc(
        100,
        CRUISE,
        (240, "Fuel exhaustion"),
        "lost engine power and made a forced landing short of the destination",
        [
            "The pilot reported that he had not visually checked the fuel quantity before departure.",
            "Examination of the airplane revealed that both fuel tanks were empty, and no fuel was found in the fuel lines; fuel exhaustion led to the total loss of engine power.",
        ],
        "The pilot's inadequate fuel planning, which resulted in a total loss of engine power due to fuel exhaustion.",
        ("0406101001", "Fuel planning - Inadequate (Pilot)"),
    ),
    sc(
        80,
        CLIMB,
        (200, "Loss of engine power (total)"),
        "experienced a total loss of engine power shortly after takeoff",
        [
            "Post-accident examination of the engine revealed a fractured crankshaft and signs of oil starvation.",
            "The engine failure occurred at low altitude, and the pilot attempted to return to the airport.",
        ],
        "A total loss of engine power due to the fatigue fracture of the crankshaft, which resulted in an engine failure.",
        ("0102101501", "Recip engine power section - Fatigue/wear/corrosion"),
    ),
    sc(
        70,
        MANEUVERING,
        (120, "Loss of control in flight"),
        "entered an aerodynamic stall and spin during a low-altitude turn",
        [
            "Witnesses observed the airplane in a steep turn at low altitude before the nose dropped and the airplane spun to the ground.",
            "The pilot exceeded the critical angle of attack, which resulted in an aerodynamic stall.",
        ],
        "The pilot's failure to maintain adequate airspeed during a low-altitude turn, which resulted in the airplane exceeding its critical angle of attack and an aerodynamic stall and spin.",
        ("0405201001", "Angle of attack - Capability exceeded (Pilot)"),
    ),
    sc(
        45,
        CRUISE,
        (500, "VFR encounter with IMC"),
        "continued visual flight into instrument meteorological conditions and impacted terrain",
        [
            "The non-instrument-rated pilot did not obtain a weather briefing before departure.",
            "Radar data showed a series of turns and altitude changes consistent with spatial disorientation in clouds.",
        ],
        "The pilot's decision to continue visual flight into instrument meteorological conditions, which resulted in spatial disorientation and a loss of control.",
        ("0406501001", "Decision making/judgment - Pilot"),
    ),
    sc(
        35,
        MANEUVERING,
        (420, "Low altitude operation/event"),
        "struck power lines during low-altitude flight",
        [
            "The pilot was maneuvering low over a river valley and did not see the power transmission wires.",
            "The wire strike damaged the windshield and flight controls, and the aircraft descended into a field beside the river.",
        ],
        "The pilot's failure to maintain clearance from power lines while maneuvering at low altitude, which resulted in a wire strike.",
        ("0406301001", "Object/wire clearance - Not attained/maintained (Pilot)"),
    ),
    sc(
        35,
        TAKEOFF,
        (410, "Runway excursion"),
        "failed to climb and struck trees beyond the end of the runway",
        [
            "The density altitude at the time of the accident was about 8,500 feet and the airplane was near its maximum gross weight.",
            "The high density altitude decreased climb performance and the airplane could not clear the trees.",
        ],
        "The pilot's decision to take off at a high gross weight in high density altitude conditions, which resulted in the airplane's inability to climb.",
        ("0407101001", "Performance calculations - Not performed (Pilot)"),
    ),
    sc(
        35,
        APPROACH,
        (300, "Controlled flight into terrain/object"),
        "descended below the minimum altitude and struck terrain during an instrument approach",
        [
            "The pilot was flying an instrument approach at night in low ceilings and fog.",
            "The airplane descended below the published minimum descent altitude before the missed approach point.",
        ],
        "The pilot's failure to follow the published instrument approach procedure, which resulted in controlled flight into terrain.",
        ("0404101001", "Descent/approach/glide path - Not attained/maintained (Pilot)"),
    ),
    sc(
        30,
        CLIMB,
        (440, "Birdstrike"),
        "struck a flock of birds shortly after takeoff",
        [
            "The bird strike shattered the windshield and damaged the leading edge of the right wing.",
            "The pilot returned to the airport and landed without further incident.",
        ],
        "An in-flight collision with birds during the initial climb.",
        ("0305101001", "Bird - Effect on operation"),
    ),
    sc(
        25,
        LANDING,
        (210, "Landing gear collapse"),
        "landed with the landing gear retracted",
        [
            "The pilot reported that he was distracted by traffic in the pattern and did not complete the before-landing checklist.",
            "The gear warning horn was found to be operational.",
        ],
        "The pilot's failure to extend the landing gear before landing.",
        ("0402101001", "Use of checklist - Not used/operated (Pilot)"),
    ),
];

/// The two-aircraft story: a collision, in the air or on the ground.
const COLLISION: Scenario = sc(
    0,
    APPROACH,
    (130, "Midair collision"),
    "collided with another aircraft in the traffic pattern",
    [
        "Neither pilot was using the common traffic advisory frequency, and neither reported seeing the other aircraft before the collision.",
        "The midair collision occurred on final approach, where both airplanes were converging from different legs of the pattern.",
    ],
    "The failure of both pilots to see and avoid the other airplane, which resulted in a midair collision.",
    ("0406701001", "Monitoring other aircraft - Not attained/maintained (Pilot)"),
);

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Relative accident counts per month: general aviation flies most in summer.
const MONTH_WEIGHTS: [u32; 12] = [60, 62, 78, 86, 97, 108, 118, 114, 96, 84, 70, 62];

// ---------------------------------------------------------------------------
// Generation

/// Injury levels from worst to none, with NTSB's codes.
const LEVELS: [(&str, &str); 4] = [("fatal", "FATL"), ("serious", "SERS"), ("minor", "MINR"), ("none", "NONE")];

struct Generator {
    rng: Rng,
    /// Case numbers issued so far per year, for unique `ntsb_no`s.
    year_serial: [u32; YEARS],
}

/// What one event's records share.
struct Facts {
    ev_id: String,
    date: (i64, usize, i64),
    accident: bool,
    state: State,
    city: &'static str,
    /// The town's position, which the event's coordinates lie near.
    town: Town,
    /// Worst injury index into [`LEVELS`].
    worst: usize,
    /// People per injury level, indexed like [`LEVELS`].
    counts: [i64; 4],
    scenario: Scenario,
    weather: &'static str,
}

impl Generator {
    /// All records of event number `i`, parent first.
    fn event(&mut self, i: usize) -> Vec<Record> {
        let rng = &mut self.rng;
        // Fewer accidents each year: 1990 weighs about twice as much as 2024.
        let year_weights: [u32; YEARS] = std::array::from_fn(|k| 70 - k as u32);
        let year_idx = rng.weighted(&year_weights);
        let year = FIRST_YEAR + year_idx as i64;
        let month = rng.weighted(&MONTH_WEIGHTS);
        let day = rng.range(1, days_in_month(year, month + 1));
        let ev_id = format!("{year:04}{:02}{day:02}D{}", month + 1, serial(i + 1));

        let two_aircraft = rng.chance(20);
        let accident = two_aircraft || rng.chance(950);
        let state = STATES[rng.weighted(&STATES.map(|s| s.weight))];
        let town = rng.pick(&state.towns);
        let city = town.name;

        let kinds: Vec<AircraftType> =
            (0..if two_aircraft { 2 } else { 1 }).map(|_| TYPES[rng.weighted(&TYPES.map(|t| t.weight))]).collect();
        let first = kinds.first().copied().unwrap_or(TYPES[0]);
        let scenario = if two_aircraft { COLLISION } else { pick_scenario(rng, &first) };

        // Accidents: ~20% fatal, 12% serious, 16% minor, rest none. Incidents: no one hurt, or minor.
        let worst = if accident { rng.weighted(&[200, 120, 160, 520]) } else { rng.weighted(&[0, 0, 100, 900]) };
        let occupants: i64 = kinds.iter().map(|k| occupants(rng, k)).sum();
        let mut counts = [0i64; 4];
        counts[worst] += 1;
        for _ in 1..occupants {
            // Everyone else fares no worse than the worst-injured person.
            let level = worst + rng.below((LEVELS.len() - worst) as u64) as usize;
            counts[level] += 1;
        }
        let weather = match rng.weighted(&[880, 80, 40]) {
            0 => "VMC",
            1 => "IMC",
            _ => "UNK",
        };
        let serial = &mut self.year_serial[year_idx];
        *serial += 1;
        let kind_code = match (accident, worst) {
            (false, _) => "IA",
            (true, 0) => "FA",
            _ => "LA",
        };
        let ntsb_no = format!("DEM{:02}{kind_code}{:03}", year % 100, *serial);
        let facts =
            Facts { ev_id, date: (year, month, day), accident, state, city, town, worst, counts, scenario, weather };

        let mut records = vec![Record::Event(self.event_record(&facts, &ntsb_no))];
        let regs: Vec<String> = kinds.iter().map(|_| registration(&mut self.rng)).collect();
        for (k, kind) in kinds.iter().enumerate() {
            let key = k as i64 + 1;
            let suffix = if kinds.len() > 1 { ["A", "B"].get(k).copied().unwrap_or("") } else { "" };
            let reg = regs.get(k).cloned().unwrap_or_default();
            self.aircraft_records(&facts, key, kind, format!("{ntsb_no}{suffix}"), reg, &mut records);
        }
        records.push(Record::Narrative(narrative(&facts, &kinds, &regs)));
        records
    }

    fn event_record(&mut self, f: &Facts, ntsb_no: &str) -> EventRecord {
        let rng = &mut self.rng;
        let (year, month, day) = f.date;
        // Near the town the event names ("near Fresno, California"): within
        // NEAR_TOWN_DEGREES of it both ways (plain arithmetic, no trigonometry,
        // so the sample stays byte-identical on every platform).
        let latitude = round4(f.town.latitude + NEAR_TOWN_DEGREES * (2.0 * rng.fraction() - 1.0));
        let longitude = round4(f.town.longitude + NEAR_TOWN_DEGREES * (2.0 * rng.fraction() - 1.0));
        let hour = 7 + rng.weighted(&[4, 6, 8, 9, 10, 10, 10, 9, 8, 7, 5, 3, 2, 1]) as i64;
        let minute = rng.range(0, 11) * 5;
        let light = if hour >= 19 { rng.pick(&["NDRK", "DUSK"]) } else { "DAYL" };
        let airport =
            rng.chance(550).then(|| (format!("K{}", letters(rng, 3)), format!("{} MUNICIPAL", f.city.to_uppercase())));
        let (worst, worst_code) = LEVELS[f.worst];
        let [fatal, serious, minor, none] = f.counts;
        let highest_raw = if worst == "fatal" { format!("Fatal({fatal})") } else { worst_code.to_string() };
        let event_type = if f.accident { "accident" } else { "incident" };
        EventRecord {
            ev_id: Some(f.ev_id.clone()),
            ntsb_no: Some(ntsb_no.to_string()),
            event_type: Some(event_type.into()),
            event_date: Some(format!("{year:04}-{:02}-{day:02}", month + 1)),
            event_time: Some(format!("{hour:02}:{minute:02}")),
            city: Some(f.city.into()),
            state: Some(f.state.code.into()),
            country: Some("United States".into()),
            location_raw: Some(format!("{}, {}", f.city, f.state.code)),
            latitude: Some(latitude),
            longitude: Some(longitude),
            airport_code: airport.as_ref().map(|a| a.0.clone()),
            airport_name: airport.map(|a| a.1),
            highest_injury: Some(worst.into()),
            highest_injury_raw: Some(highest_raw),
            inj_fatal: Some(fatal),
            inj_serious: Some(serious),
            inj_minor: Some(minor),
            inj_none: Some(none),
            weather: Some(if f.weather == "UNK" { "unknown" } else { f.weather }.into()),
            weather_raw: Some(f.weather.into()),
            light_condition: Some(light.into()),
            phase: Some(f.scenario.phase.0.into()),
            report_status: Some(if year >= LAST_YEAR { "Preliminary" } else { "Probable Cause" }.into()),
            has_safety_rec: Some(false),
            synthetic: Some(true),
            ..Default::default()
        }
    }

    /// Aircraft, engines, pilot, flight time, injuries, findings and occurrence
    /// of aircraft number `key`.
    fn aircraft_records(
        &mut self,
        f: &Facts,
        key: i64,
        t: &AircraftType,
        ntsb_no: String,
        registration: String,
        out: &mut Vec<Record>,
    ) {
        let rng = &mut self.rng;
        let event = EventRef::EvId(f.ev_id.clone());
        let damage = match (f.accident, f.worst) {
            (false, _) => rng.pick(&["minor", "none"]),
            (true, 0) => ["destroyed", "substantial"][rng.weighted(&[600, 400])],
            _ => ["substantial", "minor", "destroyed"][rng.weighted(&[880, 80, 40])],
        };
        let purpose = match t.far {
            "137" => "AAPL",
            "121" | "135" => "BUS",
            _ => ["PERS", "INST", "BUS", "POSI"][rng.weighted(&[700, 180, 80, 40])],
        };
        out.push(Record::Aircraft(AircraftRecord {
            event: event.clone(),
            aircraft_key: key,
            ntsb_no: Some(ntsb_no),
            registration: Some(registration),
            serial_no: Some(format!("{}", rng.range(10_000, 99_999))),
            make: Some(t.make.into()),
            make_raw: Some(t.make_raw.into()),
            model: Some(t.model.into()),
            category: Some(if t.helicopter { "HELI" } else { "AIR" }.into()),
            category_raw: Some(if t.helicopter { "Helicopter" } else { "Airplane" }.into()),
            amateur_built: Some(t.amateur_built),
            num_engines: Some(t.engines),
            engine_type: Some(t.eng_type.into()),
            far_part: Some(t.far.into()),
            far_part_raw: Some(far_raw(t.far).into()),
            schedule: Some(if t.far == "121" { "SCHD" } else { "NSCH" }.into()),
            purpose: Some(purpose.into()),
            operator: (t.far != "091").then(|| format!("{} AIR SERVICES", f.city.to_uppercase())),
            damage: Some(damage.into()),
            damage_raw: Some(damage_code(damage).into()),
            phase: Some(f.scenario.phase.0.into()),
            phase_raw: Some(f.scenario.phase.2.into()),
        }));
        for eng_no in 1..=t.engines {
            out.push(Record::Engine(EngineRecord {
                event: event.clone(),
                aircraft_key: key,
                eng_no,
                eng_type: Some(t.eng_type.into()),
                eng_mfgr: Some(t.eng_mfgr.into()),
                eng_model: Some(t.eng_model.into()),
                power_units: Some(t.power),
                hp_or_lbs: Some(t.power_unit.into()),
                carb_fuel_injection: t.carb.map(Into::into),
                eng_time_total: Some(rng.range(200, 9_000) as f64),
                eng_time_last_insp: Some(rng.range(1, 120) as f64),
                ..Default::default()
            }));
        }
        // Pilot ages cluster in the 40s–60s, as in NTSB data.
        let age = 17 + rng.range(0, 34) + rng.range(0, 34);
        let total_hours = rng.range(40, 1_500) * if rng.chance(300) { 8 } else { 1 };
        // The first aircraft's pilot is the worst-injured person of the event.
        let pilot_level =
            if key == 1 { f.worst } else { f.worst + rng.below((LEVELS.len() - f.worst) as u64) as usize };
        out.push(Record::Crew(CrewRecord {
            event: event.clone(),
            aircraft_key: key,
            crew_no: 1,
            crew_category: Some("PLT".into()),
            crew_age: Some(age),
            crew_sex: Some(if rng.chance(930) { "M" } else { "F" }.into()),
            med_certf: Some(rng.pick(&["CL1", "CL2", "CL3", "CL3", "BASC"]).into()),
            crew_inj_level: Some(LEVELS[pilot_level].0.into()),
            seatbelts_used: Some(true),
            shldr_harn_used: Some(rng.chance(700)),
            crew_res_state: Some(f.state.code.into()),
            ..Default::default()
        }));
        out.push(Record::FlightTime(FlightTimeRecord {
            event: event.clone(),
            aircraft_key: key,
            crew_no: 1,
            flight_type: "TOTL".into(),
            flight_craft: "ALL".into(),
            flight_hours: Some(total_hours as f64),
        }));
        if key == 1 {
            for (level, count) in LEVELS.iter().zip(f.counts) {
                if count > 0 {
                    out.push(Record::Injury(InjuryRecord {
                        event: event.clone(),
                        aircraft_key: key,
                        inj_person_category: "TOTL".into(),
                        injury_level: level.1.into(),
                        inj_person_count: Some(count),
                    }));
                }
            }
        }
        // Coded findings and CICTT occurrences exist from 2008 on.
        if f.date.0 >= 2008 {
            let (code, text) = f.scenario.finding;
            out.push(Record::Finding(finding(&event, key, 1, code, text, Some("cause"))));
            if rng.chance(400) {
                out.push(Record::Finding(finding(
                    &event,
                    key,
                    2,
                    "0500000001",
                    "Personnel issues - Experience/knowledge (Pilot)",
                    Some("factor"),
                )));
            }
            let (phase, phase_no, phase_meaning) = f.scenario.phase;
            let (eventsoe, meaning) = f.scenario.occurrence;
            out.push(Record::Occurrence(OccurrenceRecord {
                event,
                aircraft_key: key,
                code_system: "cictt".into(),
                occurrence_no: 1,
                occurrence_code: Some(format!("{}", phase_no * 1000 + eventsoe)),
                occurrence_meaning: Some(meaning.into()),
                phase_no: Some(phase_no),
                phase_meaning: Some(phase_meaning.into()),
                phase: Some(phase.into()),
                eventsoe_no: Some(eventsoe),
                defining_event: Some(true),
                ..Default::default()
            }));
        }
    }
}

/// A scenario that fits the aircraft (carburetor icing needs a carburetor).
fn pick_scenario(rng: &mut Rng, t: &AircraftType) -> Scenario {
    let weights = SCENARIOS.map(|s| if s.needs_carb && t.carb != CARB { 0 } else { s.weight });
    SCENARIOS[rng.weighted(&weights)]
}

/// People aboard one aircraft.
fn occupants(rng: &mut Rng, t: &AircraftType) -> i64 {
    match (t.far, t.make) {
        ("121", _) => rng.range(60, 180),
        ("137", _) => 1,
        _ => 1 + rng.weighted(&[350, 400, 120, 100, 30]) as i64,
    }
}

fn finding(event: &EventRef, key: i64, no: i64, code: &str, text: &str, cause: Option<&str>) -> FindingRecord {
    let part = |from: usize, to: usize| code.get(from..to).and_then(|s| s.parse::<i64>().ok());
    FindingRecord {
        event: event.clone(),
        aircraft_key: key,
        finding_no: no,
        finding_code: Some(code.into()),
        finding_description: Some(text.into()),
        category_no: part(0, 2),
        subcategory_no: part(2, 4),
        section_no: part(4, 6),
        subsection_no: part(6, 8),
        modifier_no: part(8, 10),
        cause_factor: cause.map(Into::into),
    }
}

/// The event-level narrative and probable cause, from the scenario's templates.
fn narrative(f: &Facts, kinds: &[AircraftType], regs: &[String]) -> NarrativeRecord {
    let (year, month, day) = f.date;
    let month_name = MONTHS.get(month).copied().unwrap_or("January");
    let describe = |k: usize| {
        let t = kinds.get(k).copied().unwrap_or(TYPES[0]);
        format!("{} {}, {}", t.make_raw, t.model, regs.get(k).map(String::as_str).unwrap_or("N-unknown"))
    };
    let mut text = format!("{NARRATIVE_PREFIX}On {month_name} {day}, {year}, a {}", describe(0));
    if kinds.len() > 1 {
        text.push_str(&format!(" and a {}", describe(1)));
    }
    let s = f.scenario;
    text.push_str(&format!(" {} near {}, {}. ", s.what, f.city, state_name(f.state.code)));
    text.push_str(match LEVELS[f.worst].0 {
        "fatal" => "The pilot was fatally injured. ",
        "serious" => "The pilot sustained serious injuries. ",
        "minor" => "The pilot sustained minor injuries. ",
        _ => "The pilot was not injured. ",
    });
    text.push_str(match f.weather {
        "VMC" => "Visual meteorological conditions prevailed. ",
        "IMC" => "Instrument meteorological conditions prevailed. ",
        _ => "",
    });
    let details = s.details.join(" ");
    let first_is_helicopter = kinds.first().is_some_and(|t| t.helicopter);
    text.push_str(&if first_is_helicopter { details.replace("airplane", "helicopter") } else { details });
    let cause = (year < LAST_YEAR).then(|| s.probable_cause.to_string());
    NarrativeRecord {
        event: EventRef::EvId(f.ev_id.clone()),
        aircraft_key: 0,
        narrative: Some(text),
        probable_cause: cause,
        ..Default::default()
    }
}

fn state_name(code: &str) -> &'static str {
    ntsb_model::normalize::US_STATES.iter().find(|(c, _)| *c == code).map_or("", |(_, n)| n)
}

fn far_raw(code: &str) -> &'static str {
    match code {
        "121" => "Part 121: Air Carrier",
        "135" => "Part 135: Air Taxi & Commuter",
        "137" => "Part 137: Agricultural",
        _ => "Part 91: General Aviation",
    }
}

fn damage_code(damage: &str) -> &'static str {
    match damage {
        "destroyed" => "DEST",
        "substantial" => "SUBS",
        "minor" => "MINR",
        _ => "NONE",
    }
}

/// An N-number: `N` and 1–5 digits, sometimes ending in letters.
fn registration(rng: &mut Rng) -> String {
    let digits = rng.range(1, 9_999);
    let tail = if rng.chance(500) {
        let n = 1 + rng.below(2) as usize;
        letters(rng, n)
    } else {
        String::new()
    };
    format!("N{digits}{tail}")
}

/// Upper-case letters without I and O, as in N-numbers.
fn letters(rng: &mut Rng, n: usize) -> String {
    const ALPHABET: [char; 24] = [
        'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'J', 'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X',
        'Y', 'Z',
    ];
    (0..n).map(|_| rng.pick(&ALPHABET)).collect()
}

fn days_in_month(year: i64, month: usize) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Rounds to four decimals (about 10 m), like published coordinates.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod serial_tests {
    use super::serial;

    #[test]
    fn serials_stay_five_characters_and_unique_past_99999() {
        assert_eq!(serial(1), "00001");
        assert_eq!(serial(99_999), "99999");
        assert_eq!(serial(100_000), "A0000");
        assert_eq!(serial(100_001), "A0001");
        assert_eq!(serial(100_036), "A0010");
        let many: std::collections::HashSet<String> = (1..=3_000_000).step_by(7).map(serial).collect();
        assert_eq!(many.len(), (1..=3_000_000).step_by(7).count());
        assert!(many.iter().all(|s| s.len() == 5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Great-circle distance in kilometres.
    fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
        let (la1, lo1, la2, lo2) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
        let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
        2.0 * 6371.0 * h.sqrt().asin()
    }

    #[test]
    fn every_event_lies_near_the_town_it_names() {
        let mut seen = 0;
        for record in generate(7, 2_000) {
            let Record::Event(e) = record.record else { continue };
            let (state, city) = (e.state.clone().unwrap(), e.city.clone().unwrap());
            let town = STATES
                .iter()
                .filter(|s| s.code == state)
                .flat_map(|s| s.towns)
                .find(|t| t.name == city)
                .unwrap_or_else(|| panic!("{city}, {state} is a town of the catalogue"));
            let at = (e.latitude.unwrap(), e.longitude.unwrap());
            let d = km(at, (town.latitude, town.longitude));
            // 0.1° north-south and east-west: at most about 11 km × √2.
            assert!(d < 16.0, "{} at {at:?} is {d:.1} km from {city}, {state}", e.ev_id.unwrap());
            seen += 1;
        }
        assert_eq!(seen, 2_000);
    }
}
