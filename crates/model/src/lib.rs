//! Domain model of the NTSB aviation accident database.
//!
//! This crate is the bottom layer of NTSB Analytics: it knows nothing about files,
//! SQL or HTTP. It defines
//!
//! * the [`records`] that readers produce and stores keep (events, aircraft, engines,
//!   flight crew, injuries, findings, occurrences, narratives, code tables, …);
//! * the normalised [`vocab`]ularies every source is mapped to (highest injury,
//!   aircraft damage, weather, phase of flight, event type, FAR part);
//! * the [`normalize`] rules that turn NTSB's many spellings into those vocabularies
//!   (Access dates, degrees-minutes-seconds coordinates, "City, ST" locations, make
//!   names), always keeping the raw value beside the normalised one.
//!
//! ```
//! use ntsb_model::vocab::InjuryLevel;
//! assert_eq!(InjuryLevel::parse("FATL"), Some(InjuryLevel::Fatal));
//! assert_eq!(InjuryLevel::parse("Fatal(2)"), Some(InjuryLevel::Fatal));
//! assert_eq!(ntsb_model::normalize::state_from_location("Boise, ID").as_deref(), Some("ID"));
//! ```
#![deny(missing_docs)]

pub mod normalize;
pub mod query;
pub mod records;
pub mod source;
pub mod value;
pub mod vocab;

pub use records::Record;
pub use source::SourceKind;
pub use value::Value;
