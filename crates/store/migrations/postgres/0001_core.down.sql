-- Children first, so no foreign key refers to a dropped table.
DROP TABLE IF EXISTS reports;
DROP TABLE IF EXISTS safety_recommendations;
DROP TABLE IF EXISTS narratives;
DROP TABLE IF EXISTS sequence_of_events;
DROP TABLE IF EXISTS occurrences;
DROP TABLE IF EXISTS findings;
DROP TABLE IF EXISTS injury;
DROP TABLE IF EXISTS flight_time;
DROP TABLE IF EXISTS flight_crew;
DROP TABLE IF EXISTS engines;
DROP TABLE IF EXISTS aircraft;
DROP TABLE IF EXISTS events;
DROP TABLE IF EXISTS event_keys;
DROP TABLE IF EXISTS code_entries;
