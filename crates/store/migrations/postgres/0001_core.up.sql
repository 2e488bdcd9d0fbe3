-- Core record tables, one per ntsb_model::records::Record::ALL_SPECS entry.
-- Column names and order follow each TableSpec (key columns, then data columns);
-- a unit test checks that every spec column exists here. PostgreSQL mirror of
-- migrations/sqlite/0001_core.up.sql: INTEGER is BIGINT, REAL is DOUBLE PRECISION,
-- and text compares bytewise (COLLATE "C") so ordering matches SQLite exactly.
-- `field_sources` is a JSON object: column name -> source kind that set it.

CREATE TABLE code_entries (
    ct_name       TEXT COLLATE "C" NOT NULL,
    code          TEXT COLLATE "C" NOT NULL,
    table_name    TEXT COLLATE "C" NOT NULL,
    column_name   TEXT COLLATE "C" NOT NULL,
    meaning       TEXT COLLATE "C",
    short_desc    TEXT COLLATE "C",
    field_sources TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    PRIMARY KEY (ct_name, code, table_name, column_name)
);

CREATE TABLE event_keys (
    ev_id         TEXT COLLATE "C" NOT NULL,
    ntsb_no       TEXT COLLATE "C" NOT NULL,
    event_date    TEXT COLLATE "C",
    field_sources TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    PRIMARY KEY (ev_id, ntsb_no)
);
CREATE INDEX event_keys_ntsb_no ON event_keys (ntsb_no);

-- ev_id is NULL for a placeholder: a CAROL case known only by its case number.
CREATE TABLE events (
    id                 BIGSERIAL PRIMARY KEY,
    ev_id              TEXT COLLATE "C" UNIQUE,
    ntsb_no            TEXT COLLATE "C",
    event_type         TEXT COLLATE "C",
    event_date         TEXT COLLATE "C",
    event_time         TEXT COLLATE "C",
    city               TEXT COLLATE "C",
    state              TEXT COLLATE "C",
    country            TEXT COLLATE "C",
    location_raw       TEXT COLLATE "C",
    latitude           DOUBLE PRECISION,
    longitude          DOUBLE PRECISION,
    airport_code       TEXT COLLATE "C",
    airport_name       TEXT COLLATE "C",
    highest_injury     TEXT COLLATE "C",
    highest_injury_raw TEXT COLLATE "C",
    inj_fatal          BIGINT,
    inj_serious        BIGINT,
    inj_minor          BIGINT,
    inj_none           BIGINT,
    weather            TEXT COLLATE "C",
    weather_raw        TEXT COLLATE "C",
    light_condition    TEXT COLLATE "C",
    phase              TEXT COLLATE "C",
    report_status      TEXT COLLATE "C",
    record_status      TEXT COLLATE "C",
    publication_date   TEXT COLLATE "C",
    approval_date      TEXT COLLATE "C",
    carol_mkey         BIGINT,
    has_safety_rec     BIGINT,
    docket_url         TEXT COLLATE "C",
    report_url         TEXT COLLATE "C",
    synthetic          BIGINT,
    field_sources      TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    created_load       BIGINT,
    updated_load       BIGINT
);
CREATE INDEX events_ntsb_no ON events (ntsb_no);

CREATE TABLE aircraft (
    id            BIGSERIAL PRIMARY KEY,
    event_id      BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key  BIGINT NOT NULL,
    ntsb_no       TEXT COLLATE "C",
    registration  TEXT COLLATE "C",
    serial_no     TEXT COLLATE "C",
    make          TEXT COLLATE "C",
    make_raw      TEXT COLLATE "C",
    model         TEXT COLLATE "C",
    category      TEXT COLLATE "C",
    category_raw  TEXT COLLATE "C",
    amateur_built BIGINT,
    num_engines   BIGINT,
    engine_type   TEXT COLLATE "C",
    far_part      TEXT COLLATE "C",
    far_part_raw  TEXT COLLATE "C",
    schedule      TEXT COLLATE "C",
    purpose       TEXT COLLATE "C",
    operator      TEXT COLLATE "C",
    damage        TEXT COLLATE "C",
    damage_raw    TEXT COLLATE "C",
    phase         TEXT COLLATE "C",
    phase_raw     TEXT COLLATE "C",
    field_sources TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key)
);

CREATE TABLE engines (
    id                  BIGSERIAL PRIMARY KEY,
    event_id            BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key        BIGINT NOT NULL,
    eng_no              BIGINT NOT NULL,
    eng_type            TEXT COLLATE "C",
    eng_mfgr            TEXT COLLATE "C",
    eng_model           TEXT COLLATE "C",
    power_units         BIGINT,
    hp_or_lbs           TEXT COLLATE "C",
    carb_fuel_injection TEXT COLLATE "C",
    propeller_type      TEXT COLLATE "C",
    propeller_make      TEXT COLLATE "C",
    propeller_model     TEXT COLLATE "C",
    eng_time_total      DOUBLE PRECISION,
    eng_time_last_insp  DOUBLE PRECISION,
    eng_time_overhaul   DOUBLE PRECISION,
    field_sources       TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, eng_no)
);

CREATE TABLE flight_crew (
    id              BIGSERIAL PRIMARY KEY,
    event_id        BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key    BIGINT NOT NULL,
    crew_no         BIGINT NOT NULL,
    crew_category   TEXT COLLATE "C",
    crew_age        BIGINT,
    crew_sex        TEXT COLLATE "C",
    med_certf       TEXT COLLATE "C",
    med_crtf_vldty  TEXT COLLATE "C",
    date_lst_med    TEXT COLLATE "C",
    crew_inj_level  TEXT COLLATE "C",
    seatbelts_used  BIGINT,
    shldr_harn_used BIGINT,
    crew_res_state  TEXT COLLATE "C",
    bfr             BIGINT,
    bfr_date        TEXT COLLATE "C",
    field_sources   TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, crew_no)
);

CREATE TABLE flight_time (
    id            BIGSERIAL PRIMARY KEY,
    event_id      BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key  BIGINT NOT NULL,
    crew_no       BIGINT NOT NULL,
    flight_type   TEXT COLLATE "C" NOT NULL,
    flight_craft  TEXT COLLATE "C" NOT NULL,
    flight_hours  DOUBLE PRECISION,
    field_sources TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, crew_no, flight_type, flight_craft)
);

CREATE TABLE injury (
    id                  BIGSERIAL PRIMARY KEY,
    event_id            BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key        BIGINT NOT NULL,
    inj_person_category TEXT COLLATE "C" NOT NULL,
    injury_level        TEXT COLLATE "C" NOT NULL,
    inj_person_count    BIGINT,
    field_sources       TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, inj_person_category, injury_level)
);

CREATE TABLE findings (
    id                  BIGSERIAL PRIMARY KEY,
    event_id            BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key        BIGINT NOT NULL,
    finding_no          BIGINT NOT NULL,
    finding_code        TEXT COLLATE "C",
    finding_description TEXT COLLATE "C",
    category_no         BIGINT,
    subcategory_no      BIGINT,
    section_no          BIGINT,
    subsection_no       BIGINT,
    modifier_no         BIGINT,
    cause_factor        TEXT COLLATE "C",
    field_sources       TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, finding_no)
);

CREATE TABLE occurrences (
    id                 BIGSERIAL PRIMARY KEY,
    event_id           BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key       BIGINT NOT NULL,
    code_system        TEXT COLLATE "C" NOT NULL,
    occurrence_no      BIGINT NOT NULL,
    occurrence_code    TEXT COLLATE "C",
    occurrence_meaning TEXT COLLATE "C",
    phase_no           BIGINT,
    phase_meaning      TEXT COLLATE "C",
    phase              TEXT COLLATE "C",
    eventsoe_no        BIGINT,
    defining_event     BIGINT,
    altitude           BIGINT,
    field_sources      TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, code_system, occurrence_no)
);

CREATE TABLE sequence_of_events (
    id            BIGSERIAL PRIMARY KEY,
    event_id      BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key  BIGINT NOT NULL,
    occurrence_no BIGINT NOT NULL,
    seq_event_no  BIGINT NOT NULL,
    group_code    TEXT COLLATE "C",
    subj_code     TEXT COLLATE "C",
    subj_meaning  TEXT COLLATE "C",
    cause_factor  TEXT COLLATE "C",
    modifier_code TEXT COLLATE "C",
    person_code   TEXT COLLATE "C",
    field_sources TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key, occurrence_no, seq_event_no)
);

CREATE TABLE narratives (
    id             BIGSERIAL PRIMARY KEY,
    event_id       BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    aircraft_key   BIGINT NOT NULL,
    narrative      TEXT COLLATE "C",
    preliminary    TEXT COLLATE "C",
    probable_cause TEXT COLLATE "C",
    findings_text  TEXT COLLATE "C",
    field_sources  TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, aircraft_key)
);

CREATE TABLE safety_recommendations (
    id             BIGSERIAL PRIMARY KEY,
    event_id       BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    rec_no         BIGINT NOT NULL,
    recommendation TEXT COLLATE "C",
    field_sources  TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, rec_no)
);

CREATE TABLE reports (
    id            BIGSERIAL PRIMARY KEY,
    event_id      BIGINT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    document      TEXT COLLATE "C" NOT NULL,
    report_type   TEXT COLLATE "C",
    text          TEXT COLLATE "C",
    field_sources TEXT COLLATE "C" NOT NULL DEFAULT '{}',
    UNIQUE (event_id, document)
);
