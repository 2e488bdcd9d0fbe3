//! Which kind of NTSB source a record came from, and how much it is trusted.

use serde::{Deserialize, Serialize};

/// The kind of source a record was read from.
///
/// When two kinds of source give different values for the same field, the one with
/// the higher [`SourceKind::precedence`] wins, so loading files again in any order
/// never flips a field back and forth. A newer file of the *same* kind always
/// replaces that kind's earlier values: that is how a preliminary record becomes
/// final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// NTSB's relational tables: an Access database or its per-table CSV export.
    Avall,
    /// The flat "AviationData" export, one row per aircraft.
    AviationData,
    /// A CAROL case export (CSV or JSON).
    Carol,
    /// Narrative JSONL (`{ev_id, narrative, probable_cause}`).
    NarrativeJsonl,
    /// Probable cause, findings and safety recommendations text export.
    SafetyRecs,
    /// Full report text documents with their index.
    Reports,
    /// The ev_id ↔ NTSB number crosswalk.
    Crosswalk,
    /// The eADMSPUB data dictionary and `ct_*` code tables.
    CodeTables,
    /// The deterministic synthetic demo sample (never real data).
    Demo,
    /// Event documents consumed from a Kafka topic (`ntsb ingest --from-kafka`):
    /// events as another system describes them, trusted above the flat export
    /// and below NTSB's own case and relational sources.
    Kafka,
}

impl SourceKind {
    /// Trust rank: higher wins when two kinds disagree about a field.
    pub fn precedence(self) -> u8 {
        match self {
            SourceKind::Avall => 60,
            SourceKind::Carol => 50,
            SourceKind::SafetyRecs => 45,
            SourceKind::NarrativeJsonl => 40,
            SourceKind::Kafka => 35,
            SourceKind::AviationData => 30,
            SourceKind::Reports => 20,
            SourceKind::Crosswalk => 10,
            SourceKind::CodeTables => 10,
            SourceKind::Demo => 5,
        }
    }

    /// Stable lower-case name used in the database and in output.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Avall => "avall",
            SourceKind::AviationData => "aviation_data",
            SourceKind::Carol => "carol",
            SourceKind::NarrativeJsonl => "narrative_jsonl",
            SourceKind::SafetyRecs => "safety_recs",
            SourceKind::Reports => "reports",
            SourceKind::Crosswalk => "crosswalk",
            SourceKind::CodeTables => "code_tables",
            SourceKind::Demo => "demo",
            SourceKind::Kafka => "kafka",
        }
    }

    /// Parses [`SourceKind::as_str`] back.
    pub fn parse(s: &str) -> Option<SourceKind> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// Every kind, in declaration order.
    pub const ALL: [SourceKind; 10] = [
        SourceKind::Avall,
        SourceKind::AviationData,
        SourceKind::Carol,
        SourceKind::NarrativeJsonl,
        SourceKind::SafetyRecs,
        SourceKind::Reports,
        SourceKind::Crosswalk,
        SourceKind::CodeTables,
        SourceKind::Demo,
        SourceKind::Kafka,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in SourceKind::ALL {
            assert_eq!(SourceKind::parse(k.as_str()), Some(k));
        }
    }
}
