DROP INDEX IF EXISTS flight_time_scoring;
DROP INDEX IF EXISTS flight_crew_scoring;
DROP INDEX IF EXISTS aircraft_scoring;
DROP INDEX IF EXISTS events_scoring;
