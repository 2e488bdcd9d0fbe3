//! The event filters every event-based endpoint (and dashboard page) accepts,
//! as one type that parses them and documents them.

use ntsb_model::query::EventFilter;
use ntsb_model::vocab::{Damage, EventType, InjuryLevel, Phase, Weather};
use serde::Deserialize;
use utoipa::IntoParams;

use super::values::{BoundingBox, FarPart, FilterText, Flag, IsoDate, OneOf, StateCode, Year};
use crate::error::ApiError;

// Aliases name each vocabulary's parameter type: the OpenAPI derive reads a
// generic type (`OneOf<Phase>`) as a composition and a plain name as a schema.
type InjuryLevelValue = OneOf<InjuryLevel>;
type DamageValue = OneOf<Damage>;
type PhaseValue = OneOf<Phase>;
type WeatherValue = OneOf<Weather>;
type EventTypeValue = OneOf<EventType>;

/// The event filters: every one optional, all combined with AND. Aircraft-level
/// filters (damage, make, model, category, far_part) match when any aircraft does.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct FilterQuery {
    /// Earliest event date, inclusive (YYYY-MM-DD).
    #[param(inline, example = "2010-01-01")]
    pub from: Option<IsoDate>,
    /// Latest event date, inclusive (YYYY-MM-DD); not before `from`.
    #[param(inline, example = "2019-12-31")]
    pub to: Option<IsoDate>,
    /// Calendar year.
    #[param(inline, example = 2015)]
    pub year: Option<Year>,
    /// Two-letter state code (any case).
    #[param(inline, example = "AK")]
    pub state: Option<StateCode>,
    /// Country as NTSB spells it (any case).
    #[param(inline, example = "United States")]
    pub country: Option<FilterText>,
    /// Highest injury of the event.
    #[param(inline)]
    pub highest_injury: Option<InjuryLevelValue>,
    /// Damage of any aircraft.
    #[param(inline)]
    pub damage: Option<DamageValue>,
    /// Make of any aircraft (normalised: `CESSNA AIRCRAFT CO` matches `Cessna`).
    #[param(inline, example = "Cessna")]
    pub make: Option<FilterText>,
    /// Model prefix of any aircraft (any case).
    #[param(inline, example = "172")]
    pub model: Option<FilterText>,
    /// Aircraft category code of any aircraft (`AIR`, `HELI`, …).
    #[param(inline, example = "AIR")]
    pub category: Option<FilterText>,
    /// FAR part of any aircraft (`91` matches `091`).
    #[param(inline, example = "91")]
    pub far_part: Option<FarPart>,
    /// Broad phase of flight.
    #[param(inline)]
    pub phase: Option<PhaseValue>,
    /// Weather condition.
    #[param(inline)]
    pub weather: Option<WeatherValue>,
    /// Accident, incident, …
    #[param(inline)]
    pub event_type: Option<EventTypeValue>,
    /// Only events with (true) or without (false) narrative text.
    #[param(inline)]
    pub has_narrative: Option<Flag>,
    /// Bounding box `min_lon,min_lat,max_lon,max_lat` (degrees, no antimeridian wrap; each
    /// minimum at most its maximum).
    #[param(inline, example = "-125,24,-66,50")]
    pub bbox: Option<BoundingBox>,
}

impl FilterQuery {
    /// The store's filter, once the rules across parameters hold (`to` not
    /// before `from`).
    pub(crate) fn to_filter(&self) -> Result<EventFilter, ApiError> {
        let from = self.from.map(IsoDate::get);
        let to = self.to.map(IsoDate::get);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ApiError::invalid("to", format!("{t} is before from ({f})")));
        }
        let text = |t: &Option<FilterText>| t.as_ref().map(|t| t.as_str().to_string());
        Ok(EventFilter {
            from,
            to,
            year: self.year.map(Year::get),
            state: self.state.clone().map(StateCode::into_string),
            country: text(&self.country),
            highest_injury: self.highest_injury.map(OneOf::get),
            damage: self.damage.map(OneOf::get),
            make: text(&self.make),
            model: text(&self.model),
            category: text(&self.category),
            far_part: self.far_part.clone().map(FarPart::into_string),
            phase: self.phase.map(OneOf::get),
            weather: self.weather.map(OneOf::get),
            event_type: self.event_type.map(OneOf::get),
            has_narrative: self.has_narrative.map(Flag::get),
            bbox: self.bbox.map(BoundingBox::get),
            event_ids: None,
        })
    }
}

/// Full text as a filter, beside the structured ones: only events with every
/// word of `q` (the best [`super::MAX_TEXT_MATCHES`] by relevance).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct TextQuery {
    /// Free text over narratives and probable causes: only events with every word.
    #[param(inline, example = "carburetor icing")]
    pub q: Option<FilterText>,
}

impl TextQuery {
    /// The words, if any.
    pub(crate) fn words(&self) -> Option<&str> {
        self.q.as_ref().map(FilterText::as_str)
    }
}
