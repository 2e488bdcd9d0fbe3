-- Core record tables, one per ntsb_model::records::Record::ALL_SPECS entry.
-- Column names and order follow each TableSpec (key columns, then data columns);
-- a unit test checks that every spec column exists here.
-- `field_sources` is a JSON object: column name -> source kind that set it.

CREATE TABLE code_entries (
    ct_name       TEXT NOT NULL,
    code          TEXT NOT NULL,
    table_name    TEXT NOT NULL,
    column_name   TEXT NOT NULL,
    meaning       TEXT,
    short_desc    TEXT,
    field_sources TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (ct_name, code, table_name, column_name)
);

CREATE TABLE event_keys (
    ev_id         TEXT NOT NULL,
    ntsb_no       TEXT NOT NULL,
    event_date    TEXT,
    field_sources TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (ev_id, ntsb_no)
);
CREATE INDEX event_keys_ntsb_no ON event_keys (ntsb_no);

-- ev_id is NULL for a placeholder: a CAROL case known only by its case number.
CREATE TABLE events (
    id                 INTEGER PRIMARY KEY,
    ev_id              TEXT UNIQUE,
    ntsb_no            TEXT,
    event_type         TEXT,
    event_date         TEXT,
    event_time         TEXT,
    city               TEXT,
    state              TEXT,
    country            TEXT,
    location_raw       TEXT,
    latitude           REAL,
    longitude          REAL,
    airport_code       TEXT,
    airport_name       TEXT,
    highest_injury     TEXT,
    highest_injury_raw TEXT,
    inj_fatal          INTEGER,
    inj_serious        INTEGER,
    inj_minor          INTEGER,
    inj_none           INTEGER,
    weather            TEXT,
    weather_raw        TEXT,
    light_condition    TEXT,
    phase              TEXT,
    report_status      TEXT,
    record_status      TEXT,
    publication_date   TEXT,
    approval_date      TEXT,
    carol_mkey         INTEGER,
    has_safety_rec     INTEGER,
    docket_url         TEXT,
    report_url         TEXT,
    synthetic          INTEGER,
    field_sources      TEXT NOT NULL DEFAULT '{}',
    created_load       INTEGER,
    updated_load       INTEGER
);
CREATE INDEX events_ntsb_no ON events (ntsb_no);

CREATE TABLE aircraft (
    id            INTEGER PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key  INTEGER NOT NULL,
    ntsb_no       TEXT,
    registration  TEXT,
    serial_no     TEXT,
    make          TEXT,
    make_raw      TEXT,
    model         TEXT,
    category      TEXT,
    category_raw  TEXT,
    amateur_built INTEGER,
    num_engines   INTEGER,
    engine_type   TEXT,
    far_part      TEXT,
    far_part_raw  TEXT,
    schedule      TEXT,
    purpose       TEXT,
    operator      TEXT,
    damage        TEXT,
    damage_raw    TEXT,
    phase         TEXT,
    phase_raw     TEXT,
    field_sources TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key)
);

CREATE TABLE engines (
    id                  INTEGER PRIMARY KEY,
    event_id            INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key        INTEGER NOT NULL,
    eng_no              INTEGER NOT NULL,
    eng_type            TEXT,
    eng_mfgr            TEXT,
    eng_model           TEXT,
    power_units         INTEGER,
    hp_or_lbs           TEXT,
    carb_fuel_injection TEXT,
    propeller_type      TEXT,
    propeller_make      TEXT,
    propeller_model     TEXT,
    eng_time_total      REAL,
    eng_time_last_insp  REAL,
    eng_time_overhaul   REAL,
    field_sources       TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, eng_no)
);

CREATE TABLE flight_crew (
    id              INTEGER PRIMARY KEY,
    event_id        INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key    INTEGER NOT NULL,
    crew_no         INTEGER NOT NULL,
    crew_category   TEXT,
    crew_age        INTEGER,
    crew_sex        TEXT,
    med_certf       TEXT,
    med_crtf_vldty  TEXT,
    date_lst_med    TEXT,
    crew_inj_level  TEXT,
    seatbelts_used  INTEGER,
    shldr_harn_used INTEGER,
    crew_res_state  TEXT,
    bfr             INTEGER,
    bfr_date        TEXT,
    field_sources   TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, crew_no)
);

CREATE TABLE flight_time (
    id            INTEGER PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key  INTEGER NOT NULL,
    crew_no       INTEGER NOT NULL,
    flight_type   TEXT NOT NULL,
    flight_craft  TEXT NOT NULL,
    flight_hours  REAL,
    field_sources TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, crew_no, flight_type, flight_craft)
);

CREATE TABLE injury (
    id                  INTEGER PRIMARY KEY,
    event_id            INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key        INTEGER NOT NULL,
    inj_person_category TEXT NOT NULL,
    injury_level        TEXT NOT NULL,
    inj_person_count    INTEGER,
    field_sources       TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, inj_person_category, injury_level)
);

CREATE TABLE findings (
    id                  INTEGER PRIMARY KEY,
    event_id            INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key        INTEGER NOT NULL,
    finding_no          INTEGER NOT NULL,
    finding_code        TEXT,
    finding_description TEXT,
    category_no         INTEGER,
    subcategory_no      INTEGER,
    section_no          INTEGER,
    subsection_no       INTEGER,
    modifier_no         INTEGER,
    cause_factor        TEXT,
    field_sources       TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, finding_no)
);

CREATE TABLE occurrences (
    id                 INTEGER PRIMARY KEY,
    event_id           INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key       INTEGER NOT NULL,
    code_system        TEXT NOT NULL,
    occurrence_no      INTEGER NOT NULL,
    occurrence_code    TEXT,
    occurrence_meaning TEXT,
    phase_no           INTEGER,
    phase_meaning      TEXT,
    phase              TEXT,
    eventsoe_no        INTEGER,
    defining_event     INTEGER,
    altitude           INTEGER,
    field_sources      TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, code_system, occurrence_no)
);

CREATE TABLE sequence_of_events (
    id            INTEGER PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key  INTEGER NOT NULL,
    occurrence_no INTEGER NOT NULL,
    seq_event_no  INTEGER NOT NULL,
    group_code    TEXT,
    subj_code     TEXT,
    subj_meaning  TEXT,
    cause_factor  TEXT,
    modifier_code TEXT,
    person_code   TEXT,
    field_sources TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, occurrence_no, seq_event_no)
);

CREATE TABLE narratives (
    id             INTEGER PRIMARY KEY,
    event_id       INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key   INTEGER NOT NULL,
    narrative      TEXT,
    preliminary    TEXT,
    probable_cause TEXT,
    findings_text  TEXT,
    field_sources  TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key)
);

CREATE TABLE safety_recommendations (
    id             INTEGER PRIMARY KEY,
    event_id       INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    rec_no         INTEGER NOT NULL,
    recommendation TEXT,
    field_sources  TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, rec_no)
);

CREATE TABLE reports (
    id            INTEGER PRIMARY KEY,
    event_id      INTEGER NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    document      TEXT NOT NULL,
    report_type   TEXT,
    text          TEXT,
    field_sources TEXT NOT NULL DEFAULT '{}',
    UNIQUE (event_id, document)
);
